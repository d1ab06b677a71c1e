import { isObject, requireString } from '../arguments';
import { PassthroughError, excerpt } from '../errors';
import { inspectDomain, HostdevInfo } from '../inspect';
import { Plan, PlanHostdev } from '../plan/types';
import { explainTransform } from '../transform';

/** The VMI annotation that asks for GPUDirect cliques (the value is JSON; see docs/integrations.md). */
export const GPUDIRECT_ANNOTATION = 'libvirt-passthrough.io/gpudirect';

/**
 * The alias prefixes KubeVirt's virt-launcher gives the <hostdev> it writes for a VMI device NAME
 * (kubevirt/kubevirt pkg/virt-launcher/virtwrap/device/hostdevice: gpu/hostdev.go "gpu-",
 * generic/hostdev.go "hostdevice-", dra/gpu_hostdev.go "dra-gpu-", dra/generic_hostdev.go
 * "dra-hostdevice-"; api.NewUserDefinedAlias adds "ua-").
 */
const KUBEVIRT_ALIAS_PREFIXES = ['ua-gpu-', 'ua-hostdevice-', 'ua-dra-gpu-', 'ua-dra-hostdevice-'] as const;

/** One GPU of the annotation: a clique, or a clique with the GPU architecture (which fixes the capability offset). */
export type AnnotationGpu = number | { clique: number; architecture?: string };

/** The annotation's JSON. */
export interface GpudirectAnnotation {
  /** VMI device names (spec.domain.devices.gpus[].name or hostDevices[].name), or full `ua-…` aliases. */
  gpus: Record<string, AnnotationGpu>;
  /** Architecture for GPUs that do not give their own, e.g. "hopper". */
  architecture?: string;
  /** libvirt and QEMU of the virt-launcher image, as in a plan. */
  target?: Plan['target'];
}

export interface HookResult {
  /** The domain XML to hand back to virt-launcher (unchanged when the VMI has no annotation). */
  xml: string;
  warnings: string[];
}

/**
 * KubeVirt's onDefineDomain: the VMI (JSON, as virt-launcher marshals it) and the domain XML virt-launcher
 * wrote; returns the domain with the clique override for each GPU the annotation names. Throws a
 * PassthroughError on anything it cannot do, so that the VM does not start without its cliques.
 */
export function onDefineDomain(vmiJson: string, domainXml: string): HookResult {
  requireString(vmiJson, 'onDefineDomain', 'the VMI as JSON text first');
  requireString(domainXml, 'onDefineDomain', 'the domain XML as a string second');
  const annotationText = readAnnotation(vmiJson);
  if (annotationText === undefined) return { xml: domainXml, warnings: [] };
  const annotation = parseAnnotation(annotationText);
  const plan = planFromDomain(annotation, inspectDomain(domainXml).hostdevs);
  const { xml, warnings } = explainTransform(domainXml, plan);
  return { xml, warnings };
}

function readAnnotation(vmiJson: string): string | undefined {
  let vmi: unknown;
  try {
    vmi = JSON.parse(vmiJson);
  } catch (err) {
    throw new PassthroughError('INPUT_INVALID', `--vmi is not JSON (${excerpt((err as Error).message)}); the sidecar shim passes the VMI as JSON.`);
  }
  const annotations = (vmi as { metadata?: { annotations?: unknown } } | null)?.metadata?.annotations;
  if (annotations === undefined || annotations === null) return undefined;
  const value = (annotations as Record<string, unknown>)[GPUDIRECT_ANNOTATION];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw annotationError('is not a string');
  return value;
}

function parseAnnotation(text: string): GpudirectAnnotation {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw annotationError(`is not JSON: ${excerpt((err as Error).message)}`);
  }
  if (!isObject(value)) throw annotationError('must be a JSON object like {"gpus": {"gpu1": 0, "gpu2": 0}}');
  const unknown = Object.keys(value).filter((k) => !['gpus', 'architecture', 'target'].includes(k));
  if (unknown.length > 0) throw annotationError(`has an unknown key "${excerpt(unknown[0], 40)}" (known: gpus, architecture, target)`);
  if (!isObject(value.gpus) || Object.keys(value.gpus).length === 0) throw annotationError('needs "gpus": an object of device name to clique');
  if (value.architecture !== undefined && typeof value.architecture !== 'string') throw annotationError('"architecture" must be a string like "hopper"');
  for (const [name, gpu] of Object.entries(value.gpus)) {
    const ok = typeof gpu === 'number' || (isObject(gpu) && typeof gpu.clique === 'number' && Object.keys(gpu).every((k) => k === 'clique' || k === 'architecture'));
    if (!ok) throw annotationError(`gpus.${excerpt(name, 40)} must be a clique number or {"clique": N, "architecture": "..."}`);
  }
  return value as unknown as GpudirectAnnotation;
}

/** One plan entry per annotated GPU, for the hostdev KubeVirt already wrote (its address, alias and managed='no'). */
function planFromDomain(annotation: GpudirectAnnotation, hostdevs: HostdevInfo[]): Plan {
  const entries: PlanHostdev[] = Object.entries(annotation.gpus).map(([name, gpu]) => {
    const hostdev = findHostdev(name, hostdevs);
    const clique = typeof gpu === 'number' ? gpu : gpu.clique;
    const architecture = (typeof gpu === 'number' ? undefined : gpu.architecture) ?? annotation.architecture;
    // KubeVirt's hostdev carries no PCI device ID, so the architecture (C8h or D4h) must come from the annotation.
    if (architecture === undefined) {
      throw new PassthroughError(
        'GPU_ARCHITECTURE_UNKNOWN',
        `The annotation ${GPUDIRECT_ANNOTATION} gives no architecture for GPU "${excerpt(name, 40)}": add "architecture" (e.g. "hopper") for all GPUs, or {"clique": N, "architecture": "..."} for this one.`,
      );
    }
    return {
      address: hostdev.source,
      alias: hostdev.alias,
      managed: hostdev.managed,
      gpudirect: { clique, architecture },
    };
  });
  return annotation.target === undefined ? { hostdevs: entries } : { target: annotation.target, hostdevs: entries };
}

function findHostdev(name: string, hostdevs: HostdevInfo[]): HostdevInfo & { alias: string } {
  const wanted = name.startsWith('ua-') ? [name] : KUBEVIRT_ALIAS_PREFIXES.map((p) => p + name);
  const found = hostdevs.filter((h): h is HostdevInfo & { alias: string } => h.kind === 'hostdev' && h.alias !== undefined && wanted.includes(h.alias));
  if (found.length === 1) return found[0];
  if (found.length > 1) {
    throw new PassthroughError('HOSTDEV_CONFLICT', `The annotation's GPU "${excerpt(name, 40)}" matches ${found.map((h) => h.alias).join(' and ')}; name it by its full alias.`);
  }
  const present = hostdevs.map((h) => h.alias).filter((a): a is string => a !== undefined);
  throw new PassthroughError(
    'HOSTDEV_MISSING',
    `The annotation ${GPUDIRECT_ANNOTATION} names GPU "${excerpt(name, 40)}", but the domain has no PCI hostdev with alias ${wanted.join(' or ')}` +
      ` (PCI hostdev aliases: ${present.length === 0 ? 'none' : excerpt(present.join(', '), 200)}); use the name from spec.domain.devices.gpus or hostDevices.` +
      ' A vGPU (mediated device) cannot carry the clique.',
  );
}

function annotationError(what: string): PassthroughError {
  return new PassthroughError('PLAN_INVALID', `The VMI annotation ${GPUDIRECT_ANNOTATION} ${what}.`);
}
