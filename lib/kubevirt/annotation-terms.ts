import { PassthroughError } from '../errors';
import { GPUDIRECT_ANNOTATION, gpuPath, quote } from './annotation';

/** A GPU of the annotation as the plan the hook builds from it holds it: its place in plan.hostdevs, its host address. */
export interface AnnotatedGpu {
  name: string;
  index: number;
  address: string;
}

/**
 * The transform speaks of the plan it is given; the hook's user wrote an annotation. Its refusals and warnings are
 * said again in the annotation's words: plan paths become the annotation's JSON paths (`hostdevs[0].gpudirect` →
 * `gpus.gpu1`), a host address gets the GPU's name, and the fixes name what the annotation accepts.
 */
export function inAnnotationTerms(text: string, gpus: AnnotatedGpu[]): string {
  let out = text
    .replace(/gpudirect\.offset: "(0x[0-9a-f]+)" \(`host plan --qemu` records it for you\)/g, '"offset": "$1" to that GPU in the annotation ({"clique": N, "offset": "$1"})')
    .replace(/gpudirect\.offset/g, '"offset"')
    .replace(/drop gpudirect for /g, 'remove from the annotation ')
    .replace(/drop gpudirect from the plan/g, 'remove the annotation')
    .replace(/ \(the CLI reads it from virsh\)/g, ' in the annotation')
    .replace(/\bThe plan is invalid\b/g, `The annotation ${GPUDIRECT_ANNOTATION} is invalid`)
    .replace(/\b([Tt])he plan's\b/g, "$1he annotation's")
    .replace(/\b([Tt])he plan\b/g, '$1he annotation')
    .replace(/\bplanned( for)?\b/g, 'asked for');
  for (const gpu of gpus) {
    out = out
      .replace(new RegExp(`hostdevs\\[${gpu.index}\\](?:\\.gpudirect)?`, 'g'), gpuPath(gpu.name))
      .split(gpu.address)
      .join(`GPU ${quote(gpu.name, 40)} (${gpu.address})`);
  }
  return out;
}

/** A refusal of the transform, said in the annotation's words, with its plan path as the annotation's. */
export function refusalInAnnotationTerms(err: PassthroughError, gpus: AnnotatedGpu[]): PassthroughError {
  const reason = inAnnotationTerms(err.reason, gpus);
  const location = err.line === undefined ? {} : { line: err.line, column: err.column };
  if (err.path === undefined) return new PassthroughError(err.code, reason, location);
  return new PassthroughError(err.code, `${reason.replace(/\.$/, '')} (at ${inAnnotationTerms(err.path, gpus)} in the annotation).`, location);
}
