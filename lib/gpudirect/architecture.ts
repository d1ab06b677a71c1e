import { requireObject } from '../arguments';
import { NVIDIA_DEVICES, PCI_IDS_VERSION } from '../pci/nvidia-devices.generated';
import { PCI_VENDOR_NVIDIA, PciDeviceId } from '../pci/address';

/** NVIDIA GPU architectures that can carry the virtual P2P approval capability, oldest first. */
export const GPUDIRECT_ARCHITECTURES = [
  'kepler',
  'maxwell',
  'pascal',
  'volta',
  'turing',
  'ampere',
  'ada',
  'hopper',
  'blackwell',
  'rubin',
] as const;
export type GpuArchitecture = (typeof GPUDIRECT_ARCHITECTURES)[number];

/** Older than Kepler: the NVIDIA driver never reads the capability on these. */
export const PRE_KEPLER_ARCHITECTURES = ['curie', 'tesla', 'fermi'] as const;

export const P2P_OFFSET_KEPLER_TO_VOLTA = 0xc8;
export const P2P_OFFSET_TURING_AND_LATER = 0xd4;

/** The spec's table: C8h for Kepler, Maxwell, Pascal, Volta; D4h for Turing and later. */
export function recommendedP2POffset(architecture: GpuArchitecture): number {
  return GPUDIRECT_ARCHITECTURES.indexOf(architecture) < GPUDIRECT_ARCHITECTURES.indexOf('turing')
    ? P2P_OFFSET_KEPLER_TO_VOLTA
    : P2P_OFFSET_TURING_AND_LATER;
}

export function isGpudirectArchitecture(name: string): name is GpuArchitecture {
  return (GPUDIRECT_ARCHITECTURES as readonly string[]).includes(name);
}

export function isPreKeplerArchitecture(name: string): boolean {
  return (PRE_KEPLER_ARCHITECTURES as readonly string[]).includes(name);
}

export interface KnownNvidiaDevice {
  architecture: string;
  /** False for the other functions of a GPU board (audio, USB-C, NVSwitch...). */
  isGpu: boolean;
  name: string;
}

let byDeviceId: Map<number, KnownNvidiaDevice> | undefined;

/** Looks a PCI ID up in the table generated from pci.ids; undefined when it is not an NVIDIA part we know. */
export function lookupNvidiaDevice(id: PciDeviceId): KnownNvidiaDevice | undefined {
  requireObject(id, 'lookupNvidiaDevice', 'a PCI ID object { vendor, device } of numbers');
  if (id.vendor !== PCI_VENDOR_NVIDIA) return undefined;
  byDeviceId ??= new Map(
    NVIDIA_DEVICES.map(([hexId, architecture, gpu, name]) => [parseInt(hexId, 16), { architecture, isGpu: gpu === 1, name }]),
  );
  return byDeviceId.get(id.device);
}

export { PCI_IDS_VERSION };
