/**
 * Inside the guest: what NCCL will make of the guest's PCI tree, held against what the layout planned (the guest
 * tree predicted from the domain) and against the host. verify-guest prints it.
 */
import type { PciTree } from '../layout/types';
import { NcclPathType, ncclPathType, pathRank, SmiPathType, smiPathType } from './paths';
import { NcclCpu, NcclDevice, NcclPair, NcclView, ncclView } from './policy';
import { NcclPci, ncclSystemFromTree } from './system';
import { ncclLinkBandwidth } from './topo-file';

export interface TopologyDevice extends NcclDevice {
  /** The NUMA node the layout put it on. */
  plannedNumaNode?: number;
  /** The host function it passes through, and that function's node. */
  hostBdf?: string;
  hostNumaNode?: number;
}

/** A guest pair, with the path the layout planned for it and NCCL's view of the same pair on the host. */
export interface TopologyPair extends NcclPair {
  planned?: NcclPathType;
  host?: { a: string; b: string; path: NcclPathType; smi: SmiPathType; uses: boolean };
}

export interface TopologyReport extends Omit<NcclView, 'devices' | 'pairs'> {
  ok: boolean;
  devices: TopologyDevice[];
  pairs: TopologyPair[];
  problems: string[];
  warnings: string[];
}

/** A tree to hold the guest against, and which of its functions each guest BDF is (the same BDF when absent). */
export interface TopologyReference {
  tree: PciTree;
  map?: ReadonlyMap<string, string>;
}

export interface GuestTopologyOptions {
  /** The guest tree predicted from the domain (helper "layout": guestTreeFromDomain). */
  planned?: PciTree;
  /** The host's tree, with each guest BDF's host function. */
  host?: TopologyReference;
}

function lookup(ref: TopologyReference | undefined): (guestBdf: string) => NcclPci | undefined {
  if (!ref) return () => undefined;
  const endpoints = new Map(ncclSystemFromTree(ref.tree).endpoints.map((e) => [e.busId, e]));
  return (bdf) => endpoints.get((ref.map ? ref.map.get(bdf) ?? '' : bdf).toLowerCase());
}

/**
 * Per GPU pair and GPU–NIC pair: NCCL's path type in the guest and whether it uses P2P / GDR (the CPU vendor's
 * rule), each device's NUMA node. A device off its planned or host node, a pair NCCL sees otherwise than planned
 * or than on the host, or a planned device missing is a problem; a device without a node that nothing places is a
 * warning (today's flat layout), as is a switch NCCL rates below the devices behind it.
 */
export function verifyGuestTopology(guest: PciTree, cpu?: NcclCpu, options: GuestTopologyOptions = {}): TopologyReport {
  const view = ncclView(guest, cpu);
  const report: TopologyReport = { ...view, ok: false, devices: [], pairs: [], problems: [], warnings: [] };
  const planned = lookup(options.planned && { tree: options.planned });
  const host = lookup(options.host);
  const alias = (bdf: string) => view.devices.find((d) => d.bdf === bdf)?.alias;
  const name = (bdf: string) => (alias(bdf) ? `${alias(bdf)} (${bdf})` : bdf);
  for (const d of view.devices) {
    const [p, h] = [planned(d.bdf), host(d.bdf)];
    report.devices.push({ ...d, ...(p ? { plannedNumaNode: p.numaId } : {}), ...(h ? { hostBdf: h.busId, hostNumaNode: h.numaId } : {}) });
    if (options.host && !h) report.warnings.push(`${name(d.bdf)}: no host function known for it, so its pairs are not compared with the host`);
    if (p && p.numaId !== d.numaNode) report.problems.push(`${name(d.bdf)} is on NUMA node ${d.numaNode}, the layout put it on node ${p.numaId}`);
    else if (d.numaNode < 0 && view.devices.length > 1) {
      // Off its host's node is a problem; with nothing that says where it belongs (today's flat layout), a hint.
      const off = h !== undefined && h.numaId >= 0;
      (off ? report.problems : report.warnings).push(
        `${name(d.bdf)} has no NUMA node (numa_node -1${off ? `, node ${h.numaId} on the host` : ''}): NCCL puts it under one CPU with everything else; give the domain <features><acpi/> and a numa or mirror layout`,
      );
    }
  }
  if (options.planned) {
    for (const e of ncclSystemFromTree(options.planned).endpoints) {
      if (!view.devices.some((d) => d.bdf === e.busId)) report.problems.push(`${e.node.alias ?? e.role} is planned at ${e.busId} but the guest has no ${e.role} there`);
    }
  }
  for (const pair of view.pairs) report.pairs.push(comparePair(pair, view, planned, host, report.problems, (bdf) => alias(bdf) ?? bdf));
  report.warnings.push(...slowSwitches(guest));
  report.ok = report.problems.length === 0;
  return report;
}

type Lookup = (guestBdf: string) => NcclPci | undefined;

function comparePair(pair: NcclPair, view: NcclView, planned: Lookup, host: Lookup, problems: string[], name: (bdf: string) => string): TopologyPair {
  const out: TopologyPair = { ...pair };
  const label = `${name(pair.a)}–${name(pair.b)}`;
  const [pa, pb] = [planned(pair.a), planned(pair.b)];
  if (pa && pb) {
    out.planned = ncclPathType(pa, pb);
    if (out.planned !== pair.path) problems.push(`${label}: NCCL sees ${pair.path} in the guest, the layout planned ${out.planned}`);
  }
  const [ha, hb] = [host(pair.a), host(pair.b)];
  if (ha && hb) {
    const path = ncclPathType(ha, hb);
    const level = pair.kind === 'gpu-gpu' ? view.p2pLevel : view.gdrLevel;
    out.host = { a: ha.busId, b: hb.busId, path, smi: smiPathType(ha, hb), uses: pathRank(path) <= pathRank(level) };
    if (path !== pair.path) {
      const what = pair.kind === 'gpu-gpu' ? 'P2P' : 'GPUDirect RDMA';
      const effect = out.host.uses === pair.uses ? '' : `: NCCL ${pair.uses ? 'uses' : 'does not use'} ${what} in the guest, ${out.host.uses ? 'would' : 'would not'} on the host`;
      problems.push(`${label}: NCCL sees ${pair.path} in the guest, ${path} on the host${effect}`);
    }
  }
  return out;
}

/** Switches whose link NCCL rates below the devices behind them: QEMU's emulated ports (2.5 GT/s x1 = 0.2 GB/s). */
function slowSwitches(tree: PciTree): string[] {
  const out: string[] = [];
  const visit = (pci: NcclPci) => {
    const below = pci.children.filter((c) => c.node.link).map((c) => ncclLinkBandwidth(c.node.link));
    const bw = ncclLinkBandwidth(pci.node.link);
    if (pci.children.length && pci.node.link && below.length && bw < Math.min(...below)) {
      out.push(`NCCL rates the link above switch ${pci.busId} at ${bw.toFixed(1)} GB/s (${pci.node.link.speed} x${pci.node.link.width}), less than the ${Math.min(...below).toFixed(1)} GB/s below it: give NCCL the host's links with NCCL_TOPO_FILE (libvirt-passthrough nccl-topo)`);
    }
    pci.children.forEach(visit);
  };
  ncclSystemFromTree(tree).cpus.forEach((c) => c.children.forEach(visit));
  return out;
}
