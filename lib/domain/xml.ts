import type { XmlElement } from '../load/element';

export const QEMU_NS = 'http://libvirt.org/schemas/domain/qemu/1.0';
export const PASSTHROUGH_NS = 'urn:libvirt-passthrough:metadata:1';

/** First child element with this local name and no namespace (libvirt's own elements). */
export function child(parent: XmlElement, name: string): XmlElement | undefined {
  for (const el of parent.children) if (el.namespaceURI === null && el.localName === name) return el;
  return undefined;
}

export function isPlain(element: XmlElement, name: string): boolean {
  return element.namespaceURI === null && element.localName === name;
}

export function isQemu(element: XmlElement, name: string): boolean {
  return element.namespaceURI === QEMU_NS && element.localName === name;
}

export function attr(element: XmlElement | undefined, name: string): string | undefined {
  return element?.getAttribute(name) ?? undefined;
}
