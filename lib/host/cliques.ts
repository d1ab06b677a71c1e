import { isObject, isString, refuseArgument, requireArrayOf, requireOptionalString } from '../arguments';
import { requirePciAddressKeys } from '../pci/address';
import { assignCliques, CliquePolicy, CliqueResult, cliquesFromTopoText } from './topology';
import { HostSnapshot, isNvidiaGpu, readHostSnapshot, requireSnapshot, sysfsLink } from './snapshot';

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
  const fn = 'cliquesFromTopology';
  if (!isObject(input) || !('topo' in input || 'sysfs' in input)) refuseArgument(fn, '{ topo, busIds } (nvidia-smi text) or { sysfs } (a folder or a host snapshot)', input);
  if ('topo' in input) {
    requireOptionalString(input.busIds, fn, 'busIds as the nvidia-smi bus ID CSV text (or nothing)');
    return cliquesFromTopoText(input.topo, input.busIds, input.policy);
  }
  if (typeof input.sysfs !== 'string') requireSnapshot(input.sysfs, fn, 'or a folder as sysfs');
  if (input.gpus !== undefined) requireArrayOf(input.gpus, isString, fn, 'gpus as an array of PCI addresses (or nothing)');
  const gpus = input.gpus && requirePciAddressKeys(input.gpus, fn, 'gpus');
  return cliquesFromSnapshot(typeof input.sysfs === 'string' ? readHostSnapshot(input.sysfs) : input.sysfs, gpus, input.policy);
}

/**
 * cliquesFromTopology over a snapshot its caller has already checked (planFromHost checks it once), `gpus` as
 * canonical addresses: nothing here re-walks the snapshot to check it again.
 */
export function cliquesFromSnapshot(snapshot: HostSnapshot, gpus: string[] | undefined, policy: CliquePolicy | undefined): CliqueResult {
  const wanted = gpus && new Set(gpus);
  const chosen = snapshot.devices.filter((d) => isNvidiaGpu(d) && (!wanted || wanted.has(d.address)));
  const byAddress = new Map(chosen.map((g) => [g.address, g]));
  const link = sysfsLink(snapshot);
  return assignCliques(chosen.map((g) => g.address), (a, b) => link(byAddress.get(a)!, byAddress.get(b)!), policy);
}
