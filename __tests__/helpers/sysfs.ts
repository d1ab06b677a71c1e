import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** A PCI function of a fake sysfs tree; `path` lists the bridges above it, host bridge first. */
export interface FakeDevice {
  path: string[];
  vendor: number;
  device: number;
  classCode: number;
  numa?: number;
  driver?: string;
  group?: string;
  bars?: number[];
  /** The sysfs `config` file; absent: none (as in captures made before host capture copied it). */
  config?: Uint8Array;
  /** current_link_speed / current_link_width, e.g. `16.0 GT/s PCIe` and 16; absent: no such files. */
  link?: { speed: string; width: number };
}

export interface FakeHost {
  devices: FakeDevice[];
  cmdline?: string;
  cpuVendor?: string;
  /** false: no IOMMU groups at all. */
  iommu?: boolean;
}

const hex = (n: number, w: number) => `0x${n.toString(16).padStart(w, '0')}`;

/** Builds the sysfs/procfs files a host snapshot reads, with real symlinks, in a temp folder. */
export function makeSysfs(host: FakeHost): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'lp-sysfs-'));
  const bus = path.join(root, 'sys', 'bus', 'pci', 'devices');
  fs.mkdirSync(bus, { recursive: true });
  fs.mkdirSync(path.join(root, 'proc'), { recursive: true });
  fs.writeFileSync(path.join(root, 'proc', 'cmdline'), `${host.cmdline ?? 'BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro'}\n`);
  fs.writeFileSync(path.join(root, 'proc', 'cpuinfo'), `processor\t: 0\nvendor_id\t: ${host.cpuVendor ?? 'GenuineIntel'}\n`);
  const groups = path.join(root, 'sys', 'kernel', 'iommu_groups');
  fs.mkdirSync(groups, { recursive: true });
  for (const d of host.devices) {
    const address = d.path[d.path.length - 1];
    const dir = path.join(root, 'sys', 'devices', ...d.path);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'vendor'), `${hex(d.vendor, 4)}\n`);
    fs.writeFileSync(path.join(dir, 'device'), `${hex(d.device, 4)}\n`);
    fs.writeFileSync(path.join(dir, 'class'), `${hex(d.classCode, 6)}\n`);
    fs.writeFileSync(path.join(dir, 'numa_node'), `${d.numa ?? -1}\n`);
    const bars = d.bars ?? [];
    fs.writeFileSync(path.join(dir, 'resource'), Array.from({ length: 13 }, (_, i) => {
      const size = bars[i] ?? 0;
      const start = 0x100000000 * (i + 1);
      return size ? `${hex(start, 16)} ${hex(start + size - 1, 16)} 0x000000000014220c` : '0x0000000000000000 0x0000000000000000 0x0000000000000000';
    }).join('\n') + '\n');
    if (d.config) fs.writeFileSync(path.join(dir, 'config'), d.config);
    if (d.link) {
      fs.writeFileSync(path.join(dir, 'current_link_speed'), `${d.link.speed}\n`);
      fs.writeFileSync(path.join(dir, 'current_link_width'), `${d.link.width}\n`);
    }
    fs.symlinkSync(path.relative(bus, dir), path.join(bus, address));
    if (d.driver) fs.symlinkSync(`../../../../bus/pci/drivers/${d.driver}`, path.join(dir, 'driver'));
    if (host.iommu !== false) {
      const group = d.group ?? String(host.devices.indexOf(d));
      fs.mkdirSync(path.join(groups, group, 'devices'), { recursive: true });
      fs.symlinkSync(path.relative(path.join(groups, group, 'devices'), dir), path.join(groups, group, 'devices', address));
      fs.symlinkSync(path.relative(dir, path.join(groups, group)), path.join(dir, 'iommu_group'));
    }
  }
  return root;
}

export const GPU = 0x030200;
export const BRIDGE = 0x060400;
export const NIC = 0x020000;
export const NPU = 0x120000;
export const GUIDE_CMDLINE =
  'BOOT_IMAGE=/vmlinuz ro transparent_hugepage=madvise pcie_aspm=force pci=pcie_bus_perf pci=bfsort pci=noats iommu=pt intel_iommu=on iommu.strict=1';
