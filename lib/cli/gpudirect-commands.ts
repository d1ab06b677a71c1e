import * as fs from 'node:fs';
import * as path from 'node:path';
import { isGpudirectArchitecture } from '../gpudirect/architecture';
import { parseLspciDump, parseSysfsConfig, PciFunctionDump } from '../gpudirect/config-space';
import { predictP2PPlacement } from '../gpudirect/placement';
import { expectationFromDomain, expectationFromPlan, GuestExpectation, verifyGuest } from '../gpudirect/verify';
import { decodeXmlBytes } from '../load/decode';
import { CliIo, UsageError, readJson, readText } from './io';

const SYSFS_PCI = '/sys/bus/pci/devices';
const hex = (n: number | undefined) => (n === undefined ? '-' : `0x${n.toString(16)}`);

/** Config spaces from an lspci -xxx dump, or from the running system's sysfs. */
function readConfigSpaces(io: CliIo, lspci: string | undefined): PciFunctionDump[] {
  if (lspci !== undefined) return parseLspciDump(readText(io, lspci, 'lspci -xxx dump'));
  if (!fs.existsSync(SYSFS_PCI)) throw new UsageError(`${SYSFS_PCI} not found: give --lspci FILE (the output of lspci -xxx)`);
  return fs.readdirSync(SYSFS_PCI).map((address) => parseSysfsConfig(address, io.readFile(path.join(SYSFS_PCI, address, 'config'))));
}

export function runPredict(values: Record<string, unknown>, io: CliIo): number {
  const qemu = values.qemu;
  if (typeof values.config !== 'string' || typeof qemu !== 'string') throw new UsageError('predict needs --config FILE and --qemu VERSION');
  const architecture = values.architecture;
  if (architecture !== undefined && (typeof architecture !== 'string' || !isGpudirectArchitecture(architecture))) {
    throw new UsageError(`unknown --architecture ${String(architecture)}`);
  }
  const bytes = io.readFile(values.config);
  const dumps = /^[0-9a-f]{2}:|^[0-9a-f]{4}:/im.test(decodeLenient(bytes)) ? parseLspciDump(decodeXmlBytes(bytes, values.config)) : [parseSysfsConfig(values.config, bytes)];
  const results = dumps.map((d) => ({ address: d.address, ...predictP2PPlacement(d.config, qemu, architecture as never) }));
  if (values.json) {
    io.stdout(JSON.stringify(results, null, 2) + '\n');
  } else {
    for (const r of results) {
      const verdict = r.offset === null ? `QEMU ${qemu} will refuse to start: ${r.error}` : `QEMU ${qemu} places it at ${hex(r.offset)}`;
      const spec = r.recommended === undefined ? '' : `; the spec recommends ${hex(r.recommended)}${r.agrees === false ? ' (disagrees)' : r.agrees ? ' (agrees)' : ''}`;
      io.stdout(`${r.address}  ${verdict}${spec}\n  because ${r.reason}\n  capabilities: ${r.capabilities.map((c) => `${hex(c.offset)}=${hex(c.id)}`).join(' ') || '(none)'}\n`);
    }
  }
  return results.every((r) => r.offset !== null) ? 0 : 1;
}

export function runVerifyGuest(values: Record<string, unknown>, io: CliIo): number {
  let expected: GuestExpectation;
  if (typeof values.domain === 'string') expected = expectationFromDomain(readText(io, values.domain, 'domain XML'));
  else if (typeof values.expect === 'string') expected = expectationFromPlan(readJson(io, values.expect, 'plan'));
  else throw new UsageError('verify-guest needs --domain DOMAIN.xml or --expect PLAN.json');
  const report = verifyGuest(expected, readConfigSpaces(io, values.lspci as string | undefined));
  if (values.json) {
    io.stdout(JSON.stringify(report, null, 2) + '\n');
  } else {
    io.stdout('GPU           device      offset  clique  result\n');
    for (const g of report.gpus) {
      io.stdout(`${g.address.padEnd(13)} ${(g.deviceId ?? '-').padEnd(11)} ${hex(g.offset).padEnd(7)} ${String(g.clique ?? '-').padEnd(7)} ${g.problems.length ? g.problems.join('; ') : 'ok'}\n`);
    }
    for (const p of report.problems) io.stdout(`problem: ${p}\n`);
    for (const w of report.warnings) io.stdout(`warning: ${w}\n`);
    io.stdout(report.ok ? 'GPUDirect cliques reached the guest as planned.\n' : 'GPUDirect cliques did NOT reach the guest as planned.\n');
  }
  return report.ok ? 0 : 1;
}

function decodeLenient(bytes: Uint8Array): string {
  return new TextDecoder('latin1').decode(bytes.subarray(0, 64));
}
