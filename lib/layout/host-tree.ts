import { HostPciDevice, HostSnapshot, isAccelerator, isNetwork, isNvidiaGpu, requireSnapshot } from '../host/snapshot';
import { hex } from '../gpudirect/capability';
import { DeviceRole, PciTree, PciTreeNode } from './types';

export interface HostTreeOptions {
  /** Keep only these functions and the bridges above them (NCCL's view holds only its GPUs and NICs). */
  devices?: string[];
  /** Address → alias of a placed device (gpu0, nic1…), so the host tree names what the plan names. */
  aliases?: Record<string, string>;
}

export function deviceRole(d: Pick<HostPciDevice, 'vendor' | 'classCode'>): DeviceRole {
  if (isNvidiaGpu(d)) return 'gpu';
  if (isNetwork(d)) return 'nic';
  if (isAccelerator(d)) return 'npu';
  return 'other';
}

/** The host bridge a device hangs from (`pci0000:3a`), from its sysfs path. */
export const hostBridgeOf = (d: HostPciDevice): string => d.path[0];

/** The NUMA node of each host bridge: the first node any function below it reports (-1 when none does). */
export function hostBridgeNodes(snapshot: HostSnapshot): Map<string, number> {
  const nodes = new Map<string, number>();
  for (const d of snapshot.devices) {
    const bridge = hostBridgeOf(d);
    if ((nodes.get(bridge) ?? -1) < 0) nodes.set(bridge, d.numaNode);
  }
  return nodes;
}

/**
 * The host's PCI tree as NCCL groups it (`ncclTopoGetXmlFromSys`): every root port or root-bus device under the CPU
 * of its host bridge's NUMA node (-1 when the kernel knows none), each bridge with the functions below it.
 */
export function hostPciTree(snapshot: HostSnapshot, options: HostTreeOptions = {}): PciTree {
  requireSnapshot(snapshot, 'hostPciTree');
  const keep = options.devices ? keptAddresses(snapshot, options.devices) : undefined;
  const nodes = new Map<string, PciTreeNode>();
  for (const d of snapshot.devices) {
    if (keep && !keep.has(d.address)) continue;
    nodes.set(d.address, treeNode(d, options.aliases?.[d.address]));
  }
  const bridgeNodes = hostBridgeNodes(snapshot);
  const cpus = new Map<number, PciTreeNode[]>();
  for (const d of snapshot.devices) {
    const node = nodes.get(d.address);
    if (!node) continue;
    const parent = d.path.length >= 2 ? nodes.get(d.path[d.path.length - 2]) : undefined;
    if (parent) parent.children.push(node);
    else {
      const numa = bridgeNodes.get(hostBridgeOf(d)) ?? -1;
      cpus.set(numa, [...(cpus.get(numa) ?? []), node]);
    }
  }
  return { cpus: [...cpus.entries()].sort(([a], [b]) => a - b).map(([numaNode, roots]) => ({ numaNode, roots })) };
}

function keptAddresses(snapshot: HostSnapshot, devices: string[]): Set<string> {
  const keep = new Set<string>();
  for (const d of snapshot.devices) if (devices.includes(d.address)) d.path.forEach((p) => keep.add(p));
  return keep;
}

function treeNode(d: HostPciDevice, alias: string | undefined): PciTreeNode {
  const node: PciTreeNode = { bdf: d.address, classCode: `0x${hex(d.classCode, 6)}`, vendor: `0x${hex(d.vendor, 4)}`, device: `0x${hex(d.device, 4)}`, children: [] };
  if (d.link) node.link = { ...d.link };
  if (alias !== undefined) node.alias = alias;
  const role = deviceRole(d);
  if (d.classCode >> 16 !== 0x06) node.role = role;
  return node;
}
