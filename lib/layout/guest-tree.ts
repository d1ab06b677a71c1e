import type { XmlElement } from '../load/element';
import { DomainFacts, readDomainFacts } from '../domain/facts';
import { readLayoutFacts } from '../domain/layout-facts';
import { attr, child } from '../domain/xml';
import { LayoutRecord, deviceRole, readLayoutRecord, roleClassCode } from '../edit/layout-record';
import { PassthroughError, excerpt } from '../errors';
import { LoadOptions, loadDomainXml } from '../load/load';
import { formatPciAddress } from '../pci/address';
import { BRIDGES, BusMember, NumberedMember, busMember, numberBuses } from './guest-buses';
import { PciTree, PciTreeNode } from './types';

/** Devices that take a PCI address when they have none: libvirt then chooses it, and may add root ports on pcie.0. */
const PCI_CAPABLE = new Set(['disk', 'interface', 'controller', 'memballoon', 'rng', 'video', 'sound', 'watchdog', 'filesystem', 'hostdev', 'shmem', 'vsock', 'crypto']);

/**
 * The guest's PCI tree as the layout makes it: the bus ID each passthrough device and each bridge above it will
 * have in the guest (expander buses from their busNr, every bridge numbered depth-first by the firmware), the NUMA
 * node of each root bus, the host function each device passes through (`hostBdf`), and from the library's metadata
 * the host link of each port and what each device is.
 * Only branches that lead to a passthrough device are kept: they are what NCCL's topology is made of.
 *
 * Throws LAYOUT_INVALID when bus ranges collide (the guest would lose devices), and INPUT_INVALID when a
 * passthrough device hangs below pcie.0 while a device there still waits for libvirt to choose its address (the
 * numbers on pcie.0 are then not known before `virsh define`; give the defined domain, `virsh dumpxml --inactive`).
 */
export function guestTreeFromDomain(xml: string, options: LoadOptions = {}): PciTree {
  const facts = readDomainFacts(loadDomainXml(xml, options));
  const record = readLayoutRecord(facts);
  const members = new Map<BusMember, XmlElement>();
  const lf = readLayoutFacts(facts);
  const controllers = new Map(lf.controllers.map((c) => [c.element, c]));
  for (const { element, address } of lf.addressed) {
    if (address.domain === 0) members.set(busMember(address, controllers.get(element)), element);
  }
  const passthrough = new Map(facts.hostdevs.map((h) => [h.element, h.sourceKey]));
  const roots = numberBuses([...members.keys()]);
  const byNode = new Map<number, PciTreeNode[]>();
  for (const root of roots) {
    const nodes = root.members.flatMap((m) => treeNode(m, { members, passthrough, record }));
    if (nodes.length === 0) continue;
    if (root.index === 0) requireAddressesOnRootBus(facts);
    byNode.set(root.node, [...(byNode.get(root.node) ?? []), ...nodes]);
  }
  return { cpus: [...byNode].sort(([a], [b]) => a - b).map(([numaNode, nodes]) => ({ numaNode, roots: nodes })) };
}

/** What building the tree reads besides the numbering: each member's element, each passthrough device's host address, the record. */
interface TreeContext {
  members: Map<BusMember, XmlElement>;
  passthrough: Map<XmlElement, string>;
  record?: LayoutRecord;
}

function treeNode(m: NumberedMember, context: TreeContext): PciTreeNode[] {
  const { members, passthrough, record } = context;
  const element = members.get(m.member)!;
  const bdf = formatPciAddress({ domain: 0, bus: m.guestBus, slot: m.member.slot, function: m.member.function });
  if (m.member.kind === 'expander') return [];
  if (m.member.kind === 'bridge') {
    const children = m.children.flatMap((c) => treeNode(c, context));
    if (children.length === 0) return [];
    const [vendor, device] = BRIDGES[attr(element, 'model')!];
    const link = record?.controllers.find((c) => c.index === m.member.index)?.link;
    return [{ bdf, classCode: '0x060400', vendor, device, ...(link ? { link } : {}), alias: `pci.${m.member.index}`, children }];
  }
  if (!passthrough.has(element)) return [];
  const libvirtAlias = attr(child(element, 'alias'), 'name');
  const recorded = record?.devices.find((d) => d.alias === libvirtAlias);
  const role = recorded?.role ?? deviceRole(libvirtAlias, undefined);
  const id = recorded?.device?.split(':');
  return [
    {
      bdf,
      classCode: roleClassCode(role),
      ...(id ? { vendor: `0x${id[0]}`, device: `0x${id[1]}` } : {}),
      ...(libvirtAlias ? { alias: libvirtAlias.replace(/^ua-/, '') } : {}),
      role,
      hostBdf: passthrough.get(element),
      children: [],
    },
  ];
}

function requireAddressesOnRootBus(facts: DomainFacts): void {
  const unplaced = facts.deviceElements.find((d) => PCI_CAPABLE.has(d.localName) && !d.namespaceURI && !child(d, 'address') && !(d.localName === 'controller' && attr(d, 'model') === 'pcie-root'));
  if (!unplaced) return;
  throw new PassthroughError(
    'INPUT_INVALID',
    `A passthrough device sits below pcie.0, where the guest's bus numbers depend on every bridge there, and a <${excerpt(unplaced.tagName, 40)}> (line ${facts.doc.lines.positionOf(unplaced.start).line}) has no address yet: libvirt chooses it, and may add root ports, at define. ` +
      'Give the defined domain (`virsh dumpxml --inactive`), or a layout with expander buses.',
  );
}
