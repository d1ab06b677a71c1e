import { PassthroughError } from '../errors';
import { LayoutController, PlanLayout } from './types';

/** The highest bus number a PCI segment has; pxb-pcie bus ranges end at or below it. */
export const MAX_BUS = 255;

/** The bus range a pcie-expander-bus holds in the guest: its own bus and one for every port below it. */
export interface BusRange {
  index: number;
  first: number;
  last: number;
}

const childrenOf = (controllers: LayoutController[], index: number) =>
  controllers.filter((c) => c.bus === index && c.index !== index).sort((a, b) => a.slot - b.slot || a.function - b.function);

/** How many buses the hierarchy from this controller needs: every pxb and port opens one. */
export function busesBelow(controllers: LayoutController[], index: number, seen = new Set<number>()): number {
  if (seen.has(index)) return 0; // a cycle: checkLayout reports it
  seen.add(index);
  return 1 + childrenOf(controllers, index).reduce((sum, c) => sum + busesBelow(controllers, c.index, seen), 0);
}

const expanders = (controllers: LayoutController[]) => controllers.filter((c) => c.model === 'pcie-expander-bus');

/**
 * Gives each pcie-expander-bus its busNr, counting down from 254 as libvirt does for one it numbers itself, each
 * leaving room for every bus below it: the first gets 256 - its bus count, the next starts below that, and so on.
 * Refuses (LAYOUT_INVALID) when the buses do not fit below 256.
 */
export function assignBusNumbers(controllers: LayoutController[]): void {
  let top = MAX_BUS;
  for (const pxb of expanders(controllers)) {
    const needed = busesBelow(controllers, pxb.index);
    pxb.busNr = top + 1 - needed;
    top = pxb.busNr - 1;
  }
  const lowest = Math.min(MAX_BUS + 1, ...expanders(controllers).map((c) => c.busNr ?? MAX_BUS + 1));
  if (lowest < 1) {
    const total = expanders(controllers).reduce((sum, c) => sum + busesBelow(controllers, c.index), 0);
    throw new PassthroughError(
      'LAYOUT_INVALID',
      `The layout needs ${total} guest buses for its expander buses and the ports below them, but a PCI segment has 255 besides pcie.0: pass fewer devices, or use --layout numa (fewer ports).`,
    );
  }
}

/** Each expander bus's range of guest bus numbers, from its busNr. */
export function busRanges(layout: Pick<PlanLayout, 'controllers'>): BusRange[] {
  return expanders(layout.controllers).map((c) => ({ index: c.index, first: c.busNr ?? 0, last: (c.busNr ?? 0) + busesBelow(layout.controllers, c.index) - 1 }));
}

/**
 * Refuses bus numbers the guest cannot keep: a range that runs past 255, two expander buses whose ranges overlap
 * (libvirt 9.0 accepts it, and the guest firmware then silently drops the devices of one), or a range that starts
 * at or below `rootBuses - 1`, the buses pcie.0 and its own ports use (the transform knows how many; 1 = pcie.0 only).
 */
export function checkBusNumbers(layout: Pick<PlanLayout, 'controllers'>, rootBuses = 1, where = (i: number) => `layout.controllers[${i}].busNr`): void {
  const ranges = busRanges(layout);
  const at = (index: number) => where(layout.controllers.findIndex((c) => c.index === index));
  for (const r of ranges) {
    if (r.last > MAX_BUS) {
      throw new PassthroughError('LAYOUT_INVALID', `Expander bus ${r.index} needs buses ${r.first}-${r.last}, past 255: lower its busNr to ${MAX_BUS + r.first - r.last} or less.`, { path: at(r.index) });
    }
    if (r.first < rootBuses) {
      throw new PassthroughError('LAYOUT_INVALID', `Expander bus ${r.index} starts at bus ${r.first}, which pcie.0 and its ports use (buses 0-${rootBuses - 1}): give it a higher busNr.`, { path: at(r.index) });
    }
    const other = ranges.find((o) => o !== r && o.first <= r.last && r.first <= o.last);
    if (other) {
      throw new PassthroughError(
        'LAYOUT_INVALID',
        `Expander buses ${r.index} (buses ${r.first}-${r.last}) and ${other.index} (buses ${other.first}-${other.last}) overlap: the guest would lose the devices of one. ` +
          'Give each a busNr that leaves room for every bus below it.',
        { path: at(r.index) },
      );
    }
  }
}

/**
 * The bus number the guest firmware gives the bus below each controller: an expander bus's own busNr, then depth
 * first in slot order, as SeaBIOS and OVMF number the bridges below a root bus. Indexes → guest bus numbers.
 */
export function guestBusNumbers(layout: Pick<PlanLayout, 'controllers'>): Map<number, number> {
  const numbers = new Map<number, number>();
  const visit = (c: LayoutController, next: number): number => {
    numbers.set(c.index, next);
    let after = next + 1;
    for (const child of childrenOf(layout.controllers, c.index)) if (!numbers.has(child.index)) after = visit(child, after);
    return after;
  };
  for (const pxb of expanders(layout.controllers)) visit(pxb, pxb.busNr ?? 0);
  return numbers;
}

const bdf = (bus: number, slot: number, fn: number) =>
  `0000:${bus.toString(16).padStart(2, '0')}:${slot.toString(16).padStart(2, '0')}.${fn}`;

/**
 * The sysfs path the guest kernel gives a function placed at `place` (bus = a controller index, or 0 for pcie.0):
 * its root bus (`pci0000:fe` for an expander bus with busNr 254), the ports above it, and the function itself, with
 * the bus numbers of guestBusNumbers. What NCCL reads in the guest; the same shape as HostPciDevice.path.
 */
export function guestPath(layout: Pick<PlanLayout, 'controllers'>, place: { bus: number; slot: number; function: number }, numbers = guestBusNumbers(layout)): string[] {
  const byIndex = new Map(layout.controllers.map((c) => [c.index, c]));
  const busNumber = (index: number) => (index === 0 ? 0 : (numbers.get(index) ?? 0));
  const path = [bdf(busNumber(place.bus), place.slot, place.function)];
  for (let c = byIndex.get(place.bus); c; c = byIndex.get(c.bus)) {
    if (c.model === 'pcie-expander-bus') return [`pci0000:${busNumber(c.index).toString(16).padStart(2, '0')}`, ...path];
    path.unshift(bdf(busNumber(c.bus), c.slot, c.function));
  }
  return ['pci0000:00', ...path];
}
