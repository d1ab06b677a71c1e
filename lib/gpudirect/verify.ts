import { isObject, refuseArgument, requireArrayOf } from '../arguments';
import { inspectDomain } from '../inspect';
import { normalizePlan } from '../plan/normalize';
import { isNvidiaDisplay } from '../pci/address';
import { decodeP2PCapability } from './capability';
import { findP2PCapability, PciFunctionDump } from './config-space';
import { P2P_OFFSET_KEPLER_TO_VOLTA, P2P_OFFSET_TURING_AND_LATER } from './architecture';

export interface ExpectedGpu {
  alias?: string;
  hostAddress?: string;
  clique: number;
  /** Expected capability offset (C8h or D4h), when known. */
  offset?: number;
}

export interface GuestExpectation {
  gpus: ExpectedGpu[];
  /** The domain hides KVM: the NVIDIA driver then ignores the capability. */
  hidesKvm?: boolean;
}

export interface GpuVerdict {
  address: string;
  deviceId?: string;
  offset?: number;
  clique?: number;
  problems: string[];
}

export interface GuestReport {
  ok: boolean;
  gpus: GpuVerdict[];
  problems: string[];
  warnings: string[];
}

/** What the guest should show, from the metadata transformDomain wrote into the domain. */
export function expectationFromDomain(xml: string): GuestExpectation {
  const info = inspectDomain(xml);
  const gpus = Object.entries(info.gpudirect).map(([alias, g]) => ({
    alias,
    hostAddress: g.address,
    clique: Number(g.clique),
    offset: g.capabilityOffset === undefined ? undefined : parseInt(g.capabilityOffset, 16),
  }));
  return { gpus, hidesKvm: info.hidesKvm };
}

/** What the guest should show, from a plan. */
export function expectationFromPlan(plan: unknown): GuestExpectation {
  return {
    gpus: normalizePlan(plan, [])
      .filter((h) => h.gpudirect)
      .map((h) => ({ alias: h.alias, hostAddress: h.addressKey, clique: h.gpudirect!.clique, offset: h.gpudirect!.offset })),
  };
}

const isFunctionDump = (d: unknown): d is PciFunctionDump => isObject(d) && d.config instanceof Uint8Array;


/**
 * Inside the guest: every NVIDIA GPU carries the P2P capability, linked into its capability list, at the
 * expected offset, and the cliques found are exactly the cliques expected (so GPUs meant to share a
 * clique do). Guest PCI addresses differ from the host's, so GPUs are matched by clique, not by address.
 */
export function verifyGuest(expected: GuestExpectation, guest: PciFunctionDump[]): GuestReport {
  if (!isObject(expected) || !Array.isArray(expected.gpus) || !expected.gpus.every((g) => isObject(g) && typeof g.clique === 'number')) {
    refuseArgument('verifyGuest', 'an expectation { gpus: [{ clique }] } first (expectationFromDomain or expectationFromPlan gives one)', expected);
  }
  requireArrayOf(guest, isFunctionDump, 'verifyGuest', 'the guest\'s PCI functions second: an array from parseLspciDump or parseSysfsConfig');
  const report: GuestReport = { ok: false, gpus: [], problems: [], warnings: [] };
  if (expected.hidesKvm) {
    report.warnings.push("the domain hides KVM (<kvm><hidden state='on'/> or kvm=off): the NVIDIA driver ignores the P2P capability even when it is present");
  }
  const offsets = new Set(expected.gpus.map((g) => g.offset).filter((o): o is number => o !== undefined));
  for (const dump of guest.filter(isNvidiaDisplay)) report.gpus.push(checkGpu(dump, offsets));
  if (report.gpus.length < expected.gpus.length) {
    report.problems.push(`expected ${expected.gpus.length} NVIDIA GPUs in the guest, found ${report.gpus.length}`);
  }
  const want = countCliques(expected.gpus.map((g) => g.clique));
  const got = countCliques(report.gpus.flatMap((g) => (g.clique === undefined ? [] : [g.clique])));
  for (const clique of new Set([...want.keys(), ...got.keys()])) {
    if ((want.get(clique) ?? 0) !== (got.get(clique) ?? 0)) {
      report.problems.push(`clique ${clique}: expected ${want.get(clique) ?? 0} GPUs, found ${got.get(clique) ?? 0}`);
    }
  }
  report.ok = report.problems.length === 0 && report.gpus.every((g) => g.problems.length === 0);
  return report;
}

function checkGpu(dump: PciFunctionDump, offsets: Set<number>): GpuVerdict {
  const verdict: GpuVerdict = {
    address: dump.address,
    deviceId: dump.device === undefined ? undefined : `10de:${dump.device.toString(16).padStart(4, '0')}`,
    problems: [],
  };
  if (dump.config.length < 0x100) {
    verdict.problems.push(`only ${dump.config.length} bytes of config space: run lspci -xxx as root (or read /sys/bus/pci/devices/*/config)`);
    return verdict;
  }
  const { found, problems } = findP2PCapability(dump.config);
  verdict.problems.push(...problems);
  if (!found) {
    const unlinked = [P2P_OFFSET_KEPLER_TO_VOLTA, P2P_OFFSET_TURING_AND_LATER].find((o) => decodeP2PCapability(dump.config.subarray(o, o + 8)).ok);
    verdict.problems.push(
      unlinked === undefined
        ? 'no P2P approval capability in the capability list: the clique did not reach the guest (check the domain override)'
        : `a P2P capability sits at 0x${unlinked.toString(16)} but is not linked into the capability list, so the driver will not find it`,
    );
    return verdict;
  }
  verdict.offset = found.offset;
  verdict.clique = found.clique;
  if (offsets.size > 0 && !offsets.has(found.offset)) {
    verdict.problems.push(`capability at 0x${found.offset.toString(16)}, expected ${[...offsets].map((o) => `0x${o.toString(16)}`).join(' or ')}`);
  }
  return verdict;
}

function countCliques(cliques: number[]): Map<number, number> {
  const counts = new Map<number, number>();
  for (const c of cliques) counts.set(c, (counts.get(c) ?? 0) + 1);
  return counts;
}

export { verifyGuestTopology } from '../nccl/guest-check';
export type { GuestTopologyOptions, TopologyDevice, TopologyPair, TopologyReport, TopologyReference } from '../nccl/guest-check';
