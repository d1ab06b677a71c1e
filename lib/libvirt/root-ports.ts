import type { XmlElement } from '../load/element';
import { DomainFacts, readDomainFacts } from '../domain/facts';
import { isPlain } from '../domain/xml';
import { guessIndentUnit } from '../edit/anchors';
import { creationsFor, insertInto, kindContainer } from '../edit/container';
import { Edit, applyEdits } from '../edit/splice';
import { StructureKind, UndoContext, registerStructureKind, structureToken } from '../edit/structure';
import { loadDomainXml } from '../load/load';
import { pciAddressFromAttributes } from '../pci/address';
import { metadataLines } from '../render/metadata';
import { rewrittenRecord } from '../remove/record';

/**
 * The `pcie-root-port` controllers libvirt adds on define for hostdevs without a free port (q35: one per GPU
 * beyond the spare ports). apply records the ones it caused in the metadata (`created='pcie-root-port:INDEX'`),
 * so that removal takes them away once no device that stays sits on their bus, and only those.
 */
export const ROOT_PORT_KIND: StructureKind = {
  kind: 'pcie-root-port',
  find: (facts, index) => rootPorts(facts).find((c) => Number(c.getAttribute('index')) === Number(index)),
  // libvirt fills gaps in the PCI controller indexes on define (a missing index below a used one comes back as a
  // new root port), so a port is needed while a controller with a higher index stays.
  occupied: (port, index, context) => busUsers(context, Number(index)).some((el) => el !== port) || higherControllerStays(context, Number(index)),
};
registerStructureKind(ROOT_PORT_KIND);

function rootPorts(facts: DomainFacts): XmlElement[] {
  const devices = facts.devices?.children ?? [];
  return devices.filter((el) => isPlain(el, 'controller') && el.getAttribute('type') === 'pci' && el.getAttribute('model') === 'pcie-root-port');
}

/** Devices and controllers that stay and whose own guest `<address type='pci'>` is on `bus`. */
function busUsers(context: UndoContext, bus: number): XmlElement[] {
  return (context.facts.devices?.children ?? []).filter((device) => {
    if (context.isGone(device)) return false;
    const address = device.children.find((c) => isPlain(c, 'address') && c.getAttribute('type') === 'pci');
    return address !== undefined && pciAddressFromAttributes((n) => address.getAttribute(n))?.bus === bus;
  });
}

function higherControllerStays(context: UndoContext, index: number): boolean {
  return (context.facts.devices?.children ?? []).some(
    (el) => isPlain(el, 'controller') && el.getAttribute('type') === 'pci' && Number(el.getAttribute('index')) > index && !context.isGone(el),
  );
}

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
    edit = rewrittenRecord(facts, facts.metadataGpus, facts.metadataMmioGiB, created);
  } else {
    const container = kindContainer(facts, style, 'metadata');
    const own = creationsFor(facts, style, container).map(structureToken);
    const lines = metadataLines({ gpus: [], created: [...created, ...own], parts: [] }, style);
    edit = insertInto(facts, container, [lines], style).edit;
  }
  return edit ? doc.bom + applyEdits(doc.body, [edit]).text : xml;
}
