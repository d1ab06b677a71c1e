import { lookupNvidiaDevice } from '../gpudirect/architecture';
import { parseQemuVersion, predictP2PPlacement } from '../gpudirect/placement';
import { readConfigSpace } from '../gpudirect/read-config';
import { isString, refuseArgument, requireObject } from '../arguments';
import { isPassthroughError } from '../errors';
import { requirePciAddressKeys } from '../pci/address';
import { Plan, PlanHostdev } from '../plan/types';
import { cliquesFromSnapshot } from './cliques';
import { HostPciDevice, HostSnapshot, isAccelerator, isNetwork, isNvidiaGpu, requireHostDevices, requireSnapshot } from './snapshot';
import { LAYOUT_KINDS, chooseLayout, placeDevices } from '../layout/place';
import { LayoutKind } from '../layout/types';
import { CliquePolicy, requirePolicy } from './topology';
import { hex } from '../gpudirect/capability';

export interface HostSelection {
  /** `all`, or addresses. */
  gpus?: 'all' | string[];
  npus?: 'all' | string[];
  /** Network functions (class 02h); a named function brings the other network functions of its card. */
  nics?: 'all' | string[];
  /** The guest's PCI layout; absent: mirror when the devices span more than one host switch or NUMA node, else flat. */
  layout?: LayoutKind;
  policy?: CliquePolicy;
  /** The QEMU the plan targets: each GPU's placement is predicted from its sysfs config for this version. */
  qemu?: string;
}

const GiB = 1024 ** 3;

/** What q35 guest firmware maps for 64-bit BARs by default: QEMU's q35 pci-hole64-size and OVMF's X-PciMmio64Mb. */
export const DEFAULT_MMIO64_GIB = 32;

/**
 * The 64-bit MMIO window the GPUs need: the sum of their 64-bit BARs (power-of-two sizes, so they pack
 * without gaps), rounded up to a power of two. Needed only when that exceeds the 32 GiB default.
 */
export function mmioWindowFor(devices: HostPciDevice[]): { needed: boolean; GiB: number; reason: string } {
  requireHostDevices(devices, 'mmioWindowFor');
  return windowFor(devices);
}

/** mmioWindowFor over devices of a snapshot already checked. */
function windowFor(devices: HostPciDevice[]): { needed: boolean; GiB: number; reason: string } {
  const total = devices.reduce((sum, d) => sum + d.bar64Sizes.reduce((a, b) => a + b, 0), 0);
  let GiBs = 1;
  while (GiBs * GiB < total) GiBs *= 2;
  const needed = total > DEFAULT_MMIO64_GIB * GiB;
  const totalText = `${(total / GiB).toFixed(1)} GiB of 64-bit BARs`;
  return {
    needed,
    GiB: GiBs,
    reason: needed
      ? `mmio: ${totalText} exceed the ${DEFAULT_MMIO64_GIB} GiB the q35 firmware maps by default: a ${GiBs} GiB window`
      : `mmio: ${totalText} fit the ${DEFAULT_MMIO64_GIB} GiB default window`,
  };
}

/** The arguments of planFromHost and explainPlanFromHost, checked before anything is read from them. */
function requireSelection(snapshot: unknown, selection: unknown, fn: string): asserts selection is HostSelection {
  requireSnapshot(snapshot, fn);
  requireObject(selection, fn, 'a selection { gpus, npus, nics, layout, policy, qemu } second');
  for (const kind of ['gpus', 'npus', 'nics'] as const) {
    const which = selection[kind];
    if (which !== undefined && which !== 'all' && !(Array.isArray(which) && which.every(isString))) {
      refuseArgument(fn, `selection.${kind} as 'all' or an array of PCI addresses`, which);
    }
  }
  if (selection.policy !== undefined) requirePolicy(selection.policy, fn);
  if (selection.layout !== undefined && !LAYOUT_KINDS.includes(selection.layout as LayoutKind)) {
    refuseArgument(fn, `selection.layout as one of ${LAYOUT_KINDS.join(', ')}`, selection.layout);
  }
}

/** A plan transformDomain takes as is: the selected GPUs (with cliques from the topology) and accelerators. */
export function planFromHost(snapshot: HostSnapshot, selection: HostSelection): Plan {
  requireSelection(snapshot, selection, 'planFromHost');
  return explain(snapshot, selection).plan;
}

/** planFromHost plus the reason for each clique decision. */
/**
 * The plan and why it is so. `topologyReasons` are the leading entries of `reasons` that explain the cliques, so a
 * caller that takes its cliques from elsewhere (nvidia-smi) can replace just those.
 */
export function explainPlanFromHost(snapshot: HostSnapshot, selection: HostSelection): { plan: Plan; reasons: string[]; topologyReasons: number } {
  requireSelection(snapshot, selection, 'explainPlanFromHost');
  return explain(snapshot, selection);
}

/** The plan from arguments already checked by the exported caller (each names itself in its refusals). */
function explain(snapshot: HostSnapshot, selection: HostSelection): { plan: Plan; reasons: string[]; topologyReasons: number } {
  const qemu = selection.qemu === undefined ? undefined : parseQemuVersion(selection.qemu).join('.');
  const pick = (kind: 'gpus' | 'npus' | 'nics', which: 'all' | string[] | undefined, isKind: (d: (typeof snapshot.devices)[number]) => boolean) => {
    if (which === undefined) return [];
    if (which === 'all') return snapshot.devices.filter(isKind);
    const wanted = new Set(requirePciAddressKeys(which, 'planFromHost', `selection.${kind}`));
    return snapshot.devices.filter((d) => wanted.has(d.address));
  };
  const gpus = pick('gpus', selection.gpus, isNvidiaGpu);
  const npus = pick('npus', selection.npus, isAccelerator);
  const nics = withCardFunctions(pick('nics', selection.nics, isNetwork), snapshot, isNetwork);
  const { cliques, reasons } = cliquesFromSnapshot(snapshot, gpus.filter(isNvidiaGpu).map((g) => g.address), selection.policy);
  const topologyReasons = reasons.length;
  const hostdevs: PlanHostdev[] = [
    ...gpus.map((g, i): PlanHostdev => {
      const entry: PlanHostdev = { address: g.address, alias: `gpu${i}`, device: `${hex(g.vendor, 4)}:${hex(g.device, 4)}` };
      const known = lookupNvidiaDevice({ vendor: g.vendor, device: g.device });
      if (cliques[g.address] !== undefined && known?.isGpu) {
        const offset = predictedOffset(g, qemu, reasons);
        if (offset !== null) entry.gpudirect = { clique: cliques[g.address], ...(offset ? { offset } : {}) };
      } else if (isNvidiaGpu(g)) reasons.push(`${g.address}: ${hex(g.vendor, 4)}:${hex(g.device, 4)} is not in the NVIDIA device table; no clique (add "architecture" by hand)`);
      return entry;
    }),
    ...npus.map((n, i): PlanHostdev => ({ address: n.address, alias: `npu${i}`, device: `${hex(n.vendor, 4)}:${hex(n.device, 4)}` })),
    ...nics.map((n, i): PlanHostdev => ({ address: n.address, alias: `nic${i}`, device: `${hex(n.vendor, 4)}:${hex(n.device, 4)}` })),
  ];
  // The offsets were predicted for this QEMU: transform checks the plan against it, not against its own machine's.
  const plan: Plan = { ...(qemu !== undefined ? { target: { qemu } } : {}), hostdevs };
  const window = windowFor(gpus);
  if (window.needed) plan.mmio = { window64GiB: window.GiB };
  reasons.push(window.reason);
  const layout = chooseLayout(snapshot, hostdevs.map((h) => String(h.address)), selection.layout);
  reasons.push(layout.reason);
  if (layout.kind !== 'flat' && hostdevs.length > 0) reasons.push(placeDevices(plan, snapshot, layout.kind));
  return { plan, reasons, topologyReasons };
}

/** The devices plus the other functions of their cards that are of the same kind (both ports of a dual-port NIC). */
function withCardFunctions(devices: HostPciDevice[], snapshot: HostSnapshot, isKind: (d: HostPciDevice) => boolean): HostPciDevice[] {
  const slots = new Set(devices.map((d) => d.address.slice(0, -2)));
  const chosen = new Set(devices.map((d) => d.address));
  return snapshot.devices.filter((d) => chosen.has(d.address) || (slots.has(d.address.slice(0, -2)) && isKind(d)));
}

/**
 * Where QEMU will put this GPU's capability, predicted from its sysfs config with the same reader and model as
 * `predict`: '0xc8'/'0xd4' to record, undefined when it cannot be known (the spec's offset is used), or null
 * when QEMU would refuse to start with a clique (the GPU then gets none, and the reason says why).
 */
function predictedOffset(gpu: HostPciDevice, qemu: string | undefined, reasons: string[]): '0xc8' | '0xd4' | undefined | null {
  if (!gpu.config) {
    reasons.push(
      `${gpu.address}: no config space in the snapshot (older host captures did not copy it); the offset recorded is the spec's ` +
        `(capture again as root, or run host plan on the host itself, to predict QEMU's)`,
    );
    return undefined;
  }
  let p;
  try {
    p = predictP2PPlacement(readConfigSpace(gpu.config, { address: gpu.address }), qemu ?? '8.1.0');
  } catch (err) {
    if (!isPassthroughError(err)) throw err;
    reasons.push(`${gpu.address}: ${err.message} The offset recorded is the spec's.`);
    return undefined;
  }
  const planOffset = (n: number) => `0x${n.toString(16)}` as '0xc8' | '0xd4';
  const spec = p.recommended !== undefined && p.agrees === false ? ` (the spec recommends ${planOffset(p.recommended)} for ${p.architecture})` : '';
  if (qemu === undefined) {
    const [modern, legacy] = [p.qemu81.offset, p.qemuBefore81.offset];
    if (modern !== null && modern === legacy) {
      reasons.push(`${gpu.address}: every QEMU puts the GPUDirect capability at ${planOffset(modern)}${spec}`);
      return planOffset(modern);
    }
    reasons.push(
      `${gpu.address}: QEMU 8.1 and later put the capability at ${modern === null ? 'nothing (refuse to start)' : planOffset(modern)}, older QEMU at ` +
        `${legacy === null ? 'nothing (refuse to start)' : planOffset(legacy)}: give --qemu VERSION to record QEMU's choice; the offset recorded is the spec's`,
    );
    return undefined;
  }
  if (p.offset === null) {
    reasons.push(`${gpu.address}: no clique: QEMU ${qemu} would refuse to start with one (${p.error}); ${p.reason}`);
    return null;
  }
  reasons.push(`${gpu.address}: QEMU ${qemu} puts the GPUDirect capability at ${planOffset(p.offset)}${spec}`);
  return planOffset(p.offset);
}
