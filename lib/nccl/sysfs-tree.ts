/**
 * A PciTree from what sysfs says of each PCI function (a live host or guest, a `host capture` tar, or the
 * guest oracle's report): the tree follows each function's sysfs path (`pci0000:3a`, root port, …, itself),
 * and each root bus goes under the NUMA node its functions report, as NCCL groups them.
 */
import { PassthroughError, excerpt } from '../errors';
import type { DeviceRole, LayoutLink, PciTree, PciTreeNode } from '../layout/types';
import type { HostPciDevice } from '../host/snapshot';

/** One function as sysfs shows it: a HostPciDevice (readHostSnapshot, readHostCapture), perhaps with its link. */
export type SysfsFunction = Pick<HostPciDevice, 'address' | 'vendor' | 'device' | 'classCode' | 'numaNode' | 'path'> & {
  subsystemVendor?: number;
  subsystemDevice?: number;
  link?: LayoutLink;
  alias?: string;
  role?: DeviceRole;
};

const hex = (n: number | undefined, digits: number) => (n === undefined ? undefined : `0x${n.toString(16).padStart(digits, '0')}`);
const HOST_BRIDGE = /^pci[0-9a-f]{4,}:[0-9a-f]{2}$/i;
/** `pci0000:3a` for 0000:3a:00.0 (a VMD domain has five digits: 10000:e1:00.0). */
const hostBridgeOf = (address: string) => `pci${address.toLowerCase().replace(/:[0-9a-f]{2}\.[0-7]$/, '')}`;

export function treeFromSysfs(functions: readonly SysfsFunction[]): PciTree {
  const nodes = new Map<string, PciTreeNode>();
  const nodeOf = (address: string) => {
    let node = nodes.get(address);
    if (!node) {
      // A bridge on some function's path that sysfs did not list itself: keep the chain, class "bridge".
      node = { bdf: address, classCode: '0x060400', children: [] };
      nodes.set(address, node);
    }
    return node;
  };
  for (const f of functions) {
    const node = nodeOf(f.address);
    Object.assign(node, {
      classCode: hex(f.classCode, 6),
      vendor: hex(f.vendor, 4),
      device: hex(f.device, 4),
      ...(f.subsystemVendor === undefined ? {} : { subsystemVendor: hex(f.subsystemVendor, 4) }),
      ...(f.subsystemDevice === undefined ? {} : { subsystemDevice: hex(f.subsystemDevice, 4) }),
      ...(f.link ? { link: f.link } : {}),
      ...(f.alias ? { alias: f.alias } : {}),
      ...(f.role ? { role: f.role } : {}),
    });
  }
  const numaOf = new Map<string, number>();
  const roots = new Map<string, PciTreeNode>();
  for (const f of functions) {
    // readHostSnapshot keeps only root buses and BDFs of a path; a function whose root bus it could not name
    // (behind a VMD, say) is put on the root bus its own address names.
    const [bridge, ...chain] = HOST_BRIDGE.test(f.path[0] ?? '') ? f.path : [hostBridgeOf(f.address), f.address];
    if (chain[chain.length - 1] !== f.address) {
      throw new PassthroughError('TOPOLOGY_INVALID', `the sysfs path of ${excerpt(f.address, 20)} does not run from a root bus (pciDDDD:BB) to the function itself: ${excerpt(f.path.join('/'), 120)}.`);
    }
    if (f.numaNode >= 0 || !numaOf.has(bridge)) numaOf.set(bridge, f.numaNode);
    roots.set(chain[0], nodeOf(chain[0]));
    chain.slice(1).forEach((address, i) => {
      const parent = nodeOf(chain[i]);
      const child = nodeOf(address);
      if (!parent.children.includes(child)) parent.children.push(child);
    });
  }
  for (const node of nodes.values()) node.children.sort((a, b) => (a.bdf < b.bdf ? -1 : 1));
  const cpus = new Map<number, PciTreeNode[]>();
  for (const [bdf, root] of [...roots.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const numa = numaOf.get(hostBridgeOf(bdf)) ?? -1;
    cpus.set(numa, [...(cpus.get(numa) ?? []), root]);
  }
  return { cpus: [...cpus.entries()].sort(([a], [b]) => a - b).map(([numaNode, r]) => ({ numaNode, roots: r })) };
}
