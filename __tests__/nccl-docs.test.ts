import * as fs from 'node:fs';
import * as path from 'node:path';
import { bootedTree, hgxSnapshot, runPipeline } from '../conformance/pipeline';
import type { PciTree } from '../lib/layout/types';
import { NcclCpu, ncclView } from '../lib/nccl/policy';
import { NCCL_FIXTURES } from './helpers/nccl-trees';
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

/** How many GPU pairs and GPU–NIC pairs NCCL sees as each path type: `PXB 4, SYS 16, … / …`. */
function pathTypes(tree: PciTree): string {
  const view = ncclView(tree, INTEL);
  const of = (kind: string) => {
    const n = new Map<string, number>();
    for (const p of view.pairs.filter((x) => x.kind === kind)) n.set(p.path, (n.get(p.path) ?? 0) + 1);
    return ['PIX', 'PXB', 'PHB', 'SYS'].filter((t) => n.has(t)).map((t) => `${t} ${n.get(t)}`).join(', ');
  };
  return `${of('gpu-gpu')} / ${of('gpu-nic')}`;
}

/**
 * The table of docs/gpudirect.md "NCCL in the guest": per layout of the HGX A100 host, NCCL's decisions over the PCI
 * tree the guest oracle's booted guest showed (nccl-fixtures/hgx-a100-KIND.guest-boot.json), and over the host's.
 */
export function ncclLayoutTable(): string {
  const snapshot = hgxSnapshot();
  const mirror = runPipeline('mirror', snapshot);
  const rows = (['flat', 'numa', 'mirror'] as const).map((kind) => {
    const report = JSON.parse(fs.readFileSync(path.join(NCCL_FIXTURES, `hgx-a100-${kind}.guest-boot.json`), 'utf8'));
    const tree = bootedTree(runPipeline(kind, snapshot), report);
    return `| ${kind} (booted) | ${pathTypes(tree)} | ${counts(tree, INTEL)} | ${counts(tree, AMD)} |`;
  });
  return [
    '| layout | path types: GPU pairs / GPU–NIC pairs | Intel | AMD |',
    '|---|---|---|---|',
    ...rows,
    `| the host itself | ${pathTypes(mirror.hostTree)} | ${counts(mirror.hostTree, INTEL)} | ${counts(mirror.hostTree, AMD)} |`,
  ].join('\n');
}

test('docs/gpudirect.md "NCCL in the guest" holds the table NCCL\'s rules give over the booted HGX A100 guests', () => {
  const doc = fs.readFileSync(path.join(REPO, 'docs', 'gpudirect.md'), 'utf8');
  expect(doc).toContain(ncclLayoutTable());
});
