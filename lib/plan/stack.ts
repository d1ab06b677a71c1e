import { PassthroughError } from '../errors';
import { P2P_OFFSET_TURING_AND_LATER } from '../gpudirect/architecture';
import { OverrideStyle, PlannedHostdev } from './types';
import { readVersion, Version, versionProblem } from './version';


/**
 * Milestones of the host stack that decide how the clique reaches QEMU. Each is checked against a
 * primary source in STACK_SOURCES; docs/gpudirect.md "Versions" is generated from both.
 */
export const STACK = {
  /** `x-nv-gpudirect-clique` appeared in vfio-pci. */
  qemuCliqueProperty: [2, 11, 0] as Version,
  /** QMP `device_add` feature `json-cli`: QEMU accepts `-device` as JSON (libvirt 7.9/7.10 probe for it). */
  qemuJsonCli: [6, 2, 0] as Version,
  /** QMP `device_add` feature `json-cli-hotplug` (JSON `-device` without the hot-unplug bug); libvirt 8.1+ probe for it. */
  qemuJsonCliHotplug: [7, 0, 0] as Version,
  /** QEMU places the capability at D4h when a capability starts at C8h (Turing and later need it). */
  qemuAlternateOffset: [8, 1, 0] as Version,
  /** libvirt started passing `-device` as JSON (to QEMU with `json-cli`). */
  libvirtJsonDevice: [7, 9, 0] as Version,
  /** libvirt reverted to key=value `-device` (QEMU 6.2's hot-unplug bug). */
  libvirtJsonDeviceReverted: [8, 0, 0] as Version,
  /** libvirt uses JSON `-device` again, only with QEMU's `json-cli-hotplug` (capability `device.json+hotplug`). */
  libvirtJsonDeviceHotplug: [8, 1, 0] as Version,
  /** libvirt's `<qemu:override>` for device properties. */
  libvirtOverride: [8, 2, 0] as Version,
  /** Overriding device properties no longer crashes libvirt's QEMU driver. */
  libvirtOverrideFixed: [8, 5, 0] as Version,
  /** `<qemu:capabilities>` (add or remove QEMU capability bits per domain). */
  libvirtQemuCapabilities: [5, 5, 0] as Version,
};

export interface StackSource {
  fact: string;
  source: string;
  /** Verbatim from the source. */
  quote: string;
}

/** Where each milestone comes from, quoted verbatim. */
export const STACK_SOURCES: StackSource[] = [
  {
    fact: 'libvirt 7.9.0 passes -device as JSON to QEMU 6.2',
    source: 'libvirt NEWS.rst, v7.9.0 (2021-11-01), Improvements',
    quote: "Libvirt started using JSON directly with the ``-device`` commandline parameter as it's considered the preferred stable syntax for further QEMU releases.",
  },
  {
    fact: 'libvirt 8.0.0 reverted to key=value; the workaround for 7.9/7.10 masks device.json',
    source: 'libvirt NEWS.rst, v8.0.0 (2022-01-14), Bug fixes',
    quote:
      'This is fixed in ``libvirt-8.0`` by reverting to the old configuration approach until qemu is fixed. ' +
      "As a workaround for ``libvirt-7.9`` and ``libvirt-7.10`` the old configuration approach can be forced by: [...] <qemu:capabilities> <qemu:del capability='device.json'/> </qemu:capabilities>",
  },
  {
    fact: 'libvirt 8.1.0 uses JSON -device only when QEMU has device_add json-cli-hotplug',
    source: 'libvirt src/qemu/qemu_capabilities.c (commit 1a691fe1c84, "qemu: capabilities: Re-enable JSON syntax for -device", v8.1.0)',
    quote: '{ "device_add/$json-cli-hotplug", QEMU_CAPS_DEVICE_JSON }, ... "device.json+hotplug", /* QEMU_CAPS_DEVICE_JSON */',
  },
  {
    fact: 'json-cli-hotplug first in QEMU 7.0',
    source:
      "QEMU qapi/qdev.json, device_add feature json-cli-hotplug (Daniel P. Berrangé, Message-Id 20220105123847.4047954-2-berrange@redhat.com, " +
      'merged January 2022 after QEMU 6.2 (December 2021), so first released in 7.0; libvirt tests/qemucapabilitiesdata: caps_6.2.0 lacks device.json+hotplug, caps_7.0.0 has it)',
    quote: "Given the hotplug bug that feature flag is not usable for its purpose, so we add a new 'json-cli-hotplug' feature to indicate the -device supports JSON without breaking hotplug.",
  },
  {
    fact: '<qemu:override> for device properties from libvirt 8.2.0',
    source: 'libvirt NEWS.rst, v8.2.0 (2022-04-01), Improvements',
    quote:
      'Users wishing to override or modify properties of devices configured by libvirt can use the ``<qemu:deviceOverride>`` QEMU namespace element ' +
      'to specify the overrides instead of relying on the argv passthrough of the ``-set`` qemu commandline option which no longer works with new qemu.',
  },
  {
    fact: 'overriding device properties crashed libvirt until 8.5.0',
    source: 'libvirt NEWS.rst, v8.5.0 (2022-07-01), Bug fixes',
    quote: 'qemu: Fix crash when overriding device properties via ``<qemu:override>`` element. Adding an override for a device property would result in a crash of the qemu driver.',
  },
  {
    fact: '<qemu:capabilities> since libvirt 5.5.0, for experiments only',
    source: 'libvirt docs/drvqemu.rst, the <qemu:capabilities> section (before "Control of QEMU deprecation warnings")',
    quote: ':since:`Since 5.5.0` it\'s possible to use [...] ``<qemu:capabilities>`` element to add [...] or remove (``<qemu:del capability="capname"/>``) capability bits. [...] Note that this feature is meant for experiments only and should _not_ be used in production.',
  },
  {
    fact: 'QEMU falls back to D4h from 8.1',
    source: 'QEMU hw/vfio/pci-quirks.c (vfio_add_nv_gpudirect_cap, mid-2023 change, first in 8.1); ../shared/reference/qemu-libvirt-facts.md',
    quote: 'if no capability starts at 0xC8 it uses 0xC8, else if none starts at 0xD4 it uses 0xD4, else it fails',
  },
];

/** A target's version, read with the one grammar (lib/plan/version.ts) the plan schema already checked. */
export function parseVersion(text: string, field: 'libvirt' | 'qemu' = 'qemu'): Version {
  const version = readVersion(text);
  if (version === undefined) {
    throw new PassthroughError('PLAN_INVALID', `The plan is invalid: ${versionProblem(text, field === 'qemu' ? 'QEMU' : 'libvirt')}.`, { path: `target.${field}` });
  }
  return version;
}

export function atLeast(version: Version, min: Version): boolean {
  for (let i = 0; i < 3; i++) if (version[i] !== min[i]) return version[i] > min[i];
  return true;
}

const show = (v: Version) => v.join('.');
const between = (v: Version, from: Version, before: Version) => atLeast(v, from) && !atLeast(v, before);

export interface Target {
  libvirt?: string;
  qemu?: string;
  /**
   * QEMU falls back to D4h when a capability starts at C8h (upstream 8.1 and later, or a vendor
   * build with that change backported). Overrides what the QEMU version implies.
   */
  qemuAlternateOffset?: boolean;
  /**
   * Whether libvirt gives QEMU `-device` as JSON; false when the domain masks the capability libvirt decides by
   * (`<qemu:capabilities><qemu:del capability='device.json+hotplug'/>`). Overrides what the versions imply.
   */
  libvirtDeviceJson?: boolean;
}

/**
 * How libvirt writes `-device` for this pair: 'json' (then QEMU's `-set` cannot reach the device),
 * 'keyvalue', or undefined when it depends on a QEMU version the target does not give.
 * Returns the QEMU capability that libvirt's JSON choice hangs on, for the workaround message.
 */
export function deviceSyntax(libvirt: Version, qemu: Version | undefined): { syntax?: 'json' | 'keyvalue'; capability?: string } {
  if (!atLeast(libvirt, STACK.libvirtJsonDevice)) return { syntax: 'keyvalue' };
  if (between(libvirt, STACK.libvirtJsonDevice, STACK.libvirtJsonDeviceReverted)) {
    return { syntax: qemu === undefined ? undefined : atLeast(qemu, STACK.qemuJsonCli) ? 'json' : 'keyvalue', capability: 'device.json' };
  }
  if (between(libvirt, STACK.libvirtJsonDeviceReverted, STACK.libvirtJsonDeviceHotplug)) return { syntax: 'keyvalue' };
  return { syntax: qemu === undefined ? undefined : atLeast(qemu, STACK.qemuJsonCliHotplug) ? 'json' : 'keyvalue', capability: 'device.json+hotplug' };
}

/**
 * How the clique must be written for this stack: `<qemu:override>` from libvirt 8.5 (or with no
 * libvirt version: a current stack is assumed, and explainTransform warns), `-set` where libvirt
 * still gives QEMU key=value `-device` options; otherwise LIBVIRT_TOO_OLD naming the fix.
 */
export function overrideStyleFor(target: Target): OverrideStyle {
  if (target.libvirt === undefined) return 'override';
  const libvirt = parseVersion(target.libvirt, 'libvirt');
  if (atLeast(libvirt, STACK.libvirtOverrideFixed)) return 'override';
  const qemu = target.qemu === undefined ? undefined : parseVersion(target.qemu);
  const implied = deviceSyntax(libvirt, qemu);
  const capability = implied.capability;
  const syntax = target.libvirtDeviceJson === undefined ? implied.syntax : target.libvirtDeviceJson ? 'json' : 'keyvalue';
  if (syntax === 'keyvalue') return 'commandline';
  const crashes = atLeast(libvirt, STACK.libvirtOverride);
  const why =
    syntax === undefined
      ? `libvirt ${target.libvirt} passes -device as JSON or as key=value depending on the QEMU version (JSON from QEMU ` +
        `${show(capability === 'device.json' ? STACK.qemuJsonCli : STACK.qemuJsonCliHotplug)}): give target.qemu. With JSON, `
      : `libvirt ${target.libvirt} passes -device to QEMU ${target.qemu ?? '(target.libvirtDeviceJson: true)'} as JSON; `;
  const noOverride = crashes
    ? `QEMU's -set cannot reach a JSON -device, and <qemu:override> of device properties crashes libvirt's QEMU driver before ${show(STACK.libvirtOverrideFixed)} (libvirt NEWS 8.5.0).`
    : `QEMU's -set cannot reach a JSON -device, and <qemu:override> only arrived in libvirt ${show(STACK.libvirtOverride)}.`;
  throw new PassthroughError(
    'LIBVIRT_TOO_OLD',
    `${why}${noOverride} Upgrade libvirt to ${show(STACK.libvirtOverrideFixed)} or later. ` +
      `Workaround (libvirt's own, meant for experiments, taints the domain; not written by this library): ` +
      `add <qemu:capabilities><qemu:del capability='${capability}'/></qemu:capabilities> to the domain, so libvirt writes ` +
      `key=value -device where -set works, and set target.libvirtDeviceJson: false in the plan.`,
    { path: 'target.libvirt' },
  );
}

/** Whether QEMU falls back to D4h: stated by the plan, else implied by the version; undefined when neither is known. */
export function alternateOffset(target: Target): boolean | undefined {
  if (target.qemuAlternateOffset !== undefined) return target.qemuAlternateOffset;
  return target.qemu === undefined ? undefined : atLeast(parseVersion(target.qemu), STACK.qemuAlternateOffset);
}

/** Refuses GPUDirect entries this QEMU cannot honour. */
export function checkQemuForGpudirect(target: Target, hostdevs: PlannedHostdev[]): void {
  const gpus = hostdevs.filter((h) => h.gpudirect);
  if (gpus.length === 0) return;
  if (target.qemu !== undefined && !atLeast(parseVersion(target.qemu), STACK.qemuCliqueProperty)) {
    throw new PassthroughError(
      'QEMU_TOO_OLD',
      `QEMU ${target.qemu} has no x-nv-gpudirect-clique property (it arrived in QEMU ${show(STACK.qemuCliqueProperty)}). Upgrade QEMU, or drop gpudirect from the plan.`,
      { path: 'target.qemu' },
    );
  }
  const late = gpus.find((h) => h.gpudirect!.offset === P2P_OFFSET_TURING_AND_LATER);
  if (late && alternateOffset(target) === false) {
    const which = target.qemuAlternateOffset === false ? 'This QEMU (target.qemuAlternateOffset: false)' : `QEMU ${target.qemu}`;
    throw new PassthroughError(
      'QEMU_TOO_OLD',
      `${which} always puts the GPUDirect capability at C8h, and the plan expects D4h for ${late.addressKey}, the spec's offset for ` +
        `${late.gpudirect!.architecture} (Turing and later). On cards whose MSI-X starts at C8h (data-centre parts such as the Tesla T4) ` +
        `that QEMU refuses to start ("Attempt to add PCI capability 11 at offset c8 overlaps existing capability c8"). ` +
        `Read the card: \`libvirt-passthrough predict --config CAPTURE --qemu ${target.qemu ?? 'VERSION'}\`, and if it finds C8h free, ` +
        `give gpudirect.offset: "0xc8" (\`host plan --qemu\` records it for you). Otherwise upgrade QEMU to ${show(STACK.qemuAlternateOffset)} ` +
        `or later (it falls back to D4h), or drop gpudirect for ${late.addressKey}. A vendor build with that change backported: set target.qemuAlternateOffset: true.`,
      { path: target.qemuAlternateOffset === false ? 'target.qemuAlternateOffset' : `hostdevs[${late.index}].gpudirect` },
    );
  }
}

/** What explainTransform says when GPUDirect is planned and the target leaves the stack unknown. */
export function stackWarnings(target: Target, hostdevs: PlannedHostdev[]): string[] {
  const gpus = hostdevs.filter((h) => h.gpudirect);
  if (gpus.length === 0) return [];
  const warnings: string[] = [];
  if (target.libvirt === undefined) {
    warnings.push(
      `GPUDirect is planned without target.libvirt: <qemu:override> was written, which needs libvirt ${show(STACK.libvirtOverrideFixed)} or later ` +
        `(older libvirt ignores it or crashes). Give target.libvirt (the CLI reads it from virsh) to have this checked.`,
    );
  }
  const libvirt = target.libvirt === undefined ? undefined : parseVersion(target.libvirt, 'libvirt');
  if (libvirt && between(libvirt, STACK.libvirtOverride, STACK.libvirtOverrideFixed)) {
    warnings.push(
      `libvirt ${target.libvirt} has <qemu:override> but crashes when it overrides a device property (fixed in ${show(STACK.libvirtOverrideFixed)}, libvirt NEWS): ` +
        `the clique was written as -set, which works because libvirt gives QEMU key=value -device options here.`,
    );
  }
  const late = gpus.some((h) => h.gpudirect!.offset === P2P_OFFSET_TURING_AND_LATER);
  if (late && alternateOffset(target) === undefined) {
    warnings.push(
      `Turing-or-later GPUs are planned for GPUDirect without target.qemu: QEMU before ${show(STACK.qemuAlternateOffset)} always uses C8h, and on cards ` +
        `whose MSI-X starts there (Tesla T4, L20) the VM would not start. Give target.qemu, or target.qemuAlternateOffset for a vendor build.`,
    );
  }
  return warnings;
}
