import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const DEVICE_FILES = ['vendor', 'device', 'class', 'numa_node', 'resource', 'subsystem_vendor', 'subsystem_device'];

/**
 * Copies what readHostSnapshot needs from a live host (or another root) into a tar file, keeping the
 * sysfs links, so a user can attach it to a bug report: /proc/cmdline, the CPU vendor line, and per PCI
 * function its ID, class, NUMA node, BARs, driver and IOMMU group. No config space, no serial numbers.
 */
export function captureHost(out: string, root = '/'): { files: number } {
  const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'lp-capture-'));
  try {
    const files = stageHost(root, stage);
    const tar = spawnSync('tar', ['-cf', path.resolve(out), '-C', stage, '.'], { encoding: 'utf8' });
    if (tar.status !== 0) throw new Error(`tar failed: ${tar.stderr || tar.error?.message}`);
    return { files };
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
}

function stageHost(root: string, stage: string): number {
  let files = 0;
  const copy = (from: string, to: string, transform = (s: string) => s) => {
    if (!fs.existsSync(from)) return;
    fs.mkdirSync(path.dirname(to), { recursive: true });
    fs.writeFileSync(to, transform(fs.readFileSync(from, 'utf8')));
    files++;
  };
  copy(path.join(root, 'proc', 'cmdline'), path.join(stage, 'proc', 'cmdline'));
  copy(path.join(root, 'proc', 'cpuinfo'), path.join(stage, 'proc', 'cpuinfo'), (s) => (/^vendor_id.*$/m.exec(s)?.[0] ?? '') + '\n');
  const sysDevices = fs.realpathSync(path.join(root, 'sys', 'devices'));
  const bus = path.join(root, 'sys', 'bus', 'pci', 'devices');
  const stagedBus = path.join(stage, 'sys', 'bus', 'pci', 'devices');
  fs.mkdirSync(stagedBus, { recursive: true });
  for (const address of fs.readdirSync(bus)) {
    const real = fs.realpathSync(path.join(bus, address));
    const target = path.join(stage, 'sys', 'devices', path.relative(sysDevices, real));
    for (const f of DEVICE_FILES) copy(path.join(real, f), path.join(target, f));
    fs.symlinkSync(path.relative(stagedBus, target), path.join(stagedBus, address));
    for (const link of ['driver', 'iommu_group']) {
      try {
        const name = path.basename(fs.readlinkSync(path.join(real, link)));
        const to = link === 'driver' ? path.join(stage, 'sys', 'bus', 'pci', 'drivers', name) : path.join(stage, 'sys', 'kernel', 'iommu_groups', name);
        fs.mkdirSync(to, { recursive: true });
        fs.symlinkSync(path.relative(target, to), path.join(target, link));
        if (link === 'iommu_group') {
          fs.mkdirSync(path.join(to, 'devices'), { recursive: true });
          fs.symlinkSync(path.relative(path.join(to, 'devices'), target), path.join(to, 'devices', address));
        }
      } catch {
        // no driver bound, or no IOMMU group: nothing to record
      }
    }
  }
  return files;
}

/** A captured tar, unpacked into a temp folder for readHostSnapshot; the caller removes it. */
export function unpackCapture(tarFile: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lp-snapshot-'));
  const tar = spawnSync('tar', ['-xf', path.resolve(tarFile), '-C', dir], { encoding: 'utf8' });
  if (tar.status !== 0) throw new Error(`cannot unpack ${tarFile}: ${tar.stderr}`);
  return dir;
}
