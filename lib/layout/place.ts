import { HostSnapshot } from '../host/snapshot';
import { Plan } from '../plan/types';
import { busRanges } from './bus-numbers';
import { hostBridgeNodes, hostBridgeOf } from './host-tree';
import { computeLayout } from './plan-layout';
import { LayoutKind } from './types';

export const LAYOUT_KINDS: readonly LayoutKind[] = ['flat', 'numa', 'mirror'];

/** The host switches (the upstream port right below a root port) and NUMA nodes the devices sit under. */
export function hostSpan(snapshot: HostSnapshot, addresses: string[]): { nodes: number[]; switches: string[] } {
  const bridgeNodes = hostBridgeNodes(snapshot);
  const devices = snapshot.devices.filter((d) => addresses.includes(d.address));
  const nodes = [...new Set(devices.map((d) => bridgeNodes.get(hostBridgeOf(d)) ?? d.numaNode).filter((n) => n >= 0))].sort((a, b) => a - b);
  // path: host bridge, root port, switch upstream port, …, device
  const switches = [...new Set(devices.filter((d) => d.path.length >= 4).map((d) => d.path[2]))].sort();
  return { nodes, switches };
}

/** The layout asked for, else mirror when the devices span more than one host switch or NUMA node, else flat; and why. */
export function chooseLayout(snapshot: HostSnapshot, addresses: string[], given: LayoutKind | undefined): { kind: LayoutKind; reason: string } {
  if (given !== undefined) return { kind: given, reason: `layout: ${given} (--layout ${given})` };
  const { nodes, switches } = hostSpan(snapshot, addresses);
  const span = `${nodes.length} NUMA node${nodes.length === 1 ? '' : 's'} and ${switches.length} host switch${switches.length === 1 ? '' : 'es'}`;
  if (nodes.length > 1 || switches.length > 1) {
    return { kind: 'mirror', reason: `layout: mirror, as the devices span ${span} (--layout flat gives each a root port on pcie.0, as before)` };
  }
  return { kind: 'flat', reason: `layout: flat, as the devices span ${span} (--layout mirror or numa to give the guest the host's tree anyway)` };
}

/** Writes the layout into the plan and puts each hostdev on its port (`guestAddress.bus` = the port's index). */
export function placeDevices(plan: Plan, snapshot: HostSnapshot, kind: Exclude<LayoutKind, 'flat'>): string {
  const { layout, places } = computeLayout(snapshot, plan.hostdevs.map((h) => String(h.address)), kind);
  for (const h of plan.hostdevs) {
    const place = places.get(String(h.address));
    if (place) h.guestAddress = { bus: place.bus, slot: place.slot, function: place.function };
  }
  plan.layout = layout;
  const ranges = busRanges(layout);
  const ports = layout.controllers.filter((c) => c.model !== 'pcie-expander-bus').length;
  const cells = layout.cells.map((c) => `host node ${c.hostNode} → guest cell ${c.cell}`).join(', ');
  return (
    `layout: ${ranges.length} expander bus${ranges.length === 1 ? '' : 'es'} and ${ports} port${ports === 1 ? '' : 's'}` +
    `${cells ? ` (${cells})` : ''}, guest buses ${Math.min(...ranges.map((r) => r.first))}-${Math.max(...ranges.map((r) => r.last))}`
  );
}
