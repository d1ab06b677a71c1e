import type { XmlElement } from '../load/element';
import { textContent } from '../load/element';
import { PciAddress, pciAddressFromAttributes } from '../pci/address';
import { DomainFacts } from './facts';
import { attr, child, isPlain } from './xml';

/** A `<controller type='pci'>` as libvirt reads it: its index, model and where it sits. */
export interface PciControllerFact {
  element: XmlElement;
  index: number;
  model?: string;
  /** `<model name='pxb-pcie'/>`. */
  modelName?: string;
  address?: PciAddress;
  multifunction: boolean;
  busNr?: number;
  node?: number;
  chassis?: number;
  port?: number;
}

export interface NumaCellFact {
  element: XmlElement;
  id: number;
}

/** A device (controllers included) with an explicit PCI address. */
export interface AddressedDevice {
  element: XmlElement;
  address: PciAddress;
}

/** What the guest layout needs of a domain: ACPI, the CPU and its NUMA cells, vCPUs, memory, PCI controllers. */
export interface LayoutFacts {
  features?: XmlElement;
  acpi: boolean;
  cpu?: XmlElement;
  numa?: XmlElement;
  cells: NumaCellFact[];
  vcpus?: number;
  vcpuElement?: XmlElement;
  memoryKiB?: number;
  controllers: PciControllerFact[];
  addressed: AddressedDevice[];
}

export function readLayoutFacts(facts: DomainFacts): LayoutFacts {
  const root = facts.root;
  const body = facts.doc.body;
  const features = child(root, 'features');
  const cpu = child(root, 'cpu');
  const numa = cpu && child(cpu, 'numa');
  const vcpuElement = child(root, 'vcpu');
  const vcpus = vcpuElement ? Number(textContent(body, vcpuElement).trim()) : undefined;
  const memory = child(root, 'memory');
  const out: LayoutFacts = {
    features,
    acpi: !!features && !!child(features, 'acpi'),
    cpu,
    numa,
    cells: numa ? numa.children.filter((c) => isPlain(c, 'cell')).map((element) => ({ element, id: Number(attr(element, 'id')) })) : [],
    vcpus: Number.isInteger(vcpus) ? vcpus : undefined,
    vcpuElement,
    memoryKiB: memory ? toKiB(textContent(body, memory).trim(), attr(memory, 'unit')) : undefined,
    controllers: [],
    addressed: [],
  };
  for (const device of facts.deviceElements) {
    const address = pciAddressOf(device);
    if (address) out.addressed.push({ element: device, address });
    if (isPlain(device, 'controller') && attr(device, 'type') === 'pci') out.controllers.push(readController(body, device, address));
  }
  return out;
}

function readController(body: string, element: XmlElement, address: PciAddress | undefined): PciControllerFact {
  const target = child(element, 'target');
  const node = target && child(target, 'node');
  const number = (value: string | undefined) => (value === undefined || value.trim() === '' ? undefined : Number(value));
  return {
    element,
    index: Number(attr(element, 'index')),
    model: attr(element, 'model'),
    modelName: attr(child(element, 'model'), 'name'),
    address,
    multifunction: attr(child(element, 'address'), 'multifunction') === 'on',
    busNr: number(attr(target, 'busNr')),
    node: node ? number(textContent(body, node)) : undefined,
    chassis: number(attr(target, 'chassis')),
    port: number(attr(target, 'port')),
  };
}

function pciAddressOf(device: XmlElement): PciAddress | undefined {
  const address = child(device, 'address');
  if (!address || attr(address, 'type') !== 'pci') return undefined;
  return pciAddressFromAttributes((n) => address.getAttribute(n));
}

const KIB: Record<string, number> = { b: 1 / 1024, bytes: 1 / 1024, k: 1, kib: 1, kb: 1000 / 1024, m: 1024, mib: 1024, mb: 1e6 / 1024, g: 1024 ** 2, gib: 1024 ** 2, gb: 1e9 / 1024, t: 1024 ** 3, tib: 1024 ** 3, tb: 1e12 / 1024 };

/** libvirt's memory value in KiB (its default unit), or undefined when unreadable. */
export function toKiB(value: string, unit: string | undefined): number | undefined {
  const factor = KIB[(unit ?? 'KiB').toLowerCase()];
  const n = Number(value);
  if (factor === undefined || !/^\d+$/.test(value)) return undefined;
  return Math.ceil(n * factor);
}
