import type { XmlElement } from '../load/element';
import { DomainFacts } from '../domain/facts';
import { Edit } from '../edit/splice';
import { Structure, StructureKind, UndoContext, parseStructureToken } from '../edit/structure';
import { structureKind } from '../edit/structure-kinds';
import { attributeRemoval, reclose, removal } from './text-edits';

/** One token of the record's `created` list, read back. */
interface Recorded {
  token: string;
  structure: Structure;
  /** Unknown to this release (written by a newer one): kept in the record, never undone. */
  kind?: StructureKind;
  element?: XmlElement;
  undone: boolean;
}

export interface Undo {
  edits: Edit[];
  /** The tokens the record still lists. */
  remaining: string[];
  /** Whether the record itself goes (it records nothing any more). */
  recordGone: boolean;
}

/**
 * Takes out `removals` and undoes every recorded structure nothing that stays needs any more, by one rule for every
 * kind: created → removed, opened → closed again, declared → the attribute removed. Undoing one can free another
 * (a hostdev gone frees its controller, the controller its bus, the last structure the record, the record
 * `<metadata>`), so the rule runs until nothing changes. `recordKept`: the record still holds GPUs or a window.
 */
export function undoStructures(facts: DomainFacts, removals: XmlElement[], recordKept: boolean): Undo {
  const gone = new Set(removals);
  const recorded: Recorded[] = facts.metadataCreated.map((token) => {
    const structure = parseStructureToken(token);
    const kind = structureKind(structure.kind);
    return { token, structure, kind, element: kind?.find(facts, structure.arg), undone: false };
  });
  const context: UndoContext = {
    facts,
    isRemoved: (el) => gone.has(el),
    isGone: (el) => within(el, gone),
    isCreated: (el) => recorded.some((r) => !r.undone && r.element === el && !r.structure.opened && !r.kind?.attribute),
  };
  const record = facts.ourMetadata;
  let recordGone = false;
  for (let changed = true; changed; ) {
    changed = false;
    for (const r of recorded) {
      if (r.undone || !r.kind || !undoable(r, r.kind, context)) continue;
      r.undone = changed = true;
      if (r.element && !r.structure.opened && !r.kind.attribute) gone.add(r.element);
    }
    // Structure the record sits in (`<metadata>`, the root's declarations) cannot keep it.
    if (record && !recordGone && !recordKept && recorded.every((r) => r.undone || (r.element && within(record, new Set([r.element]))))) {
      gone.add(record);
      recordGone = changed = true;
    }
  }
  return { edits: undoEdits(facts, recorded, gone), remaining: recorded.filter((r) => !r.undone).map((r) => r.token), recordGone };
}

/** Elements the record lists as opened (the user's, self-closing before): emptied, they are closed again, never removed. */
export function openedByUs(facts: DomainFacts): Set<XmlElement> {
  const opened = new Set<XmlElement>();
  for (const token of facts.metadataCreated) {
    const structure = parseStructureToken(token);
    const element = structure.opened ? structureKind(structure.kind)?.find(facts, structure.arg) : undefined;
    if (element) opened.add(element);
  }
  return opened;
}

function undoable(r: Recorded, kind: StructureKind, context: UndoContext): boolean {
  const element = r.element;
  if (!element || context.isGone(element)) return true; // nothing left to give back, or it goes with what holds it
  if (r.structure.opened && element.selfClosing) return true;
  if (kind.attribute) return !kind.occupied?.(element, r.structure.arg, context);
  if (kind.occupied ? kind.occupied(element, r.structure.arg, context) : !emptied(element, context)) return false;
  // Whatever the kind's own rule: text the library never writes into a container (a comment) is foreign, and
  // closing again drops everything inside, so it needs everything inside to go.
  return r.structure.opened ? emptied(element, context) : onlyWhitespaceText(element, context.facts.doc.body);
}

function onlyWhitespaceText(element: XmlElement, body: string): boolean {
  let cursor = element.end;
  for (const child of element.children) {
    if (body.slice(cursor, child.start).trim() !== '') return false;
    cursor = child.elementEnd;
  }
  return body.slice(cursor, element.contentEnd).trim() === '';
}

/** Nothing would be left inside but whitespace: every child element goes, and no text (a comment included) was added. */
export function emptied(element: XmlElement, context: UndoContext): boolean {
  return element.children.every((child) => context.isRemoved(child)) && onlyWhitespaceText(element, context.facts.doc.body);
}

/** One edit per topmost element that goes, per element closed again, per attribute removed. */
function undoEdits(facts: DomainFacts, recorded: Recorded[], gone: Set<XmlElement>): Edit[] {
  const body = facts.doc.body;
  const closed = recorded.filter((r) => r.undone && r.structure.opened && r.element && !r.element.selfClosing && !within(r.element, gone));
  const covered = new Set([...gone, ...closed.map((r) => r.element!)]);
  const edits: Edit[] = [];
  for (const el of gone) if (!el.parent || !within(el.parent, covered)) edits.push(removal(body, el));
  for (const r of closed) edits.push(reclose(body, r.element!));
  for (const r of recorded) {
    if (!r.undone || !r.kind?.attribute || !r.element || within(r.element, covered)) continue;
    const edit = attributeRemoval(body, r.element, r.kind.attribute(r.structure.arg));
    if (edit) edits.push(edit);
  }
  return edits;
}

/** Whether `el` is one of `ancestors` or inside one. */
function within(el: XmlElement, ancestors: Set<XmlElement>): boolean {
  for (let at: XmlElement | undefined = el; at; at = at.parent) if (ancestors.has(at)) return true;
  return false;
}
