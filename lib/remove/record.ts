import { DomainFacts, MetadataGpu } from '../domain/facts';
import { guessIndentUnit, replaceElement } from '../edit/anchors';
import { Edit } from '../edit/splice';
import { MetadataPart, metadataLines } from '../render/metadata';

/** The library's record rewritten to what stays: GPUs, the MMIO window, the structure still recorded, other parts as they are. */
export function rewrittenRecord(facts: DomainFacts, gpus: MetadataGpu[], mmioGiB: number | undefined, created: string[]): Edit | undefined {
  const record = facts.ourMetadata;
  if (!record) return undefined;
  const unchanged = gpus.length === facts.metadataGpus.length && mmioGiB === facts.metadataMmioGiB && created.join(' ') === facts.metadataCreated.join(' ');
  if (unchanged) return undefined;
  // The same style the transform wrote the metadata with.
  const style = { quote: facts.quote, newline: facts.newline, unit: guessIndentUnit(facts) };
  const parts = facts.metadataParts.map((p): MetadataPart => ({ name: p.name, lines: [[0, facts.doc.body.slice(p.element.start, p.element.elementEnd)]] }));
  return replaceElement(facts, record, metadataLines({ gpus, mmioGiB, created, parts }, style), style).edit;
}
