/**
 * The PCI part of NCCL's topology, built from a PciTree the way NCCL builds it from sysfs.
 *
 * Ported from NVIDIA/nccl (commit 5067397c2676d5aed50042fc39e5c8ee96eb0027, v2.30.7-1 and later):
 * - src/graph/xml.cc, ncclTopoGetXmlFromSys: a device's parent is the BDF two sysfs path components up ("Rewind
 *   two "/" and follow the upper PCI switch"), or, when a root bus (`pci0000:3a`) comes first, the <cpu> of the
 *   device's numa_node ("This a CPU root complex. Create a CPU tag and stop there"). So a switch's downstream
 *   port and a root port never appear: GPUs under one switch hang off its upstream port, a GPU on a root port
 *   hangs off the CPU. Children are kept in bus-ID order ("Keep PCI sub devices ordered by PCI Bus ID").
 * - ncclTopoTrimXml: branches without a GPU or NIC are dropped.
 * - src/graph/topo.cc, ncclTopoFlattenBcmSwitches/getBcmGen: a Broadcom PEX Gen4/Gen5 switch that presents itself
 *   as two levels is merged into one ("they're supposed to sustain full BW across all ports").
 */
import { isObject, refuseArgument } from '../arguments';
import { excerpt, PassthroughError } from '../errors';
import type { DeviceRole, PciTree, PciTreeNode } from '../layout/types';

/** A <pci> element of NCCL's topology: a switch (upstream port) NCCL keeps, or a GPU/NIC function. */
export interface NcclPci {
  busId: string;
  node: PciTreeNode;
  role: DeviceRole;
  numaId: number;
  /** The host bridge (`pci0000:3a`) above it, which `nvidia-smi topo -m` tells apart (NODE) and NCCL does not. */
  hostBridge: string;
  /** NCCL's parent <pci>; undefined when it hangs off the CPU. */
  parent?: NcclPci;
  children: NcclPci[];
}

export interface NcclSystem {
  cpus: { numaId: number; children: NcclPci[] }[];
  /** GPUs and NICs, in bus-ID order. */
  endpoints: NcclPci[];
}

const BDF = /^[0-9a-f]{4,}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/i;
const HOST_BRIDGE = /^pci([0-9a-f]{4,}:[0-9a-f]{2})$/i;

/** What NCCL makes of a function: class 03 with NVIDIA's vendor ID is a GPU (NVML finds it), class 02 a NIC
 * (but not virtio-net, 1af4, which no RDMA plugin drives). A topology file may leave the vendor out. */
export function deviceRole(node: PciTreeNode): DeviceRole {
  if (node.role) return node.role;
  const cls = parseInt(node.classCode, 16);
  const vendor = node.vendor?.toLowerCase();
  if (cls >> 16 === 0x03 && (vendor === undefined || vendor === '0x10de')) return 'gpu';
  if (cls >> 16 === 0x02 && vendor !== '0x1af4') return 'nic';
  return 'other';
}

/** `pci0000:3a` for 0000:3a:00.0: the root bus a root-level function sits on names its host bridge. */
export const hostBridgeOf = (bdf: string) => `pci${bdf.toLowerCase().replace(/:[0-9a-f]{2}\.[0-7]$/, '')}`;

export function ncclSystemFromTree(tree: PciTree): NcclSystem {
  if (!isObject(tree) || !Array.isArray(tree.cpus)) refuseArgument('ncclSystemFromTree', 'a PciTree { cpus: [{ numaNode, roots }] }', tree);
  const byBusId = new Map<string, NcclPci>();
  const cpus = new Map<number, NcclPci[]>();
  const endpoints: NcclPci[] = [];
  const place = (chain: PciTreeNode[], numaId: number, hostBridge: string): NcclPci => {
    const node = chain[chain.length - 1];
    const busId = node.bdf.toLowerCase();
    const known = byBusId.get(busId);
    if (known) return known;
    const pci: NcclPci = { busId, node, role: deviceRole(node), numaId, hostBridge, children: [] };
    byBusId.set(busId, pci);
    // ncclTopoGetXmlFromSys: two path components up, unless the root bus is one of them.
    const parent = chain.length >= 3 ? place(chain.slice(0, -2), numaId, hostBridge) : undefined;
    const siblings = parent ? parent.children : cpus.get(numaId) ?? [];
    pci.parent = parent;
    siblings.push(pci);
    siblings.sort((a, b) => (a.busId < b.busId ? -1 : a.busId > b.busId ? 1 : 0));
    if (!parent) cpus.set(numaId, siblings);
    return pci;
  };
  const walk = (chain: PciTreeNode[], numaId: number, hostBridge: string) => {
    const node = chain[chain.length - 1];
    const role = deviceRole(node);
    if (role === 'gpu' || role === 'nic') endpoints.push(place(chain, numaId, hostBridge));
    for (const child of node.children) walk([...chain, child], numaId, hostBridge);
  };
  for (const cpu of tree.cpus) {
    for (const root of cpu.roots) {
      // A root given as the host bridge itself (`pci0000:3a`) holds the root-level functions.
      const bridge = HOST_BRIDGE.exec(root.bdf);
      const tops = bridge ? root.children : [root];
      for (const top of tops) {
        if (!BDF.test(top.bdf)) throw new PassthroughError('TOPOLOGY_INVALID', `${excerpt(top.bdf, 40)} is not a PCI address (DDDD:BB:SS.F): a PciTree names every function by its BDF.`);
        walk([top], cpu.numaNode, bridge ? root.bdf.toLowerCase() : hostBridgeOf(top.bdf));
      }
    }
  }
  endpoints.sort((a, b) => (a.busId < b.busId ? -1 : 1));
  return {
    cpus: [...cpus.entries()].sort(([a], [b]) => a - b).map(([numaId, children]) => ({ numaId, children })),
    endpoints,
  };
}

/** src/graph/topo.cc getBcmGen: 4 or 5 for a Broadcom PEX switch at that level of its two-level view, else 0. */
export function bcmGeneration(node: PciTreeNode, level: 0 | 1): number {
  const hex = (v: string | undefined) => BigInt(parseInt(v ?? '0', 16) || 0);
  const id = (hex(node.vendor) << 48n) | (hex(node.device) << 32n) | (hex(node.subsystemVendor) << 16n) | hex(node.subsystemDevice);
  const masked = id & 0xfffffffffffff000n;
  if (masked === 0x1000c0101000a000n) return 4;
  if (masked === (0x1000c03010000000n | BigInt(level * 0x1000))) return 5;
  return 0;
}

/**
 * NCCL's <pci> ancestors of a function, nearest first, after ncclTopoFlattenBcmSwitches: it walks the switches
 * top-down and lets each one not yet merged absorb the children that are the second level of the same switch.
 */
export function ncclAncestors(pci: NcclPci, flattenBcm = true): NcclPci[] {
  const up: NcclPci[] = [];
  for (let p = pci.parent; p; p = p.parent) up.push(p);
  if (!flattenBcm) return up;
  const kept: NcclPci[] = [];
  const absorbed = new Set<NcclPci>();
  for (let i = up.length - 1; i >= 0; i--) {
    const parent = up[i + 1];
    const gen = parent && !absorbed.has(parent) ? bcmGeneration(parent.node, 0) : 0;
    if (gen && bcmGeneration(up[i].node, 1) === gen) absorbed.add(up[i]);
    else kept.unshift(up[i]);
  }
  return kept;
}
