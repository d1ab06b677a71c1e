import type { XmlElement } from '../load/element';
import { DomainFacts } from '../domain/facts';
import { XmlStyle } from '../render/style';

/**
 * Something a transform creates or opens rather than only inserts into: recorded in the metadata's `created`
 * list as `KIND[:ARG][-opened]` (`devices`, `devices-opened`, `pcie-root`, `xmlns:qemu`), so that removal can
 * give back the original bytes once nothing that stays needs it.
 */
export interface Structure {
  kind: string;
  /** Which one, for kinds with more than one (`qemu` of `xmlns:qemu`, a controller's index). */
  arg?: string;
  /** The element was there, self-closing, and was opened (`<devices/>` → `<devices>…</devices>`). */
  opened: boolean;
}

export function structureToken(s: Structure): string {
  return `${s.kind}${s.arg === undefined ? '' : `:${s.arg}`}${s.opened ? '-opened' : ''}`;
}

export function parseStructureToken(token: string): Structure {
  const opened = token.endsWith('-opened');
  const name = opened ? token.slice(0, -'-opened'.length) : token;
  const colon = name.indexOf(':');
  return colon < 0 ? { kind: name, opened } : { kind: name.slice(0, colon), arg: name.slice(colon + 1), opened };
}

/** Where a new element goes among its parent's children. */
export type Position = 'first' | 'last' | { after: XmlElement };

/** How a kind is written when absent: its tags, and its place inside the root or inside another kind (created on the way). */
export interface Creation {
  tags: [open: string, close: string];
  parent: 'root' | { kind: string; arg?: string };
  position: Position;
}

/** What removal needs to know about the document while it decides what to undo. */
export interface UndoContext {
  facts: DomainFacts;
  /** Whether the element itself is taken out (its descendants go with it), a created structure being undone included. */
  isRemoved(element: XmlElement): boolean;
  /** Whether the element goes: removed, or inside something removed. */
  isGone(element: XmlElement): boolean;
  /** Whether the element is one this library recorded as created (and has not undone). */
  isCreated(element: XmlElement): boolean;
}

/** One kind of created structure: how to find it again, how to create it, and when something still needs it. */
export interface StructureKind {
  kind: string;
  /** The element it is (for an attribute kind: the element carrying the attribute), if the document has it. */
  find(facts: DomainFacts, arg: string | undefined): XmlElement | undefined;
  /** Absent for kinds only ever found (an attribute, a record). */
  create?(facts: DomainFacts, style: XmlStyle, arg: string | undefined): Creation;
  /**
   * Whether what stays in the document still needs it. Default: an element child that stays, or any text but
   * whitespace (a comment included) — something foreign was added inside since.
   */
  occupied?(element: XmlElement, arg: string | undefined, context: UndoContext): boolean;
  /** For a kind that is an attribute (a namespace declaration) rather than an element: its name. */
  attribute?(arg: string | undefined): string;
}

const kinds = new Map<string, StructureKind>();

/**
 * Makes a kind known to insertion and removal, neither of which has a case per kind. The library's own kinds are
 * registered by structure-kinds.ts, which is also where they are looked up (so that they are always registered).
 */
export function registerStructureKind(kind: StructureKind): void {
  kinds.set(kind.kind, kind);
}

export function registeredKind(kind: string): StructureKind | undefined {
  return kinds.get(kind);
}
