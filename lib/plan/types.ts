import type { PlanLayout } from '../layout/types';
import { PciAddress } from '../pci/address';

/** A PCI address as the plan may write it. */
export type PlanAddress = string | { domain?: number; bus: number; slot: number; function: number };

export interface PlanHostdev {
  address: PlanAddress;
  alias?: string;
  device?: string;
  managed?: boolean;
  guestAddress?: PlanAddress;
  rom?: { bar?: 'on' | 'off'; file?: string };
  bootOrder?: number;
  /** `offset`: where QEMU will put the capability, as `host plan` predicted it; absent: the spec's offset. */
  gpudirect?: { clique: number; architecture?: string; offset?: '0xc8' | '0xd4' };
}

export interface Plan {
  /** The host stack the domain will run on; absent parts are assumed current (and explainTransform warns). */
  target?: {
    libvirt?: string;
    qemu?: string;
    /** QEMU falls back to D4h when a capability starts at C8h: true for 8.1+ or a vendor build with the change backported. */
    qemuAlternateOffset?: boolean;
    /** libvirt gives QEMU -device as JSON; false when the domain masks device.json(+hotplug) with <qemu:capabilities>. */
    libvirtDeviceJson?: boolean;
  };
  /** The guest's 64-bit PCI MMIO window, for large-BAR GPUs. */
  mmio?: { window64GiB: number };
  hostdevs: PlanHostdev[];
  /** The guest's PCI layout (controllers mirroring the host's nodes, root complexes and switches); absent: flat. */
  layout?: PlanLayout;
}

/** A plan entry after validation: canonical addresses, full alias, decided architecture and offset. */
export interface PlannedHostdev {
  index: number;
  address: PciAddress;
  addressKey: string;
  alias?: string;
  aliasWasGenerated: boolean;
  managed: boolean;
  guestAddress?: PciAddress;
  /** Function 0 of a guest slot other planned functions share: written with multifunction='on'. */
  guestMultifunction?: boolean;
  rom?: { bar?: 'on' | 'off'; file?: string };
  bootOrder?: number;
  device?: string;
  gpudirect?: { clique: number; architecture: string; offset: number };
}

export type OverrideStyle = 'override' | 'commandline';
