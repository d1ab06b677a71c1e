import type { XmlElement } from './load/element';
import { readDomainFacts } from './domain/facts';
import { applyEdits } from './edit/splice';
import { LoadOptions, loadDomainXml } from './load/load';
import { commandlineRemovals, overrideRemovals } from './remove/payload';
import { rewrittenRecord } from './remove/record';
import { RemoveSelection, requireFound, resolveSelection } from './remove/selection';
import { everythingRecorded, takenFor } from './remove/taken';
import { openedByUs, undoStructures } from './remove/undo';

export type { RemoveSelection } from './remove/selection';

/**
 * The inverse of transformDomain: takes back what the library's metadata records it added — PCI hostdevs, aliases
 * written into the user's hostdevs, GPUDirect clique settings (`<qemu:override>` properties or `-set` arguments),
 * the MMIO window — and their entries in the metadata; containers left empty go too, and so does whatever structure
 * the metadata records as created or opened (`<devices>`, the pcie-root controller, `<metadata>`, the qemu namespace
 * declaration, …) once nothing that stays needs it. A selection (a plan, addresses, aliases) only narrows that:
 * what the user wrote stays, so that `removePassthrough(transformDomain(x, plan), plan) === x` for every x.
 * Without a selection: everything recorded. A record of the first releases (no `added` list) is undone as they did.
 *
 * Throws PassthroughError `INPUT_INVALID` for a selection with unknown keys or wrong types, and
 * `REMOVE_NOT_FOUND` when something selected (an address, an alias, a plan entry) is not in the domain,
 * or, without a selection, when the metadata records nothing: nothing is removed then. An empty selection
 * (a plan without hostdevs, no addresses or aliases) removes nothing and returns the input.
 */
export function removePassthrough(xml: string, selection?: RemoveSelection | { hostdevs: unknown[] }, options: LoadOptions = {}): string {
  const facts = readDomainFacts(loadDomainXml(xml, options));
  const recorded = facts.metadataAdded !== undefined;
  const wanted = selection === undefined && recorded ? everythingRecorded(facts) : resolveSelection(facts, selection);
  const removeMmio = facts.metadataMmioGiB !== undefined && (selection === undefined || ('hostdevs' in selection && 'mmio' in selection));
  const taken = takenFor(facts, wanted, removeMmio);
  const present = recorded ? facts.hostdevs.filter((h) => h.kind === 'hostdev') : taken.hostdevs;
  if (selection !== undefined || !recorded) requireFound(facts, wanted, present.map((h) => h.sourceKey), selection === undefined && !removeMmio);
  const keep = openedByUs(facts);
  const removals: XmlElement[] = [
    ...taken.hostdevs.map((h) => h.element),
    ...taken.aliasElements,
    ...overrideRemovals(facts, taken.cliques, keep),
    ...commandlineRemovals(facts, taken.cliques, taken.fwCfg, keep),
    ...(taken.pcihole64 && facts.pcihole64 ? [facts.pcihole64.element] : []),
  ];
  const gpus = facts.metadataGpus.filter((g) => !taken.metadataAliases.has(g.alias));
  const mmioGiB = removeMmio ? undefined : facts.metadataMmioGiB;
  const undo = undoStructures(facts, removals, gpus.length > 0 || mmioGiB !== undefined || (taken.remainingAdded ?? []).length > 0);
  const record = undo.recordGone ? undefined : rewrittenRecord(facts, { gpus, mmioGiB, created: undo.remaining, added: taken.remainingAdded });
  const edits = record ? [...undo.edits, record] : undo.edits;
  if (edits.length === 0) return xml;
  return facts.doc.bom + applyEdits(facts.doc.body, edits).text;
}
