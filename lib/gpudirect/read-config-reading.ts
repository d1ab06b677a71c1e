import { hex } from './capability';

/**
 * Where a capability's length comes from: the device's own bytes, a length lspci printed (`Len=`, MSI flags),
 * the PCI spec's fixed size for that ID, or assumed (it reaches the next capability, the way QEMU's vfio
 * sizes capabilities it does not model).
 */
export type ExtentSource = 'bytes' | 'text' | 'spec' | 'assumed';

export interface ReadCapability {
  offset: number;
  id: number;
  name: string;
  length: number;
  lengthSource: ExtentSource;
  /** MSI only: QEMU sizes MSI from these two flags. */
  msi?: { is64: boolean; maskable: boolean };
}

/** One PCI function's config space as far as a capture shows it. */
export interface ConfigSpaceReading {
  /** As the capture names it (`3b:00.0`, `0000:3b:00.0`), or the file name for a sysfs `config`. */
  address?: string;
  description: string;
  vendor?: number;
  device?: number;
  /** Base class and subclass, e.g. 0x0302 for a 3D controller. */
  classCode?: number;
  /**
   * What the header names instead of IDs when that is not NVIDIA (lspci without -nn prints pci.ids' vendor and
   * device names, e.g. `Intel Corporation HD Graphics 530`): the vendor is not NVIDIA.
   */
  otherVendor?: string;
  /** What the standard capability list was read from. */
  source: 'bytes' | 'text' | 'text+bytes';
  /** The raw bytes when the capture held them (hex rows or a sysfs file). */
  config?: Uint8Array;
  /** The standard capability list (offsets 40h-FFh), in list order. */
  capabilities: ReadCapability[];
  /** Extended capabilities (100h and up) a text capture named. */
  extended: { offset: number; name: string }[];
  /** False when a text capture may stop before the device's capability list does. */
  complete: boolean;
  /** What the reader noticed: disagreements between text and bytes, a walk that stopped early. */
  notes: string[];
}

export interface ReadOptions {
  /** Which device of a capture holding several, in any spelling parsePciAddress takes (`3b:00.0`, `0000:3b:00.0`, `00000000:3B:00.0`), or `#N`: its Nth block (for blocks without a header). */
  address?: string;
  /** Names the input in messages (a file name). */
  name?: string;
}

/** How lspci names each standard capability ID, and the name readings give it. */
export const TEXT_CAPABILITIES: [RegExp, number, string][] = [
  [/^Power Management/, 0x01, 'Power Management'],
  [/^AGP version 3/, 0x0e, 'AGP3'],
  [/^AGP/, 0x02, 'AGP'],
  [/^Vital Product Data/, 0x03, 'Vital Product Data'],
  [/^Slot ID/, 0x04, 'Slot ID'],
  [/^MSI-X/, 0x11, 'MSI-X'],
  [/^MSI:/, 0x05, 'MSI'],
  [/^CompactPCI hot-swap/, 0x06, 'CompactPCI hot-swap'],
  [/^PCI-X/, 0x07, 'PCI-X'],
  [/^HyperTransport/, 0x08, 'HyperTransport'],
  [/^Vendor Specific Information/, 0x09, 'Vendor Specific'],
  [/^Debug port/, 0x0a, 'Debug port'],
  [/^CompactPCI central resource control/, 0x0b, 'CompactPCI central resource control'],
  [/^PCI Hot-plug/, 0x0c, 'PCI Hot-plug'],
  [/^Subsystem:/, 0x0d, 'Bridge subsystem vendor ID'],
  [/^Secure device/, 0x0f, 'Secure device'],
  [/^Express/, 0x10, 'PCI Express'],
  [/^SATA HBA/, 0x12, 'SATA HBA'],
  [/^PCI Advanced Features/, 0x13, 'PCI Advanced Features'],
  [/^Enhanced Allocation/, 0x14, 'Enhanced Allocation'],
  [/^Null/, 0x00, 'Null'],
];

/** Capability ID → name, for capabilities read from bytes. */
export const CAP_NAMES = new Map(TEXT_CAPABILITIES.map(([, id, name]) => [id, name]));

/** `ID 0b` for an ID without a name. */
export const capabilityName = (id: number): string => CAP_NAMES.get(id) ?? `ID ${hex(id)}`;

/** QEMU's msi_cap_sizeof: 10 bytes, 14 with 64-bit addresses, plus 10 with per-vector masking. */
export function msiLength(msi: { is64: boolean; maskable: boolean }): number {
  return (msi.is64 ? 0x0e : 0x0a) + (msi.maskable ? 0x0a : 0);
}

/** Sizes the PCI spec fixes for an ID: power management 8, bridge subsystem ID 8, MSI-X 12, advanced features 6. */
export function applySpecLength(cap: ReadCapability): void {
  const size = ({ 0x01: 8, 0x0d: 8, 0x11: 12, 0x13: 6 } as Record<number, number>)[cap.id];
  if (size !== undefined) {
    cap.length = size;
    cap.lengthSource = 'spec';
  }
}

/** A capability of unknown size reaches the next one's start (or the end of the 256 bytes), as QEMU's vfio assumes. */
export function sizeUnknownToNext(caps: ReadCapability[]): void {
  const starts = caps.map((c) => c.offset).sort((a, b) => a - b);
  for (const cap of caps) {
    if (cap.lengthSource !== 'assumed') continue;
    cap.length = (starts.find((s) => s > cap.offset) ?? 0x100) - cap.offset;
  }
}
