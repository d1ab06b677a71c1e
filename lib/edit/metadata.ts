import { DomainFacts, MetadataGpu } from '../domain/facts';
import { MetadataPart, MetadataRecord, metadataLines } from '../render/metadata';
import { XmlStyle } from '../render/style';
import { Insertion, replaceElement } from './anchors';
import { creationsFor, insertInto, kindContainer } from './container';
import { EditPlan, Gpu, addInsertion } from './edit-plan';
import { structureToken } from './structure';

/** The library's record in `<metadata>`: GPUs, MMIO window, what the transform created (for removal), other modules' parts. */
export function placeMetadata(facts: DomainFacts, gpus: Gpu[], mmioGiB: number | undefined, style: XmlStyle, out: EditPlan): void {
  const container = kindContainer(facts, style, 'metadata');
  // Writing the record may create or open `<metadata>` itself: the record lists that too, last.
  const ownContainer = facts.ourMetadata ? [] : creationsFor(facts, style, container).map(structureToken);
  const created = [...new Set([...facts.metadataCreated, ...out.created, ...ownContainer])];
  // A record of the first releases (no `added` list) keeps its form: removal undoes it as they did.
  const legacy = facts.ourMetadata !== undefined && facts.metadataAdded === undefined;
  const addedList = legacy ? undefined : [...new Set([...(facts.metadataAdded ?? []), ...out.added])];
  const record: MetadataRecord = {
    gpus: mergedMetadata(facts.metadataGpus, gpus),
    mmioGiB: mmioGiB ?? facts.metadataMmioGiB,
    created,
    added: addedList,
    parts: mergedParts(facts, out.metadataParts),
  };
  const sameAdded = (addedList ?? []).join(' ') === (facts.metadataAdded ?? []).join(' ') && facts.ourMetadata !== undefined;
  if (sameAdded && sameMetadata(record.gpus, facts.metadataGpus) && created.join(' ') === facts.metadataCreated.join(' ') && record.mmioGiB === facts.metadataMmioGiB && out.metadataParts.length === 0) return;
  const lines = metadataLines(record, style);
  let insertion: Insertion;
  if (facts.ourMetadata) {
    insertion = replaceElement(facts, facts.ourMetadata, lines, style);
  } else {
    insertion = insertInto(facts, container, [lines], style);
  }
  const edit = addInsertion(out, insertion);
  out.changes.push({ change: { kind: 'metadata-written' }, edit, at: insertion.blockStarts[0] });
}

/** The parts already in the record, as written, with the ones this transform contributes in place of those of the same name. */
function mergedParts(facts: DomainFacts, contributed: MetadataPart[]): MetadataPart[] {
  const replaced = new Set(contributed.map((p) => p.name));
  const kept = facts.metadataParts
    .filter((p) => !replaced.has(p.name))
    .map((p): MetadataPart => ({ name: p.name, lines: [[0, facts.doc.body.slice(p.element.start, p.element.elementEnd)]] }));
  return [...kept, ...contributed];
}

function mergedMetadata(existing: MetadataGpu[], gpus: Gpu[]): MetadataGpu[] {
  const byAlias = new Map(existing.map((g) => [g.alias, g]));
  for (const gpu of gpus) {
    const g = gpu.planned.gpudirect!;
    byAlias.set(gpu.alias, {
      alias: gpu.alias,
      address: gpu.planned.addressKey,
      clique: gpu.clique,
      architecture: g.architecture,
      offset: g.offset,
    });
  }
  return [...byAlias.values()];
}

function sameMetadata(a: MetadataGpu[], b: MetadataGpu[]): boolean {
  const key = (g: MetadataGpu) => [g.alias, g.address, g.clique, g.architecture, g.offset].join('|');
  return a.length === b.length && a.every((g, i) => key(g) === key(b[i]));
}
