'use strict';
// Domains built from code with xmlbuilder2 (issue 17): the benchmark's deterministic q35 domains of a given size,
// and the property tests' random ones (__tests__/properties.test.ts draws a spec, buildDomain builds it). Built as
// a tree and serialised with wellFormed checks, they are well-formed by construction; the document style
// (indentation, line ends, quote character) is applied after, as a separate step.
const { create } = require('xmlbuilder2');

const QEMU_NS = 'http://libvirt.org/schemas/domain/qemu/1.0';

function hex(n, w) {
  return n.toString(16).padStart(w, '0');
}

function pciAddress(parent, a, extra = {}) {
  parent.ele('address', { ...extra, domain: `0x${hex(a.domain ?? 0, 4)}`, bus: `0x${hex(a.bus, 2)}`, slot: `0x${hex(a.slot, 2)}`, function: `0x${a.function.toString(16)}` });
}

/**
 * One device element under `devices`, by kind. `d.i` numbers it (names, MACs, buses); hostdevs carry
 * `d.source` and optionally `d.alias` / `d.guest`.
 */
function addDevice(devices, d) {
  const i = d.i;
  const bus = 1 + (i % 250);
  switch (d.kind) {
    case 'emulator':
      return devices.ele('emulator').txt('/usr/bin/qemu-system-x86_64');
    case 'disk': {
      const disk = devices.ele('disk', { type: 'file', device: 'disk' });
      disk.ele('driver', { name: 'qemu', type: 'qcow2', discard: 'unmap' });
      disk.ele('source', { file: `/var/lib/libvirt/images/${d.image ?? 'vm'}-${i}.qcow2`, index: i + 1 });
      disk.ele('backingStore');
      disk.ele('target', { dev: `vd${i}`, bus: 'virtio' });
      disk.ele('alias', { name: `virtio-disk${i}` });
      return pciAddress(disk, { bus, slot: 0, function: 0 }, { type: 'pci' });
    }
    case 'root-port': {
      const c = devices.ele('controller', { type: 'pci', index: i + 1, model: 'pcie-root-port' });
      c.ele('model', { name: 'pcie-root-port' });
      c.ele('target', { chassis: i + 1, port: `0x${hex(0x10 + (i % 200), 2)}` });
      c.ele('alias', { name: `pci.${i + 1}` });
      return pciAddress(c, { bus: 0, slot: 2, function: i % 8 }, { type: 'pci' });
    }
    case 'usb':
      return devices.ele('controller', { type: 'usb', index: 0, model: 'qemu-xhci', ports: 15 });
    case 'interface': {
      const nic = devices.ele('interface', { type: 'network' });
      nic.ele('mac', { address: `52:54:00:${hex((i >> 16) & 0xff, 2)}:${hex((i >> 8) & 0xff, 2)}:${hex(i & 0xff, 2)}` });
      nic.ele('source', { network: 'default', portid: `0b6e6d8e-${hex(i & 0xffff, 4)}-4e1d-9b7c-2f6c1f4b5a3d`, bridge: 'virbr0' });
      nic.ele('target', { dev: `vnet${i}` });
      nic.ele('model', { type: 'virtio' });
      nic.ele('alias', { name: `net${i}` });
      return pciAddress(nic, { bus, slot: 1, function: 0 }, { type: 'pci' });
    }
    case 'serial': {
      const s = devices.ele('serial', { type: 'pty' });
      return s.ele('target', { type: 'isa-serial', port: 0 }).ele('model', { name: 'isa-serial' });
    }
    case 'input':
      return devices.ele('input', { type: 'tablet', bus: 'usb' });
    case 'graphics':
      return devices.ele('graphics', { type: 'vnc', port: -1, autoport: 'yes' }).ele('listen', { type: 'address' });
    case 'video':
      return devices.ele('video').ele('model', { type: 'virtio', heads: 1, primary: 'yes' });
    case 'hostdev': {
      const h = devices.ele('hostdev', { mode: 'subsystem', type: 'pci', managed: 'yes' });
      pciAddress(h.ele('source'), d.source);
      if (d.alias) h.ele('alias', { name: d.alias });
      if (d.guest) pciAddress(h, d.guest, { type: 'pci' });
      return h;
    }
    case 'watchdog':
      return devices.ele('watchdog', { model: 'itco', action: 'reset' });
    case 'rng':
      return devices.ele('rng', { model: 'virtio' }).ele('backend', { model: 'random' }).txt('/dev/urandom');
    case 'memballoon': {
      const m = devices.ele('memballoon', { model: 'virtio' });
      m.ele('alias', { name: 'balloon0' });
      return pciAddress(m, { bus: 5, slot: 0, function: 0 }, { type: 'pci' });
    }
    default:
      throw new Error(`unknown device kind ${d.kind}`);
  }
}

/**
 * A q35 domain from a spec:
 *   { name, machine, firmware?: 'efi' | 'ovmf-loader', hiddenKvm?, description? (CDATA), comments? (strings),
 *     id?, running? (currentMemory, resource, nvram, vmport, cpu, clock, lifecycle: what dumpxml of a running domain shows),
 *     rootQemuPrefix? (xmlns declared on the root), foreignMetadata?, devices: 'none' | [{kind, i, …}],
 *     commandline?: { prefix, declareOnItself, args: [] }, override?: { prefix, declareOnItself, alias } }
 * Comments go after the name, inside <devices> (first) and before </domain>.
 */
function buildDomain(spec) {
  const rootAttrs = spec.id === undefined ? { type: 'kvm' } : { type: 'kvm', id: spec.id };
  if (spec.rootQemuPrefix) rootAttrs[`xmlns:${spec.rootQemuPrefix}`] = QEMU_NS;
  const root = create().ele('domain', rootAttrs);
  const comments = spec.comments ?? [];
  root.ele('name').txt(spec.name);
  if (comments[0] !== undefined) root.com(comments[0]);
  if (spec.uuid) root.ele('uuid').txt(spec.uuid);
  if (spec.description !== undefined) root.ele('description').dat(spec.description);
  if (spec.foreignMetadata) {
    root.ele('metadata').ele('http://libosinfo.org/xmlns/libvirt/domain/1.0', 'libosinfo:libosinfo').ele('libosinfo:os', { id: 'http://ubuntu.com/ubuntu/22.04' });
  }
  root.ele('memory', { unit: 'KiB' }).txt(String(spec.memoryKiB ?? 8388608));
  if (spec.running) root.ele('currentMemory', { unit: 'KiB' }).txt(String(spec.memoryKiB ?? 8388608));
  root.ele('vcpu', { placement: 'static' }).txt(String(spec.vcpus ?? 4));
  if (spec.running) root.ele('resource').ele('partition').txt('/machine');
  const os = root.ele('os', spec.firmware === 'efi' ? { firmware: 'efi' } : {});
  os.ele('type', { arch: 'x86_64', machine: spec.machine }).txt('hvm');
  if (spec.firmware === 'ovmf-loader') os.ele('loader', { readonly: 'yes', type: 'pflash' }).txt('/usr/share/OVMF/OVMF_CODE_4M.fd');
  if (spec.firmware === 'ovmf-loader' && spec.running) os.ele('nvram').txt(`/var/lib/libvirt/qemu/nvram/${spec.name}_VARS.fd`);
  const features = root.ele('features');
  features.ele('acpi');
  features.ele('apic');
  if (spec.running) features.ele('vmport', { state: 'off' });
  if (spec.hiddenKvm) features.ele('kvm').ele('hidden', { state: 'on' });
  if (spec.running) addRunningDetails(root);
  if (spec.devices !== 'none') {
    const devices = root.ele('devices');
    if (comments[1] !== undefined && spec.devices.length > 0) devices.com(comments[1]);
    for (const d of spec.devices) addDevice(devices, d);
  }
  if (spec.commandline) addCommandline(root, spec.commandline);
  if (spec.override) addOverride(root, spec.override);
  if (comments[2] !== undefined) root.com(comments[2]);
  return root;
}

/** What `virsh dumpxml` of a running domain also shows: CPU, clock, lifecycle actions. */
function addRunningDetails(root) {
  root.ele('cpu', { mode: 'host-passthrough', check: 'none', migratable: 'on' }).ele('topology', { sockets: 1, dies: 1, cores: 8, threads: 2 });
  const clock = root.ele('clock', { offset: 'utc' });
  clock.ele('timer', { name: 'rtc', tickpolicy: 'catchup' });
  clock.ele('timer', { name: 'pit', tickpolicy: 'delay' });
  clock.ele('timer', { name: 'hpet', present: 'no' });
  root.ele('on_poweroff').txt('destroy');
  root.ele('on_reboot').txt('restart');
  root.ele('on_crash').txt('destroy');
}

function addCommandline(root, { prefix, declareOnItself, args }) {
  const commandline = root.ele(QEMU_NS, `${prefix}:commandline`, declareOnItself ? { [`xmlns:${prefix}`]: QEMU_NS } : {});
  for (const value of args) commandline.ele(QEMU_NS, `${prefix}:arg`, { value });
}

function addOverride(root, { prefix, declareOnItself, alias }) {
  const override = root.ele(QEMU_NS, `${prefix}:override`, declareOnItself ? { [`xmlns:${prefix}`]: QEMU_NS } : {});
  const property = override.ele(QEMU_NS, `${prefix}:device`, { alias }).ele(QEMU_NS, `${prefix}:frontend`);
  property.ele(QEMU_NS, `${prefix}:property`, { name: 'rotation_rate', type: 'unsigned', value: 1 });
}

/** Serialises a built domain: xmlbuilder2 checks well-formedness, then the style is applied. */
function serialise(root, style = {}) {
  const xml = root.end({ headless: true, prettyPrint: true, indent: style.indent ?? '  ', newline: '\n', wellFormed: true }) + '\n';
  return applyStyle(xml, style);
}

/**
 * The document's style after the fact: the quote character of attributes (xmlbuilder2 only writes double
 * quotes) and the line ending. Only start tags are rewritten; text, comments and CDATA are copied.
 */
function applyStyle(xml, { quote = "'", newline = '\n' } = {}) {
  let out = '';
  let at = 0;
  while (at < xml.length) {
    const lt = xml.indexOf('<', at);
    if (lt < 0) {
      out += xml.slice(at);
      break;
    }
    out += xml.slice(at, lt);
    const special = ['<!--', '-->'], cdata = ['<![CDATA[', ']]>'];
    const skip = [special, cdata].find(([open]) => xml.startsWith(open, lt));
    if (skip) {
      const end = xml.indexOf(skip[1], lt) + skip[1].length;
      out += xml.slice(lt, end);
      at = end;
      continue;
    }
    const end = tagEnd(xml, lt);
    out += requote(xml.slice(lt, end), quote);
    at = end;
  }
  return newline === '\n' ? out : out.replace(/\n/g, newline);
}

/** Offset after the `>` closing the tag at `lt`, stepping over quoted attribute values (which may hold `>`). */
function tagEnd(xml, lt) {
  let q = null;
  for (let i = lt + 1; i < xml.length; i++) {
    const c = xml[i];
    if (q) {
      if (c === q) q = null;
    } else if (c === '"' || c === "'") q = c;
    else if (c === '>') return i + 1;
  }
  throw new Error('unterminated tag');
}

function requote(tag, quote) {
  if (quote === '"') return tag;
  return tag.replace(/="([^"]*)"/g, (_, value) => `='${value.replace(/'/g, '&apos;').replace(/&quot;/g, '"')}'`);
}

/** The benchmark's filler devices, like `virsh dumpxml` prints them: a disk, a root port or a NIC in turn. */
const FILLER = ['disk', 'root-port', 'interface'];

/**
 * The smallest domain of at least `kb` kilobytes with filler devices (deterministic; byte for byte the domains
 * of the earlier string template): the filler count is estimated from builds, then corrected by single steps.
 */
function domainOfSize(kb) {
  const spec = (n) => ({
    name: 'bench-vm',
    id: 7,
    running: true,
    uuid: '6f2a8e4c-1b3d-4c8e-9a41-2f6b7d0c5e19',
    machine: 'pc-q35-7.2',
    firmware: 'ovmf-loader',
    memoryKiB: 67108864,
    vcpus: 16,
    devices: [{ kind: 'emulator', i: 0 }, ...Array.from({ length: n }, (_, i) => ({ kind: FILLER[i % 3], i, image: 'bench' })), { kind: 'memballoon', i: 0 }],
  });
  const target = kb * 1024;
  const build = (n) => serialise(buildDomain(spec(n)));
  const base = build(0).length;
  // Devices grow a little with their index (names, buses): re-estimate from the last build until within a device.
  let n = 30;
  let xml = build(n);
  for (let round = 0; round < 5 && Math.abs(target - xml.length) > 600; round++) {
    n = Math.max(0, n + Math.round((target - xml.length) / ((xml.length - base) / n)));
    xml = build(n);
  }
  while (xml.length < target) xml = build(++n);
  for (let smaller; n > 0 && (smaller = build(n - 1)).length >= target; n--) xml = smaller;
  return xml;
}

/** n GPUs on buses 0x80.., split into cliques of `perClique`. */
function gpuPlan(n, perClique) {
  return {
    target: { libvirt: '9.0.0', qemu: '8.2.0' },
    hostdevs: Array.from({ length: n }, (_, i) => ({
      address: `${hex(Math.floor(i / 32), 4)}:${hex(0x80 + (i % 32) * 3, 2)}:00.0`,
      alias: `gpu${i}`,
      device: '10de:2330',
      gpudirect: { clique: Math.floor(i / perClique) % 16 },
    })),
  };
}

module.exports = { QEMU_NS, buildDomain, serialise, applyStyle, domainOfSize, gpuPlan };
