import { MetadataGpu } from '../domain/facts';
import { PASSTHROUGH_NS } from '../domain/xml';
import { Lines, XmlStyle, attributes, nest } from './style';

export const METADATA_PREFIX = 'passthrough';

/** A child of the record another module writes (`<passthrough:layout>…`): its local name and its lines (depth 0 = the child). */
export interface MetadataPart {
  name: string;
  lines: Lines;
}

/** What the record says: GPUs, the MMIO window, structure created or opened (tokens, see edit/structure.ts), other parts. */
export interface MetadataRecord {
  gpus: MetadataGpu[];
  mmioGiB?: number;
  created: string[];
  /** What was added inside what the user wrote (lib/edit/added.ts); undefined for a record of the first releases, which keeps their form. */
  added?: string[];
  parts: MetadataPart[];
}

/**
 * The library's record in `<metadata>` (libvirt keeps namespaced metadata): clique, architecture and
 * expected capability offset per GPU alias, so that inspectDomain and the guest verifier can read them back;
 * what the transform created, so that removal can undo it; and the parts other modules contribute, after those.
 */
export function metadataLines(record: MetadataRecord, style: XmlStyle): Lines {
  const q = style.quote;
  const { gpus, mmioGiB, created, added, parts } = record;
  const rootAttributes: [string, string][] = [[`xmlns:${METADATA_PREFIX}`, PASSTHROUGH_NS]];
  if (created.length > 0) rootAttributes.push(['created', created.join(' ')]);
  // Written even when empty: the list's presence says removal is to follow it (a plan naming only what was there).
  if (added) rootAttributes.push(['added', added.join(' ')]);
  // Only a record of what was created (a `<devices>` opened for an NPU): one self-closing element.
  if (gpus.length === 0 && mmioGiB === undefined && parts.length === 0) return [[0, `<${METADATA_PREFIX}:gpudirect${attributes(rootAttributes, q)}/>`]];
  return [
    [0, `<${METADATA_PREFIX}:gpudirect${attributes(rootAttributes, q)}>`],
    ...gpus.map((g): [number, string] => [1, `<${METADATA_PREFIX}:gpu${attributes(gpuAttributes(g), q)}/>`]),
    ...(mmioGiB === undefined ? [] : [[1, `<${METADATA_PREFIX}:mmio${attributes([['window64GiB', mmioGiB]], q)}/>`] as [number, string]]),
    ...parts.flatMap((part) => nest(part.lines)),
    [0, `</${METADATA_PREFIX}:gpudirect>`],
  ];
}

function gpuAttributes(g: MetadataGpu): [string, string | number][] {
  const pairs: [string, string | number][] = [['alias', g.alias]];
  if (g.address) pairs.push(['address', g.address]);
  pairs.push(['clique', g.clique]);
  if (g.architecture) pairs.push(['architecture', g.architecture]);
  if (g.offset !== undefined) pairs.push(['offset', `0x${g.offset.toString(16)}`]);
  return pairs;
}
