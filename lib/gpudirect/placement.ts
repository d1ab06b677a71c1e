import { atLeast, parseVersion, STACK } from '../plan/stack';
import { GpuArchitecture, P2P_OFFSET_KEPLER_TO_VOLTA, P2P_OFFSET_TURING_AND_LATER, recommendedP2POffset } from './architecture';
import { hex } from './capability';
import { walkCapabilities, WalkedCapability } from './config-space';

export interface P2PPlacement {
  /** Where QEMU will put the capability, or null when the VM would fail to start. */
  offset: number | null;
  /** QEMU's refusal when offset is null. */
  error?: string;
  /** The spec's recommendation for the architecture, when known. */
  recommended?: number;
  /** Whether QEMU's choice matches the spec's recommendation. */
  agrees?: boolean;
  reason: string;
  capabilities: WalkedCapability[];
}

/**
 * What QEMU will do with `x-nv-gpudirect-clique` for this physical GPU. QEMU 8.1 and later: C8h unless a
 * capability starts there, else D4h unless one starts there, else "invalid config space". Before 8.1:
 * always C8h. Either way the 8 bytes must not overlap a capability (QEMU's pci_add_capability check); a
 * capability is taken to reach the next one's start, as vfio sizes them.
 */
export function predictP2PPlacement(hostConfig: Uint8Array, qemuVersion: string, architecture?: GpuArchitecture): P2PPlacement {
  const { capabilities, problems } = walkCapabilities(hostConfig);
  const starts = new Set(capabilities.map((c) => c.offset));
  const recommended = architecture ? recommendedP2POffset(architecture) : undefined;
  const result = (offset: number | null, reason: string, error?: string): P2PPlacement => ({
    offset,
    error,
    recommended,
    agrees: recommended === undefined || offset === null ? undefined : offset === recommended,
    reason: problems.length ? `${reason} (${problems.join('; ')})` : reason,
    capabilities,
  });
  const modern = atLeast(parseVersion(qemuVersion), STACK.qemuAlternateOffset);
  let offset: number;
  let reason: string;
  if (!modern) {
    offset = P2P_OFFSET_KEPLER_TO_VOLTA;
    reason = `QEMU ${qemuVersion} (before 8.1) always uses C8h`;
  } else if (!starts.has(P2P_OFFSET_KEPLER_TO_VOLTA)) {
    offset = P2P_OFFSET_KEPLER_TO_VOLTA;
    reason = 'no capability starts at C8h, so QEMU 8.1+ uses C8h';
  } else if (!starts.has(P2P_OFFSET_TURING_AND_LATER)) {
    offset = P2P_OFFSET_TURING_AND_LATER;
    reason = `a capability (ID ${hex(idAt(capabilities, 0xc8))}) starts at C8h, so QEMU 8.1+ falls back to D4h`;
  } else {
    return result(null, 'capabilities start at both C8h and D4h', 'NVIDIA GPUDirect Clique ID: invalid config space');
  }
  const clash = overlapping(hostConfig, capabilities, offset);
  if (clash) {
    return result(
      null,
      `${reason}, but the capability at 0x${hex(clash.offset)} (ID ${hex(clash.id)}) covers it`,
      `Failed to add NVIDIA GPUDirect cap: capability at 0x${hex(offset)} overlaps existing capability 0x${hex(clash.id)} at offset 0x${hex(clash.offset)}`,
    );
  }
  return result(offset, reason);
}

function overlapping(config: Uint8Array, capabilities: WalkedCapability[], offset: number): WalkedCapability | undefined {
  const sorted = [...capabilities].sort((a, b) => a.offset - b.offset);
  return sorted.find((cap, i) => {
    const limit = i + 1 < sorted.length ? sorted[i + 1].offset : 0x100;
    const end = Math.min(limit, cap.offset + (capabilitySize(config, cap) ?? limit - cap.offset));
    return cap.offset < offset + 8 && offset < end;
  });
}

/** Sizes QEMU gives the capabilities it emulates; others reach the next capability (vfio's max size). */
function capabilitySize(config: Uint8Array, cap: WalkedCapability): number | undefined {
  switch (cap.id) {
    case 0x01: // power management
    case 0x0d: // bridge subsystem vendor ID
      return 8;
    case 0x05: {
      // MSI: 10 bytes, +4 with 64-bit addresses, +10 with per-vector masking
      const control = config[cap.offset + 2] | (config[cap.offset + 3] << 8);
      return 10 + (control & 0x80 ? 4 : 0) + (control & 0x100 ? 10 : 0);
    }
    case 0x09: // vendor specific: its own length byte
      return config[cap.offset + 2] || undefined;
    case 0x10: // PCI Express
      return 0x3c;
    case 0x11: // MSI-X
      return 12;
    default:
      return undefined;
  }
}

function idAt(capabilities: WalkedCapability[], offset: number): number {
  return capabilities.find((c) => c.offset === offset)?.id ?? 0;
}

