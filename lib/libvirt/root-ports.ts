// The `pcie-root-port` controllers libvirt adds on define for hostdevs without a free port (q35: one per GPU beyond
// the spare ports). apply records the ones it caused in the metadata (`created='pcie-root-port:INDEX'`), so that
// removal (the structure kind in lib/edit/root-port-kind.ts) takes them away once unused, and only those.
import { readDomainFacts } from '../domain/facts';
import { guessIndentUnit } from '../edit/anchors';
import { creationsFor, insertInto, kindContainer } from '../edit/container';
import { Edit, applyEdits } from '../edit/splice';
import { ROOT_PORT_KIND, rootPorts } from '../edit/root-port-kind';
import { structureToken } from '../edit/structure';
import { loadDomainXml } from '../load/load';
import { metadataLines } from '../render/metadata';
import { rewrittenRecord } from '../remove/record';

/** Indexes of the root ports in `readBack` (libvirt's definition after define) that `written` (what was defined) did not have. */
export function addedRootPorts(written: string, readBack: string): number[] {
  const indexes = (xml: string) => rootPorts(readDomainFacts(loadDomainXml(xml))).map((c) => Number(c.getAttribute('index')));
  const before = new Set(indexes(written));
  return indexes(readBack).filter((i) => !before.has(i));
}

/** `xml` with the root ports added to the library's record (a record created, as the transform would, when there is none). */
export function recordRootPorts(xml: string, indexes: number[]): string {
  const doc = loadDomainXml(xml);
  const facts = readDomainFacts(doc);
  const tokens = indexes.map((i) => structureToken({ kind: ROOT_PORT_KIND.kind, arg: String(i), opened: false }));
  const created = [...new Set([...facts.metadataCreated, ...tokens])];
  const style = { quote: facts.quote, newline: facts.newline, unit: guessIndentUnit(facts) };
  let edit: Edit | undefined;
  if (facts.ourMetadata) {
    edit = rewrittenRecord(facts, { gpus: facts.metadataGpus, mmioGiB: facts.metadataMmioGiB, created, added: facts.metadataAdded });
  } else {
    const container = kindContainer(facts, style, 'metadata');
    const own = creationsFor(facts, style, container).map(structureToken);
    const lines = metadataLines({ gpus: [], created: [...created, ...own], parts: [] }, style);
    edit = insertInto(facts, container, [lines], style).edit;
  }
  return edit ? doc.bom + applyEdits(doc.body, [edit]).text : xml;
}
