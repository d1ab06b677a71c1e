import type { XmlElement } from '../load/element';
import { textContent } from '../load/element';
import { LocatedDocument } from '../load/load';
import { PciAddress, formatPciAddress, pciAddressFromAttributes } from '../pci/address';
import { PASSTHROUGH_NS, QEMU_NS, attr, child, isPlain, isQemu } from './xml';

/** A PCI host device the domain already has (`<hostdev mode='subsystem' type='pci'>` or `<interface type='hostdev'>`). */
export interface ExistingHostdev {
  kind: 'hostdev' | 'interface';
  source: PciAddress;
  sourceKey: string;
  alias?: string;
  managed: boolean;
  guestAddress?: PciAddress;
  romBar?: string;
  romFile?: string;
  bootOrder?: number;
  element: XmlElement;
}

export interface CliqueSetting {
  alias: string;
  clique: string;
  /** How the domain configures it. */
  via: 'override' | 'commandline';
  element: XmlElement;
}

export interface MetadataGpu {
  alias: string;
  address?: string;
  clique: number;
  architecture?: string;
  offset?: number;
}

/** What the rest of the pipeline needs to know about a domain, read once. */
export interface DomainFacts {
  doc: LocatedDocument;
  root: XmlElement;
  domainType?: string;
  machine?: string;
  arch?: string;
  osType?: XmlElement;
  os?: XmlElement;
  /** `<os><boot dev=…>`: libvirt then refuses per-device `<boot order>`. */
  osBoot?: XmlElement;
  /** Per-device boot orders in use. */
  bootOrders: Map<number, XmlElement>;
  devices?: XmlElement;
  deviceElements: XmlElement[];
  hostdevs: ExistingHostdev[];
  /** Every device alias, with the device element that carries it. */
  aliases: Map<string, XmlElement>;
  /** Guest PCI addresses in use (canonical text), with the device element. */
  guestAddresses: Map<string, XmlElement>;
  /** Prefix bound to the qemu namespace on the root element, if any. */
  qemuPrefixOnRoot?: string;
  /** Prefixes declared on the root element (any namespace). */
  rootPrefixes: Map<string, string>;
  qemuOverride?: XmlElement;
  overrideDevices: Map<string, XmlElement>;
  qemuCommandline?: XmlElement;
  commandlineArgs: { value: string; element: XmlElement }[];
  cliques: Map<string, CliqueSetting>;
  metadata?: XmlElement;
  ourMetadata?: XmlElement;
  metadataGpus: MetadataGpu[];
  /** What the library created or opened in this domain, as structure tokens (lib/edit/structure.ts), so that removal can undo exactly that. */
  metadataCreated: string[];
  /** What the library added inside what the user wrote (lib/edit/added.ts); undefined: a record of the first releases, which wrote no such list. */
  metadataAdded?: string[];
  /** Other children of the library's record (parts other modules write, `<passthrough:layout>`), kept as they are. */
  metadataParts: { name: string; element: XmlElement }[];
  hidesKvm: boolean;
  /** `<controller type='pci' model='pcie-root'>`, and its `<pcihole64>` in bytes when set. */
  pcieRoot?: XmlElement;
  pcihole64?: { bytes: number; element: XmlElement };
  /** The guest boots OVMF (UEFI), whose 64-bit MMIO window is set by `-fw_cfg opt/ovmf/X-PciMmio64Mb`. */
  usesOvmf: boolean;
  ovmfMmio64Mb?: { value: number; element: XmlElement };
  /** The MMIO window the library recorded in its metadata, in GiB. */
  metadataMmioGiB?: number;
  quote: "'" | '"';
  newline: string;
}

export function readDomainFacts(doc: LocatedDocument): DomainFacts {
  const root = doc.root;
  const facts: DomainFacts = {
    doc,
    root,
    domainType: attr(root, 'type'),
    deviceElements: [],
    hostdevs: [],
    aliases: new Map(),
    guestAddresses: new Map(),
    bootOrders: new Map(),
    rootPrefixes: rootPrefixes(root),
    overrideDevices: new Map(),
    commandlineArgs: [],
    cliques: new Map(),
    metadataGpus: [],
    metadataCreated: [],
    metadataParts: [],
    hidesKvm: false,
    usesOvmf: false,
    quote: "'",
    newline: /\r\n/.test(doc.body.slice(0, doc.body.indexOf('\n') + 1)) ? '\r\n' : '\n',
  };
  for (const [prefix, uri] of facts.rootPrefixes) if (uri === QEMU_NS && facts.qemuPrefixOnRoot === undefined) facts.qemuPrefixOnRoot = prefix;
  for (const el of root.children) readTopLevel(facts, el);
  facts.quote = quoteStyle(facts);
  return facts;
}

function readTopLevel(facts: DomainFacts, el: XmlElement): void {
  if (isPlain(el, 'os')) readOs(facts, el);
  else if (isPlain(el, 'devices')) readDevices(facts, el);
  else if (isPlain(el, 'features')) facts.hidesKvm ||= attr(child(child(el, 'kvm') ?? el, 'hidden'), 'state') === 'on';
  else if (isPlain(el, 'metadata')) readMetadata(facts, el);
  else if (isQemu(el, 'override')) readOverride(facts, el);
  else if (isQemu(el, 'commandline')) readCommandline(facts, el);
}

function readOs(facts: DomainFacts, os: XmlElement): void {
  facts.os = os;
  facts.osBoot = child(os, 'boot');
  const loader = child(os, 'loader');
  facts.usesOvmf = attr(os, 'firmware') === 'efi' || /ovmf|edk2|efi/i.test(loader ? textContent(facts.doc.body, loader) : '');
  const type = child(os, 'type');
  if (!type) return;
  facts.osType = type;
  facts.machine = attr(type, 'machine');
  facts.arch = attr(type, 'arch');
}

function readDevices(facts: DomainFacts, devices: XmlElement): void {
  facts.devices ??= devices;
  for (const device of devices.children) {
    facts.deviceElements.push(device);
    const alias = attr(child(device, 'alias'), 'name');
    if (alias !== undefined) facts.aliases.set(alias, device);
    const guest = child(device, 'address');
    if (guest && attr(guest, 'type') === 'pci') {
      const address = pciAddressFromAttributes((n) => guest.getAttribute(n));
      if (address && !isZero(address)) facts.guestAddresses.set(formatPciAddress(address), device);
    }
    if (isPlain(device, 'controller') && attr(device, 'type') === 'pci' && attr(device, 'model') === 'pcie-root') readPcieRoot(facts, device);
    const order = Number(attr(child(device, 'boot'), 'order'));
    if (Number.isInteger(order)) facts.bootOrders.set(order, device);
    const hostdev = readHostdev(device, alias);
    if (hostdev) facts.hostdevs.push(hostdev);
  }
}

const UNITS: Record<string, number> = { b: 1, bytes: 1, k: 1024, kib: 1024, kb: 1000, m: 1024 ** 2, mib: 1024 ** 2, mb: 1e6, g: 1024 ** 3, gib: 1024 ** 3, gb: 1e9, t: 1024 ** 4, tib: 1024 ** 4, tb: 1e12 };

function readPcieRoot(facts: DomainFacts, controller: XmlElement): void {
  facts.pcieRoot ??= controller;
  const hole = child(controller, 'pcihole64');
  if (!hole) return;
  const unit = UNITS[(attr(hole, 'unit') ?? 'KiB').toLowerCase()] ?? 1024;
  facts.pcihole64 = { bytes: Number(textContent(facts.doc.body, hole).trim()) * unit, element: hole };
}

function isZero(a: PciAddress): boolean {
  return a.domain === 0 && a.bus === 0 && a.slot === 0 && a.function === 0;
}

function readHostdev(device: XmlElement, alias: string | undefined): ExistingHostdev | undefined {
  const isPciHostdev = isPlain(device, 'hostdev') && attr(device, 'type') === 'pci' && attr(device, 'mode') !== 'capabilities';
  const isHostdevInterface = isPlain(device, 'interface') && attr(device, 'type') === 'hostdev';
  if (!isPciHostdev && !isHostdevInterface) return undefined;
  const sourceAddress = child(child(device, 'source') ?? device, 'address');
  if (!sourceAddress || (isHostdevInterface && attr(sourceAddress, 'type') !== 'pci')) return undefined;
  const source = pciAddressFromAttributes((n) => sourceAddress.getAttribute(n));
  if (!source) return undefined;
  const guest = child(device, 'address');
  const guestAddress = guest && attr(guest, 'type') === 'pci' ? pciAddressFromAttributes((n) => guest.getAttribute(n)) : undefined;
  const rom = child(device, 'rom');
  const boot = attr(child(device, 'boot'), 'order');
  return {
    kind: isPciHostdev ? 'hostdev' : 'interface',
    source,
    sourceKey: formatPciAddress(source),
    alias,
    managed: attr(device, 'managed') === 'yes',
    guestAddress: guestAddress && !isZero(guestAddress) ? guestAddress : undefined,
    romBar: attr(rom, 'bar'),
    romFile: attr(rom, 'file'),
    bootOrder: boot === undefined ? undefined : Number(boot),
    element: device,
  };
}

function readMetadata(facts: DomainFacts, metadata: XmlElement): void {
  facts.metadata ??= metadata;
  for (const el of metadata.children) {
    if (el.namespaceURI !== PASSTHROUGH_NS || el.localName !== 'gpudirect') continue;
    facts.ourMetadata = el;
    facts.metadataCreated = (attr(el, 'created') ?? '').split(/\s+/).filter(Boolean);
    const addedList = attr(el, 'added');
    facts.metadataAdded = addedList === undefined ? undefined : addedList.split(/\s+/).filter(Boolean);
    for (const gpu of el.children) {
      const ours = gpu.namespaceURI === PASSTHROUGH_NS;
      if (ours && gpu.localName === 'mmio') facts.metadataMmioGiB = Number(attr(gpu, 'window64GiB'));
      else if (!ours || gpu.localName !== 'gpu') facts.metadataParts.push({ name: gpu.localName, element: gpu });
      if (!ours || gpu.localName !== 'gpu') continue;
      const clique = Number(attr(gpu, 'clique'));
      const alias = attr(gpu, 'alias');
      if (!alias || !Number.isInteger(clique)) continue;
      const offset = attr(gpu, 'offset');
      facts.metadataGpus.push({
        alias,
        clique,
        address: attr(gpu, 'address'),
        architecture: attr(gpu, 'architecture'),
        offset: offset === undefined ? undefined : parseInt(offset, 16),
      });
    }
  }
}

const CLIQUE_PROPERTY = 'x-nv-gpudirect-clique';

function readOverride(facts: DomainFacts, override: XmlElement): void {
  facts.qemuOverride ??= override;
  for (const device of override.children) {
    if (!isQemu(device, 'device')) continue;
    const alias = attr(device, 'alias');
    if (alias === undefined) continue;
    if (!facts.overrideDevices.has(alias)) facts.overrideDevices.set(alias, device);
    for (const frontend of device.children) {
      if (!isQemu(frontend, 'frontend')) continue;
      for (const property of frontend.children) {
        if (isQemu(property, 'property') && attr(property, 'name') === CLIQUE_PROPERTY && attr(property, 'type') !== 'remove') {
          facts.cliques.set(alias, { alias, clique: attr(property, 'value') ?? '', via: 'override', element: property });
        }
      }
    }
  }
}

function readCommandline(facts: DomainFacts, commandline: XmlElement): void {
  facts.qemuCommandline ??= commandline;
  const args = commandline.children.filter((a) => isQemu(a, 'arg'));
  args.forEach((arg, i) => {
    const value = attr(arg, 'value') ?? '';
    facts.commandlineArgs.push({ value, element: arg });
    if (/(^|,)kvm=off(,|$)/.test(value) && attr(args[i - 1], 'value') === '-cpu') facts.hidesKvm = true;
    const mmio = /^name=opt\/ovmf\/X-PciMmio64Mb,string=(\d+)$/.exec(value);
    if (mmio && attr(args[i - 1], 'value') === '-fw_cfg') facts.ovmfMmio64Mb = { value: Number(mmio[1]), element: arg };
    const set = /^device\.([^.]+)\.x-nv-gpudirect-clique=(.*)$/.exec(value);
    if (set && attr(args[i - 1], 'value') === '-set') {
      facts.cliques.set(set[1], { alias: set[1], clique: set[2], via: 'commandline', element: arg });
    }
  });
}

function rootPrefixes(root: XmlElement): Map<string, string> {
  const prefixes = new Map<string, string>();
  const pairs = root.attributePairs;
  for (let i = 0; i < pairs.length; i += 2) if (pairs[i].startsWith('xmlns:')) prefixes.set(pairs[i].slice(6), pairs[i + 1]);
  return prefixes;
}

/** The quote character the document uses, judged from the start tag of `<os><type>` or the root. */
function quoteStyle(facts: DomainFacts): "'" | '"' {
  for (const el of [facts.osType, facts.devices ? firstChildWithAttributes(facts.devices) : undefined, facts.root]) {
    if (!el || el.attributeCount === 0) continue;
    const tag = facts.doc.body.slice(el.start, el.end);
    const m = /=\s*(["'])/.exec(tag);
    if (m) return m[1] as "'" | '"';
  }
  return "'";
}

function firstChildWithAttributes(parent: XmlElement): XmlElement | undefined {
  for (const el of parent.children) if (el.attributeCount > 0) return el;
  return undefined;
}

export function positionOf(facts: DomainFacts, element: XmlElement): { line: number; column: number } {
  return facts.doc.lines.positionOf(element.start);
}
