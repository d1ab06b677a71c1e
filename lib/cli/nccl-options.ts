import type { PciTree } from '../layout/types';
import type { NcclCpu } from '../nccl/policy';
import { clip } from '../errors';
import { UsageError } from './io';

/** The guest PciTree a transformed domain will show (helper "layout": guestTreeFromDomain), its placed devices
 * carrying `hostBdf`. verify-guest needs it to set guest pairs next to host pairs, nccl-topo to write the file. */
export type GuestTreePredictor = (domainXml: string) => PciTree;

/** `--cpu intel|amd`, else the vendor given (the guest's /proc/cpuinfo vendor_id), else none. */
export function cpuOption(value: unknown, fallback: string | undefined): NcclCpu | undefined {
  if (value === undefined) return fallback ? { vendor: fallback } : undefined;
  if (value === 'intel') return { vendor: 'GenuineIntel' };
  if (value === 'amd') return { vendor: 'AuthenticAMD' };
  throw new UsageError(`unknown --cpu "${clip(String(value))}"; one of intel, amd (NCCL's P2P rule differs: docs/gpudirect.md, NCCL in the guest)`);
}
