/**
 * NCCL's path type between two functions of one NcclSystem, over PCI only (NVLink is not in a PciTree).
 *
 * Ported from NVIDIA/nccl src/graph/paths.cc, ncclTopoSetPaths (commit 5067397c): a path's type is the worst of
 * its links; a PCI link is PATH_PIX, "Differentiate between one and multiple PCI switches" makes a PCI-to-PCI
 * link PATH_PXB, "Consider a path going through the CPU as PATH_PHB", and CPUs (NUMA nodes) are joined by
 * LINK_SYS (src/graph/topo.cc ncclTopoConnectCpus), so crossing nodes is PATH_SYS. The order comes from
 * src/graph/topo.h and topoPathTypeStr in topo.cc: LOC NVL NVB C2C PIX PXB P2C PXN PHB SYS NET DIS.
 *
 * NCCL has no NODE: every host bridge of one NUMA node hangs off that node's one <cpu>, so two devices behind
 * different host bridges of one node are PHB to NCCL, where `nvidia-smi topo -m` says NODE. And nvidia-smi
 * does not merge the two levels of a Broadcom PEX switch. `smiPathType` gives nvidia-smi's label for the same pair,
 * so a tree can be checked against a published matrix.
 */
import { NcclPci, ncclAncestors } from './system';

export const NCCL_PATH_TYPES = ['LOC', 'NVL', 'NVB', 'C2C', 'PIX', 'PXB', 'P2C', 'PXN', 'PHB', 'SYS', 'NET', 'DIS'] as const;
export type NcclPathType = (typeof NCCL_PATH_TYPES)[number];
/** `nvidia-smi topo -m`'s PCI labels. */
export type SmiPathType = 'X' | 'PIX' | 'PXB' | 'PHB' | 'NODE' | 'SYS';

/** A path type's rank: NCCL compares levels with <=, e.g. `path->type <= p2pLevel`. */
export const pathRank = (type: NcclPathType) => NCCL_PATH_TYPES.indexOf(type);

function pciPath(a: NcclPci, b: NcclPci, flattenBcm: boolean): 'LOC' | 'PIX' | 'PXB' | 'PHB' | 'SYS' {
  if (a === b) return 'LOC';
  if (a.numaId !== b.numaId) return 'SYS';
  const upA = ncclAncestors(a, flattenBcm);
  const upB = ncclAncestors(b, flattenBcm);
  const common = upA.find((p) => upB.includes(p));
  if (!common) return 'PHB';
  // One switch between them: both hang off it (PIX); otherwise a switch-to-switch link is on the way (PXB).
  return upA[0] === common && upB[0] === common ? 'PIX' : 'PXB';
}

/** NCCL's path type from a to b (src/graph/paths.cc ncclTopoSetPaths). */
export const ncclPathType = (a: NcclPci, b: NcclPci): NcclPathType => pciPath(a, b, true);

/** What `nvidia-smi topo -m` prints for the same pair: NODE for host bridges of one node, no PEX flattening. */
export function smiPathType(a: NcclPci, b: NcclPci): SmiPathType {
  const type = pciPath(a, b, false);
  if (type === 'LOC') return 'X';
  if (type === 'PHB' && a.hostBridge !== b.hostBridge) return 'NODE';
  return type;
}
