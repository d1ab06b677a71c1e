import type { XmlElement } from '../load/element';
import { DomainFacts, positionOf } from '../domain/facts';
import { PassthroughError } from '../errors';
import { PlannedHostdev } from '../plan/types';
import { CliqueAssignment } from '../render/qemu';
import { MetadataPart } from '../render/metadata';
import { Lines } from '../render/style';
import { Insertion } from './anchors';
import { Change } from './changes';
import { Edit } from './splice';
import { Structure, structureToken } from './structure';

/** What the planners (hostdevs, cliques, commandline, mmio, metadata) build up together, in order. */
export interface EditPlan {
  edits: Edit[];
  /** What this transform creates or opens, as structure tokens (recorded in the metadata). */
  created: string[];
  /** What this transform adds inside what the user wrote, as lib/edit/added.ts tokens (recorded in the metadata). */
  added: string[];
  /** Children other planners contribute to the metadata record (`<passthrough:layout>`), replacing any of the same name. */
  metadataParts: MetadataPart[];
  /** The qemu namespace prefix once chosen (and declared, if needed) for this transform. */
  qemuPrefix?: string;
  /** `<qemu:arg>` pairs waiting to be written into the one `<qemu:commandline>`, with the changes they carry. */
  pendingArgs: { lines: Lines; changes: Change[] }[];
  /** A new pcie-root controller already written with the hostdevs (see placeHostdevs). */
  rootControllerPlaced?: { edit: number; at: number };
  /** Per change, which edit holds it and where in that edit's text it starts. */
  changes: { change: Change; edit?: number; at?: number }[];
  warnings: string[];
}

/** A planned GPU with GPUDirect, under the alias its clique setting names. */
export interface Gpu extends CliqueAssignment {
  planned: PlannedHostdev;
}

export function emptyEditPlan(): EditPlan {
  return { edits: [], created: [], added: [], metadataParts: [], pendingArgs: [], changes: [], warnings: [] };
}

/** Adds the insertion's edit, records what it created or opened, and returns its index (changes refer to edits by index). */
export function addInsertion(out: EditPlan, insertion: Insertion): number {
  out.edits.push(insertion.edit);
  for (const structure of insertion.creates ?? []) recordCreated(out, structure);
  return out.edits.length - 1;
}

/** Notes structure this transform created or opened, in the metadata's one form (see structure.ts). */
export function recordCreated(out: EditPlan, structure: Structure): void {
  out.created.push(structureToken(structure));
}

export function conflict(facts: DomainFacts, element: XmlElement, message: string): PassthroughError {
  return new PassthroughError('HOSTDEV_CONFLICT', message, positionOf(facts, element));
}
