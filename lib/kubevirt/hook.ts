import { requireString } from '../arguments';
import { ExistingHostdev, readDomainFacts } from '../domain/facts';
import { PassthroughError, excerpt, isPassthroughError } from '../errors';
import { loadDomainXml } from '../load/load';
import { Plan, PlanHostdev } from '../plan/types';
import { closest } from '../suggest';
import { explainLoadedTransform } from '../transform';
import { AnnotationGpu, GPUDIRECT_ANNOTATION, GpudirectAnnotation, annotationText, gpuPath, parseAnnotation, quote } from './annotation';
import { AnnotatedGpu, inAnnotationTerms, refusalInAnnotationTerms } from './annotation-terms';
import { VmiDevice, describeDevice, isGpuBySpec, readVmi } from './vmi';

export { GPUDIRECT_ANNOTATION } from './annotation';
export type { AnnotationGpu, GpudirectAnnotation } from './annotation';

/**
 * The alias prefixes KubeVirt's virt-launcher gives the <hostdev> it writes for a VMI device NAME
 * (kubevirt/kubevirt pkg/virt-launcher/virtwrap/device/hostdevice: gpu/hostdev.go "gpu-",
 * generic/hostdev.go "hostdevice-", dra/gpu_hostdev.go "dra-gpu-", dra/generic_hostdev.go
 * "dra-hostdevice-"; api.NewUserDefinedAlias adds "ua-").
 */
const KUBEVIRT_ALIAS_PREFIXES = ['ua-gpu-', 'ua-hostdevice-', 'ua-dra-gpu-', 'ua-dra-hostdevice-'] as const;

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
  const vmi = readVmi(vmiJson);
  const text = annotationText(vmi.annotations);
  if (text === undefined) return { xml: domainXml, warnings: [] };
  const annotation = parseAnnotation(text);
  const facts = readDomainFacts(loadDomainXml(domainXml)); // the one parse: the hostdevs here, the transform below
  const gpus: AnnotatedGpu[] = [];
  const hostdevs: PlanHostdev[] = Object.entries(annotation.gpus).map(([name, gpu], index) => {
    const hostdev = findHostdev(name, vmi.devices, facts.hostdevs);
    gpus.push({ name, index, address: hostdev.sourceKey });
    return { address: hostdev.sourceKey, alias: hostdev.alias, managed: hostdev.managed, gpudirect: gpudirectOf(name, gpu, annotation) };
  });
  const plan: Plan = annotation.target === undefined ? { hostdevs } : { target: annotation.target, hostdevs };
  try {
    const { xml, warnings } = explainLoadedTransform(facts, plan);
    return { xml, warnings: warnings.map((w) => inAnnotationTerms(w, gpus)) };
  } catch (err) {
    throw isPassthroughError(err) ? refusalInAnnotationTerms(err, gpus) : err;
  }
}

/** The plan's gpudirect for one GPU; KubeVirt's hostdev carries no PCI device ID, so the architecture must be given. */
function gpudirectOf(name: string, gpu: AnnotationGpu, annotation: GpudirectAnnotation): NonNullable<PlanHostdev['gpudirect']> {
  const { clique, architecture = annotation.architecture, offset } = typeof gpu === 'number' ? { clique: gpu } : gpu;
  if (architecture === undefined) {
    throw new PassthroughError(
      'GPU_ARCHITECTURE_UNKNOWN',
      `The annotation ${GPUDIRECT_ANNOTATION} gives no architecture for GPU ${quote(name, 40)} (at ${gpuPath(name)}): add "architecture" (e.g. "hopper") for all GPUs, or {"clique": N, "architecture": "..."} for this one.`,
    );
  }
  return offset === undefined ? { clique, architecture } : { clique, architecture, offset };
}

/** The hostdev KubeVirt wrote for the annotation's GPU `name`, which the VMI's spec must list as a GPU. */
function findHostdev(name: string, devices: VmiDevice[], hostdevs: ExistingHostdev[]): ExistingHostdev & { alias: string } {
  const prefix = KUBEVIRT_ALIAS_PREFIXES.find((p) => name.startsWith(p));
  const deviceName = prefix === undefined ? name : name.slice(prefix.length);
  const device = devices.find((d) => d.name === deviceName);
  const at = `(at ${gpuPath(name)})`;
  if (device === undefined) {
    const gpuNames = devices.filter(isGpuBySpec).map((d) => d.name);
    const near = closest(deviceName, gpuNames);
    throw new PassthroughError(
      'HOSTDEV_MISSING',
      `The annotation ${GPUDIRECT_ANNOTATION} names GPU ${quote(name, 40)} ${at}, but the VMI lists no device of that name under spec.domain.devices.gpus or hostDevices` +
        ` (its GPUs: ${gpuNames.length === 0 ? 'none' : excerpt(gpuNames.join(', '), 200)})${near ? `; did you mean "${near}"?` : '.'}`,
    );
  }
  if (!isGpuBySpec(device)) {
    throw new PassthroughError(
      'GPUDIRECT_UNSUPPORTED_DEVICE',
      `The annotation ${GPUDIRECT_ANNOTATION} names ${quote(name, 40)} ${at}, which the VMI lists under ${describeDevice(device)}: not an NVIDIA GPU.` +
        ' Only NVIDIA GPUs (a deviceName under nvidia.com/, not an NVSwitch) take a GPUDirect clique; remove it from the annotation.',
    );
  }
  const wanted = prefix === undefined ? KUBEVIRT_ALIAS_PREFIXES.map((p) => p + name) : [name];
  const found = hostdevs.filter((h): h is ExistingHostdev & { alias: string } => h.kind === 'hostdev' && h.alias !== undefined && wanted.includes(h.alias));
  if (found.length === 1) return found[0];
  if (found.length > 1) {
    throw new PassthroughError('HOSTDEV_CONFLICT', `The annotation's GPU ${quote(name, 40)} ${at} matches ${excerpt(found.map((h) => h.alias).join(' and '), 200)}; name it by its full alias.`);
  }
  const present = hostdevs.map((h) => h.alias).filter((a): a is string => a !== undefined);
  throw new PassthroughError(
    'HOSTDEV_MISSING',
    `The annotation ${GPUDIRECT_ANNOTATION} names GPU ${quote(name, 40)} ${at}, which the VMI lists under ${describeDevice(device)}, but the domain has no PCI hostdev` +
      ` with its alias (PCI hostdev aliases: ${present.length === 0 ? 'none' : excerpt(present.join(', '), 200)}). A vGPU (mediated device) cannot carry the clique.`,
  );
}
