import { DomainFacts } from '../domain/facts';
import { LayoutFacts } from '../domain/layout-facts';
import { PlanLayout } from '../layout/types';
import { PlannedHostdev } from '../plan/types';
import { readLayoutRecord } from './layout-record';

/**
 * The domain's index for each of the plan's controller indexes. A plan cannot know the domain's controllers (a
 * defined domain numbers its own root ports from 1), so the plan's indexes, in their order, become the next free
 * indexes above the domain's own. A domain that already holds this layout (its record names each controller's plan
 * index) keeps the indexes it got, so that a second transform finds its controllers in place.
 */
export function domainIndexes(facts: DomainFacts, lf: LayoutFacts, layout: PlanLayout): Map<number, number> {
  const recorded = new Map((readLayoutRecord(facts)?.controllers ?? []).flatMap((c) => (c.plan === undefined ? [] : [[c.plan, c.index] as [number, number]])));
  const ours = new Set(recorded.values());
  const taken = new Set([...lf.controllers.map((c) => c.index), ...ours]);
  let next = Math.max(0, ...lf.controllers.filter((c) => !ours.has(c.index)).map((c) => c.index));
  const map = new Map<number, number>();
  for (const index of layout.controllers.map((c) => c.index).sort((a, b) => a - b)) {
    const again = recorded.get(index);
    if (again !== undefined) {
      map.set(index, again);
      continue;
    }
    do next++;
    while (taken.has(next));
    taken.add(next);
    map.set(index, next);
  }
  return map;
}

/** The layout with every index and every bus that names one in the domain's numbering (bus 0, pcie.0, stays). */
export function renumberLayout(layout: PlanLayout, map: Map<number, number>): PlanLayout {
  return { ...layout, controllers: layout.controllers.map((c) => ({ ...c, index: map.get(c.index)!, bus: map.get(c.bus) ?? c.bus })) };
}

/** Hostdevs whose guest address names a layout controller, moved onto its domain index. */
export function renumberHostdevs(hostdevs: PlannedHostdev[], map: Map<number, number>): PlannedHostdev[] {
  return hostdevs.map((h) => {
    const bus = h.guestAddress && map.get(h.guestAddress.bus);
    return bus === undefined || !h.guestAddress ? h : { ...h, guestAddress: { ...h.guestAddress, bus } };
  });
}
