/**
 * Whether NCCL uses P2P between two GPUs and GPUDirect RDMA between a GPU and a NIC, from the path type alone.
 *
 * Ported from NVIDIA/nccl src/graph/paths.cc (commit 5067397c):
 * - ncclTopoCheckP2p: "By default don't use P2P across CPU Host Bridges and further apart" (p2pLevel = PATH_PXB);
 *   "Allow P2P between pairs of GPU devices on AMD systems": x86 + AuthenticAMD with at most two GPUs
 *   (`system->nodes[DEV].count <= 2`) gets PATH_SYS; then `if (path->type <= p2pLevel) *p2p = 1`. NCCL_P2P_LEVEL /
 *   NCCL_P2P_DISABLE override it. NVML must also report P2P as supported between the two GPUs, which in a VM
 *   the NVIDIA driver does only for GPUs of one GPUDirect clique (what verify-guest checks from config space).
 * - ncclTopoCheckGdr: netGdrLevel is PATH_PXB (PATH_P2C with NCCL_NET_GDR_C2C, which only C2C systems reach),
 *   overridden by NCCL_NET_GDR_LEVEL; `if (distance > netGdrLevel)` GDR is disabled. Both the NIC and the GPU
 *   must support it (nvidia-peermem or DMA-BUF); before Ampere, reads (sends) need NVLink unless NCCL_NET_GDR_READ.
 */
import type { DeviceRole, PciTree } from '../layout/types';
import { NcclPathType, ncclPathType, pathRank, SmiPathType, smiPathType } from './paths';
import { NcclPci, ncclSystemFromTree } from './system';

/** What NCCL reads of the CPU (src/graph/topo.cc ncclTopoAddCpu): arch, and on x86 the CPUID vendor string. */
export interface NcclCpu {
  arch?: 'x86_64' | 'arm64' | 'ppc64';
  /** CPUID vendor as /proc/cpuinfo's vendor_id: GenuineIntel, AuthenticAMD. */
  vendor?: string;
  familyId?: number;
  modelId?: number;
}

export const GDR_LEVEL: NcclPathType = 'PXB';

const isAmd = (cpu: NcclCpu | undefined) => (cpu?.arch ?? 'x86_64') === 'x86_64' && cpu?.vendor === 'AuthenticAMD';

/** NCCL's default P2P level for a system with `gpuCount` GPUs on this CPU. */
export const p2pLevel = (cpu: NcclCpu | undefined, gpuCount: number): NcclPathType => (isAmd(cpu) && gpuCount <= 2 ? 'SYS' : 'PXB');

export interface NcclDevice {
  bdf: string;
  alias?: string;
  role: DeviceRole;
  /** The <cpu numaid> NCCL puts it under: the numa_node of its root bus, -1 when the kernel has none. */
  numaNode: number;
}

export interface NcclPair {
  kind: 'gpu-gpu' | 'gpu-nic';
  a: string;
  b: string;
  path: NcclPathType;
  /** What `nvidia-smi topo -m` would print for the pair (NODE where NCCL says PHB across host bridges). */
  smi: SmiPathType;
  /** gpu-gpu: NCCL uses P2P (given NVML allows it); gpu-nic: NCCL uses GPUDirect RDMA (given both support it). */
  uses: boolean;
}

export interface NcclView {
  cpuVendor: string | null;
  p2pLevel: NcclPathType;
  gdrLevel: NcclPathType;
  devices: NcclDevice[];
  pairs: NcclPair[];
}

/** NCCL's view of a PCI tree: every GPU pair and GPU–NIC pair with its path type and what NCCL does over it. */
export function ncclView(tree: PciTree, cpu?: NcclCpu): NcclView {
  const system = ncclSystemFromTree(tree);
  const gpus = system.endpoints.filter((e) => e.role === 'gpu');
  const nics = system.endpoints.filter((e) => e.role === 'nic');
  const level = p2pLevel(cpu, gpus.length);
  const pair = (kind: NcclPair['kind'], a: NcclPci, b: NcclPci, max: NcclPathType): NcclPair => {
    const path = ncclPathType(a, b);
    return { kind, a: a.busId, b: b.busId, path, smi: smiPathType(a, b), uses: pathRank(path) <= pathRank(max) };
  };
  const pairs: NcclPair[] = [];
  gpus.forEach((a, i) => gpus.slice(i + 1).forEach((b) => pairs.push(pair('gpu-gpu', a, b, level))));
  for (const g of gpus) for (const n of nics) pairs.push(pair('gpu-nic', g, n, GDR_LEVEL));
  return {
    cpuVendor: cpu?.vendor ?? null,
    p2pLevel: level,
    gdrLevel: GDR_LEVEL,
    devices: system.endpoints.map((e) => ({ bdf: e.busId, ...(e.node.alias ? { alias: e.node.alias } : {}), role: e.role, numaNode: e.numaId })),
    pairs,
  };
}
