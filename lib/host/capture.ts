import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { requireString } from '../arguments';
import { PassthroughError, excerpt } from '../errors';
import { HostSnapshot, isNvidiaGpu, readHostSnapshot } from './snapshot';

const DEVICE_FILES = ['vendor', 'device', 'class', 'numa_node', 'resource', 'subsystem_vendor', 'subsystem_device', 'current_link_speed', 'current_link_width'];

/** What a capture holds. */
export interface CaptureResult {
  files: number;
  /** Each NVIDIA GPU function's address → bytes of config space copied (64: read without root, the header only). */
  configs: Record<string, number>;
}

/** The config space the kernel gives root: 256 bytes (conventional PCI) or 4096 (PCIe); 64 to anyone else. */
export const FULL_CONFIG_BYTES = 256;

/**
 * Copies what readHostSnapshot needs from a live host (or another root) into a tar file, keeping the
 * sysfs links, so a user can attach it to a bug report: /proc/cmdline, the CPU vendor line, and per PCI
 * function its ID, class, NUMA node, BARs, current link speed and width, driver and IOMMU group; for NVIDIA GPUs also the sysfs `config`
 * (what `host plan --qemu` predicts the capability offset from), with any Device Serial Number zeroed.
 * Other functions' config space is left out: nothing reads it, and it carries serial numbers (a NIC's
 * DSN is derived from its MAC address). Captures without config files still read: the plan then keeps
 * the spec's offset and says why.
 */
export function captureHost(out: string, root = '/'): CaptureResult {
  const folder = path.dirname(path.resolve(out));
  if (!fs.existsSync(folder) || !fs.statSync(folder).isDirectory()) {
    throw new PassthroughError('INPUT_INVALID', `Cannot write ${excerpt(out, 200)}: the folder ${excerpt(folder, 200)} does not exist.`);
  }
  if (!fs.existsSync(path.join(root, 'sys', 'bus', 'pci', 'devices'))) {
    throw new PassthroughError('INPUT_INVALID', `${excerpt(root, 200)} has no sys/bus/pci/devices: give the root of a live or captured sysfs tree.`);
  }
  const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'lp-capture-'));
  try {
    const result = stageHost(root, stage);
    const tar = spawnSync('tar', ['-cf', path.resolve(out), '-C', stage, '.'], { encoding: 'utf8' });
    if (tar.status !== 0) throw new PassthroughError('INPUT_INVALID', `Cannot write ${excerpt(out, 200)}: ${excerpt(tar.error?.message ?? (tar.stderr || `tar exited with ${tar.status}`), 200)}.`);
    return result;
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
}

function stageHost(root: string, stage: string): CaptureResult {
  let files = 0;
  const configs: Record<string, number> = {};
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
    const config = path.join(real, 'config');
    if (isNvidiaGpu(deviceIds(real)) && fs.existsSync(config)) {
      const bytes = withoutSerialNumber(fs.readFileSync(config));
      fs.writeFileSync(path.join(target, 'config'), bytes);
      configs[address] = bytes.length;
      files++;
    }
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
  return { files, configs };
}

function deviceIds(dir: string): { vendor: number; classCode: number } {
  const number = (name: string) => {
    const file = path.join(dir, name);
    return fs.existsSync(file) ? Number(fs.readFileSync(file, 'utf8').trim()) : NaN;
  };
  return { vendor: number('vendor'), classCode: number('class') };
}

const PCI_EXT_CAP_ID_DSN = 0x0003;
const EXTENDED_CAPABILITIES = 0x100;

/**
 * The config space with the serial number of a Device Serial Number capability (PCIe extended capability 3,
 * 8 bytes after its header) set to zero, so a capture identifies no card; the capability list stays intact.
 */
export function withoutSerialNumber(config: Uint8Array): Uint8Array {
  const out = Uint8Array.from(config);
  const view = new DataView(out.buffer);
  const seen = new Set<number>();
  for (let at = EXTENDED_CAPABILITIES; at >= EXTENDED_CAPABILITIES && at + 4 <= out.length && !seen.has(at); ) {
    seen.add(at);
    const header = view.getUint32(at, true);
    if (header === 0 || header === 0xffffffff) break;
    if ((header & 0xffff) === PCI_EXT_CAP_ID_DSN) out.fill(0, at + 4, Math.min(at + 12, out.length));
    at = (header >>> 20) & 0xffc;
  }
  return out;
}

/**
 * Reads a `host capture` tar file (or an unpacked capture folder) as a HostSnapshot, the way `host check
 * --sysfs` and `host plan --sysfs` do. Needs the tar program for a tar file.
 */
export function readHostCapture(capture: string): HostSnapshot {
  requireString(capture, 'readHostCapture', 'the path of a host capture tar file or folder');
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
