import { lookupNvidiaDevice } from '../gpudirect/architecture';
import { formatPciAddress, parsePciAddress } from '../pci/address';
import { Plan, PlanHostdev } from '../plan/types';
import { cliquesFromTopology } from './cliques';
import { HostSnapshot, isAccelerator, isNvidiaGpu } from './snapshot';
import { CliquePolicy } from './topology';

export interface HostSelection {
  /** `all`, or addresses. */
  gpus?: 'all' | string[];
  npus?: 'all' | string[];
  policy?: CliquePolicy;
}

const hex4 = (n: number) => n.toString(16).padStart(4, '0');

/** A plan transformDomain takes as is: the selected GPUs (with cliques from the topology) and accelerators. */
export function planFromHost(snapshot: HostSnapshot, selection: HostSelection): Plan {
  return explainPlanFromHost(snapshot, selection).plan;
}

/** planFromHost plus the reason for each clique decision. */
export function explainPlanFromHost(snapshot: HostSnapshot, selection: HostSelection): { plan: Plan; reasons: string[] } {
  const pick = (which: 'all' | string[] | undefined, isKind: (d: (typeof snapshot.devices)[number]) => boolean) => {
    if (which === undefined) return [];
    if (which === 'all') return snapshot.devices.filter(isKind);
    const wanted = new Set(which.map((a) => {
      const p = parsePciAddress(a);
      return typeof p === 'string' ? a : formatPciAddress(p);
    }));
    return snapshot.devices.filter((d) => wanted.has(d.address));
  };
  const gpus = pick(selection.gpus, isNvidiaGpu);
  const npus = pick(selection.npus, isAccelerator);
  const { cliques, reasons } = cliquesFromTopology({ sysfs: snapshot, gpus: gpus.filter(isNvidiaGpu).map((g) => g.address), policy: selection.policy });
  const hostdevs: PlanHostdev[] = [
    ...gpus.map((g, i): PlanHostdev => {
      const entry: PlanHostdev = { address: g.address, alias: `gpu${i}`, device: `${hex4(g.vendor)}:${hex4(g.device)}` };
      const known = lookupNvidiaDevice({ vendor: g.vendor, device: g.device });
      if (cliques[g.address] !== undefined && known?.isGpu) entry.gpudirect = { clique: cliques[g.address] };
      else if (isNvidiaGpu(g)) reasons.push(`${g.address}: ${hex4(g.vendor)}:${hex4(g.device)} is not in the NVIDIA device table; no clique (add "architecture" by hand)`);
      return entry;
    }),
    ...npus.map((n, i): PlanHostdev => ({ address: n.address, alias: `npu${i}`, device: `${hex4(n.vendor)}:${hex4(n.device)}` })),
  ];
  return { plan: { hostdevs }, reasons };
}
