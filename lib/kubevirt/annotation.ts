import { isObject } from '../arguments';
import { PassthroughError, excerpt } from '../errors';
import { MAX_CLIQUE } from '../gpudirect/capability';
import { GPUDIRECT_ARCHITECTURES, isGpudirectArchitecture } from '../gpudirect/architecture';
import { parseJson } from '../load/json';
import { LineTable } from '../load/lines';
import { Plan } from '../plan/types';
import { closest } from '../suggest';

/** The VMI annotation that asks for GPUDirect cliques (the value is JSON; see docs/integrations.md). */
export const GPUDIRECT_ANNOTATION = 'libvirt-passthrough.io/gpudirect';
const ANNOTATION_PREFIX = 'libvirt-passthrough.io/';
const KNOWN_ANNOTATIONS = [GPUDIRECT_ANNOTATION];

/** One GPU of the annotation: a clique, or a clique with the GPU's architecture and the offset `predict` found. */
export type AnnotationGpu = number | { clique: number; architecture?: string; offset?: '0xc8' | '0xd4' };

/** The annotation's JSON. */
export interface GpudirectAnnotation {
  /** VMI device names (spec.domain.devices.gpus[].name or hostDevices[].name), or full `ua-…` aliases. */
  gpus: Record<string, AnnotationGpu>;
  /** Architecture for GPUs that do not give their own, e.g. "hopper". */
  architecture?: string;
  /** libvirt and QEMU of the virt-launcher image, as a plan's target. */
  target?: Plan['target'];
}

/** The annotation's value, or undefined without one; a key of ours we do not know (a typo) is refused, not ignored. */
export function annotationText(annotations: Record<string, unknown>): string | undefined {
  for (const key of Object.keys(annotations)) {
    if (KNOWN_ANNOTATIONS.includes(key)) continue;
    const near = closest(key, KNOWN_ANNOTATIONS);
    if (!key.startsWith(ANNOTATION_PREFIX) && near === undefined) continue;
    throw new PassthroughError(
      'PLAN_INVALID',
      `The VMI annotation ${quote(key, 80)} is not one this hook knows${near ? `; did you mean ${near}?` : ` (known: ${KNOWN_ANNOTATIONS.join(', ')}).`}` +
        ' The VM would start without what it asks for, so it does not start.',
    );
  }
  const value = annotations[GPUDIRECT_ANNOTATION];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw annotationError('is not a string (Kubernetes annotations are strings: quote the JSON)');
  return value;
}

/** Reads and checks the annotation's JSON; every refusal names the JSON path in the annotation. */
export function parseAnnotation(text: string): GpudirectAnnotation {
  const parsed = parseJson(text);
  if (!parsed.ok) {
    const { line, column } = new LineTable(text).positionOf(parsed.offset);
    throw annotationError(`is not JSON: ${parsed.reason} at line ${line}, column ${column} (near ${quote(text.slice(parsed.offset, parsed.offset + 21), 20)})`);
  }
  const value = parsed.value;
  if (!isObject(value)) throw annotationError('must be a JSON object like {"gpus": {"gpu1": 0, "gpu2": 0}, "architecture": "hopper"}');
  refuseUnknownKeys(value, ['gpus', 'architecture', 'target'], '');
  if (!isObject(value.gpus) || Object.keys(value.gpus).length === 0) throw annotationError('needs "gpus": an object of VMI device name to clique', 'gpus');
  if (value.architecture !== undefined) checkArchitecture(value.architecture, 'architecture');
  if (value.target !== undefined && !isObject(value.target)) throw annotationError('"target" must be an object like {"libvirt": "11.3.0", "qemu": "10.0.0"}', 'target');
  for (const [name, gpu] of Object.entries(value.gpus)) checkGpu(name, gpu);
  return value as unknown as GpudirectAnnotation;
}

function checkGpu(name: string, gpu: unknown): void {
  const at = gpuPath(name);
  if (typeof gpu === 'number') return checkClique(gpu, at);
  if (!isObject(gpu)) throw annotationError('must be a clique number or {"clique": N, "architecture": "...", "offset": "0xc8"}', at);
  refuseUnknownKeys(gpu, ['clique', 'architecture', 'offset'], `${at}.`);
  checkClique(gpu.clique, `${at}.clique`);
  if (gpu.architecture !== undefined) checkArchitecture(gpu.architecture, `${at}.architecture`);
  if (gpu.offset !== undefined && gpu.offset !== '0xc8' && gpu.offset !== '0xd4') {
    throw annotationError(`"offset" must be "0xc8" or "0xd4" (where predict found room for the capability), not ${quote(String(gpu.offset), 20)}`, `${at}.offset`);
  }
}

function checkClique(clique: unknown, at: string): void {
  if (typeof clique !== 'number' || !Number.isInteger(clique) || clique < 0 || clique > MAX_CLIQUE) {
    throw annotationError(`needs a clique: a whole number from 0 to ${MAX_CLIQUE}, not ${quote(JSON.stringify(clique) ?? 'nothing', 20)}`, at);
  }
}

function checkArchitecture(architecture: unknown, at: string): void {
  if (typeof architecture === 'string' && isGpudirectArchitecture(architecture)) return;
  const near = typeof architecture === 'string' ? closest(architecture, [...GPUDIRECT_ARCHITECTURES]) : undefined;
  throw new PassthroughError(
    'GPU_ARCHITECTURE_UNKNOWN',
    `The annotation ${GPUDIRECT_ANNOTATION} gives architecture ${typeof architecture === 'string' ? quote(architecture, 40) : excerpt(JSON.stringify(architecture) ?? 'nothing', 40)} at ${at}, which is not an NVIDIA GPU architecture this hook knows` +
      `${near ? `; did you mean "${near}"?` : `; use one of ${GPUDIRECT_ARCHITECTURES.join(', ')}.`}`,
  );
}

function refuseUnknownKeys(object: Record<string, unknown>, known: string[], prefix: string): void {
  const unknown = Object.keys(object).find((k) => !known.includes(k));
  if (unknown === undefined) return;
  const near = closest(unknown, known);
  throw annotationError(`has an unknown key ${quote(unknown, 40)}${near ? `; did you mean "${near}"?` : ` (known: ${known.join(', ')})`}`, `${prefix}${excerpt(unknown, 40)}`);
}

/** `gpus.gpu1`, or `gpus["odd name"]` when the name is not a plain word. */
export function gpuPath(name: string): string {
  return /^[A-Za-z0-9_-]{1,40}$/.test(name) ? `gpus.${name}` : `gpus[${JSON.stringify(excerpt(name, 40))}]`;
}

/** A value from the input in a message: clipped, printable, quoted. */
export function quote(value: string, max: number): string {
  return `"${excerpt(value, max)}"`;
}

export function annotationError(what: string, at?: string): PassthroughError {
  return new PassthroughError('PLAN_INVALID', `The annotation ${GPUDIRECT_ANNOTATION} ${what}${at ? ` (at ${at})` : ''}.`);
}
