import { DOMParser } from '@xmldom/xmldom';
import type { Element } from '@xmldom/xmldom';
import { FactReader, factsFrom, missingFacts } from '../lib/libvirt/kept';

/**
 * What libvirt must keep of a domain, one line each (`alias NAME`, `hostdev SRC at GUEST`, `override …`; the
 * rules are lib/libvirt/kept.ts's), read with xmldom instead of the library's parser: the harness checks what
 * libvirt kept without trusting the parser under test. Comparing these between the file and libvirt's dumpxml
 * shows what libvirt silently dropped.
 */
export function keptFacts(xml: string): string[] {
  const doc = new DOMParser({ onError: () => undefined }).parseFromString(xml, 'text/xml');
  const root = doc.documentElement as unknown as Element | null;
  return root ? factsFrom(root, XMLDOM) : [];
}

/** Facts of `written` missing from `dumped` (both read here with xmldom, not the library's parser), plus orphan overrides. */
export function droppedFacts(written: string, dumped: string): string[] {
  return missingFacts(keptFacts(written), keptFacts(dumped));
}

const XMLDOM: FactReader<Element> = {
  localName: (el) => el.localName ?? '',
  namespaceURI: (el) => el.namespaceURI || null,
  parent: (el) => {
    const p = el.parentNode as Element | null;
    return p && p.nodeType === 1 ? p : undefined;
  },
  children: (el) => {
    const out: Element[] = [];
    for (let n = el.firstChild; n; n = n.nextSibling) if (n.nodeType === 1) out.push(n as Element);
    return out;
  },
  attribute: (el, name) => (el.hasAttribute(name) ? el.getAttribute(name) : null),
  text: (el) => el.textContent ?? '',
};
