import { readDomainFacts } from '../lib/domain/facts';
import { isPlain } from '../lib/domain/xml';
import { applyEdits, Edit } from '../lib/edit/splice';
import { loadDomainXml } from '../lib/load/load';

/**
 * What the oracle feeds libvirt for one domain file. This machine has no /dev/kvm, so a
 * type='kvm' domain is judged as its TCG twin (type='qemu', host-passthrough CPU → maximum).
 * For domxml-to-native, PCI hostdevs without a <driver> get <driver name='vfio'/>: a real host
 * picks vfio itself, offline libvirt says "invalid PCI passthrough type 'default'".
 */
export function tcgTwin(xml: string): string {
  return xml
    .replace(/(<domain\b[^>]*?\btype\s*=\s*)(["'])kvm\2/, '$1$2qemu$2')
    .replace(/(<cpu\b[^>]*?\bmode\s*=\s*)(["'])host-passthrough\2/, '$1$2maximum$2');
}

export function withVfioDrivers(xml: string): string {
  let facts;
  try {
    facts = readDomainFacts(loadDomainXml(xml));
  } catch {
    return xml; // not loadable: libvirt will say why
  }
  const edits: Edit[] = [];
  for (const h of facts.hostdevs) {
    if (h.element.children.some((el) => isPlain(el, 'driver'))) continue;
    const at = h.element.end;
    edits.push({ start: at, end: at, text: "<driver name='vfio'/>" });
  }
  return facts.doc.bom + applyEdits(facts.doc.body, edits).text;
}

export function hasKvm(): boolean {
  try {
    return require('node:fs').statSync('/dev/kvm').isCharacterDevice();
  } catch {
    return false;
  }
}
