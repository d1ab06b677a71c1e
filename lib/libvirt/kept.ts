import { PASSTHROUGH_NS, isPlain, isQemu } from '../domain/xml';
import { XmlElement, textContent } from '../load/element';
import { loadDomainXml } from '../load/load';
import { formatPciAddress, pciAddressFromAttributes } from '../pci/address';

/**
 * What libvirt must keep of a domain, one line each: `alias NAME`, `hostdev SRC`, `hostdev SRC at
 * GUEST`, `override ALIAS PROP=VALUE (TYPE)`, `arg VALUE`, `pcihole64 N UNIT`, `metadata gpu ALIAS …`.
 * Comparing these between the XML given to `virsh define` and libvirt's `dumpxml` shows what libvirt
 * silently dropped. The same facts as the conformance harness checks on every fixture.
 */
export function keptFacts(xml: string): string[] {
  const doc = loadDomainXml(xml);
  const facts: string[] = [];
  const stack: XmlElement[] = [doc.root];
  while (stack.length > 0) {
    const el = stack.pop()!;
    facts.push(...factsOf(el, doc.body));
    for (let i = el.children.length - 1; i >= 0; i--) stack.push(el.children[i]);
  }
  return facts;
}

/** Facts of `written` missing from `dumped`, plus overrides in `dumped` whose alias no device has. */
export function droppedFacts(written: string, dumped: string): string[] {
  return missingFacts(keptFacts(written), keptFacts(dumped));
}

/** The comparison itself, for any reader of the facts (the conformance harness reads them with xmldom). */
export function missingFacts(written: string[], kept: string[]): string[] {
  const keptSet = new Set(kept);
  const dropped = written.filter((f) => !keptSet.has(f));
  const aliases = new Set(kept.filter((f) => f.startsWith('alias ')).map((f) => f.slice(6)));
  const orphans = new Set(
    kept.filter((f) => f.startsWith('override ')).map((f) => f.split(' ')[1]).filter((alias) => !aliases.has(alias)),
  );
  return [...new Set(dropped), ...[...orphans].sort().map((a) => `override ${a} matches no device alias`)];
}

function ancestor(el: XmlElement, levels: number): XmlElement | undefined {
  let p: XmlElement | undefined = el;
  for (let i = 0; i < levels && p; i++) p = p.parent;
  return p;
}

const plain = (el: XmlElement | undefined, name: string) => !!el && isPlain(el, name);
const qemu = (el: XmlElement | undefined, name: string) => !!el && isQemu(el, name);

function pci(el: XmlElement): string {
  const a = pciAddressFromAttributes((n) => el.getAttribute(n));
  return a ? formatPciAddress(a) : 'unreadable';
}

function insideDevices(el: XmlElement): boolean {
  for (let p = el.parent; p; p = p.parent) if (plain(p, 'devices')) return true;
  return false;
}

function isPciHostdev(el: XmlElement | undefined): boolean {
  return plain(el, 'hostdev') && el!.getAttribute('type') === 'pci';
}

function factsOf(el: XmlElement, body: string): string[] {
  if (plain(el, 'alias') && insideDevices(el) && el.hasAttribute('name')) return [`alias ${el.getAttribute('name')}`];
  if (plain(el, 'address') && plain(el.parent, 'source') && isPciHostdev(ancestor(el, 2))) return [`hostdev ${pci(el)}`];
  if (plain(el, 'address') && isPciHostdev(el.parent) && el.getAttribute('type') === 'pci') {
    const source = el.parent!.children.find((c) => plain(c, 'source'));
    const sourceAddress = source?.children.find((c) => plain(c, 'address'));
    return sourceAddress ? [`hostdev ${pci(sourceAddress)} at ${pci(el)}`] : [];
  }
  if (qemu(el, 'property') && qemu(el.parent, 'frontend') && qemu(ancestor(el, 2), 'device') && qemu(ancestor(el, 3), 'override')) {
    const type = el.getAttribute('type') ?? '';
    const value = type === 'remove' ? '' : `=${el.getAttribute('value') ?? ''}`;
    return [`override ${ancestor(el, 2)!.getAttribute('alias')} ${el.getAttribute('name')}${value} (${type})`];
  }
  if (qemu(el, 'arg') && qemu(el.parent, 'commandline')) return [`arg ${el.getAttribute('value')}`];
  if (plain(el, 'pcihole64')) return [`pcihole64 ${textContent(body, el).trim()} ${el.getAttribute('unit') ?? 'KiB'}`];
  if (el.localName === 'gpu' && el.namespaceURI === PASSTHROUGH_NS) {
    return [`metadata gpu ${el.getAttribute('alias')} clique=${el.getAttribute('clique')} offset=${el.getAttribute('offset')}`];
  }
  return [];
}
