import { DOMParser } from '@xmldom/xmldom';
import type { Element } from '@xmldom/xmldom';
import { PASSTHROUGH_NS, QEMU_NS } from '../lib/domain/xml';
import { formatPciAddress, pciAddressFromAttributes } from '../lib/pci/address';
import { missingFacts } from '../lib/libvirt/kept';

/**
 * What libvirt must keep of a domain, one line each: `alias NAME`, `hostdev SRC`, `hostdev SRC at
 * GUEST`, `override ALIAS PROP=VALUE (TYPE)`, `arg VALUE`, `metadata gpu ALIAS clique=N`.
 * Comparing these between the file and libvirt's dumpxml shows what libvirt silently dropped.
 */
export function keptFacts(xml: string): string[] {
  const doc = new DOMParser({ onError: () => undefined }).parseFromString(xml, 'text/xml');
  const facts: string[] = [];
  const root = doc.documentElement as unknown as Element | null;
  if (!root) return facts;
  const stack: Element[] = [root];
  while (stack.length > 0) {
    const el = stack.pop()!;
    facts.push(...factsOf(el));
    for (let n = el.lastChild; n; n = n.previousSibling) if (n.nodeType === 1) stack.push(n as Element);
  }
  return facts;
}

function parent(el: Element, levels = 1): Element | undefined {
  let p: Element | undefined = el;
  for (let i = 0; i < levels && p; i++) p = (p.parentNode as Element | null) ?? undefined;
  return p && p.nodeType === 1 ? p : undefined;
}

const plain = (el: Element | undefined, name: string) => !!el && el.localName === name && !el.namespaceURI;
const qemu = (el: Element | undefined, name: string) => !!el && el.localName === name && el.namespaceURI === QEMU_NS;
const pci = (el: Element) => {
  const a = pciAddressFromAttributes((n) => el.getAttribute(n));
  return a ? formatPciAddress(a) : 'unreadable';
};

function insideDevices(el: Element): boolean {
  for (let p = parent(el); p; p = parent(p)) if (plain(p, 'devices')) return true;
  return false;
}

function factsOf(el: Element): string[] {
  if (plain(el, 'alias') && insideDevices(el) && el.hasAttribute('name')) return [`alias ${el.getAttribute('name')}`];
  if (plain(el, 'address') && plain(parent(el), 'source') && isPciHostdev(parent(el, 2))) return [`hostdev ${pci(el)}`];
  if (plain(el, 'address') && isPciHostdev(parent(el)) && el.getAttribute('type') === 'pci') {
    const source = [...childList(parent(el)!)].find((c) => plain(c, 'source'));
    const sourceAddress = source && [...childList(source)].find((c) => plain(c, 'address'));
    return sourceAddress ? [`hostdev ${pci(sourceAddress)} at ${pci(el)}`] : [];
  }
  if (qemu(el, 'property') && qemu(parent(el), 'frontend') && qemu(parent(el, 2), 'device') && qemu(parent(el, 3), 'override')) {
    const type = el.getAttribute('type') ?? '';
    const value = type === 'remove' ? '' : `=${el.getAttribute('value') ?? ''}`;
    return [`override ${parent(el, 2)!.getAttribute('alias')} ${el.getAttribute('name')}${value} (${type})`];
  }
  if (qemu(el, 'arg') && qemu(parent(el), 'commandline')) return [`arg ${el.getAttribute('value')}`];
  if (plain(el, 'pcihole64')) return [`pcihole64 ${el.textContent?.trim()} ${el.getAttribute('unit') ?? 'KiB'}`];
  if (el.localName === 'gpu' && el.namespaceURI === PASSTHROUGH_NS) {
    return [`metadata gpu ${el.getAttribute('alias')} clique=${el.getAttribute('clique')} offset=${el.getAttribute('offset')}`];
  }
  return [];
}

function isPciHostdev(el: Element | undefined): boolean {
  return plain(el, 'hostdev') && el!.getAttribute('type') === 'pci';
}

function* childList(el: Element): Generator<Element> {
  for (let n = el.firstChild; n; n = n.nextSibling) if (n.nodeType === 1) yield n as Element;
}

/** Facts of `written` missing from `dumped` (both read here with xmldom, not the library's parser), plus orphan overrides. */
export function droppedFacts(written: string, dumped: string): string[] {
  return missingFacts(keptFacts(written), keptFacts(dumped));
}
