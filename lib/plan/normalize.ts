import { PassthroughError, excerpt } from '../errors';
import {
  GPUDIRECT_ARCHITECTURES,
  isGpudirectArchitecture,
  isPreKeplerArchitecture,
  lookupNvidiaDevice,
  recommendedP2POffset,
} from '../gpudirect/architecture';
import { PCI_VENDOR_NVIDIA, formatDeviceId, formatPciAddress, parseDeviceId } from '../pci/address';
import { checkPlanLayout } from './layout';
import { Plan, PlanHostdev, PlannedHostdev } from './types';
import { readPlanAddress, validatePlan } from './validate';

const USER_ALIAS_PREFIX = 'ua-';

/** Validates the plan and turns each entry into canonical form; `warnings` collects what is odd but allowed. */
export function normalizePlan(plan: unknown, warnings: string[]): PlannedHostdev[] {
  validatePlan(plan);
  const planned = (plan as Plan).hostdevs.map((entry, index) => normalizeEntry(entry, index, warnings));
  rejectDuplicates(planned);
  const layout = (plan as Plan).layout;
  if (layout) checkPlanLayout(layout, planned);
  return planned;
}

/** libvirt keeps only aliases that start with `ua-` (user aliases). */
export function userAlias(alias: string): string {
  return alias.startsWith(USER_ALIAS_PREFIX) ? alias : USER_ALIAS_PREFIX + alias;
}

/** Deterministic alias for a GPU the plan gave no alias: `ua-gpu-0000-3b-00-0`. */
export function generatedAlias(addressKey: string): string {
  return `${USER_ALIAS_PREFIX}gpu-${addressKey.replace(/[:.]/g, '-')}`;
}

function normalizeEntry(entry: PlanHostdev, index: number, warnings: string[]): PlannedHostdev {
  const path = `hostdevs[${index}]`;
  const address = readPlanAddress(entry.address, `${path}.address`);
  const addressKey = formatPciAddress(address);
  const guestAddress = entry.guestAddress === undefined ? undefined : readPlanAddress(entry.guestAddress, `${path}.guestAddress`);
  if (guestAddress && formatPciAddress(guestAddress) === '0000:00:00.0') {
    throw new PassthroughError(
      'PLAN_INVALID',
      'The plan is invalid: guest address 0000:00:00.0 is the host bridge, and libvirt reads it as "no address" and silently picks another; omit guestAddress to let libvirt choose.',
      { path: `${path}.guestAddress` },
    );
  }
  const aliasWasGenerated = entry.alias === undefined && entry.gpudirect !== undefined;
  const alias = entry.alias !== undefined ? userAlias(entry.alias) : aliasWasGenerated ? generatedAlias(addressKey) : undefined;
  return {
    index,
    address,
    addressKey,
    alias,
    aliasWasGenerated,
    managed: entry.managed ?? true,
    guestAddress,
    rom: entry.rom,
    bootOrder: entry.bootOrder,
    device: entry.device?.toLowerCase(),
    gpudirect: entry.gpudirect && {
      clique: entry.gpudirect.clique,
      ...gpuArchitecture(entry, path, warnings),
      ...(entry.gpudirect.offset === undefined ? {} : { offset: parseInt(entry.gpudirect.offset, 16) }),
    },
  };
}

function gpuArchitecture(entry: PlanHostdev, path: string, warnings: string[]): { architecture: string; offset: number } {
  const id = entry.device === undefined ? undefined : parseDeviceId(entry.device);
  if (id && id.vendor !== PCI_VENDOR_NVIDIA) {
    throw new PassthroughError(
      'GPUDIRECT_UNSUPPORTED_DEVICE',
      `Device ${formatDeviceId(id)} is not an NVIDIA GPU (vendor ${formatDeviceId(id).slice(0, 4)}, not 10de): the GPUDirect clique ` +
        `is an NVIDIA capability and QEMU refuses it on other vendors ("invalid device vendor"). Remove gpudirect from this entry.`,
      { path: `${path}.gpudirect` },
    );
  }
  const known = id && lookupNvidiaDevice(id);
  if (known && !known.isGpu) {
    throw new PassthroughError(
      'GPUDIRECT_UNSUPPORTED_DEVICE',
      `Device ${entry.device} is "${known.name}", a function of the GPU board that is not the GPU itself; QEMU only adds ` +
        'the clique to display-class devices. Put gpudirect on the GPU function (usually function 0).',
      { path: `${path}.gpudirect` },
    );
  }
  const given = entry.gpudirect?.architecture;
  const architecture = given ?? known?.architecture;
  if (given && known && given !== known.architecture) {
    warnings.push(`${path}: the plan says ${excerpt(given)}, but ${entry.device} ("${known.name}") is ${known.architecture} in pci.ids; using ${excerpt(given)}.`);
  }
  if (architecture === undefined) {
    throw new PassthroughError(
      'GPU_ARCHITECTURE_UNKNOWN',
      (id ? `Device ${entry.device} is not in the NVIDIA device table (pci.ids), ` : 'The entry has no device ID, ') +
        'so the GPU architecture (which decides the capability offset, C8h or D4h) is unknown. Either add ' +
        '"device": "10de:XXXX" from `lspci -nn`, or add "architecture" (e.g. "hopper") to gpudirect.',
      { path: `${path}.gpudirect` },
    );
  }
  if (isPreKeplerArchitecture(architecture)) {
    throw new PassthroughError(
      'GPUDIRECT_UNSUPPORTED_DEVICE',
      `${capitalize(architecture)} GPUs predate Kepler; the NVIDIA driver reads the virtual P2P capability only on Kepler and later. Remove gpudirect from this entry.`,
      { path: `${path}.gpudirect` },
    );
  }
  if (!isGpudirectArchitecture(architecture)) {
    throw new PassthroughError(
      'GPU_ARCHITECTURE_UNKNOWN',
      `"${excerpt(architecture)}" is not an NVIDIA GPU architecture this library knows; use one of ${GPUDIRECT_ARCHITECTURES.join(', ')}.`,
      { path: `${path}.gpudirect.architecture` },
    );
  }
  return { architecture, offset: recommendedP2POffset(architecture) };
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function rejectDuplicates(planned: PlannedHostdev[]): void {
  const keys: [string, (h: PlannedHostdev) => string | undefined, string][] = [
    ['address', (h) => h.addressKey, 'host address'],
    ['alias', (h) => h.alias, 'alias'],
    ['guestAddress', (h) => h.guestAddress && formatPciAddress(h.guestAddress), 'guest address'],
    ['bootOrder', (h) => h.bootOrder?.toString(), 'boot order'],
  ];
  for (const [field, key, what] of keys) {
    const seen = new Map<string, number>();
    for (const h of planned) {
      const k = key(h);
      if (k === undefined) continue;
      const first = seen.get(k);
      if (first !== undefined) {
        throw new PassthroughError(
          'HOSTDEV_CONFLICT',
          `The plan uses ${what} ${excerpt(k)} twice (hostdevs[${first}] and hostdevs[${h.index}]); each device needs its own.`,
          { path: `hostdevs[${h.index}].${field}` },
        );
      }
      seen.set(k, h.index);
    }
  }
}
