import type { XmlElement } from '../load/element';
import { DomainFacts, MetadataGpu } from '../domain/facts';
import { metadataLines } from '../render/metadata';
import { wrap } from '../render/qemu';
import { Lines, XmlStyle } from '../render/style';
import { Insertion, appendInside, insertAfter, insertFirst, replaceElement } from './anchors';
import { EditPlan, Gpu, addInsertion, blockStartsInWrapper } from './edit-plan';

/** The library's record in `<metadata>`: GPUs, MMIO window, and what the transform created (for removal). */
export function placeMetadata(facts: DomainFacts, gpus: Gpu[], mmioGiB: number | undefined, style: XmlStyle, out: EditPlan): void {
  const entries = mergedMetadata(facts.metadataGpus, gpus);
  const created = [...new Set([...facts.metadataCreated, ...out.created, ...(facts.metadata ? [] : ['metadata'])])];
  const mmio = mmioGiB ?? facts.metadataMmioGiB;
  if (sameMetadata(entries, facts.metadataGpus) && created.join(' ') === facts.metadataCreated.join(' ') && mmio === facts.metadataMmioGiB) return;
  const lines = metadataLines(entries, created, style, mmio);
  let insertion: Insertion;
  if (facts.ourMetadata) {
    insertion = replaceElement(facts, facts.ourMetadata, lines, style);
  } else if (facts.metadata) {
    insertion = appendInside(facts, facts.metadata, [lines], style);
  } else {
    insertion = insertMetadataElement(facts, lines, style);
    insertion.blockStarts = blockStartsInWrapper(insertion, [lines], style);
  }
  const edit = addInsertion(out, insertion);
  out.changes.push({ change: { kind: 'metadata-written' }, edit, at: insertion.blockStarts[0] });
}

function insertMetadataElement(facts: DomainFacts, lines: Lines, style: XmlStyle): Insertion {
  const block = wrap('<metadata>', '</metadata>', lines);
  const header = ['name', 'uuid', 'genid', 'title', 'description'];
  let anchor: XmlElement | undefined;
  for (const el of facts.root.children) if (!el.namespaceURI && header.includes(el.localName ?? '')) anchor = el;
  return anchor ? insertAfter(facts, anchor, [block], style) : insertFirst(facts, facts.root, [block], style);
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
