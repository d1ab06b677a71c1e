import * as fs from 'node:fs';
import * as path from 'node:path';
import { isObject, refuseArgument, requireString } from '../arguments';
import { PassthroughError, excerpt } from '../errors';
import { lookupNvidiaDevice } from '../gpudirect/architecture';
import { PCI_VENDOR_NVIDIA } from '../pci/address';
import { Link } from './topology';

/** One PCI function as sysfs shows it. */
export interface HostPciDevice {
  address: string;
  vendor: number;
  device: number;
  /** 24-bit class code, e.g. 0x030200 for a 3D controller. */
  classCode: number;
  /** -1 when the kernel does not know. */
  numaNode: number;
  driver?: string;
  iommuGroup?: string;
  /** The PCIe path from the host bridge: `pci0000:3a`, `0000:3a:00.0`, …, the device itself. */
  path: string[];
  /** Sizes in bytes of the 64-bit memory BARs (sysfs `resource`, IORESOURCE_MEM_64); what needs the 64-bit MMIO window. */
  bar64Sizes: number[];
  /** The sysfs `config` file of an NVIDIA GPU (64 bytes without root, 256 or 4096 with), when the snapshot has it. */
  config?: Uint8Array;
  /** The link as trained now (sysfs current_link_speed / current_link_width), when the kernel reports one. */
  link?: { speed: string; width: number };
}

/** What the host looks like: read from a live system (root `/`) or a captured tree (`host capture`). */
export interface HostSnapshot {
  devices: HostPciDevice[];
  cmdline: string;
  cpuVendor?: string;
  /** IOMMU group → member addresses; empty when the IOMMU is off. */
  iommuGroups: Map<string, string[]>;
}

const IORESOURCE_MEM_64 = 0x00100000n;

const read = (file: string) => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim() : undefined);
const linkName = (file: string) => {
  try {
    return path.basename(fs.readlinkSync(file));
  } catch {
    return undefined;
  }
};

export function readHostSnapshot(root = '/'): HostSnapshot {
  requireString(root, 'readHostSnapshot', 'the root folder of a sysfs tree as a string (or nothing for /)');
  const devicesDir = path.join(root, 'sys', 'bus', 'pci', 'devices');
  if (!fs.existsSync(devicesDir)) {
    throw new PassthroughError('TOPOLOGY_INVALID', `${devicesDir} does not exist: give the root of a sysfs capture (it holds sys/ and proc/).`);
  }
  const sysDevices = realPath(path.join(root, 'sys', 'devices'), 'the device tree the bus links point into');
  const devices = fs.readdirSync(devicesDir).sort().map((address) => readDevice(path.join(devicesDir, address), address, sysDevices));
  const iommuGroups = new Map<string, string[]>();
  const groupsDir = path.join(root, 'sys', 'kernel', 'iommu_groups');
  if (fs.existsSync(groupsDir)) {
    for (const group of fs.readdirSync(groupsDir)) {
      const members = path.join(groupsDir, group, 'devices');
      iommuGroups.set(group, fs.existsSync(members) ? fs.readdirSync(members).sort() : []);
    }
  }
  const cpuinfo = read(path.join(root, 'proc', 'cpuinfo')) ?? '';
  return {
    devices,
    cmdline: read(path.join(root, 'proc', 'cmdline')) ?? '',
    cpuVendor: /^vendor_id\s*:\s*(\S+)/m.exec(cpuinfo)?.[1],
    iommuGroups,
  };
}

/** A folder's real path; a missing one (a sysfs tree copied in part) is TOPOLOGY_INVALID naming it. */
function realPath(file: string, what: string): string {
  try {
    return fs.realpathSync(file);
  } catch {
    throw new PassthroughError('TOPOLOGY_INVALID', `${excerpt(file, 200)} does not exist (${what}): give the root of a whole sysfs capture (libvirt-passthrough host capture makes one).`);
  }
}

function readDevice(dir: string, address: string, sysDevices: string): HostPciDevice {
  const real = realPath(dir, `where the bus link of ${excerpt(address, 20)} leads`);
  const relative = path.relative(sysDevices, real).split(path.sep).filter((p) => /^pci[0-9a-f]{4}:[0-9a-f]{2}$|^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/.test(p));
  const number = (name: string, fallback: number) => {
    const v = read(path.join(dir, name));
    return v === undefined || v === '' ? fallback : Number(v);
  };
  const configFile = path.join(dir, 'config');
  const device: HostPciDevice = {
    address,
    vendor: number('vendor', 0),
    device: number('device', 0),
    classCode: number('class', 0),
    numaNode: number('numa_node', -1),
    driver: linkName(path.join(dir, 'driver')),
    iommuGroup: linkName(path.join(dir, 'iommu_group')),
    path: relative.length ? relative : [address],
    bar64Sizes: (read(path.join(dir, 'resource')) ?? '')
      .split('\n')
      .slice(0, 6)
      .flatMap((line) => {
        const [start, end, flags] = line.trim().split(/\s+/).map((v) => BigInt(v || 0));
        return end > start && (flags & IORESOURCE_MEM_64) !== 0n ? [Number(end - start + 1n)] : [];
      }),
  };
  const link = readLink(dir);
  if (link) device.link = link;
  // Only a GPU's config space is ever used (the GPUDirect placement); host check reads no other function's.
  if (isNvidiaGpu(device) && fs.existsSync(configFile)) device.config = Uint8Array.from(fs.readFileSync(configFile));
  return device;
}

/** `16.0 GT/s PCIe` and 16; none where the kernel has no link to report (`Unknown`, 0, or no files: conventional PCI). */
function readLink(dir: string): HostPciDevice['link'] {
  const speed = read(path.join(dir, 'current_link_speed'));
  const width = Number(read(path.join(dir, 'current_link_width')));
  if (!speed || /^unknown/i.test(speed) || !Number.isInteger(width) || width <= 0) return undefined;
  return { speed, width };
}

const isHostDevice = (d: unknown): boolean =>
  isObject(d) &&
  typeof d.address === 'string' &&
  ['vendor', 'device', 'classCode'].every((k) => typeof d[k] === 'number') &&
  Array.isArray(d.path) &&
  Array.isArray(d.bar64Sizes);

/** Refuses what is not a HostSnapshot (readHostSnapshot or readHostCapture gives one) with INPUT_INVALID. */
export function requireSnapshot(value: unknown, fn: string, where = 'first'): asserts value is HostSnapshot {
  const ok = isObject(value) && Array.isArray(value.devices) && value.devices.every(isHostDevice) && typeof value.cmdline === 'string' && value.iommuGroups instanceof Map;
  if (!ok) refuseArgument(fn, `a host snapshot ${where} (readHostSnapshot or readHostCapture gives one)`, value);
}

/** An array of HostPciDevice (a snapshot's `devices`). */
export function requireHostDevices(value: unknown, fn: string): asserts value is HostPciDevice[] {
  if (!Array.isArray(value) || !value.every(isHostDevice)) refuseArgument(fn, "an array of host PCI devices (a snapshot's devices)", value);
}

export const isNvidiaGpu = (d: Pick<HostPciDevice, 'vendor' | 'classCode'>) => d.vendor === PCI_VENDOR_NVIDIA && d.classCode >> 16 === 0x03;
export const isBridge = (d: HostPciDevice) => d.classCode >> 16 === 0x06;
/** Network functions (class 02h: Ethernet, InfiniBand…), like each port of a ConnectX card. */
export const isNetwork = (d: Pick<HostPciDevice, 'classCode'>) => d.classCode >> 16 === 0x02;
/** Processing accelerators (class 12h), like the NPU guide's 1eff:1220. */
export const isAccelerator = (d: Pick<HostPciDevice, 'classCode'>) => d.classCode >> 16 === 0x12;

function isNvSwitch(d: HostPciDevice): boolean {
  if (d.vendor !== PCI_VENDOR_NVIDIA || isNvidiaGpu(d)) return false;
  return /NVSwitch/.test(lookupNvidiaDevice({ vendor: d.vendor, device: d.device })?.name ?? '') || d.classCode >> 8 === 0x0680;
}

/** How two devices are connected, derived from their sysfs paths the way `nvidia-smi topo -m` labels it. */
export function sysfsLink(snapshot: HostSnapshot): (a: HostPciDevice, b: HostPciDevice) => Link {
  const nvSwitch = snapshot.devices.some(isNvSwitch);
  return (a, b) => {
    if (nvSwitch) return 'NV';
    if (a.path[0] !== b.path[0]) return a.numaNode >= 0 && a.numaNode === b.numaNode ? 'NODE' : 'SYS';
    let common = 0;
    while (common < Math.min(a.path.length, b.path.length) && a.path[common] === b.path[common]) common++;
    if (common <= 1) return 'PHB';
    // One switch between them (its downstream ports, then the devices): PIX, as nvidia-smi counts a
    // switch as one bridge; deeper trees: PXB.
    return a.path.length - common <= 2 && b.path.length - common <= 2 ? 'PIX' : 'PXB';
  };
}
