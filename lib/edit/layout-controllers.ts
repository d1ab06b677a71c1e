import type { XmlElement } from '../load/element';
import { DomainFacts, positionOf } from '../domain/facts';
import { LayoutFacts, PciControllerFact } from '../domain/layout-facts';
import { PassthroughError, excerpt } from '../errors';
import { LayoutController } from '../layout/types';
import { formatPciAddress } from '../pci/address';
import { PlannedHostdev } from '../plan/types';
import { controllerAddress } from './layout-render';

/** The layout's controllers split into those to write and those the domain already has exactly as planned. */
export interface ControllerDecision {
  added: LayoutController[];
  inPlace: LayoutController[];
}

/**
 * Which layout controllers (already in the domain's numbering) to add. One the domain already has with the same
 * index, model, place and target is left as it is (a second transform); anything else at that index, another
 * device at its address, or a device of the domain that sits on a bus a new controller would provide, is a
 * conflict: the layout's bus numbers would silently mean something else.
 */
export function decideControllers(facts: DomainFacts, lf: LayoutFacts, controllers: LayoutController[], hostdevs: PlannedHostdev[]): ControllerDecision {
  const decision: ControllerDecision = { added: [], inPlace: [] };
  const byIndex = new Map(lf.controllers.map((c) => [c.index, c]));
  const ourSources = new Set(hostdevs.map((h) => h.addressKey));
  for (const planned of controllers) {
    const existing = byIndex.get(planned.index);
    if (existing) {
      const differences = differencesFrom(planned, existing);
      if (differences.length > 0) {
        throw conflict(
          facts,
          existing,
          `The domain's controller ${planned.index}, which its record gives to this layout's ${planned.model}, is now a ${describe(existing)} ${differences.join(', ')}. ` +
            'Restore it, or remove the passthrough with the plan (`remove --plan`) and transform again.',
        );
      }
      decision.inPlace.push(planned);
      continue;
    }
    const where = formatPciAddress(controllerAddress(planned));
    const occupant = facts.guestAddresses.get(where);
    if (occupant) {
      throw conflict(facts, { element: occupant }, `The layout puts controller ${planned.index} (${planned.model}) at guest address ${where}, which a <${excerpt(occupant.tagName, 40)}> of the domain already uses. Move that device or regenerate the layout.`);
    }
    const lodger = lf.addressed.find((d) => d.address.bus === planned.index && !isOurHostdev(facts, d.element, ourSources));
    if (lodger) {
      throw conflict(
        facts,
        lodger,
        `A <${excerpt(lodger.element.tagName, 40)}> of the domain sits on bus ${planned.index}, the bus the layout's new controller ${planned.index} (${planned.model}) provides: ` +
          'it would end up behind that controller. Give the layout other indexes, or move the device.',
      );
    }
    decision.added.push(planned);
  }
  return decision;
}

function isOurHostdev(facts: DomainFacts, element: XmlElement, sources: Set<string>): boolean {
  return facts.hostdevs.some((h) => h.element === element && sources.has(h.sourceKey));
}

function differencesFrom(planned: LayoutController, existing: PciControllerFact): string[] {
  const at = existing.address && formatPciAddress(existing.address);
  if (existing.model !== planned.model) return [`at ${at ?? 'an address libvirt chooses'}`];
  const found: string[] = [];
  const want = formatPciAddress(controllerAddress(planned));
  if (at !== want) found.push(`at ${at ?? 'an address libvirt chooses'}, not ${want}`);
  if (planned.model === 'pcie-expander-bus') {
    if (existing.busNr !== planned.busNr) found.push(`with busNr ${existing.busNr ?? '(none)'}, not ${planned.busNr}`);
    if (existing.node !== planned.node) found.push(`on node ${existing.node ?? '(none)'}, not ${planned.node}`);
  }
  if (planned.chassis !== undefined && existing.chassis !== planned.chassis) found.push(`with chassis ${existing.chassis ?? '(none)'}, not ${planned.chassis}`);
  if (planned.port !== undefined && existing.port !== planned.port) found.push(`with port ${existing.port ?? '(none)'}, not ${planned.port}`);
  return found;
}

function describe(c: PciControllerFact): string {
  return excerpt(c.model ?? 'controller', 40);
}

function conflict(facts: DomainFacts, at: { element: XmlElement }, message: string): PassthroughError {
  return new PassthroughError('LAYOUT_CONTROLLER_CONFLICT', message, positionOf(facts, at.element));
}

/** Guest slots (bus:slot) that planned hostdevs share: function 0 of each gets multifunction='on'. */
export function sharedSlots(hostdevs: PlannedHostdev[]): Set<string> {
  const count = new Map<string, number>();
  for (const h of hostdevs) {
    if (!h.guestAddress) continue;
    const key = `${h.guestAddress.domain}:${h.guestAddress.bus}:${h.guestAddress.slot}`;
    count.set(key, (count.get(key) ?? 0) + 1);
  }
  return new Set([...count].filter(([, n]) => n > 1).map(([key]) => key));
}
