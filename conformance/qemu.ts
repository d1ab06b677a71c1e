import { spawnSync } from 'node:child_process';
import { VfioDevice } from './argv';
import { Stack } from './stacks';

const DUMMY_HOST = 'ffff:ff:1f.7';
const cache = new Map<string, string>();

/**
 * Asks QEMU itself whether it accepts a vfio-pci device as libvirt wrote it: the host address is
 * pointed at one that exists nowhere and bus/addr are dropped. QEMU sets every property before it
 * opens the host device, so "no such host device" for the dummy means everything else was accepted.
 * Returns "ok" or QEMU's first complaint.
 */
export function qemuAcceptsDevice(device: VfioDevice | undefined, options: string[], stack: Stack): string {
  const json = device ? probeJson(device.json) : `{"driver":"vfio-pci","host":"${DUMMY_HOST}","id":"libvirt-passthrough-probe"}`;
  const key = JSON.stringify([stack.id, json, options]);
  let verdict = cache.get(key);
  if (verdict === undefined) {
    verdict = runQemu(json, options, device?.json ?? json, stack);
    cache.set(key, verdict);
  }
  return verdict;
}

function probeJson(json: string): string {
  const parsed = JSON.parse(json) as Record<string, unknown>;
  delete parsed.bus;
  delete parsed.addr;
  parsed.host = DUMMY_HOST;
  return JSON.stringify(parsed);
}

function runQemu(json: string, options: string[], original: string, stack: Stack): string {
  const args = ['-nodefaults', '-no-user-config', '-machine', 'q35', '-accel', 'tcg', '-m', '64', '-display', 'none',
    '-monitor', 'none', '-serial', 'none', '-parallel', 'none', '-S', ...options, '-device', json];
  const [cmd, argv] = stack.command(['qemu-system-x86_64', ...args]);
  const run = spawnSync(cmd, argv, { encoding: 'utf8', timeout: 20_000, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = `${run.stdout ?? ''}${run.stderr ?? ''}`;
  if (output.includes(`${DUMMY_HOST}: no such host device`)) return 'ok';
  if (run.error) return `could not run QEMU: ${run.error.message}`;
  const complaint = output.split('\n').find((l) => l.trim() && !l.includes(': warning: '));
  return (complaint ?? 'QEMU started without complaint (timeout)').split(json).join(original).slice(0, 600);
}
