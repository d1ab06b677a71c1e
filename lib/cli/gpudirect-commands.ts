import * as fs from 'node:fs';
import * as path from 'node:path';
import { GPUDIRECT_ARCHITECTURES, GpuArchitecture, isGpudirectArchitecture } from '../gpudirect/architecture';
import type { PciFunctionDump } from '../gpudirect/config-space';
import { P2PPlacement, predictP2PPlacement, QemuPlacement } from '../gpudirect/placement';
import { parseLspciDump, parseSysfsConfig, readConfigSpace } from '../gpudirect/read-config';
import { expectationFromDomain, expectationFromPlan, GuestExpectation, TopologyReport, verifyGuest, verifyGuestTopology } from '../gpudirect/verify';
import { readHostCapture } from '../host/capture';
import { readHostSnapshot } from '../host/snapshot';
import type { PciTreeNode } from '../layout/types';
import { treeFromSysfs } from '../nccl/sysfs-tree';
import { parsePciAddress } from '../pci/address';
import { excerpt } from '../errors';
import { CliIo, UsageError, readFileOrFail, readJson, readText } from './io';
import { cpuOption, GuestTreePredictor } from './nccl-options';
import { qemuFromFlagOrHost } from './stack-detect';

const SYSFS_PCI = '/sys/bus/pci/devices';
const hex = (n: number | undefined) => (n === undefined ? '-' : `0x${n.toString(16).padStart(2, '0')}`);

/** Config spaces from an lspci dump (hex rows, as published), or from the running system's sysfs. */
function readConfigSpaces(io: CliIo, lspci: string | undefined): PciFunctionDump[] {
  if (lspci !== undefined) return parseLspciDump(new TextDecoder('utf-8').decode(readBytes(io, lspci)));
  if (!fs.existsSync(SYSFS_PCI)) throw new UsageError(`${SYSFS_PCI} not found: give --lspci FILE (the output of lspci -xxx)`);
  return fs.readdirSync(SYSFS_PCI).map((address) => parseSysfsConfig(address, io.readFile(path.join(SYSFS_PCI, address, 'config'))));
}

/** A file's bytes, or standard input for `-`; a file that cannot be read is one line and exit 1, not a stack trace. */
function readBytes(io: CliIo, file: string): Uint8Array {
  if (file === '-') {
    const bytes = io.readStdin();
    if (bytes === undefined) throw new UsageError('no config space on standard input: pipe it in, or give --config FILE');
    return bytes;
  }
  return readFileOrFail(io, file);
}

export function runPredict(values: Record<string, unknown>, positionals: string[], io: CliIo): number {
  if (positionals.length) throw new UsageError(`predict takes no positional arguments (got '${excerpt(positionals[0])}'): give the file with --config FILE`);
  const { config, architecture, address } = values;
  if (typeof config !== 'string') throw new UsageError('predict needs --config FILE');
  if (architecture !== undefined && (typeof architecture !== 'string' || !isGpudirectArchitecture(architecture))) {
    throw new UsageError(`unknown --architecture ${excerpt(String(architecture))}; one of ${GPUDIRECT_ARCHITECTURES.join(', ')}`);
  }
  if (typeof address === 'string' && !/^#\d{1,4}$/.test(address)) {
    const parsed = parsePciAddress(address);
    if (typeof parsed === 'string') throw new UsageError(`--address: ${parsed}, or #N for the Nth block of the capture`);
  }
  const qemu = qemuFromFlagOrHost(values, io.runTool);
  if (qemu === undefined) {
    const why = values['no-detect'] ? '--no-detect' : 'qemu-system-x86_64 not found here';
    throw new UsageError(`predict needs --qemu VERSION (${why}): the QEMU of the host that will run the GPU, as qemu-system-x86_64 --version prints it`);
  }
  io.stderr(`target: QEMU ${qemu.version} (from ${qemu.source})\n`);
  const reading = readConfigSpace(readBytes(io, config), { address: address as string | undefined, name: config === '-' ? 'standard input' : config });
  const p = predictP2PPlacement(reading, qemu.version, architecture as GpuArchitecture | undefined);
  if (values.json) io.stdout(JSON.stringify(placementJson(p), null, 2) + '\n');
  else io.stdout(placementText(p));
  return p.offset !== null && p.complete ? 0 : 1;
}

/** The documented `predict --json` shape (docs/gpudirect.md): offsets as "0xd4" strings, absent fields omitted. */
export function placementJson(p: P2PPlacement): Record<string, unknown> {
  const offset = (n: number | null) => (n === null ? null : hex(n));
  const generation = (g: QemuPlacement) => ({ offset: offset(g.offset), reason: g.reason, ...(g.error ? { error: g.error } : {}), shadows: g.shadows });
  return {
    address: p.address ?? null,
    deviceId: p.deviceId ?? null,
    architecture: p.architecture ?? null,
    source: p.source,
    complete: p.complete,
    qemu: p.qemu,
    offset: offset(p.offset),
    ...(p.error ? { error: p.error } : {}),
    reason: p.reason,
    collides: p.collides,
    qemu81: generation(p.qemu81),
    qemuBefore81: generation(p.qemuBefore81),
    recommended: p.recommended === undefined ? null : hex(p.recommended),
    agrees: p.agrees ?? null,
    ...(p.meaning ? { meaning: p.meaning } : {}),
    capabilities: p.capabilities.map((c) => ({ offset: hex(c.offset), id: hex(c.id), name: c.name, length: c.length, lengthSource: c.lengthSource })),
    assumed: p.assumed,
    warnings: p.warnings,
  };
}

function placementText(p: P2PPlacement): string {
  const who = [p.address ?? '(no address)', p.deviceId, p.architecture].filter(Boolean).join('  ');
  const verdict = p.offset === null ? `QEMU ${p.qemu} will refuse to start: ${p.error}` : `QEMU ${p.qemu} places it at ${hex(p.offset)}`;
  const hedge = p.complete ? '' : 'NOT CERTAIN: the capture does not show the whole capability list; from what it shows, ';
  const spec = p.recommended === undefined ? '' : `; the spec recommends ${hex(p.recommended)} for ${p.architecture}${p.agrees === undefined ? '' : p.agrees ? ' (agrees)' : ' (disagrees)'}`;
  const gen = (g: QemuPlacement) => (g.offset === null ? `refuses to start (${g.error})` : hex(g.offset));
  const lines = [
    `${who}  (read from ${p.source === 'bytes' ? 'config-space bytes' : p.source === 'text' ? 'lspci text' : 'lspci text and hex'})`,
    `  ${hedge}${verdict}${spec}`,
    `  because ${p.reason}`,
    `  QEMU 8.1 and later: ${gen(p.qemu81)}; QEMU before 8.1: ${gen(p.qemuBefore81)}`,
    `  capabilities: ${p.capabilities.map((c) => `${hex(c.offset)} ${c.name} (${c.length} bytes, ${c.lengthSource})`).join(', ')}`,
  ];
  if (p.meaning) lines.push(`  what it means: ${p.meaning}`);
  for (const w of p.warnings) lines.push(`  warning: ${w}`);
  return lines.join('\n') + '\n';
}

export function runVerifyGuest(values: Record<string, unknown>, positionals: string[], io: CliIo, predictGuestTree?: GuestTreePredictor): number {
  if (positionals.length) throw new UsageError(`verify-guest takes no positional arguments (got '${excerpt(positionals[0])}'): use --domain, --expect and --lspci`);
  let expected: GuestExpectation;
  let domainXml: string | undefined;
  if (typeof values.domain === 'string') expected = expectationFromDomain((domainXml = readText(io, values.domain, 'domain XML')));
  else if (typeof values.expect === 'string') expected = expectationFromPlan(readJson(io, values.expect, 'plan'));
  else throw new UsageError('verify-guest needs --domain DOMAIN.xml or --expect PLAN.json');
  const report = verifyGuest(expected, readConfigSpaces(io, values.lspci as string | undefined));
  const topology = guestTopology(values, domainXml, predictGuestTree);
  if (values.json) {
    const gpus = report.gpus.map((g) => ({ ...g, offset: g.offset === undefined ? undefined : hex(g.offset) }));
    io.stdout(JSON.stringify({ ...report, gpus, ...(topology ? { topology } : {}) }, null, 2) + '\n');
  } else {
    io.stdout('GPU           device      offset  clique  result\n');
    for (const g of report.gpus) {
      io.stdout(`${g.address.padEnd(13)} ${(g.deviceId ?? '-').padEnd(11)} ${hex(g.offset).padEnd(7)} ${String(g.clique ?? '-').padEnd(7)} ${g.problems.length ? g.problems.join('; ') : 'ok'}\n`);
    }
    for (const p of report.problems) io.stdout(`problem: ${p}\n`);
    for (const w of report.warnings) io.stdout(`warning: ${w}\n`);
    io.stdout(report.ok ? 'GPUDirect cliques reached the guest as planned.\n' : 'GPUDirect cliques did NOT reach the guest as planned.\n');
    if (topology) io.stdout(topologyText(topology));
  }
  return report.ok && (topology?.ok ?? true) ? 0 : 1;
}

/**
 * The guest's tree (live, or --sysfs DIR|FILE.tar), held against the tree the layout planned (predicted from
 * --domain) and against the host's (--host DIR|FILE.tar); none with only --lspci.
 */
function guestTopology(values: Record<string, unknown>, domainXml: string | undefined, predict: GuestTreePredictor | undefined): TopologyReport | undefined {
  if (values.host !== undefined && domainXml === undefined) throw new UsageError('--host needs --domain DOMAIN.xml: the domain says which host function each guest device passes through');
  if (values.host !== undefined && !predict) throw new UsageError('--host needs the guest tree predicted from the domain (the layout support), which this build does not have');
  if (values.sysfs === undefined && values.lspci !== undefined) return undefined;
  const snapshot = typeof values.sysfs === 'string' ? readHostCapture(values.sysfs) : readHostSnapshot('/');
  const guest = treeFromSysfs(snapshot.devices);
  const cpu = cpuOption(values.cpu, snapshot.cpuVendor);
  if (domainXml === undefined || !predict) return verifyGuestTopology(guest, cpu);
  // The prediction names the guest's devices (aliases) and the host function each one passes through.
  const planned = predict(domainXml);
  const predicted = new Map<string, PciTreeNode>();
  const collect = (n: PciTreeNode) => (predicted.set(n.bdf.toLowerCase(), n), n.children.forEach(collect));
  planned.cpus.forEach((c) => c.roots.forEach(collect));
  const name = (n: PciTreeNode) => {
    const alias = predicted.get(n.bdf.toLowerCase())?.alias;
    if (alias && !n.alias) n.alias = alias;
    n.children.forEach(name);
  };
  guest.cpus.forEach((c) => c.roots.forEach(name));
  const map = new Map([...predicted].flatMap(([bdf, n]) => (n.hostBdf ? [[bdf, n.hostBdf] as [string, string]] : [])));
  const host = typeof values.host === 'string' ? { tree: treeFromSysfs(readHostCapture(values.host).devices), map } : undefined;
  return verifyGuestTopology(guest, cpu, { planned, host });
}

function topologyText(t: TopologyReport): string {
  const name = (bdf: string) => t.devices.find((d) => d.bdf === bdf)?.alias ?? bdf;
  const lines = [`NCCL in this guest (CPU ${t.cpuVendor ?? 'unknown'}: P2P up to ${t.p2pLevel}, GPUDirect RDMA up to ${t.gdrLevel}):`];
  for (const d of t.devices) {
    const planned = d.plannedNumaNode === undefined ? '' : ` (planned ${d.plannedNumaNode})`;
    const host = d.hostBdf ? `  host ${d.hostBdf} node ${d.hostNumaNode}` : '';
    lines.push(`  ${d.role.padEnd(3)} ${d.bdf}${d.alias ? ` ${d.alias}` : ''}  NUMA node ${d.numaNode}${planned}${host}`);
  }
  for (const p of t.pairs) {
    const what = p.kind === 'gpu-gpu' ? 'P2P' : 'GDR';
    const planned = p.planned ? `   planned ${p.planned}` : '';
    const host = p.host ? `   host ${p.host.path} (${what} ${p.host.uses ? 'yes' : 'no'})` : '';
    lines.push(`  ${`${name(p.a)}–${name(p.b)}`.padEnd(30)} ${p.path.padEnd(3)} ${what} ${p.uses ? 'yes' : 'no '}${planned}${host}`);
  }
  for (const p of t.problems) lines.push(`problem: ${p}`);
  for (const w of t.warnings) lines.push(`warning: ${w}`);
  lines.push(t.ok ? 'NCCL sees the guest as planned.' : 'NCCL does NOT see the guest as planned.');
  return lines.join('\n') + '\n';
}
