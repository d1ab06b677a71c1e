import type { XmlElement } from '../load/element';
import { DomainFacts, positionOf } from '../domain/facts';
import { PassthroughError } from '../errors';
import { PlannedHostdev } from '../plan/types';
import { CliqueAssignment } from '../render/qemu';
import { Lines, XmlStyle } from '../render/style';
import { Insertion } from './anchors';
import { Change } from './changes';
import { Edit } from './splice';

/** What the planners (hostdevs, cliques, commandline, mmio, metadata) build up together, in order. */
export interface EditPlan {
  edits: Edit[];
  /** What this transform creates that the document did not have (recorded in the metadata). */
  created: string[];
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
  return { edits: [], created: [], pendingArgs: [], changes: [], warnings: [] };
}

/** Adds the insertion's edit and returns its index (changes refer to edits by index). */
export function addInsertion(out: EditPlan, insertion: Insertion): number {
  out.edits.push(insertion.edit);
  return out.edits.length - 1;
}

/**
 * Records that an insertion into `<devices>` creates the element or opens `<devices/>`, so that removal can
 * give back the original bytes once it takes out what was inserted.
 */
export function noteDevicesInsertion(facts: DomainFacts, out: EditPlan): void {
  if (!facts.devices) out.created.push('devices');
  else if (facts.devices.selfClosing) out.created.push('devices-opened');
}

export function conflict(facts: DomainFacts, element: XmlElement, message: string): PassthroughError {
  return new PassthroughError('HOSTDEV_CONFLICT', message, positionOf(facts, element));
}

/** Offsets of each block inside a freshly written wrapper element (one line per Lines entry). */
export function blockStartsInWrapper(insertion: Insertion, blocks: Lines[], style: XmlStyle): number[] {
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
