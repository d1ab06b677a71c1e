import { excerpt, PassthroughError } from '../errors';
import {
  GpuArchitecture,
  isGpudirectArchitecture,
  lookupNvidiaDevice,
  P2P_OFFSET_KEPLER_TO_VOLTA as C8,
  P2P_OFFSET_TURING_AND_LATER as D4,
  recommendedP2POffset,
} from './architecture';
import { ConfigSpaceReading, readConfigSpace, ReadCapability } from './read-config';
import { atLeast, STACK } from '../plan/stack';
import { readVersion, versionProblem } from '../plan/version';
import { hex } from './capability';
import { PCI_VENDOR_NVIDIA } from '../pci/address';

/** What one QEMU generation does with `x-nv-gpudirect-clique` on this GPU. */
export interface QemuPlacement {
  /** Where QEMU puts the capability; null when the VM fails to start. */
  offset: number | null;
  reason: string;
  /** QEMU's error when offset is null. */
  error?: string;
  /** Capabilities whose own declared length reaches into the 8 bytes although QEMU starts. */
  shadows: string[];
}

export interface P2PPlacement {
  /** The QEMU version asked about, as given. */
  qemu: string;
  /** Where that QEMU puts the capability, or null when the VM would fail to start. */
  offset: number | null;
  /** QEMU's refusal when offset is null. */
  error?: string;
  reason: string;
  /** That QEMU refuses to start, or its 8 bytes cover part of a capability the device declares. */
  collides: boolean;
  /** QEMU 8.1 and later, and QEMU before 8.1, whichever was asked. */
  qemu81: QemuPlacement;
  qemuBefore81: QemuPlacement;
  architecture?: string;
  /** The spec's recommendation for the architecture, when known. */
  recommended?: number;
  /** Whether QEMU's choice matches the spec's recommendation. */
  agrees?: boolean;
  /** When they disagree: what it means for the guest driver. */
  meaning?: string;
  address?: string;
  /** `10de:1eb8`, when the capture shows it. */
  deviceId?: string;
  /** What the prediction rests on: the standard capability list, with each extent and where it comes from. */
  capabilities: ReadCapability[];
  source: ConfigSpaceReading['source'];
  /** Extents not read from the device: assumed to reach the next capability, as QEMU's vfio sizes them. */
  assumed: string[];
  /** False when a text capture may stop before the capability list does. */
  complete: boolean;
  warnings: string[];
}

/** A QEMU version in the one grammar of lib/plan/version.ts (8.2.0, 7.2, 1:7.2+dfsg-7, 10.0.2-rc1). Anything else is refused. */
export function parseQemuVersion(text: unknown): [number, number, number] {
  const version = readVersion(text);
  if (version === undefined) throw new PassthroughError('INPUT_INVALID', `${versionProblem(text, 'QEMU')} (qemu-system-x86_64 --version prints it).`);
  return version;
}

const h = (n: number) => `0x${n.toString(16)}`;

/**
 * What QEMU will do with `x-nv-gpudirect-clique` for this physical GPU, from its capability list, the way
 * QEMU's source decides (hw/vfio/pci-quirks.c vfio_add_nv_gpudirect_cap, hw/vfio/pci.c vfio_add_std_cap,
 * hw/pci/pci.c pci_add_capability):
 * - QEMU 8.1 and later: C8h unless a capability *starts* there, else D4h unless one starts there, else
 *   "invalid config space". Before 8.1: always C8h.
 * - The 8 bytes are added before the GPU's own capabilities; each of those is then added with its size
 *   (MSI from its flags, MSI-X 12, others cut to end where the next one starts), and QEMU refuses to start
 *   when one overlaps the 8 bytes: a capability starting inside them, or MSI/MSI-X reaching into them.
 * Input: the config-space bytes, or a reading from readConfigSpace (lspci text, hex, sysfs).
 */
export function predictP2PPlacement(input: Uint8Array | ConfigSpaceReading, qemuVersion: string, architecture?: GpuArchitecture): P2PPlacement {
  const reading = toReading(input);
  const version = parseQemuVersion(qemuVersion);
  if (architecture !== undefined && (typeof architecture !== 'string' || !isGpudirectArchitecture(architecture))) {
    throw new PassthroughError('INPUT_INVALID', `"${excerpt(String(architecture), 30)}" is not a GPU architecture this library knows.`);
  }
  const caps = reading.capabilities;
  const refusal = deviceRefusal(reading);
  const qemu81 = refusal ?? modernPlacement(caps, reading.complete);
  const qemuBefore81 = refusal ?? placeAt(C8, caps, 'QEMU before 8.1 always uses C8h');
  const chosen = atLeast(version, STACK.qemuAlternateOffset) ? qemu81 : qemuBefore81;
  const known = reading.vendor !== undefined && reading.device !== undefined ? lookupNvidiaDevice({ vendor: reading.vendor, device: reading.device }) : undefined;
  const arch = architecture ?? (known?.isGpu && isGpudirectArchitecture(known.architecture) ? known.architecture : architectureFromChip(reading.description));
  const recommended = arch === undefined ? undefined : recommendedP2POffset(arch);
  const agrees = recommended === undefined || chosen.offset === null ? undefined : chosen.offset === recommended;
  const result: P2PPlacement = {
    qemu: qemuVersion,
    offset: chosen.offset,
    reason: chosen.reason,
    collides: chosen.offset === null || chosen.shadows.length > 0,
    qemu81,
    qemuBefore81,
    capabilities: caps,
    source: reading.source,
    assumed: caps.filter((c) => c.lengthSource === 'assumed').map((c) => `${h(c.offset)} ${c.name}: ${c.length} bytes, to the next capability (as QEMU sizes it)`),
    complete: reading.complete,
    warnings: [...reading.notes, ...chosen.shadows],
  };
  if (chosen.error !== undefined) result.error = chosen.error;
  if (reading.address !== undefined) result.address = reading.address;
  if (reading.vendor !== undefined && reading.device !== undefined) result.deviceId = `${hex(reading.vendor, 4)}:${hex(reading.device, 4)}`;
  if (arch !== undefined) result.architecture = arch;
  if (recommended !== undefined) result.recommended = recommended;
  if (agrees !== undefined) result.agrees = agrees;
  if (agrees === false) result.meaning = meaning(chosen.offset!, recommended!, arch!);
  if (!reading.complete) {
    const last = caps.length ? h(Math.max(...caps.map((c) => c.offset))) : '0x40';
    const elided = reading.notes.some((n) => /leaves lines out/.test(n));
    result.warnings.push(
      elided
        ? `a capability in the lines the capture leaves out would change the answer`
        : `the capture may stop before the capability list does (no extended capability, no "Kernel driver" line and no next device after it): a capability after ${last} would change the answer`,
    );
  }
  return result;
}

const CHIP_FAMILIES: Record<string, GpuArchitecture> = {
  GK: 'kepler', GM: 'maxwell', GP: 'pascal', GV: 'volta', TU: 'turing', GA: 'ampere', AD: 'ada', GH: 'hopper', GB: 'blackwell',
};

/** When the ID is not in the table, lspci's name still starts with the chip (GK110BGL, TU104GL, GB20B): its family. */
function architectureFromChip(description: string): GpuArchitecture | undefined {
  const chip = /NVIDIA Corporation (GK|GM|GP|GV|TU|GA|AD|GH|GB)\d{2,3}[A-Z]*\b/.exec(description);
  return chip ? CHIP_FAMILIES[chip[1]] : undefined;
}

function toReading(input: unknown): ConfigSpaceReading {
  if (input instanceof Uint8Array) return readConfigSpace(input);
  if (typeof input === 'string') {
    throw new PassthroughError(
      'INPUT_INVALID',
      'predictP2PPlacement takes the config-space bytes (a Uint8Array) or what readConfigSpace returns, not a string: read lspci text with readConfigSpace(text) first.',
    );
  }
  const reading = input as ConfigSpaceReading | null;
  if (reading === null || typeof reading !== 'object' || !Array.isArray(reading.capabilities)) {
    throw new PassthroughError('INPUT_INVALID', 'predictP2PPlacement takes the config-space bytes (a Uint8Array) or what readConfigSpace returns.');
  }
  if (reading.capabilities.length === 0) {
    throw new PassthroughError('CONFIG_SPACE_UNREADABLE', 'The reading holds no capability list, so there is nothing to predict from. Capture the GPU with `sudo lspci -vvv -nn -s ADDR`.');
  }
  return reading;
}

/** QEMU checks the device before placing anything: an NVIDIA function of the display class (03h). */
function deviceRefusal(reading: ConfigSpaceReading): QemuPlacement | undefined {
  if (reading.vendor !== undefined && reading.vendor !== PCI_VENDOR_NVIDIA) {
    return { offset: null, reason: `the device's vendor is ${hex(reading.vendor, 4)}, not NVIDIA (10de)`, error: 'NVIDIA GPUDirect Clique ID: invalid device vendor', shadows: [] };
  }
  if (reading.vendor === undefined && reading.otherVendor !== undefined) {
    return {
      offset: null,
      reason: `the capture names the device "${reading.otherVendor}", not an NVIDIA one (lspci without -nn shows names instead of IDs; NVIDIA's start "NVIDIA Corporation")`,
      error: 'NVIDIA GPUDirect Clique ID: invalid device vendor',
      shadows: [],
    };
  }
  if (reading.classCode !== undefined && reading.classCode >> 8 !== 0x03) {
    return {
      offset: null,
      reason: `the device's class is ${hex(reading.classCode, 4)}, not a display controller (03xx): the clique goes on the GPU function`,
      error: 'NVIDIA GPUDirect Clique ID: unsupported PCI class',
      shadows: [],
    };
  }
  return undefined;
}

function modernPlacement(caps: ReadCapability[], complete: boolean): QemuPlacement {
  const at = (offset: number) => caps.find((c) => c.offset === offset);
  const c8 = at(C8);
  if (!c8) {
    const why = complete ? 'no capability starts at C8h' : 'no capability the capture shows starts at C8h (it does not show them all)';
    return placeAt(C8, caps, `${why}, so QEMU 8.1 and later use C8h`);
  }
  if (!at(D4)) return placeAt(D4, caps, `the GPU's ${c8.name} capability starts at C8h, so QEMU 8.1 and later use D4h`);
  return { offset: null, reason: `capabilities start at both C8h (${c8.name}) and D4h (${at(D4)!.name})`, error: 'NVIDIA GPUDirect Clique ID: invalid config space', shadows: [] };
}

/** QEMU sizes MSI and MSI-X exactly (msi_init, msix_init); others end where the next capability starts. */
const SIZED_EXACTLY = new Set([0x05, 0x11]);

function placeAt(p: number, caps: ReadCapability[], why: string): QemuPlacement {
  const clash =
    caps.find((c) => c.offset >= p && c.offset < p + 8) ?? caps.find((c) => c.offset < p && SIZED_EXACTLY.has(c.id) && c.offset + c.length > p);
  if (clash) {
    return {
      offset: null,
      reason: `${why}, but the GPU's ${clash.name} capability at ${h(clash.offset)} (${clash.length} bytes) overlaps those 8 bytes`,
      error:
        `Attempt to add PCI capability ${clash.id.toString(16)} at offset ${clash.offset.toString(16)} overlaps existing capability ` +
        `${p.toString(16)} at offset ${Math.max(clash.offset, p).toString(16)}`,
      shadows: [],
    };
  }
  const shadows = caps
    .filter((c) => c.offset < p && c.lengthSource !== 'assumed' && c.offset + c.length > p)
    .map(
      (c) =>
        `the ${c.name} capability at ${h(c.offset)} declares ${c.length} bytes (to ${h(c.offset + c.length - 1)}, from the ${c.lengthSource}): ` +
        `QEMU starts, but in the guest the P2P capability's bytes replace that capability's tail`,
    );
  return { offset: p, reason: why, shadows };
}

function meaning(offset: number, recommended: number, arch: string): string {
  const why =
    offset === C8
      ? `this GPU has no capability at C8h (the spec moved ${arch} to D4h because such GPUs usually have MSI-X there), so QEMU keeps C8h`
      : 'this GPU has a capability at C8h, so QEMU moves to D4h';
  return (
    `QEMU puts the capability at ${h(offset)}, NVIDIA's spec recommends ${h(recommended)} for ${arch} GPUs: ${why}. QEMU links it into ` +
    'the capability list either way and has no option to choose the offset; whether the NVIDIA guest driver accepts it at ' +
    `${h(offset)} is not documented. If P2P stays off in the guest (nvidia-smi topo -p2p r shows no OK between these GPUs), this is the first suspect; ` +
    'verify-guest shows where the capability landed.'
  );
}

