import { PASSTHROUGH_NS, QEMU_NS } from '../domain/xml';
import { XmlElement, textContent } from '../load/element';
import { loadDomainXml } from '../load/load';
import { formatPciAddress, pciAddressFromAttributes } from '../pci/address';

/**
 * What libvirt must keep of a domain, one line each: `alias NAME`, `hostdev SRC`, `hostdev SRC at
 * GUEST`, `override ALIAS PROP=VALUE (TYPE)`, `arg VALUE`, `controller pci.N MODEL at ADDR [busNr= node=]`,
 * `pcihole64 N UNIT`, `metadata gpu ALIAS …`.
 * Comparing these between the XML given to `virsh define` and libvirt's `dumpxml` shows what libvirt
 * silently dropped. The same facts as the conformance harness checks on every fixture.
 */
export function keptFacts(xml: string): string[] {
  const doc = loadDomainXml(xml);
  return factsFrom(doc.root, libraryReader(doc.body));
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

/**
 * What the fact rules read of an element, whatever parsed it: the library's loader here, xmldom in
 * conformance/facts.ts (an independent parser, so the harness checks the facts without trusting ours).
 */
export interface FactReader<N> {
  localName(node: N): string;
  namespaceURI(node: N): string | null;
  parent(node: N): N | undefined;
  /** Child elements, in document order. */
  children(node: N): readonly N[];
  /** null when the attribute is absent. */
  attribute(node: N, name: string): string | null;
  text(node: N): string;
}

/** Every fact of the tree under `root`, in document order. */
export function factsFrom<N>(root: N, read: FactReader<N>): string[] {
  const facts: string[] = [];
  const stack: N[] = [root];
  while (stack.length > 0) {
    const node = stack.pop()!;
    facts.push(...factsOf(node, read));
    const children = read.children(node);
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]);
  }
  return facts;
}

function libraryReader(body: string): FactReader<XmlElement> {
  return {
    localName: (el) => el.localName,
    namespaceURI: (el) => el.namespaceURI,
    parent: (el) => el.parent,
    children: (el) => el.children,
    attribute: (el, name) => el.getAttribute(name),
    text: (el) => textContent(body, el),
  };
}

function factsOf<N>(el: N, read: FactReader<N>): string[] {
  const up = (n: N | undefined, levels: number) => {
    for (let i = 0; i < levels && n !== undefined; i++) n = read.parent(n);
    return n;
  };
  const is = (n: N | undefined, name: string, ns: string | null = null) => n !== undefined && read.localName(n) === name && read.namespaceURI(n) === ns;
  const attr = (name: string) => read.attribute(el, name);
  const pci = (n: N) => {
    const a = pciAddressFromAttributes((name) => read.attribute(n, name));
    return a ? formatPciAddress(a) : 'unreadable';
  };
  const isPciHostdev = (n: N | undefined) => is(n, 'hostdev') && read.attribute(n!, 'type') === 'pci';
  const insideDevices = () => {
    for (let p = read.parent(el); p !== undefined; p = read.parent(p)) if (is(p, 'devices')) return true;
    return false;
  };

  if (is(el, 'alias') && insideDevices() && attr('name') !== null) return [`alias ${attr('name')}`];
  if (is(el, 'address') && is(up(el, 1), 'source') && isPciHostdev(up(el, 2))) return [`hostdev ${pci(el)}`];
  if (is(el, 'address') && isPciHostdev(up(el, 1)) && attr('type') === 'pci') {
    const source = read.children(up(el, 1)!).find((c) => is(c, 'source'));
    const sourceAddress = source && read.children(source).find((c) => is(c, 'address'));
    return sourceAddress ? [`hostdev ${pci(sourceAddress)} at ${pci(el)}`] : [];
  }
  if (is(el, 'property', QEMU_NS) && is(up(el, 1), 'frontend', QEMU_NS) && is(up(el, 2), 'device', QEMU_NS) && is(up(el, 3), 'override', QEMU_NS)) {
    const type = attr('type') ?? '';
    const value = type === 'remove' ? '' : `=${attr('value') ?? ''}`;
    return [`override ${read.attribute(up(el, 2)!, 'alias')} ${attr('name')}${value} (${type})`];
  }
  if (is(el, 'arg', QEMU_NS) && is(up(el, 1), 'commandline', QEMU_NS)) return [`arg ${attr('value')}`];
  if (is(el, 'address') && is(up(el, 1), 'controller') && read.attribute(up(el, 1)!, 'type') === 'pci' && attr('type') === 'pci') {
    // A guest layout's bus numbers depend on every controller's index, model, place, busNr and node.
    const controller = up(el, 1)!;
    const target = read.children(controller).find((c) => is(c, 'target'));
    const node = target && read.children(target).find((c) => is(c, 'node'));
    const busNr = target && read.attribute(target, 'busNr');
    const extra = (busNr ? ` busNr=${busNr}` : '') + (node ? ` node=${read.text(node).trim()}` : '');
    return [`controller pci.${read.attribute(controller, 'index')} ${read.attribute(controller, 'model')} at ${pci(el)}${extra}`];
  }
  if (is(el, 'pcihole64')) return [`pcihole64 ${read.text(el).trim()} ${attr('unit') ?? 'KiB'}`];
  if (is(el, 'gpu', PASSTHROUGH_NS)) return [`metadata gpu ${attr('alias')} clique=${attr('clique')} offset=${attr('offset')}`];
  return [];
}
