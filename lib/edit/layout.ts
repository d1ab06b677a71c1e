import { DomainFacts, positionOf } from '../domain/facts';
import { LayoutFacts, readLayoutFacts } from '../domain/layout-facts';
import { PassthroughError } from '../errors';
import { LayoutController, PlanLayout } from '../layout/types';
import { busMember, numberBuses } from '../layout/guest-buses';
import { PlannedHostdev } from '../plan/types';
import { Lines, XmlStyle } from '../render/style';
import { Insertion, insertAfter, insertFirst } from './anchors';
import { insertInto, kindContainer } from './container';
import { Change } from './changes';
import { EditPlan, addInsertion, recordCreated } from './edit-plan';
import { decideCells } from './layout-cells';
import { decideControllers, sharedSlots } from './layout-controllers';
import { domainIndexes, renumberHostdevs, renumberLayout } from './layout-numbering';
import { NewCell, cellLines, controllerLines } from './layout-render';

/** A layout decided against one domain: the controllers to write (with the hostdevs) and the cells to create. */
export interface LayoutDecision {
  /** The layout in the domain's controller numbering, and each domain index's index in the plan. */
  layout: PlanLayout;
  planIndexes: Map<number, number>;
  facts: LayoutFacts;
  /** Controllers to add, in the plan's order, each with the change it reports. */
  controllerBlocks: { lines: Lines; change: Change }[];
  addedIndexes: number[];
  cells: NewCell[];
  /** The planned hostdevs on the domain's controller indexes, function 0 of a shared guest slot marked multifunction. */
  hostdevs: PlannedHostdev[];
}

/**
 * Checks a layout against the domain and decides what to write; nothing is written yet. Refuses a domain
 * without ACPI when the layout has NUMA nodes: libvirt then passes -no-acpi, the guest gets no _PXM, and every
 * device's numa_node is -1 (seen with the guest oracle), so the layout would be written for nothing.
 */
export function decideLayout(facts: DomainFacts, planLayout: PlanLayout, planHostdevs: PlannedHostdev[], style: XmlStyle, warnings: string[]): LayoutDecision {
  const lf = readLayoutFacts(facts);
  const indexes = domainIndexes(facts, lf, planLayout);
  const layout = renumberLayout(planLayout, indexes);
  const hostdevs = renumberHostdevs(planHostdevs, indexes);
  const numaLayout = layout.cells.length > 0 || layout.controllers.some((c) => c.model === 'pcie-expander-bus');
  if (numaLayout && !lf.acpi) {
    throw new PassthroughError(
      'LAYOUT_NEEDS_ACPI',
      "The layout places devices on guest NUMA nodes, but the domain has no <features><acpi/>: libvirt then starts QEMU with -no-acpi and the guest sees every device's numa_node as -1. Add <acpi/> to <features> (UEFI guests need it anyway).",
      lf.features ? positionOf(facts, lf.features) : undefined,
    );
  }
  checkPlacements(layout, hostdevs);
  const cells = decideCells(facts, lf, layout.cells, warnings);
  const decision = decideControllers(facts, lf, layout.controllers, hostdevs);
  checkGuestBuses(lf, decision.added);
  const shared = sharedSlots(hostdevs);
  return {
    layout,
    planIndexes: new Map([...indexes].map(([plan, domain]) => [domain, plan])),
    facts: lf,
    cells,
    addedIndexes: decision.added.map((c) => c.index),
    controllerBlocks: decision.added.map((c) => ({ lines: controllerLines(c, style), change: { kind: 'controller-added', alias: `pci.${c.index}` } })),
    hostdevs: hostdevs.map((h) => {
      const g = h.guestAddress;
      return g && g.function === 0 && shared.has(`${g.domain}:${g.bus}:${g.slot}`) ? { ...h, guestMultifunction: true } : h;
    }),
  };
}

/**
 * Under a numa or mirror layout every planned device sits on a port of the layout (else libvirt puts it on pcie.0,
 * on no NUMA node); which ports a device may sit on is checked with the rest of the plan (plan/layout.ts).
 */
function checkPlacements(layout: PlanLayout, hostdevs: PlannedHostdev[]): void {
  if (layout.kind === 'flat') return;
  const unplaced = hostdevs.find((h) => !h.guestAddress);
  if (!unplaced) return;
  const path = `hostdevs[${unplaced.index}].guestAddress`;
  throw new PassthroughError('LAYOUT_INVALID', `The plan's layout is invalid: ${path} is missing; a ${layout.kind} layout places every device on one of its ports (libvirt would put it on pcie.0, on no NUMA node).`, { path });
}

/** The guest's bus numbers with the new controllers in place must not overlap (numberBuses throws if they do). */
function checkGuestBuses(lf: LayoutFacts, added: LayoutController[]): void {
  const controllers = new Map(lf.controllers.map((c) => [c.element, c]));
  const members = lf.addressed.filter((d) => d.address.domain === 0).map((d) => busMember(d.address, controllers.get(d.element)));
  for (const c of added) members.push(busMember(c, c));
  numberBuses(members);
}

/**
 * Controllers that could not ride along with new hostdevs (every planned device was already in the domain):
 * after the domain's last controller, else first in `<devices>`.
 */
export function placeLonelyControllers(facts: DomainFacts, decision: LayoutDecision, style: XmlStyle, out: EditPlan): void {
  if (decision.controllerBlocks.length === 0) return;
  const blocks = decision.controllerBlocks.map((b) => b.lines);
  const last = decision.facts.controllers[decision.facts.controllers.length - 1];
  const insertion = last ? insertAfter(facts, last.element, blocks, style) : insertFirst(facts, facts.devices!, blocks, style);
  recordChanges(out, insertion, decision.controllerBlocks.map((b) => b.change));
}

/** The cells the layout needs, when the domain had none: `<numa>` in `<cpu>` (opened or created after `<features>`). */
export function placeCells(facts: DomainFacts, decision: LayoutDecision, style: XmlStyle, out: EditPlan): void {
  if (decision.cells.length === 0) return;
  const insertion = insertInto(facts, kindContainer(facts, style, 'numa'), [cellLines(decision.cells, style)], style);
  recordChanges(out, insertion, [{ kind: 'numa-added', cells: decision.cells.length }]);
}

/** Every controller this transform adds, for removal: each goes once no device that stays sits on its bus. */
export function recordControllers(decision: LayoutDecision, out: EditPlan): void {
  for (const index of decision.addedIndexes) recordCreated(out, { kind: 'controller', arg: String(index), opened: false });
}

function recordChanges(out: EditPlan, insertion: Insertion, changes: Change[]): void {
  const edit = addInsertion(out, insertion);
  changes.forEach((change, i) => out.changes.push({ change, edit, at: insertion.blockStarts[Math.min(i, insertion.blockStarts.length - 1)] }));
}
