import * as fs from 'node:fs';
import * as path from 'node:path';
import { DOMParser } from '@xmldom/xmldom';
import type { PciTree, PciTreeNode } from '../../lib/layout/types';
import { SysfsFunction, treeFromSysfs } from '../../lib/nccl/sysfs-tree';

export const NCCL_FIXTURES = path.join(__dirname, '..', 'nccl-fixtures');
export const readFixture = (name: string) => fs.readFileSync(path.join(NCCL_FIXTURES, name), 'utf8');

/** One element of an NCCL topology file, as a name and its attributes in written order. */
export interface TopoElement {
  name: string;
  attrs: [string, string][];
  depth: number;
}

/** Every element of an NCCL topology file in document order (comments and whitespace dropped). */
export function topoElements(xml: string): TopoElement[] {
  const out: TopoElement[] = [];
  const visit = (el: Element, depth: number) => {
    const attrs: [string, string][] = [];
    for (let i = 0; i < el.attributes.length; i++) attrs.push([el.attributes[i].name, el.attributes[i].value]);
    out.push({ name: el.tagName, attrs, depth });
    for (let c = el.firstChild; c; c = c.nextSibling) if (c.nodeType === 1) visit(c as Element, depth + 1);
  };
  visit(new DOMParser().parseFromString(xml, 'text/xml').documentElement as unknown as Element, 0);
  return out;
}

/**
 * The sysfs-shaped tree an NCCL topology file stands for: each <pci> that holds others is a switch's upstream
 * port, so a downstream port (which NCCL never shows) is put between it and each child, as sysfs has it.
 */
export function treeFromTopoFile(xml: string): PciTree {
  const doc = new DOMParser().parseFromString(xml, 'text/xml');
  const pciChildren = (el: Element) => {
    const out: Element[] = [];
    for (let c = el.firstChild; c; c = c.nextSibling) if (c.nodeType === 1 && (c as Element).tagName === 'pci') out.push(c as Element);
    return out;
  };
  let port = 0;
  const node = (el: Element): PciTreeNode => {
    const get = (name: string) => el.getAttribute(name) || undefined;
    const speed = get('link_speed');
    const width = get('link_width');
    const n: PciTreeNode = { bdf: get('busid')!, classCode: get('class')!, children: [] };
    for (const [key, attr] of [['vendor', 'vendor'], ['device', 'device'], ['subsystemVendor', 'subsystem_vendor'], ['subsystemDevice', 'subsystem_device']] as const) {
      if (get(attr)) n[key] = get(attr);
    }
    if (speed && width) n.link = { speed, width: Number(width) };
    n.children = pciChildren(el).map((child) => ({ bdf: `fffe:00:${(port++).toString(16).padStart(2, '0')}.0`, classCode: '0x060400', children: [node(child)] }));
    return n;
  };
  const cpus = Array.from(doc.getElementsByTagName('cpu')) as unknown as Element[];
  return { cpus: cpus.map((cpu) => ({ numaNode: Number(cpu.getAttribute('numaid')), roots: pciChildren(cpu).map(node) })) };
}

interface OracleDevice {
  class: string;
  vendor: string;
  device: string;
  numaNode: number;
  path: string;
  alias?: string;
  linkSpeed?: string;
  linkWidth?: number;
}

/** The guest oracle's report of one boot (`devices` keyed by BDF) as sysfs functions; stand-ins get the role their alias names. */
export function oracleFunctions(devices: Record<string, OracleDevice>): SysfsFunction[] {
  return Object.entries(devices).map(([address, d]) => ({
    address,
    vendor: parseInt(d.vendor, 16),
    device: parseInt(d.device, 16),
    classCode: parseInt(d.class, 16),
    numaNode: d.numaNode,
    path: d.path.split(' '),
    ...(d.alias ? { alias: d.alias } : {}),
    // Stand-ins are e1000e NICs; the alias says what they stand in for (hostdev0 in (d) is the GPU its
    // x-nv-gpudirect-clique names). Everything else is QEMU's own.
    role: /nic/.test(d.alias ?? '') ? ('nic' as const) : /gpu|hostdev/.test(d.alias ?? '') ? ('gpu' as const) : ('other' as const),
    ...(d.linkSpeed && d.linkWidth ? { link: { speed: d.linkSpeed, width: d.linkWidth } } : {}),
  }));
}

export function oracleTree(fixture: string): PciTree {
  const report = JSON.parse(readFixture('guest-oracle-expected.json'))[fixture];
  return treeFromSysfs(oracleFunctions(report.devices));
}
