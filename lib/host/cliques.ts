import { assignCliques, CliquePolicy, CliqueResult, cliquesFromTopoText } from './topology';
import { HostSnapshot, isNvidiaGpu, readHostSnapshot, sysfsLink } from './snapshot';

export type TopologyInput =
  | { topo: string; busIds?: string; policy?: CliquePolicy }
  | { sysfs: string | HostSnapshot; gpus?: string[]; policy?: CliquePolicy };

/**
 * GPUDirect cliques from the real topology: `nvidia-smi topo -m` text (with the index → bus ID map), or a
 * sysfs tree (works with the GPUs bound to vfio-pci, no NVIDIA driver needed). GPUs joined by NVLink or
 * under one PCIe switch share a clique, GPUs across the CPU interconnect never do; the policy decides
 * PHB/NODE (see docs/host.md). Numbered from the lowest PCI address.
 */
export function cliquesFromTopology(input: TopologyInput): CliqueResult {
  if ('topo' in input) return cliquesFromTopoText(input.topo, input.busIds, input.policy);
  const snapshot = typeof input.sysfs === 'string' ? readHostSnapshot(input.sysfs) : input.sysfs;
  const wanted = input.gpus && new Set(input.gpus);
  const gpus = snapshot.devices.filter((d) => isNvidiaGpu(d) && (!wanted || wanted.has(d.address)));
  const byAddress = new Map(gpus.map((g) => [g.address, g]));
  const link = sysfsLink(snapshot);
  return assignCliques(gpus.map((g) => g.address), (a, b) => link(byAddress.get(a)!, byAddress.get(b)!), input.policy);
}
