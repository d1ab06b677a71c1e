import type { XmlElement } from './load/element';
import { readDomainFacts } from './domain/facts';
import { applyEdits } from './edit/splice';
import { LoadOptions, loadDomainXml } from './load/load';
import { commandlineRemovals, overrideRemovals } from './remove/payload';
import { rewrittenRecord } from './remove/record';
import { RemoveSelection, requireFound, resolveSelection } from './remove/selection';
import { undoStructures } from './remove/undo';

export type { RemoveSelection } from './remove/selection';

/**
 * The inverse of transformDomain: removes the selected PCI hostdevs, their GPUDirect clique settings
 * (`<qemu:override>` properties or `-set` arguments), and their entries in the library's metadata;
 * containers left empty go too, and so does whatever structure the metadata records as created or opened
 * (`<devices>`, the pcie-root controller, `<metadata>`, the qemu namespace declaration, …) once nothing that
 * stays needs it. With a plan, removes everything the plan describes, so that
 * `removePassthrough(transformDomain(x, plan), plan) === x`.
 * Without a selection: every GPU (and MMIO window) recorded in the library's metadata.
 *
 * Throws PassthroughError `INPUT_INVALID` for a selection with unknown keys or wrong types, and
 * `REMOVE_NOT_FOUND` when something selected (an address, an alias, a plan entry) is not in the domain,
 * or, without a selection, when the metadata records nothing: nothing is removed then. An empty selection
 * (a plan without hostdevs, no addresses or aliases) removes nothing and returns the input.
 */
export function removePassthrough(xml: string, selection?: RemoveSelection | { hostdevs: unknown[] }, options: LoadOptions = {}): string {
  const facts = readDomainFacts(loadDomainXml(xml, options));
  const wanted = resolveSelection(facts, selection);
  const addresses = new Set(wanted.flatMap((w) => w.addresses));
  const aliases = new Set(wanted.flatMap((w) => w.aliases));
  const hostdevs = facts.hostdevs.filter(
    (h) => h.kind === 'hostdev' && (addresses.has(h.sourceKey) || (h.alias !== undefined && aliases.has(h.alias))),
  );
  const removeMmio = facts.metadataMmioGiB !== undefined && (selection === undefined || ('hostdevs' in selection && 'mmio' in selection));
  requireFound(facts, wanted, hostdevs.map((h) => h.sourceKey), selection === undefined && !removeMmio);
  const removedAliases = new Set([...aliases, ...hostdevs.flatMap((h) => (h.alias ? [h.alias] : []))]);
  const removals: XmlElement[] = [
    ...hostdevs.map((h) => h.element),
    ...overrideRemovals(facts, removedAliases),
    ...commandlineRemovals(facts, removedAliases, removeMmio),
    ...(removeMmio && facts.pcihole64 ? [facts.pcihole64.element] : []),
  ];
  const gpus = facts.metadataGpus.filter((g) => !removedAliases.has(g.alias));
  const mmioGiB = removeMmio ? undefined : facts.metadataMmioGiB;
  const undo = undoStructures(facts, removals, gpus.length > 0 || mmioGiB !== undefined);
  const record = undo.recordGone ? undefined : rewrittenRecord(facts, gpus, mmioGiB, undo.remaining);
  const edits = record ? [...undo.edits, record] : undo.edits;
  if (edits.length === 0) return xml;
  return facts.doc.bom + applyEdits(facts.doc.body, edits).text;
}
