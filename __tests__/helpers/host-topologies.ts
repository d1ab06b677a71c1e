import * as fs from 'node:fs';
import * as path from 'node:path';
import { DOMParser } from '@xmldom/xmldom';
import { REPO } from './paths';
import { BRIDGE, FakeDevice } from './sysfs';

// Turns the real host listings kept verbatim in __tests__/host-fixtures (see its README) into fake sysfs trees:
// `lspci -tv` gives the tree, the README says where NUMA nodes, classes and links come from.

const fixture = (f: string) => fs.readFileSync(path.join(REPO, '__tests__', 'host-fixtures', f), 'utf8');

/** What a leaf function is, from its `lspci -tv` description (vendor IDs from pci.ids). */
export type Describe = (description: string, address: string) => Partial<FakeDevice>;

interface BusContext {
  domain: string;
  bus: string;
  path: string[];
}

/**
 * Parses `lspci -tv`: each function's sysfs path (host bridge, bridges above it, itself). A bus's children start in
 * one column; a bridge's secondary bus (`-[61-73]`) holds what follows it on its line and below in that column.
 */
export function parseLspciTree(text: string, describe: Describe, numaOf: (rootBus: string) => number): FakeDevice[] {
  const devices: FakeDevice[] = [];
  const columns = new Map<number, BusContext>();
  const token = /\[([0-9a-f]{4}):([0-9a-f]{2})\]|([0-9a-f]{2}\.[0-7])(?:-\[([0-9a-f]{2})(?:-[0-9a-f]{2})?\])?(?: {2}(.*))?/g;
  let rootBus = '';
  for (const line of text.split('\n')) {
    let pending: BusContext | undefined;
    for (const m of line.matchAll(token)) {
      if (m[1]) {
        rootBus = m[2];
        pending = { domain: m[1], bus: m[2], path: [`pci${m[1]}:${m[2]}`] };
        continue;
      }
      const column = m.index!;
      if (pending) columns.set(column, pending);
      const parent = columns.get(column);
      if (!parent) throw new Error(`lspci -tv: no bus for column ${column} in: ${line}`);
      const address = `${parent.domain}:${parent.bus}:${m[3]}`;
      const devicePath = [...parent.path, address];
      const secondary = m[4];
      devices.push(
        secondary
          ? { path: devicePath, vendor: 0, device: 0, classCode: BRIDGE, numa: numaOf(rootBus) }
          : { path: devicePath, vendor: 0, device: 0, classCode: 0, numa: numaOf(rootBus), ...describe(m[5] ?? '', address) },
      );
      pending = secondary ? { domain: parent.domain, bus: secondary, path: devicePath } : undefined;
      if (m[5] !== undefined) break; // the rest of the line is the description
    }
  }
  shareLinks(devices);
  return devices;
}

/** A port and the function below it share one link: a port whose only child reports a link reports the same one. */
function shareLinks(devices: FakeDevice[]): void {
  for (const port of devices.filter((d) => d.classCode === BRIDGE && !d.link)) {
    const below = devices.filter((d) => d.path.length === port.path.length + 1 && d.path[port.path.length - 1] === port.path[port.path.length - 1]);
    const link = below.find((d) => d.link)?.link;
    if (link && new Set(below.map((d) => d.path[d.path.length - 1].slice(0, -2))).size === 1) port.link = { ...link };
  }
}

/** hwloc XML (lstopo --of xml): every Bridge and PCIDev with its sysfs path; NUMA node from the Package it sits in. */
export function parseHwlocXml(text: string): FakeDevice[] {
  const doc = new DOMParser().parseFromString(text, 'text/xml');
  const devices: FakeDevice[] = [];
  const objects = (el: Element) => Array.from(el.childNodes).filter((n): n is Element => n.nodeType === 1 && (n as Element).tagName === 'object');
  const walk = (el: Element, parentPath: string[], numa: number) => {
    for (const child of objects(el)) {
      const type = child.getAttribute('type');
      if (type === 'Package') {
        const node = objects(child).find((o) => o.getAttribute('type') === 'NUMANode');
        walk(child, parentPath, Number(node?.getAttribute('os_index') ?? -1));
      } else if (type === 'Bridge' && child.getAttribute('bridge_type') === '0-1') {
        const [, domain, bus] = /^([0-9a-f]{4}):\[([0-9a-f]{2})-/.exec(child.getAttribute('bridge_pci') ?? '')!;
        walk(child, [`pci${domain}:${bus}`], numa);
      } else if (type === 'Bridge' || type === 'PCIDev') {
        const address = child.getAttribute('pci_busid')!;
        const [, cls, vendor, device] = /^([0-9a-f]{4}) \[([0-9a-f]{4}):([0-9a-f]{4})\]/.exec(child.getAttribute('pci_type')!)!;
        const devicePath = [...parentPath, address];
        devices.push({ path: devicePath, vendor: parseInt(vendor, 16), device: parseInt(device, 16), classCode: parseInt(cls, 16) << 8, numa });
        walk(child, devicePath, numa);
      } else walk(child, parentPath, numa);
    }
  };
  walk(doc.documentElement as unknown as Element, [], -1);
  return devices;
}

/**
 * An NCCL/RCCL topology dump (NCCL_TOPO_DUMP_FILE) as a sysfs tree. NCCL keeps every other level (a device's parent
 * is two path components up), so the levels it skips are made up here: a root port `0000:BB:01.1` on host bridge
 * `pci0000:BB` (BB = the top bridge's bus - 1) above each top-level element, and a downstream port on a bridge's
 * secondary bus (its bus + 1, slot = the child's position in bus order) above each child; each shares its child's link.
 */
export function parseNcclTopo(text: string): FakeDevice[] {
  const doc = new DOMParser().parseFromString(text, 'text/xml');
  const devices: FakeDevice[] = [];
  const elements = (el: Element, tag: string) => Array.from(el.childNodes).filter((n): n is Element => n.nodeType === 1 && (n as Element).tagName === tag);
  const bus = (busid: string) => parseInt(busid.split(':')[1], 16);
  const hex = (n: number, w = 2) => n.toString(16).padStart(w, '0');
  const add = (el: Element, parentPath: string[], numa: number) => {
    const link = { speed: el.getAttribute('link_speed')!, width: Number(el.getAttribute('link_width')) };
    const devicePath = [...parentPath, el.getAttribute('busid')!];
    devices.push({ path: devicePath, vendor: Number(el.getAttribute('vendor')), device: Number(el.getAttribute('device')), classCode: Number(el.getAttribute('class')), numa, link });
    const children = elements(el, 'pci').sort((a, b) => bus(a.getAttribute('busid')!) - bus(b.getAttribute('busid')!));
    children.forEach((child, i) => {
      const down = `0000:${hex(bus(devicePath[devicePath.length - 1]) + 1)}:${hex(i)}.0`;
      devices.push({ path: [...devicePath, down], vendor: 0, device: 0, classCode: BRIDGE, numa, link });
      add(child, [...devicePath, down], numa);
    });
  };
  for (const cpu of elements(doc.documentElement as unknown as Element, 'cpu')) {
    const numa = Number(cpu.getAttribute('numaid'));
    for (const top of elements(cpu, 'pci')) {
      const root = hex(bus(top.getAttribute('busid')!) - 1);
      const link = { speed: top.getAttribute('link_speed')!, width: Number(top.getAttribute('link_width')) };
      devices.push({ path: [`pci0000:${root}`, `0000:${root}:01.1`], vendor: 0x1022, device: 0, classCode: BRIDGE, numa, link });
      add(top, [`pci0000:${root}`, `0000:${root}:01.1`], numa);
    }
  }
  return devices;
}

const VENDORS: [RegExp, number][] = [
  [/^NVIDIA/, 0x10de],
  [/^Mellanox/, 0x15b3],
  [/^Intel/, 0x8086],
  [/^Advanced Micro Devices/, 0x1022],
  [/^Samsung/, 0x144d],
  [/^HighPoint/, 0x1103],
  [/^ASPEED/, 0x1a03],
];

/** Classes of the ASUS listing's functions, as its `lspci -vvv` lines name them (VGA, Ethernet, RAID), and pci.ids IDs. */
const ASUS_FUNCTIONS: [RegExp, Partial<FakeDevice>][] = [
  [/AD102GL \[RTX 6000 Ada Generation\]/, { device: 0x26b1, classCode: 0x030000, link: { speed: '2.5 GT/s PCIe', width: 16 } }],
  [/High Definition Audio Controller/, { device: 0x22ba, classCode: 0x040300 }],
  [/MT2910 Family \[ConnectX-7\]/, { device: 0x1021, classCode: 0x020000, link: { speed: '32.0 GT/s PCIe', width: 16 } }],
  [/Ethernet Controller X710/, { device: 0x15ff, classCode: 0x020000 }],
  [/NVMe SSD Controller/, { classCode: 0x010802 }],
  [/SSD7540.*RAID Controller/, { classCode: 0x010400, link: { speed: '5.0 GT/s PCIe', width: 1 } }],
  [/ASPEED Graphics/, { classCode: 0x030000 }],
];

export function describeAsus(description: string): Partial<FakeDevice> {
  const vendor = VENDORS.find(([re]) => re.test(description))?.[1] ?? 0;
  const known = ASUS_FUNCTIONS.find(([re]) => re.test(description))?.[1] ?? {};
  return { vendor, ...known };
}

/** ASUS ESC8000A-E12: 2 sockets, 4 RTX 6000 Ada on root ports, 2 dual-port ConnectX-7; root buses 00-60 on node 0, 80-e0 on node 1. */
export const asusEsc8000aE12 = (): FakeDevice[] =>
  parseLspciTree(fixture('asus-esc8000a-e12.lspci-tv.txt'), describeAsus, (bus) => (parseInt(bus, 16) < 0x80 ? 0 : 1));

/** An HGX A100 server (NCCL's dump, aliyun/SimAI): 2 sockets, 8 A100-SXM4-80GB below two levels of Broadcom switches and the board's bridge, ConnectX-6 Dx NICs beside them. */
export const hgxA100 = (): FakeDevice[] => parseNcclTopo(fixture('hgx-a100-8gpu.topo.xml'));

/** An 8-accelerator server (RCCL's dump, ROCm/rccl#1185): two levels of Broadcom switches, a ConnectX-7 beside GPUs 3 and 6. */
export const rccl8gpu2switch = (): FakeDevice[] => parseNcclTopo(fixture('rccl-8gpu-2switch.topo.xml'));

/** NVIDIA DGX-2H (hwloc's test topology): 2 sockets, 16 V100 behind two levels of PLX switches, 12 NVSwitches. */
export const nvidiaDgx2h = (): FakeDevice[] => parseHwlocXml(fixture('nvidia-dgx2h.hwloc.xml'));
