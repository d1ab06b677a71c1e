import { requireBytes } from '../arguments';
import { decodeP2PCapability, hex, P2P_CAP_ID } from './capability';

/** One capability of the standard list: where it starts and its ID. */
export interface WalkedCapability {
  offset: number;
  id: number;
}

export interface CapabilityWalk {
  capabilities: WalkedCapability[];
  /** Why the walk stopped early, if it did (loop, bad pointer, truncated dump). */
  problems: string[];
}

const STATUS = 0x06;
const STATUS_CAP_LIST = 0x10;
const CAP_POINTER = 0x34;

/**
 * Walks the standard capability list from the pointer at 34h, as the PCI spec and QEMU do: only when
 * the status register says there is a list, pointers within 40h–FCh (low two bits ignored), no loops.
 */
export function walkCapabilities(config: Uint8Array): CapabilityWalk {
  requireBytes(config, 'walkCapabilities', 'the config space as a Uint8Array');
  const walk: CapabilityWalk = { capabilities: [], problems: [] };
  if (config.length < 0x40) {
    walk.problems.push(`config space is ${config.length} bytes, less than the 64-byte header`);
    return walk;
  }
  if (!(config[STATUS] & STATUS_CAP_LIST)) {
    walk.problems.push('status register bit 4 is clear: the device has no capability list');
    return walk;
  }
  const seen = new Set<number>();
  for (let ptr = config[CAP_POINTER] & 0xfc; ptr !== 0; ) {
    if (ptr < 0x40 || ptr > 0xfc) {
      walk.problems.push(`capability pointer 0x${hex(ptr)} is outside 40h-FCh`);
      break;
    }
    if (seen.has(ptr)) {
      walk.problems.push(`capability list loops back to 0x${hex(ptr)}`);
      break;
    }
    if (ptr + 1 >= config.length) {
      walk.problems.push(`the dump ends at 0x${hex(config.length)}, before the capability at 0x${hex(ptr)}`);
      break;
    }
    seen.add(ptr);
    walk.capabilities.push({ offset: ptr, id: config[ptr] });
    ptr = config[ptr + 1] & 0xfc;
  }
  return walk;
}

export interface FoundP2P {
  offset: number;
  clique: number;
  version: number;
}

/** Finds NVIDIA's virtual P2P approval capability by walking the list; null when it is not linked in. */
export function findP2PCapability(config: Uint8Array): { found: FoundP2P | null } & CapabilityWalk {
  requireBytes(config, 'findP2PCapability', 'the config space as a Uint8Array');
  const walk = walkCapabilities(config);
  for (const cap of walk.capabilities) {
    if (cap.id !== P2P_CAP_ID || cap.offset + 8 > config.length) continue;
    const decoded = decodeP2PCapability(config.subarray(cap.offset, cap.offset + 8));
    if (decoded.ok) return { found: { offset: cap.offset, clique: decoded.clique, version: decoded.version }, ...walk };
  }
  return { found: null, ...walk };
}

export interface PciFunctionDump {
  /** As the dump names it: `3b:00.0` or `0000:3b:00.0`. */
  address: string;
  description: string;
  config: Uint8Array;
  vendor?: number;
  device?: number;
  /** Base class and subclass, e.g. 0x0302 for a 3D controller. */
  classCode?: number;
}
