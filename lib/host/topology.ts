import { isString, refuseArgument, requireArrayOf, requireString } from '../arguments';
import { PassthroughError, excerpt } from '../errors';
import { MAX_CLIQUE } from '../gpudirect/capability';
import { pciAddressKey } from '../pci/address';

/** How two GPUs are connected, in `nvidia-smi topo -m`'s words (NV = NVLink / NVSwitch). */
export type Link = 'NV' | 'PIX' | 'PXB' | 'PHB' | 'NODE' | 'SYS';

/**
 * Which links may share a clique. `socket` (default, the spec's 4+4 example): everything but SYS, so each
 * CPU socket is a clique; `host-bridge`: up to PHB (same root complex); `switch`: only PIX/PXB/NVLink.
 * SYS (the CPU interconnect, QPI/UPI/Infinity Fabric) never shares a clique.
 */
export type CliquePolicy = 'socket' | 'host-bridge' | 'switch';

const JOINS: Record<CliquePolicy, ReadonlySet<Link>> = {
  socket: new Set(['NV', 'PIX', 'PXB', 'PHB', 'NODE']),
  'host-bridge': new Set(['NV', 'PIX', 'PXB', 'PHB']),
  switch: new Set(['NV', 'PIX', 'PXB']),
};

const DESCRIBE: Record<Link, string> = {
  NV: 'joined by NVLink/NVSwitch',
  PIX: 'behind one PCIe bridge (PIX)',
  PXB: 'under the same PCIe switch (PXB)',
  PHB: 'under the same PCIe host bridge (PHB)',
  NODE: 'on different host bridges of one NUMA node (NODE)',
  SYS: 'on different CPU sockets (SYS)',
};

/** The clique policies, loosest join rule first (as JOINS lists them). */
export const CLIQUE_POLICIES = Object.keys(JOINS) as CliquePolicy[];

export function requirePolicy(policy: unknown, fn: string): asserts policy is CliquePolicy {
  if (typeof policy !== 'string' || !Object.prototype.hasOwnProperty.call(JOINS, policy)) {
    refuseArgument(fn, `a clique policy, one of ${CLIQUE_POLICIES.join(', ')}`, policy);
  }
}

export interface CliqueResult {
  cliques: Record<string, number>;
  reasons: string[];
}

/**
 * Assigns cliques so that every pair inside a clique may talk peer to peer under the policy: GPUs are
 * taken in order (lowest PCI address first) and each joins the first clique all of whose members it
 * may reach, else starts the next one. At most 16 cliques.
 */
export function assignCliques(gpus: string[], link: (a: string, b: string) => Link, policy: CliquePolicy = 'socket'): CliqueResult {
  requireArrayOf(gpus, isString, 'assignCliques', 'the GPU addresses first, as an array of strings');
  if (typeof link !== 'function') refuseArgument('assignCliques', 'a link function (a, b) => Link second', link);
  requirePolicy(policy, 'assignCliques');
  const joins = JOINS[policy];
  const groups: string[][] = [];
  const reasons: string[] = [];
  for (const gpu of gpus) {
    const home = groups.find((members) => members.every((m) => joins.has(link(gpu, m))));
    if (home) {
      reasons.push(`${gpu}: clique ${groups.indexOf(home)}, ${DESCRIBE[link(gpu, home[0])]} with ${home[0]}`);
      home.push(gpu);
      continue;
    }
    const why = groups.map((members, i) => {
      const blocker = members.find((m) => !joins.has(link(gpu, m)))!;
      return `not clique ${i}: ${DESCRIBE[link(gpu, blocker)]} with ${blocker}`;
    });
    groups.push([gpu]);
    reasons.push(`${gpu}: clique ${groups.length - 1}${why.length ? ` (${why.join('; ')})` : ''}`);
  }
  if (groups.length > MAX_CLIQUE + 1) {
    throw new PassthroughError('TOPOLOGY_INVALID', `The topology needs ${groups.length} cliques, but the clique ID has 16 values (0-15). Pass fewer GPUs or a looser policy.`);
  }
  const cliques: Record<string, number> = {};
  groups.forEach((members, i) => members.forEach((m) => (cliques[m] = i)));
  return { cliques, reasons };
}

export interface TopoMatrix {
  /** GPU names in matrix order: GPU0, GPU1, … */
  gpus: string[];
  link: (a: string, b: string) => Link;
}

/** Parses `nvidia-smi topo -m`: the GPU rows and columns; NIC columns, affinity columns and the legend are ignored. */
export function parseTopoMatrix(text: string): TopoMatrix {
  requireString(text, 'parseTopoMatrix', 'the output of nvidia-smi topo -m as a string');
  const lines = text.split(/\r?\n/).map((l) => l.replace(/\x1b\[[0-9;]*m/g, ''));
  const headerIndex = lines.findIndex((l) => /^\s+GPU0\b/.test(l));
  if (headerIndex < 0) throw new PassthroughError('TOPOLOGY_INVALID', 'No `nvidia-smi topo -m` matrix found: its header line starts with GPU0.');
  const header = lines[headerIndex].trim().split(/\s+/);
  const gpuColumns = header.filter((h) => /^GPU\d+$/.test(h));
  const links = new Map<string, Link>();
  for (const line of lines.slice(headerIndex + 1)) {
    const cells = line.trim().split(/\s+/);
    if (!/^GPU\d+$/.test(cells[0] ?? '')) continue;
    gpuColumns.forEach((col, i) => {
      const cell = cells[1 + i];
      if (cell === 'X' || cell === undefined) return;
      links.set(`${cells[0]}|${col}`, readLink(cell, cells[0], col));
    });
  }
  const gpus = gpuColumns.filter((g) => lines.some((l) => l.trim().startsWith(`${g} `) || l.trim().startsWith(`${g}\t`)));
  return {
    gpus,
    link: (a, b) => {
      const l = links.get(`${a}|${b}`) ?? links.get(`${b}|${a}`);
      if (!l) throw new PassthroughError('TOPOLOGY_INVALID', `The matrix has no entry for ${excerpt(a)} and ${excerpt(b)}.`);
      return l;
    },
  };
}

function readLink(cell: string, row: string, col: string): Link {
  if (/^NV\d+$/.test(cell)) return 'NV';
  if (['PIX', 'PXB', 'PHB', 'NODE', 'SYS'].includes(cell)) return cell as Link;
  if (cell === 'SOC') return 'SYS'; // older drivers' name for SYS
  throw new PassthroughError('TOPOLOGY_INVALID', `Unknown link "${excerpt(cell)}" between ${excerpt(row)} and ${excerpt(col)} in the topology matrix.`);
}

/** `nvidia-smi --query-gpu=index,pci.bus_id[,…] --format=csv` → GPU name → PCI address (`00000000:3B:00.0` → `0000:3b:00.0`). */
export function parseBusIds(csv: string): Map<string, string> {
  requireString(csv, 'parseBusIds', 'the output of nvidia-smi --query-gpu=index,pci.bus_id --format=csv as a string');
  const map = new Map<string, string>();
  for (const line of csv.split(/\r?\n/)) {
    const m = /^\s*(\d+)\s*,\s*([^,\s]+)\s*(?:,.*)?$/.exec(line); // more columns (pci.device_id) may follow
    const address = m ? pciAddressKey(m[2]) : undefined;
    if (address !== undefined) map.set(`GPU${m![1]}`, address);
  }
  return map;
}

/** Cliques from `nvidia-smi topo -m` text, keyed by PCI address when `busIds` is given, else by GPU name. */
export function cliquesFromTopoText(topo: string, busIds: string | undefined, policy: CliquePolicy = 'socket'): CliqueResult {
  const matrix = parseTopoMatrix(topo);
  const names = busIds === undefined ? undefined : parseBusIds(busIds);
  const key = (gpu: string) => names?.get(gpu) ?? gpu;
  const ordered = [...matrix.gpus].sort((a, b) => key(a).localeCompare(key(b), undefined, { numeric: true }));
  const byKey = new Map(ordered.map((g) => [key(g), g]));
  return assignCliques(ordered.map(key), (a, b) => matrix.link(byKey.get(a)!, byKey.get(b)!), policy);
}
