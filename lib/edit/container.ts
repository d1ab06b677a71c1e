import type { XmlElement } from '../load/element';
import { DomainFacts } from '../domain/facts';
import { wrap } from '../render/qemu';
import { Lines, XmlStyle } from '../render/style';
import { Insertion, appendInside, insertAfter, insertFirst } from './anchors';
import { Creation, Position, Structure } from './structure';
import { structureKind } from './structure-kinds';

/** An element blocks go into, which the document may lack or have self-closing. */
export interface Container {
  /** What the metadata calls it once created or opened. Without it nothing is recorded: removal takes such a container
   * (`<qemu:override>`) away when it empties it. `openedOnly`: such a container, recorded only when the user's
   * self-closing one is opened (removal then closes it again rather than taking it away). */
  structure?: { kind: string; arg?: string; openedOnly?: boolean };
  element: XmlElement | undefined;
  creation: Creation;
}

/** The container of a registered structure kind, as this document has it. */
export function kindContainer(facts: DomainFacts, style: XmlStyle, kind: string, arg?: string): Container {
  const definition = structureKind(kind);
  if (!definition?.create) throw new Error(`no structure kind ${kind} that can be created`);
  return { structure: { kind, arg }, element: definition.find(facts, arg), creation: definition.create(facts, style, arg) };
}

/** How an unrecorded container is created: as the root's last child (`<qemu:override>`, `<qemu:commandline>`). */
export function rootChild(open: string, close: string): Creation {
  return { tags: [open, close], parent: 'root', position: 'last' };
}

/**
 * Inserts blocks into the container at `position`; a self-closing container is opened, an absent one created (and
 * its own parent too, when that is an absent kind). The insertion lists what it created or opened, outermost first.
 */
export function insertInto(facts: DomainFacts, container: Container, blocks: Lines[], style: XmlStyle, position: Position = 'last'): Insertion {
  const insertion = placeInto(facts, container, blocks, style, position);
  insertion.creates = creationsFor(facts, style, container);
  return insertion;
}

/** What inserting into the container creates or opens, outermost first: what insertInto's insertion lists. */
export function creationsFor(facts: DomainFacts, style: XmlStyle, container: Container): Structure[] {
  const element = container.element;
  if (element && !element.selfClosing) return [];
  const structure = container.structure;
  const own = structure && (element || !structure.openedOnly) ? [{ kind: structure.kind, arg: structure.arg, opened: element !== undefined }] : [];
  const parent = container.creation.parent;
  if (element || parent === 'root') return own;
  return [...creationsFor(facts, style, kindContainer(facts, style, parent.kind, parent.arg)), ...own];
}

function placeInto(facts: DomainFacts, container: Container, blocks: Lines[], style: XmlStyle, position: Position): Insertion {
  const element = container.element;
  if (element && !element.selfClosing) return insertAt(facts, element, blocks, style, position);
  if (element) return insertFirst(facts, element, blocks, style);
  const { tags, parent, position: where } = container.creation;
  const wrapped = [wrap(tags[0], tags[1], blocks.flat())];
  const outer =
    parent === 'root'
      ? insertAt(facts, facts.root, wrapped, style, where)
      : placeInto(facts, kindContainer(facts, style, parent.kind, parent.arg), wrapped, style, where);
  return { edit: outer.edit, blockStarts: blockStartsInWrapper(outer, blocks, style), outerStart: outer.outerStart ?? outer.blockStarts[0] };
}

function insertAt(facts: DomainFacts, parent: XmlElement, blocks: Lines[], style: XmlStyle, position: Position): Insertion {
  if (position === 'first') return insertFirst(facts, parent, blocks, style);
  if (position === 'last') return appendInside(facts, parent, blocks, style);
  return insertAfter(facts, position.after, blocks, style);
}

/** Offsets of each block inside a freshly written wrapper element (one line per Lines entry, the wrapper's first). */
function blockStartsInWrapper(insertion: Insertion, blocks: Lines[], style: XmlStyle): number[] {
  const text = insertion.edit.text;
  const lineStarts: number[] = [];
  let at = insertion.blockStarts[0];
  while (at >= 0) {
    lineStarts.push(at);
    const nl = text.indexOf(style.newline, at);
    at = nl < 0 ? -1 : text.indexOf('<', nl);
  }
  let line = 1;
  return blocks.map((block) => {
    const start = lineStarts[line];
    line += block.length;
    return start;
  });
}
