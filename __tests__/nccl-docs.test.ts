import * as fs from 'node:fs';
import * as path from 'node:path';
import type { PciTree } from '../lib/layout/types';
import { NcclCpu, ncclView } from '../lib/nccl/policy';
import { layoutShape, readFixture, treeFromTopoFile } from './helpers/nccl-trees';
import { REPO } from './helpers/paths';

const INTEL: NcclCpu = { vendor: 'GenuineIntel' };
const AMD: NcclCpu = { vendor: 'AuthenticAMD' };

/** `P2P a/b, GDR c/d`: GPU pairs NCCL uses P2P on, GPU–NIC pairs it uses GPUDirect RDMA on. */
function counts(tree: PciTree, cpu: NcclCpu): string {
  const view = ncclView(tree, cpu);
  const of = (kind: string) => view.pairs.filter((p) => p.kind === kind);
  const used = (kind: string) => `${of(kind).filter((p) => p.uses).length}/${of(kind).length}`;
  return `P2P ${used('gpu-gpu')}, GDR ${used('gpu-nic')}`;
}

/** Keeps the first `n` GPUs (and every NIC) of a tree: the 2-GPU guest where NCCL's AMD exception applies. */
function firstGpus(tree: PciTree, n: number): PciTree {
  let left = n;
  const keep = (node: PciTree['cpus'][0]['roots'][0]): typeof node | undefined => {
    if (/^0x03/.test(node.classCode)) return left-- > 0 ? node : undefined;
    const children = node.children.map(keep).filter((c): c is typeof node => c !== undefined);
    return children.length || /^0x02/.test(node.classCode) ? { ...node, children } : undefined;
  };
  return { cpus: tree.cpus.map((c) => ({ ...c, roots: c.roots.map(keep).filter((r): r is NonNullable<typeof r> => r !== undefined) })).filter((c) => c.roots.length) };
}

export function ncclLayoutTable(): string {
  const host = treeFromTopoFile(readFixture('aws-p4d-24xl-topo.xml'));
  const two = firstGpus(host, 2);
  const rows = (['flat', 'numa', 'mirror'] as const).map((kind) => {
    const cells = [counts(layoutShape(host, kind), INTEL), counts(layoutShape(host, kind), AMD), counts(layoutShape(two, kind), INTEL), counts(layoutShape(two, kind), AMD)];
    return `| ${kind} | ${cells.join(' | ')} |`;
  });
  return [
    '| layout | 8 GPUs, Intel | 8 GPUs, AMD | 2 GPUs (one switch), Intel | 2 GPUs (one switch), AMD |',
    '|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

test('docs/gpudirect.md "NCCL in the guest" holds the table the path code computes for the 8-GPU 2-socket p4d tree', () => {
  const doc = fs.readFileSync(path.join(REPO, 'docs', 'gpudirect.md'), 'utf8');
  expect(doc).toContain(ncclLayoutTable());
});
