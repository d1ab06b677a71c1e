import { DomainFacts, MetadataGpu } from '../domain/facts';
import { guessIndentUnit, replaceElement } from '../edit/anchors';
import { Edit } from '../edit/splice';
import { MetadataPart, metadataLines } from '../render/metadata';

/** The library's record rewritten to what stays: GPUs, the MMIO window, the structure and additions still recorded, other parts as they are. */
export function rewrittenRecord(facts: DomainFacts, stays: { gpus: MetadataGpu[]; mmioGiB?: number; created: string[]; added?: string[] }): Edit | undefined {
  const record = facts.ourMetadata;
  if (!record) return undefined;
  const { gpus, mmioGiB, created, added } = stays;
  const unchanged =
    gpus.length === facts.metadataGpus.length &&
    mmioGiB === facts.metadataMmioGiB &&
    created.join(' ') === facts.metadataCreated.join(' ') &&
    added?.join(' ') === facts.metadataAdded?.join(' ');
  if (unchanged) return undefined;
  // The same style the transform wrote the metadata with.
  const style = { quote: facts.quote, newline: facts.newline, unit: guessIndentUnit(facts) };
  const parts = facts.metadataParts.map((p): MetadataPart => ({ name: p.name, lines: [[0, facts.doc.body.slice(p.element.start, p.element.elementEnd)]] }));
  return replaceElement(facts, record, metadataLines({ gpus, mmioGiB, created, added, parts }, style), style).edit;
}
