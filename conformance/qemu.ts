import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { VfioDevice } from './argv';
import { REPO } from './repo';
import { Stack } from './stacks';

const DUMMY_HOST = 'ffff:ff:1f.7';
const PROBES_SCRIPT = path.join(REPO, 'scripts', 'qemu-probes.sh');
const cache = new Map<string, string>();

/** One QEMU check: a vfio-pci device as libvirt wrote it (or none) with the command line's -set/-global options. */
export interface QemuRequest {
  device?: VfioDevice;
  options: string[];
}

interface Probe {
  key: string;
  args: string[];
  json: string;
  original: string;
}

function probeOf({ device, options }: QemuRequest, stack: Stack): Probe {
  const json = device ? probeJson(device.json) : `{"driver":"vfio-pci","host":"${DUMMY_HOST}","id":"libvirt-passthrough-probe"}`;
  const args = ['-nodefaults', '-no-user-config', '-machine', 'q35', '-accel', 'tcg', '-m', '64', '-display', 'none',
    '-monitor', 'none', '-serial', 'none', '-parallel', 'none', '-S', ...options, '-device', json];
  return { key: JSON.stringify([stack.id, json, options]), args, json, original: device?.json ?? json };
}

/**
 * Asks QEMU itself whether it accepts a vfio-pci device as libvirt wrote it: the host address is
 * pointed at one that exists nowhere and bus/addr are dropped. QEMU sets every property before it
 * opens the host device, so "no such host device" for the dummy means everything else was accepted.
 * Returns "ok" or QEMU's first complaint.
 */
export function qemuAcceptsDevice(device: VfioDevice | undefined, options: string[], stack: Stack): string {
  const probe = probeOf({ device, options }, stack);
  let verdict = cache.get(probe.key);
  if (verdict === undefined) {
    verdict = runOne(probe, stack);
    cache.set(probe.key, verdict);
  }
  return verdict;
}

/**
 * Runs every check not yet answered in one go (one entry into a chroot stack instead of one per check);
 * qemuAcceptsDevice then answers from the cache.
 */
export function prefetchQemu(requests: QemuRequest[], stack: Stack, jobDir: string): void {
  const todo = new Map<string, Probe>();
  for (const r of requests) {
    const probe = probeOf(r, stack);
    if (!cache.has(probe.key)) todo.set(probe.key, probe);
  }
  if (todo.size === 0) return;
  const dir = path.join(jobDir, `qemu-${stack.id}`);
  fs.mkdirSync(dir);
  const probes = [...todo.values()];
  probes.forEach((p, i) => fs.writeFileSync(path.join(dir, `${i}.args`), p.args.map((a) => `${a}\0`).join('')));
  const script = path.join(jobDir, 'qemu-probes.sh');
  fs.copyFileSync(PROBES_SCRIPT, script);
  const [cmd, argv] = stack.command(['bash', script, dir], jobDir);
  spawnSync(cmd, argv, { stdio: 'ignore', timeout: 25_000 * probes.length });
  probes.forEach((p, i) => {
    const out = path.join(dir, `${i}.out`);
    if (fs.existsSync(out)) cache.set(p.key, verdictOf(fs.readFileSync(out, 'utf8'), p)); // else asked again, one by one
  });
}

function probeJson(json: string): string {
  const parsed = JSON.parse(json) as Record<string, unknown>;
  delete parsed.bus;
  delete parsed.addr;
  parsed.host = DUMMY_HOST;
  return JSON.stringify(parsed);
}

function runOne(probe: Probe, stack: Stack): string {
  const [cmd, argv] = stack.command(['qemu-system-x86_64', ...probe.args]);
  const run = spawnSync(cmd, argv, { encoding: 'utf8', timeout: 20_000, stdio: ['ignore', 'pipe', 'pipe'] });
  if (run.error && !`${run.stdout ?? ''}${run.stderr ?? ''}`.trim()) return `could not run QEMU: ${run.error.message}`;
  return verdictOf(`${run.stdout ?? ''}${run.stderr ?? ''}`, probe);
}

function verdictOf(output: string, probe: Probe): string {
  if (output.includes(`${DUMMY_HOST}: no such host device`)) return 'ok';
  const complaint = output.split('\n').find((l) => l.trim() && !l.includes(': warning: '));
  return (complaint ?? 'QEMU started without complaint (timeout)').split(probe.json).join(probe.original).slice(0, 600);
}
