import { PassthroughError } from '../errors';
import { P2P_OFFSET_TURING_AND_LATER } from '../gpudirect/architecture';
import { OverrideStyle, PlannedHostdev } from './types';

type Version = [number, number, number];

/** Milestones of the host stack that decide how the clique reaches QEMU (sources in docs/gpudirect.md). */
export const STACK = {
  /** `x-nv-gpudirect-clique` appeared in vfio-pci. */
  qemuCliqueProperty: [2, 11, 0] as Version,
  /** QEMU accepts `-device` as JSON; libvirt then stops using the key=value form that `-set` needs. */
  qemuJsonDevice: [6, 2, 0] as Version,
  /** QEMU places the capability at D4h when C8h is taken (Turing and later need it). */
  qemuAlternateOffset: [8, 1, 0] as Version,
  /** libvirt passes `-device` as JSON to QEMU 6.2 and later. */
  libvirtJsonDevice: [8, 1, 0] as Version,
  /** libvirt's `<qemu:override>`. */
  libvirtOverride: [8, 2, 0] as Version,
};

export function parseVersion(text: string): Version {
  const parts = text.split(/[^0-9.]/)[0].split('.').map((p) => Number(p) || 0);
  return [parts[0] ?? 0, parts[1] ?? 0, parts[2] ?? 0];
}

export function atLeast(version: Version, min: Version): boolean {
  for (let i = 0; i < 3; i++) if (version[i] !== min[i]) return version[i] > min[i];
  return true;
}

const show = (v: Version) => v.join('.');

export interface Target {
  libvirt?: string;
  qemu?: string;
}

/**
 * How the clique must be written for this stack: `<qemu:override>` where libvirt has it,
 * `-set` on the command line where libvirt still gives QEMU key=value `-device` options.
 */
export function overrideStyleFor(target: Target): OverrideStyle {
  const libvirt = target.libvirt === undefined ? undefined : parseVersion(target.libvirt);
  if (!libvirt || atLeast(libvirt, STACK.libvirtOverride)) return 'override';
  const qemu = target.qemu === undefined ? undefined : parseVersion(target.qemu);
  const jsonDevice = atLeast(libvirt, STACK.libvirtJsonDevice) && (!qemu || atLeast(qemu, STACK.qemuJsonDevice));
  if (!jsonDevice) return 'commandline';
  throw new PassthroughError(
    'LIBVIRT_TOO_OLD',
    `libvirt ${target.libvirt} passes -device to QEMU ${target.qemu ?? '6.2 or later'} as JSON, which QEMU's -set cannot modify, ` +
      `and <qemu:override> only arrived in libvirt ${show(STACK.libvirtOverride)}. Upgrade libvirt to ${show(STACK.libvirtOverride)} or later.`,
    { path: 'target.libvirt' },
  );
}

/** Refuses GPUDirect entries this QEMU cannot honour. */
export function checkQemuForGpudirect(target: Target, hostdevs: PlannedHostdev[]): void {
  if (target.qemu === undefined) return;
  const qemu = parseVersion(target.qemu);
  const gpus = hostdevs.filter((h) => h.gpudirect);
  if (gpus.length === 0) return;
  if (!atLeast(qemu, STACK.qemuCliqueProperty)) {
    throw new PassthroughError(
      'QEMU_TOO_OLD',
      `QEMU ${target.qemu} has no x-nv-gpudirect-clique property (it arrived in QEMU ${show(STACK.qemuCliqueProperty)}). Upgrade QEMU, or drop gpudirect from the plan.`,
      { path: 'target.qemu' },
    );
  }
  const late = gpus.find((h) => h.gpudirect!.offset === P2P_OFFSET_TURING_AND_LATER);
  if (late && !atLeast(qemu, STACK.qemuAlternateOffset)) {
    throw new PassthroughError(
      'QEMU_TOO_OLD',
      `QEMU ${target.qemu} always puts the GPUDirect capability at C8h, where ${late.gpudirect!.architecture} GPUs ` +
        `(Turing and later) have their MSI-X capability, so the VM would fail to start ("Failed to add NVIDIA GPUDirect cap"). ` +
        `QEMU ${show(STACK.qemuAlternateOffset)} and later fall back to D4h: upgrade QEMU, or drop gpudirect for ${late.addressKey}.`,
      { path: `hostdevs[${late.index}].gpudirect` },
    );
  }
}
