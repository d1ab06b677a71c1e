import { PassthroughError } from '../errors';
import { HostPciDevice, HostSnapshot } from '../host/snapshot';
import { assignBusNumbers } from './bus-numbers';
import { hostBridgeNodes, hostBridgeOf } from './host-tree';
import { LayoutCell, LayoutController, LayoutControllerModel, LayoutKind, LayoutLink, PlanLayout } from './types';

/** The first pcie.0 slot given to an expander bus: above the slots libvirt fills first with its own root ports, below ICH9's (0x1a-0x1f). */
export const FIRST_EXPANDER_SLOT = 0x0a;
const LAST_EXPANDER_SLOT = 0x19;
/** Slots on one bus: a switch has at most 32 downstream ports, an expander bus 32 root ports. */
export const SLOTS_PER_BUS = 32;

/** Where a placed function goes: the controller index it sits under (its `bus`), slot 0, and its function. */
export interface GuestPlace {
  bus: number;
  slot: number;
  function: number;
}

export interface ComputedLayout {
  layout: PlanLayout;
  /** Host address → guest place, for each placed function. */
  places: Map<string, GuestPlace>;
}

/** A guest controller before numbering: what it mirrors, and the cards (functions of one host slot) below it. */
interface Draft {
  model: LayoutControllerModel;
  key: string;
  mirrors?: string;
  link?: LayoutLink;
  hostNode?: number;
  children: Draft[];
  cards: HostPciDevice[][];
}

/**
 * The guest PCI layout for the placed functions. `mirror`: one pcie-expander-bus per host bridge in use, each host
 * root port a pcie-root-port, each host switch a switch (upstream port, one downstream port per port in use), nested
 * as on the host. `numa`: one expander bus per host NUMA node, a root port per card. The functions of one host slot
 * share one guest slot. Indexes count from 1 in parent-before-child order (libvirt wants a controller's index above
 * its bus's); the transform renumbers them above the domain's own controllers.
 */
export function computeLayout(snapshot: HostSnapshot, placed: string[], kind: Exclude<LayoutKind, 'flat'>): ComputedLayout {
  const byAddress = new Map(snapshot.devices.map((d) => [d.address, d]));
  const bridgeNodes = hostBridgeNodes(snapshot);
  const nodeOf = (d: HostPciDevice) => bridgeNodes.get(hostBridgeOf(d)) ?? d.numaNode;
  const cards = cardsOf(placed.map((a) => byAddress.get(a)).filter((d): d is HostPciDevice => d !== undefined));
  const hostNodes = [...new Set(cards.map((c) => nodeOf(c[0])).filter((n) => n >= 0))].sort((a, b) => a - b);
  const cells: LayoutCell[] = hostNodes.map((hostNode, cell) => ({ cell, hostNode }));
  const roots: Draft[] = [];
  const child = (list: Draft[], model: LayoutControllerModel, key: string, mirrors?: string): Draft => {
    let found = list.find((d) => d.model === model && d.key === key);
    if (!found) {
      found = { model, key, children: [], cards: [] };
      if (mirrors !== undefined) {
        found.mirrors = mirrors;
        const link = byAddress.get(mirrors)?.link;
        if (link) found.link = { ...link };
      }
      list.push(found);
    }
    return found;
  };
  for (const card of cards) {
    const first = card[0];
    const node = nodeOf(first);
    // Keys sort as the host orders them: fixed-width hex addresses, and nodes (-1 first) padded to one width.
    const pxbKey = kind === 'numa' ? `node ${String(node + 1).padStart(4, '0')}` : hostBridgeOf(first);
    const pxb = child(roots, 'pcie-expander-bus', pxbKey, kind === 'mirror' ? hostBridgeOf(first) : undefined);
    pxb.hostNode = node;
    const chain = first.path.slice(1, -1);
    const port = kind === 'numa' ? numaPort(pxb, first, chain, child) : mirrorPorts(pxb, first, chain, child);
    port.cards.push(card);
  }
  return number(roots, cells, kind);
}

type ChildFn = (list: Draft[], model: LayoutControllerModel, key: string, mirrors?: string) => Draft;

/** The card's root port on its node's expander bus, mirroring the host port right above the card. */
function numaPort(pxb: Draft, card: HostPciDevice, chain: string[], child: ChildFn): Draft {
  const above = chain[chain.length - 1];
  return child(pxb.children, 'pcie-root-port', card.address, above);
}

/** The host's ports above the card, mirrored: its root port, then an upstream and a downstream port per switch. */
function mirrorPorts(pxb: Draft, card: HostPciDevice, chain: string[], child: ChildFn): Draft {
  // A function on the root bus itself (no root port above it) gets a root port of its own.
  if (chain.length === 0) return child(pxb.children, 'pcie-root-port', card.address);
  let port = child(pxb.children, 'pcie-root-port', chain[0], chain[0]);
  for (let i = 1; i < chain.length; i += 2) {
    const upstream = child(port.children, 'pcie-switch-upstream-port', chain[i], chain[i]);
    // A lone bridge (no downstream port below it, e.g. a PCIe-to-PCI bridge) still gets a downstream port to sit on.
    const downstream = chain[i + 1];
    port = child(upstream.children, 'pcie-switch-downstream-port', downstream ?? card.address, downstream);
  }
  return port;
}

/** Selected functions grouped by host slot (domain:bus:slot), each card's functions in function order. */
function cardsOf(devices: HostPciDevice[]): HostPciDevice[][] {
  const cards = new Map<string, HostPciDevice[]>();
  for (const d of [...devices].sort((a, b) => a.address.localeCompare(b.address))) {
    const slot = d.address.slice(0, -2);
    cards.set(slot, [...(cards.get(slot) ?? []), d]);
  }
  return [...cards.values()];
}

/** A controller's keys in the order of schemas/plan.schema.json. */
export const CONTROLLER_KEYS = ['index', 'model', 'bus', 'slot', 'function', 'multifunction', 'busNr', 'node', 'chassis', 'port', 'mirrors', 'link'] as const;
/** The controller with its keys in the schema's order, for people reading the plan. */
const inSchemaOrder = (c: LayoutController): LayoutController =>
  Object.fromEntries(CONTROLLER_KEYS.filter((k) => c[k] !== undefined).map((k) => [k, c[k]])) as unknown as LayoutController;

/**
 * Cards that sysfs shows side by side below one port (a bridge the host hides, e.g. on a dual-GPU board, or a
 * conventional PCI bus) share a switch of their own in the guest: one downstream port each, as PCIe needs, and to
 * NCCL the same path type between them (one switch: PIX) as on the host.
 */
function shareThroughSwitch(port: Draft): void {
  const upstream: Draft = { model: 'pcie-switch-upstream-port', key: port.key, children: [], cards: [] };
  upstream.children = port.cards.map((card) => ({ model: 'pcie-switch-downstream-port', key: card[0].address, children: [], cards: [card] }));
  port.cards = [];
  port.children = [upstream];
}

const byKey = (a: Draft, b: Draft) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

const describe = (d: Draft) => (d.mirrors ? `The ${d.model} mirroring ${d.mirrors}` : `A ${d.model}`);

/** Indexes in preorder (1, 2, …), explicit slots, bus numbers, and each card's guest place. */
function number(roots: Draft[], cells: LayoutCell[], kind: LayoutKind): ComputedLayout {
  const controllers: LayoutController[] = [];
  const places = new Map<string, GuestPlace>();
  if (roots.length > LAST_EXPANDER_SLOT - FIRST_EXPANDER_SLOT + 1) {
    throw new PassthroughError('LAYOUT_INVALID', `The layout needs ${roots.length} expander buses, but pcie.0 has ${LAST_EXPANDER_SLOT - FIRST_EXPANDER_SLOT + 1} free slots for them: use --layout numa (one per NUMA node).`);
  }
  const place = (draft: Draft, bus: number, slot: number) => {
    const controller: LayoutController = { index: controllers.length + 1, model: draft.model, bus, slot, function: 0 };
    if (draft.model === 'pcie-expander-bus' && draft.hostNode !== undefined && draft.hostNode >= 0) {
      controller.node = cells.find((c) => c.hostNode === draft.hostNode)!.cell;
    }
    if (draft.mirrors !== undefined) controller.mirrors = draft.mirrors;
    if (draft.link) controller.link = draft.link;
    controllers.push(controller);
    const isPort = draft.model === 'pcie-root-port' || draft.model === 'pcie-switch-downstream-port';
    if (isPort && draft.children.length === 0 && draft.cards.length > 1) shareThroughSwitch(draft);
    if (isPort && draft.children.length + draft.cards.length > 1) {
      throw new PassthroughError(
        'LAYOUT_INVALID',
        `${describe(draft)} would hold a switch and a device, but a PCIe port has one slot: use --layout numa.`,
      );
    }
    if (draft.children.length > SLOTS_PER_BUS) {
      throw new PassthroughError(
        'LAYOUT_INVALID',
        `${describe(draft)} would need ${draft.children.length} ports on one guest bus, which has ${SLOTS_PER_BUS} slots: pass fewer devices below it, or use --layout numa.`,
      );
    }
    // In the host's order (by the address of what each mirrors), so the guest numbers its buses as the host does.
    draft.children.sort(byKey);
    draft.children.forEach((c, i) => place(c, controller.index, draft.model === 'pcie-switch-upstream-port' || draft.model === 'pcie-expander-bus' ? i : 0));
    for (const card of draft.cards) card.forEach((d, fn) => places.set(d.address, { bus: controller.index, slot: 0, function: fn }));
  };
  roots.sort(byKey).forEach((pxb, i) => place(pxb, 0, FIRST_EXPANDER_SLOT + i));
  assignBusNumbers(controllers);
  return { layout: { kind, cells, controllers: controllers.map(inSchemaOrder) }, places };
}
