import { refuseArgument } from '../arguments';
import { excerpt, PassthroughError } from '../errors';

/**
 * NVIDIA's "PCI Express Virtual Peer-to-Peer Approval Capability": 8 bytes in a GPU's
 * config space. Byte 0 CAP_ID 09h (vendor specific), byte 1 NXT_PTR, byte 2 CAP_LEN 08h,
 * bytes 3-5 the signature "P2P" (503250h, least significant byte first), bytes 6-7 the
 * approval parameters: PEER_CLIQUE_ID in bits 6:3, version in bits 2:0 (0).
 */
export const P2P_CAP_ID = 0x09;
export const P2P_CAP_LENGTH = 0x08;
export const P2P_SIGNATURE = [0x50, 0x32, 0x50] as const;
export const MAX_CLIQUE = 15;

export function isValidClique(clique: unknown): clique is number {
  return typeof clique === 'number' && Number.isInteger(clique) && clique >= 0 && clique <= MAX_CLIQUE;
}

/** The approval parameters word: clique in bits 6:3, version 0 in bits 2:0 (clique 1 → 0x0008). */
export function approvalParameters(clique: number): number {
  if (!isValidClique(clique)) {
    throw new PassthroughError('INPUT_INVALID', `The clique must be an integer from 0 to ${MAX_CLIQUE}, got ${excerpt(String(clique), 30)}.`);
  }
  return clique << 3;
}

/** The 8 bytes QEMU emulates at the capability offset (next pointer 0: it is the last capability). */
export function encodeP2PCapability(clique: number, nextPointer = 0): Uint8Array {
  const params = approvalParameters(clique);
  if (!Number.isInteger(nextPointer) || nextPointer < 0 || nextPointer > 0xfc) {
    throw new PassthroughError('INPUT_INVALID', `The next pointer must be an integer from 0 to 0xfc, got ${excerpt(String(nextPointer), 30)}.`);
  }
  return Uint8Array.of(P2P_CAP_ID, nextPointer, P2P_CAP_LENGTH, ...P2P_SIGNATURE, params & 0xff, params >> 8);
}

export type DecodedP2P = { ok: true; clique: number; version: number; nextPointer: number } | { ok: false; reason: string };

export function decodeP2PCapability(bytes: ArrayLike<number>): DecodedP2P {
  if (!(bytes instanceof Uint8Array) && !Array.isArray(bytes)) refuseArgument('decodeP2PCapability', 'the capability bytes as a Uint8Array or an array of numbers', bytes);
  if (bytes.length < 8) return { ok: false, reason: `need 8 bytes, got ${bytes.length}` };
  if (bytes[0] !== P2P_CAP_ID) return { ok: false, reason: `capability ID is 0x${hex(bytes[0])}, not 0x09 (vendor specific)` };
  if (bytes[2] !== P2P_CAP_LENGTH) return { ok: false, reason: `capability length is 0x${hex(bytes[2])}, not 0x08` };
  if (bytes[3] !== 0x50 || bytes[4] !== 0x32 || bytes[5] !== 0x50) {
    return { ok: false, reason: 'signature is not "P2P" (50h 32h 50h)' };
  }
  const params = bytes[6] | (bytes[7] << 8);
  if (params & ~0x7f) return { ok: false, reason: `approval parameters 0x${params.toString(16)} set reserved bits 15:7` };
  return { ok: true, clique: (params >> 3) & 0xf, version: params & 0x7, nextPointer: bytes[1] };
}

/** A config-space byte or offset as two hex digits; a vendor, device or class ID with width 4. */
export function hex(n: number, width = 2): string {
  return n.toString(16).padStart(width, '0');
}
