import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassthroughError, excerpt } from '../errors';
import { HostSnapshot, readHostSnapshot } from './snapshot';

const DEVICE_FILES = ['vendor', 'device', 'class', 'numa_node', 'resource', 'subsystem_vendor', 'subsystem_device'];

/**
 * Copies what readHostSnapshot needs from a live host (or another root) into a tar file, keeping the
 * sysfs links, so a user can attach it to a bug report: /proc/cmdline, the CPU vendor line, and per PCI
 * function its ID, class, NUMA node, BARs, driver and IOMMU group. No config space, no serial numbers.
 */
export function captureHost(out: string, root = '/'): { files: number } {
  const folder = path.dirname(path.resolve(out));
  if (!fs.existsSync(folder) || !fs.statSync(folder).isDirectory()) {
    throw new PassthroughError('INPUT_INVALID', `Cannot write ${excerpt(out, 200)}: the folder ${excerpt(folder, 200)} does not exist.`);
  }
  if (!fs.existsSync(path.join(root, 'sys', 'bus', 'pci', 'devices'))) {
    throw new PassthroughError('INPUT_INVALID', `${excerpt(root, 200)} has no sys/bus/pci/devices: give the root of a live or captured sysfs tree.`);
  }
  const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'lp-capture-'));
  try {
    const files = stageHost(root, stage);
    const tar = spawnSync('tar', ['-cf', path.resolve(out), '-C', stage, '.'], { encoding: 'utf8' });
    if (tar.status !== 0) throw new PassthroughError('INPUT_INVALID', `Cannot write ${excerpt(out, 200)}: ${excerpt(tar.error?.message ?? (tar.stderr || `tar exited with ${tar.status}`), 200)}.`);
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

/**
 * Reads a `host capture` tar file (or an unpacked capture folder) as a HostSnapshot, the way `host check
 * --sysfs` and `host plan --sysfs` do. Needs the tar program for a tar file.
 */
export function readHostCapture(capture: string): HostSnapshot {
  let isFolder: boolean;
  try {
    isFolder = fs.statSync(capture).isDirectory();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new PassthroughError('INPUT_INVALID', `Cannot read the capture ${excerpt(capture, 200)}${code ? ` (${code})` : ''}: give a folder or a tar file from host capture.`);
  }
  if (isFolder) return readHostSnapshot(capture);
  const dir = unpackCapture(capture);
  try {
    if (!fs.existsSync(path.join(dir, 'sys', 'bus', 'pci', 'devices'))) {
      throw new PassthroughError('INPUT_INVALID', `${excerpt(capture, 200)} is a tar file but holds no sys/bus/pci/devices: it is not from host capture.`);
    }
    return readHostSnapshot(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A captured tar, unpacked into a temp folder for readHostSnapshot; the caller removes it. */
export function unpackCapture(tarFile: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lp-snapshot-'));
  const tar = spawnSync('tar', ['-xf', path.resolve(tarFile), '-C', dir], { encoding: 'utf8' });
  if (tar.status !== 0) {
    fs.rmSync(dir, { recursive: true, force: true });
    const why = excerpt(tar.error ? tar.error.message : tar.stderr || `tar exited with ${tar.status}`, 200);
    throw new PassthroughError('INPUT_INVALID', `${excerpt(tarFile, 200)} is not a tar file from host capture (${why}).`);
  }
  return dir;
}
