import { DomainFacts, positionOf } from '../domain/facts';
import { LayoutFacts } from '../domain/layout-facts';
import { PassthroughError } from '../errors';
import { LayoutCell } from '../layout/types';
import { NewCell, cpuRange } from './layout-render';

/**
 * The guest NUMA cells a layout needs. When the domain has cells, each cell the layout names must be one of
 * them (nothing is written: the person chose how vCPUs and memory are split). When it has none, one cell per
 * layout cell is created, vCPUs and memory split evenly (earlier cells take the remainder), with a warning.
 */
export function decideCells(facts: DomainFacts, lf: LayoutFacts, cells: LayoutCell[], warnings: string[]): NewCell[] {
  if (cells.length === 0) return [];
  if (lf.cells.length > 0) {
    const ids = new Set(lf.cells.map((c) => c.id));
    const missing = cells.filter((c) => !ids.has(c.cell));
    if (missing.length > 0) {
      throw new PassthroughError(
        'LAYOUT_CELL_MISSING',
        `The layout puts devices on guest NUMA cell${missing.length > 1 ? 's' : ''} ${missing.map((c) => c.cell).join(', ')} (host node ${missing.map((c) => c.hostNode).join(', ')}), ` +
          `but the domain's <numa> has only cell${ids.size > 1 ? 's' : ''} ${[...ids].join(', ')}. Add the cell to <cpu><numa>, or regenerate the plan's layout for the cells the domain has.`,
        positionOf(facts, lf.numa!),
      );
    }
    return [];
  }
  const sorted = [...cells].sort((a, b) => a.cell - b.cell);
  sorted.forEach((c, i) => {
    if (c.cell !== i) {
      throw new PassthroughError('LAYOUT_INVALID', `The plan's layout is invalid: the domain has no NUMA cells, so the transform creates them, and libvirt numbers cells 0 to ${cells.length - 1}; layout.cells names cell ${c.cell}.`, { path: 'layout.cells' });
    }
  });
  const vcpus = lf.vcpus ?? 1;
  if (vcpus < cells.length) {
    throw new PassthroughError(
      'LAYOUT_TOO_FEW_VCPUS',
      `The layout needs ${cells.length} guest NUMA cells (one per host node it mirrors) and the domain has ${vcpus} vCPU${vcpus === 1 ? '' : 's'}: every cell needs at least one. Raise <vcpu> to ${cells.length} or more, or plan a layout with fewer nodes.`,
      lf.vcpuElement ? positionOf(facts, lf.vcpuElement) : undefined,
    );
  }
  if (lf.memoryKiB === undefined || lf.memoryKiB < cells.length * 1024) {
    throw new PassthroughError(
      'LAYOUT_CELL_MISSING',
      `The layout needs ${cells.length} guest NUMA cells and the domain has none, nor a <memory> of at least ${cells.length} MiB to split into them. Add <memory>, or write the cells in <cpu><numa> yourself.`,
    );
  }
  const created = split(sorted.length, vcpus, lf.memoryKiB);
  warnings.push(
    `The domain had no NUMA cells: the layout's ${created.length} were created, vCPUs and memory split evenly ` +
      `(${created.map((c) => `cell ${c.id}: vCPUs ${cpuRange(c)}, ${c.memoryKiB} KiB, for host node ${sorted[c.id].hostNode}`).join('; ')}). ` +
      'Pin each cell to its host node (<numatune><memnode>, <cputune><vcpupin>) so that the guest\'s placement holds on the host.',
  );
  return created;
}

function split(n: number, vcpus: number, memoryKiB: number): NewCell[] {
  const cells: NewCell[] = [];
  // Memory in whole MiB per cell where possible (libvirt rounds each cell up to a MiB at start).
  const baseMiB = Math.floor(memoryKiB / 1024 / n);
  let cpu = 0;
  for (let i = 0; i < n; i++) {
    const count = Math.floor(vcpus / n) + (i < vcpus % n ? 1 : 0);
    const memory = i === 0 ? memoryKiB - baseMiB * 1024 * (n - 1) : baseMiB * 1024;
    cells.push({ id: i, firstCpu: cpu, lastCpu: cpu + count - 1, memoryKiB: memory });
    cpu += count;
  }
  return cells;
}
