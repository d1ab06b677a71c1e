import { requireBytes, requireString } from '../arguments';
import { decodeP2PCapability, hex, P2P_CAP_ID } from './capability';
import { readConfigSpaces } from './read-config';

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

/**
 * Parses `lspci -xxx` / `-xxxx` output, one or several functions; rows missing from a dump shorten it. Reads
 * text as published (quoted, CRLF, wrapped), like readConfigSpace; a function without hex rows has no bytes.
 */
export function parseLspciDump(text: string): PciFunctionDump[] {
  requireString(text, 'parseLspciDump', 'the lspci -xxx output as a string');
  return readConfigSpaces(text).map((r) => {
    const dump: PciFunctionDump = { address: r.address ?? '', description: r.description, config: r.config ?? new Uint8Array(0) };
    if (r.vendor !== undefined) dump.vendor = r.vendor;
    if (r.device !== undefined) dump.device = r.device;
    if (r.classCode !== undefined) dump.classCode = r.classCode;
    return dump;
  });
}

/** The raw `/sys/bus/pci/devices/ADDR/config` file (64, 256 or 4096 bytes). */
export function parseSysfsConfig(address: string, bytes: Uint8Array, description = ''): PciFunctionDump {
  requireString(address, 'parseSysfsConfig', 'the PCI address as a string first');
  requireBytes(bytes, 'parseSysfsConfig', 'the config file\'s bytes as a Uint8Array second');
  requireString(description, 'parseSysfsConfig', 'a description string third (or nothing)');
  return withIds(address, description, Uint8Array.from(bytes));
}

function withIds(address: string, description: string, config: Uint8Array): PciFunctionDump {
  const dump: PciFunctionDump = { address, description, config };
  if (config.length >= 0x0c) {
    dump.vendor = config[0] | (config[1] << 8);
    dump.device = config[2] | (config[3] << 8);
    dump.classCode = (config[0x0b] << 8) | config[0x0a];
  }
  return dump;
}

