import * as fs from 'node:fs';
import * as path from 'node:path';
import { planFromHost } from '../lib/host/plan';
import { HostSnapshot, readHostSnapshot } from '../lib/host/snapshot';
import { guestTreeFromDomain } from '../lib/layout/guest-tree';
import { hostPciTree } from '../lib/layout/host-tree';
import { LayoutKind, PciTree, PciTreeNode } from '../lib/layout/types';
import { verifyGuestTopology } from '../lib/nccl/guest-check';
import { SysfsFunction, treeFromSysfs } from '../lib/nccl/sysfs-tree';
import { renderNcclTopo } from '../lib/nccl/topo-file';
import { Plan } from '../lib/plan/types';
import { transformDomain } from '../lib/transform';
import { parseNcclTopo } from '../__tests__/helpers/host-topologies';
import { makeSysfs } from '../__tests__/helpers/sysfs';
import { REPO } from './repo';

/**
 * The issue's "Done when", run as a user would: a real host (the HGX A100 fixture: two sockets, two switch levels,
 * 8 GPUs, 5 NICs) as a sysfs tree, `host plan --sysfs DIR --gpus all --nics all --layout KIND`, `transform` into a
 * q35 domain with ACPI and two cells, `nccl-topo` of the result. The boot judge then holds the booted guest against
 * the host tree.
 */
export interface PipelineRun {
  kind: LayoutKind;
  plan: Plan;
  xml: string;
  /** What `nccl-topo` prints for the transformed domain. */
  ncclTopo: string;
  /** The host's tree with the placed functions only (host plan's aliases), NCCL's view of the host. */
  hostTree: PciTree;
  /** The guest tree guestTreeFromDomain predicts; each placed device carries the host function it passes through. */
  planned: PciTree;
  cpuVendor?: string;
}

export const HGX_HOST_FIXTURE = 'hgx-a100-8gpu.topo.xml';
const DOMAIN = path.join(REPO, '__tests__', 'cases', 'layout-hgx-a100', 'domain.xml');

/** The host snapshot from a sysfs tree generated from the fixture, read back by the library (`--sysfs DIR`). */
export function hgxSnapshot(): HostSnapshot {
  const listing = fs.readFileSync(path.join(REPO, '__tests__', 'host-fixtures', HGX_HOST_FIXTURE), 'utf8');
  const root = makeSysfs({ devices: parseNcclTopo(listing) });
  try {
    return readHostSnapshot(root);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

export function runPipeline(kind: LayoutKind, snapshot = hgxSnapshot()): PipelineRun {
  const plan = planFromHost(snapshot, { gpus: 'all', nics: 'all', layout: kind });
  const xml = transformDomain(fs.readFileSync(DOMAIN, 'utf8'), plan);
  const planned = guestTreeFromDomain(xml);
  // host plan writes each address as the host's BDF string.
  const addresses = plan.hostdevs.map((h) => String(h.address));
  const aliases = Object.fromEntries(plan.hostdevs.map((h, i) => [addresses[i], h.alias ?? addresses[i]]));
  const hostTree = hostPciTree(snapshot, { devices: addresses, aliases });
  return { kind, plan, xml, ncclTopo: renderNcclTopo(planned), hostTree, planned, cpuVendor: snapshot.cpuVendor };
}

/** Every placed device of a tree: libvirt alias (`ua-gpu0`) → BDF, NUMA node and the host function it passes through. */
export function placedDevices(tree: PciTree): Record<string, { bdf: string; node: number; hostBdf?: string }> {
  const out: Record<string, { bdf: string; node: number; hostBdf?: string }> = {};
  const visit = (n: PciTreeNode, node: number) => {
    if (n.role && n.alias) out[`ua-${n.alias}`] = { bdf: n.bdf, node, ...(n.hostBdf ? { hostBdf: n.hostBdf } : {}) };
    n.children.forEach((c) => visit(c, node));
  };
  for (const cpu of tree.cpus) cpu.roots.forEach((r) => visit(r, cpu.numaNode));
  return out;
}

/** One PCI function as guest-boot's boot.sh prints it. */
export interface OracleDevice {
  bdf: string;
  vendor: string;
  device: string;
  class: string;
  numaNode: number;
  path: string[];
  linkSpeed?: string | null;
  linkWidth?: number | null;
  alias?: string;
}

/** What the booted guest showed: every PCI function, and where each stand-in (by libvirt alias) is. */
export interface BootedGuest {
  devices: OracleDevice[];
  standIns: Record<string, string>;
}

/** Each planned device by libvirt alias (`ua-gpu0`): the host function it passes through and its role there. */
function plannedHostFunctions(run: PipelineRun): Map<string, { hostBdf: string; role: string }> {
  const roles = new Map<string, string>();
  const visit = (n: PciTreeNode) => {
    if (n.role) roles.set(n.bdf, n.role);
    n.children.forEach(visit);
  };
  run.hostTree.cpus.forEach((c) => c.roots.forEach(visit));
  return new Map(run.plan.hostdevs.map((h) => [`ua-${h.alias}`, { hostBdf: String(h.address), role: roles.get(String(h.address)) ?? 'other' }]));
}

/** The booted guest's tree as NCCL builds it from sysfs: the oracle's functions, each stand-in in its host function's role. */
export function bootedTree(run: PipelineRun, guest: BootedGuest): PciTree {
  const planned = plannedHostFunctions(run);
  const functions: SysfsFunction[] = guest.devices.map((d) => ({
    address: d.bdf,
    vendor: parseInt(d.vendor, 16),
    device: parseInt(d.device, 16),
    classCode: parseInt(d.class, 16),
    numaNode: d.numaNode,
    path: d.path,
    ...(d.alias ? { alias: d.alias } : {}),
    // The stand-ins are emulated NICs; what each stands in for is the host function planned under its alias.
    ...(d.alias && planned.has(d.alias) ? { role: planned.get(d.alias)!.role as SysfsFunction['role'] } : {}),
    ...(d.linkSpeed && d.linkWidth ? { link: { speed: d.linkSpeed, width: d.linkWidth } } : {}),
  }));
  return treeFromSysfs(functions);
}

/** BDFs `nccl-topo` wrote (`<pci busid=…>`). */
export const topoBusIds = (topo: string): Set<string> => new Set([...topo.matchAll(/<pci busid="([^"]+)"/g)].map((m) => m[1].toLowerCase()));

/**
 * Judges a booted guest against the host: every GPU–GPU and GPU–NIC pair must have in the guest (NCCL's path rules
 * over the booted tree, each stand-in where the guest put it) the path type it has on the host (the same rules over
 * hostPciTree), every device its planned node. Returns the problems, and the pairs compared.
 */
export function pathTypeProblems(run: PipelineRun, guest: BootedGuest): { problems: string[]; compared: number; pairs: string[] } {
  const planned = plannedHostFunctions(run);
  const map = new Map([...planned].filter(([alias]) => guest.standIns[alias]).map(([alias, p]) => [guest.standIns[alias], p.hostBdf]));
  const cpu = { vendor: run.cpuVendor ?? 'GenuineIntel' };
  const report = verifyGuestTopology(bootedTree(run, guest), cpu, { planned: run.planned, host: { tree: run.hostTree, map } });
  const problems = [...report.problems];
  const count = (role: string) => [...planned.values()].filter((p) => p.role === role).length;
  const [gpus, nics] = [count('gpu'), count('nic')];
  const wanted = (gpus * (gpus - 1)) / 2 + gpus * nics;
  const compared = report.pairs.filter((p) => p.host).length;
  if (compared !== wanted) problems.push(`${compared} GPU–GPU and GPU–NIC pairs compared with the host, expected ${wanted}`);
  const name = (bdf: string) => report.devices.find((d) => d.bdf === bdf)?.alias ?? bdf;
  const pairs = report.pairs.map((p) => `${name(p.a)}–${name(p.b)} ${p.path}${p.host ? `/${p.host.path}` : ''}`);
  return { problems, compared, pairs };
}

/**
 * Before the boot: every placed device predicted on the guest cell that serves its host node (plan.layout.cells),
 * and at a bus ID the `nccl-topo` file names.
 */
export function predictionProblems(run: PipelineRun, snapshot: HostSnapshot): string[] {
  const problems: string[] = [];
  const busIds = topoBusIds(run.ncclTopo);
  const cellOf = new Map((run.plan.layout?.cells ?? []).map((c) => [c.hostNode, c.cell]));
  for (const [alias, p] of Object.entries(placedDevices(run.planned))) {
    if (!busIds.has(p.bdf)) problems.push(`${alias}: predicted at ${p.bdf}, which the nccl-topo file does not name`);
    const hostNode = snapshot.devices.find((d) => d.address === p.hostBdf)?.numaNode;
    if (hostNode === undefined) problems.push(`${alias}: no host function ${p.hostBdf ?? '(none)'} in the snapshot`);
    else if (cellOf.get(hostNode) !== p.node) problems.push(`${alias}: predicted on guest node ${p.node}, its host node ${hostNode} is served by cell ${cellOf.get(hostNode)}`);
  }
  if (Object.keys(placedDevices(run.planned)).length !== run.plan.hostdevs.length) problems.push(`${run.plan.hostdevs.length} devices planned, ${Object.keys(placedDevices(run.planned)).length} placed in the guest tree`);
  return problems;
}
