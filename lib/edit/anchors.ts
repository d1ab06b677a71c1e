import type { XmlElement } from '../load/element';
import { DomainFacts } from '../domain/facts';
import { isPlain } from '../domain/xml';
import { indentAt } from '../load/lines';
import { Lines, XmlStyle, placeLines } from '../render/style';
import { Edit } from './splice';
import { Position, Structure } from './structure';

/**
 * An insertion being assembled: text placed after an anchor, with the offsets (within the text)
 * where each inserted element starts, so changes can report their line in the output.
 */
export interface Insertion {
  edit: Edit;
  /** Offset within edit.text of each block's first `<`. */
  blockStarts: number[];
  /** What the insertion creates or opens (see container.ts), outermost first; recorded in the metadata. */
  creates?: Structure[];
  /** Offset within edit.text of the first element written: a created wrapper's, else the first block's. */
  outerStart?: number;
}

export function indentOf(facts: DomainFacts, element: XmlElement): string {
  return indentAt(facts.doc.body, element.start);
}

/** One indentation level, guessed from how `<devices>` indents its children (magic-string's guessIndent, smaller). */
export function guessIndentUnit(facts: DomainFacts): string {
  const pairs: [XmlElement | undefined, XmlElement | undefined][] = [
    [facts.devices, facts.devices && firstChild(facts.devices)],
    [facts.root, firstChild(facts.root)],
  ];
  for (const [parent, first] of pairs) {
    if (!parent || !first) continue;
    const outer = indentOf(facts, parent);
    const inner = indentOf(facts, first);
    if (inner.length > outer.length && inner.startsWith(outer)) return inner.slice(outer.length);
  }
  return '  ';
}

function firstChild(parent: XmlElement): XmlElement | undefined {
  return parent.children[0];
}

function lastChild(parent: XmlElement): XmlElement | undefined {
  return parent.children[parent.children.length - 1];
}

/** Replaces `element` with `lines`, written at the element's own indentation. */
export function replaceElement(facts: DomainFacts, element: XmlElement, lines: Lines, style: XmlStyle): Insertion {
  const indent = indentOf(facts, element);
  const text = placeLines(lines, indent, style).slice(style.newline.length + indent.length);
  return { edit: { start: element.start, end: element.elementEnd, text }, blockStarts: [0] };
}

/** Inserts blocks after `sibling`, at its indentation. */
export function insertAfter(facts: DomainFacts, sibling: XmlElement, blocks: Lines[], style: XmlStyle): Insertion {
  const at = sibling.elementEnd;
  return assemble({ start: at, end: at, text: '' }, indentOf(facts, sibling), blocks, style);
}

/** Inserts blocks as the last children of `parent` (after its last child element). */
export function appendInside(facts: DomainFacts, parent: XmlElement, blocks: Lines[], style: XmlStyle): Insertion {
  const last = lastChild(parent);
  if (last) return insertAfter(facts, last, blocks, style);
  return insertFirst(facts, parent, blocks, style);
}

/** Inserts blocks as the first children of `parent`, opening it up when it is self-closing (`<devices/>`). */
export function insertFirst(facts: DomainFacts, parent: XmlElement, blocks: Lines[], style: XmlStyle): Insertion {
  const outer = indentOf(facts, parent);
  const inner = outer + style.unit;
  if (!parent.selfClosing) return assemble({ start: parent.end, end: parent.end, text: '' }, inner, blocks, style);
  // Only `/` goes, so that removal can restore the tag byte for byte.
  const openTag = facts.doc.body.slice(parent.start, parent.end).replace(/\/>$/, '>');
  const insertion = assemble({ start: parent.start, end: parent.end, text: openTag }, inner, blocks, style);
  insertion.edit.text += `${style.newline}${outer}</${parent.tagName}>`;
  return insertion;
}

function assemble(edit: Edit, indent: string, blocks: Lines[], style: XmlStyle): Insertion {
  const blockStarts: number[] = [];
  for (const block of blocks) {
    blockStarts.push(edit.text.length + style.newline.length + indent.length + style.unit.length * block[0][0]);
    edit.text += placeLines(block, indent, style);
  }
  return { edit, blockStarts };
}

/** Device elements libvirt itself lists after `<hostdev>`; a new hostdev goes before a trailing run of them. */
const AFTER_HOSTDEV = new Set([
  'redirdev',
  'redirfilter',
  'hub',
  'watchdog',
  'memballoon',
  'rng',
  'tpm',
  'nvram',
  'panic',
  'shmem',
  'memory',
  'iommu',
  'vsock',
  'crypto',
]);

/** Where new hostdevs go in an existing `<devices>`: after the last `<hostdev>`, else before the devices that must stay last. */
export function hostdevPosition(facts: DomainFacts, devices: XmlElement): Position {
  const children = facts.deviceElements.filter((d) => d.parent === devices);
  const lastHostdev = [...children].reverse().find((d) => isPlain(d, 'hostdev'));
  if (lastHostdev) return { after: lastHostdev };
  let cut = children.length;
  while (cut > 0 && AFTER_HOSTDEV.has(children[cut - 1].localName ?? '') && !children[cut - 1].namespaceURI) cut--;
  return cut > 0 ? { after: children[cut - 1] } : 'first';
}

/** ` xmlns:qemu='…'` after the root start tag's last attribute. */
export function declareOnRoot(facts: DomainFacts, prefix: string, uri: string, style: XmlStyle): Edit {
  const root = facts.root;
  const text = facts.doc.body.slice(root.start, root.end);
  const close = root.selfClosing ? 2 : 1;
  const at = root.start + text.slice(0, text.length - close).trimEnd().length;
  return { start: at, end: at, text: ` xmlns:${prefix}=${style.quote}${uri}${style.quote}` };
}
