import type { Element } from '@xmldom/xmldom';
/** Small DOM helpers: iterate children without NodeList allocations or recursion. */
export const QEMU_NS = 'http://libvirt.org/schemas/domain/qemu/1.0';
export const PASSTHROUGH_NS = 'urn:libvirt-passthrough:metadata:1';

const ELEMENT_NODE = 1;

export function* childElements(parent: Element): Generator<Element> {
  for (let n = parent.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === ELEMENT_NODE) yield n as Element;
  }
}

/** First child element with this local name and no namespace (libvirt's own elements). */
export function child(parent: Element, name: string): Element | undefined {
  for (let n = parent.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === ELEMENT_NODE && (n as Element).localName === name && !(n as Element).namespaceURI) return n as Element;
  }
  return undefined;
}

export function isPlain(element: Element, name: string): boolean {
  return element.localName === name && !element.namespaceURI;
}

export function isQemu(element: Element, name: string): boolean {
  return element.localName === name && element.namespaceURI === QEMU_NS;
}

export function attr(element: Element | undefined, name: string): string | undefined {
  if (!element || !element.hasAttribute(name)) return undefined;
  return element.getAttribute(name) ?? undefined;
}
