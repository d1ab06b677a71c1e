import type { XmlElement } from '../load/element';
import { DomainFacts, ExistingHostdev, MetadataGpu, positionOf } from '../domain/facts';
import { PASSTHROUGH_NS, QEMU_NS, isQemu } from '../domain/xml';
import { PassthroughError } from '../errors';
import { formatPciAddress } from '../pci/address';
import { OverrideStyle, PlannedHostdev } from '../plan/types';
import { aliasLine, hostdevLines } from '../render/hostdev';
import { metadataLines } from '../render/metadata';
import { CliqueAssignment, frontendLines, cliquePropertyLine, overrideDeviceLines, setArgLines, wrap } from '../render/qemu';
import { Lines, XmlStyle, attributes } from '../render/style';
import { Insertion, appendInside, declareOnRoot, insertAfter, insertFirst, insertHostdevs, replaceElement } from './anchors';
import { Change } from './changes';
import { Edit } from './splice';

/** Edits plus, per change, which edit holds it and where in that edit's text it starts. */
export interface EditPlan {
  edits: Edit[];
  /** What this transform creates that the document did not have (recorded in the metadata). */
  created: string[];
  /** The qemu namespace prefix once chosen (and declared, if needed) for this transform. */
  qemuPrefix?: string;
  /** `<qemu:arg>` pairs waiting to be written into the one `<qemu:commandline>`, with the changes they carry. */
  pendingArgs: { lines: Lines; changes: Change[] }[];
  /** A new pcie-root controller already written with the hostdevs (see placeHostdevs). */
  rootControllerPlaced?: { edit: number; at: number };
  changes: { change: Change; edit?: number; at?: number }[];
  warnings: string[];
}

interface Gpu extends CliqueAssignment {
  planned: PlannedHostdev;
}

export function planEdits(
  facts: DomainFacts,
  hostdevs: PlannedHostdev[],
  style: XmlStyle,
  overrideStyle: OverrideStyle,
  mmio?: { window64GiB: number },
): EditPlan {
  const out: EditPlan = { edits: [], created: [], pendingArgs: [], changes: [], warnings: [] };
  const gpus = placeHostdevs(facts, hostdevs, style, out, mmio?.window64GiB);
  if (gpus.length > 0) placeCliques(facts, gpus, style, overrideStyle, out);
  if (mmio) placeMmio(facts, mmio.window64GiB, style, out);
  writeCommandline(facts, style, out);
  if (gpus.length > 0 || mmio) placeMetadata(facts, gpus, mmio?.window64GiB, style, out);
  if (gpus.length > 0 && facts.hidesKvm) {
    out.warnings.push(
      'The domain hides KVM from the guest (<kvm><hidden state=\'on\'/> or kvm=off): the NVIDIA driver then ignores the GPUDirect capability. Remove it unless the guest driver needs it.',
    );
  }
  return out;
}

function addInsertion(out: EditPlan, insertion: Insertion): number {
  out.edits.push(insertion.edit);
  return out.edits.length - 1;
}

// ---- hostdevs ------------------------------------------------------------------------------

function placeHostdevs(facts: DomainFacts, hostdevs: PlannedHostdev[], style: XmlStyle, out: EditPlan, window64GiB?: number): Gpu[] {
  const existingBySource = new Map(facts.hostdevs.map((h) => [h.sourceKey, h]));
  const added: PlannedHostdev[] = [];
  const gpus: Gpu[] = [];
  for (const planned of hostdevs) {
    const existing = existingBySource.get(planned.addressKey);
    const alias = existing ? reuseExisting(facts, planned, existing, style, out) : checkNewHostdev(facts, planned);
    if (!existing) added.push(planned);
    if (planned.gpudirect && alias) gpus.push({ alias, clique: planned.gpudirect.clique, planned });
  }
  if (added.length > 0) {
    // Opening `<devices/>` (or creating `<devices>`) twice would overlap: a new pcie-root goes in the same insertion.
    const controller = window64GiB !== undefined && !facts.pcieRoot && (!facts.devices || facts.devices.selfClosing);
    const blocks = [...(controller ? [rootControllerLines(window64GiB, style)] : []), ...added.map((h) => hostdevLines(h, style))];
    const insertion = insertHostdevs(facts, blocks, style);
    const edit = addInsertion(out, insertion);
    if (controller) out.rootControllerPlaced = { edit, at: insertion.blockStarts[0] };
    const first = controller ? 1 : 0;
    added.forEach((h, i) =>
      out.changes.push({ change: { kind: 'hostdev-added', address: h.addressKey, alias: h.alias }, edit, at: insertion.blockStarts[first + i] }),
    );
  }
  return gpus;
}

function checkNewHostdev(facts: DomainFacts, planned: PlannedHostdev): string | undefined {
  const path = `hostdevs[${planned.index}]`;
  const owner = planned.alias === undefined ? undefined : facts.aliases.get(planned.alias);
  if (owner) {
    throw conflict(facts, owner, `Alias ${planned.alias} (${path}) is already used by a <${owner.tagName}> in the domain. Choose another alias.`);
  }
  const guest = planned.guestAddress && formatPciAddress(planned.guestAddress);
  const occupant = guest === undefined ? undefined : facts.guestAddresses.get(guest);
  if (occupant) {
    throw conflict(facts, occupant, `Guest PCI address ${guest} (${path}.guestAddress) is already used by a <${occupant.tagName}>. Choose a free address or omit guestAddress.`);
  }
  checkBootOrder(facts, planned);
  return planned.alias;
}

function checkBootOrder(facts: DomainFacts, planned: PlannedHostdev): void {
  if (planned.bootOrder === undefined) return;
  const path = `hostdevs[${planned.index}].bootOrder`;
  if (facts.osBoot) {
    throw conflict(
      facts,
      facts.osBoot,
      `bootOrder (${path}) cannot be used while the domain boots by <os><boot dev=…>: libvirt refuses per-device boot elements together with os/boot elements. Remove <boot dev> from <os> and give each boot device an order, or drop bootOrder.`,
    );
  }
  const other = facts.bootOrders.get(planned.bootOrder);
  if (other) throw conflict(facts, other, `Boot order ${planned.bootOrder} (${path}) is already used by a <${other.tagName}>; libvirt needs each order once.`);
}

/** A device already in the domain: unchanged when it matches, a conflict when it differs in a way that matters. */
function reuseExisting(facts: DomainFacts, planned: PlannedHostdev, existing: ExistingHostdev, style: XmlStyle, out: EditPlan): string | undefined {
  const differences = differencesFrom(planned, existing);
  if (differences.length > 0) {
    throw conflict(
      facts,
      existing.element,
      `Host device ${planned.addressKey} (hostdevs[${planned.index}]) is already in the domain but ${differences.join(', ')}. ` +
        'Change the plan to match, or remove the device from the domain first.',
    );
  }
  const line = positionOf(facts, existing.element).line;
  out.changes.push({ change: { kind: 'hostdev-unchanged', address: planned.addressKey, alias: existing.alias ?? planned.alias, line } });
  if (existing.alias !== undefined || !planned.gpudirect) return existing.alias;
  return addAlias(facts, planned, existing, style, out);
}

function differencesFrom(planned: PlannedHostdev, existing: ExistingHostdev): string[] {
  const found: string[] = [];
  if (existing.kind === 'interface') found.push("as an <interface type='hostdev'> (a network function), not a <hostdev>");
  if (existing.managed !== planned.managed) found.push(`with managed='${existing.managed ? 'yes' : 'no'}'`);
  if (existing.alias !== undefined && !planned.aliasWasGenerated && planned.alias !== undefined && existing.alias !== planned.alias) {
    found.push(`with alias '${existing.alias}', not '${planned.alias}'`);
  }
  if (existing.alias !== undefined && planned.gpudirect && !existing.alias.startsWith('ua-')) {
    found.push(`with alias '${existing.alias}', which libvirt assigned itself and drops on define (use \`virsh dumpxml --inactive\`)`);
  }
  const guest = planned.guestAddress && formatPciAddress(planned.guestAddress);
  const existingGuest = existing.guestAddress && formatPciAddress(existing.guestAddress);
  if (guest !== undefined && guest !== existingGuest) found.push(`at guest address ${existingGuest ?? '(none)'}, not ${guest}`);
  if (planned.rom?.bar !== undefined && planned.rom.bar !== existing.romBar) found.push(`with rom bar '${existing.romBar ?? '(unset)'}'`);
  if (planned.rom?.file !== undefined && planned.rom.file !== existing.romFile) found.push(`with rom file '${existing.romFile ?? '(unset)'}'`);
  if (planned.bootOrder !== undefined && planned.bootOrder !== existing.bootOrder) found.push(`with boot order ${existing.bootOrder ?? '(unset)'}`);
  return found;
}

/** The clique override needs a user alias; an existing hostdev without one gets the planned alias. */
function addAlias(facts: DomainFacts, planned: PlannedHostdev, existing: ExistingHostdev, style: XmlStyle, out: EditPlan): string {
  const alias = planned.alias!;
  const owner = facts.aliases.get(alias);
  if (owner) throw conflict(facts, owner, `Alias ${alias} (hostdevs[${planned.index}]) is already used by another <${owner.tagName}>. Choose another alias.`);
  const source = existing.element.children.find((el) => el.localName === 'source' && !el.namespaceURI);
  const line: Lines = [[0, aliasLine(alias, style)[1]]];
  const insertion = source ? insertAfter(facts, source, [line], style) : insertFirst(facts, existing.element, [line], style);
  const edit = addInsertion(out, insertion);
  out.changes.push({ change: { kind: 'alias-added', alias, address: planned.addressKey }, edit, at: insertion.blockStarts[0] });
  return alias;
}

function conflict(facts: DomainFacts, element: XmlElement, message: string): PassthroughError {
  return new PassthroughError('HOSTDEV_CONFLICT', message, positionOf(facts, element));
}

// ---- cliques -------------------------------------------------------------------------------

function placeCliques(facts: DomainFacts, gpus: Gpu[], style: XmlStyle, overrideStyle: OverrideStyle, out: EditPlan): void {
  const missing = gpus.filter((gpu) => !alreadySet(facts, gpu, overrideStyle, out));
  if (missing.length === 0) return;
  if (overrideStyle === 'override') placeOverrides(facts, missing, style, out);
  else placeSetArguments(facts, missing, style, out);
}

function cliqueChange(gpu: Gpu, kind: 'clique-added' | 'clique-unchanged', via: OverrideStyle): Change {
  const g = gpu.planned.gpudirect!;
  return {
    kind,
    alias: gpu.alias,
    address: gpu.planned.addressKey,
    clique: gpu.clique,
    capabilityOffset: `0x${g.offset.toString(16)}`,
    architecture: g.architecture,
    via,
  };
}

function alreadySet(facts: DomainFacts, gpu: Gpu, overrideStyle: OverrideStyle, out: EditPlan): boolean {
  const setting = facts.cliques.get(gpu.alias);
  if (!setting) return false;
  const where = positionOf(facts, setting.element);
  if (setting.via !== overrideStyle) {
    const fix =
      setting.via === 'commandline'
        ? 'With libvirt 8.1+ and QEMU 6.2+ libvirt passes -device as JSON and QEMU refuses -set for it ("there is no device … defined"); remove the two <qemu:arg> elements and let the library write a <qemu:override>.'
        : 'The target libvirt has no <qemu:override> (it arrived in 8.2.0); remove the <qemu:device> for it.';
    throw new PassthroughError('OVERRIDE_CONFLICT', `The domain already sets the GPUDirect clique of ${gpu.alias} through ${setting.via === 'commandline' ? '-set on the QEMU command line' : '<qemu:override>'}. ${fix}`, where);
  }
  if (setting.clique.trim() !== String(gpu.clique)) {
    throw new PassthroughError(
      'OVERRIDE_CONFLICT',
      `The domain already gives ${gpu.alias} GPUDirect clique ${setting.clique}, but the plan says ${gpu.clique}. Remove the existing setting (libvirt-passthrough remove) or change the plan.`,
      where,
    );
  }
  out.changes.push({ change: { ...cliqueChange(gpu, 'clique-unchanged', overrideStyle), line: where.line } });
  return true;
}

/** The prefix to write qemu elements with, declaring it on the root when the root has none. */
function qemuPrefix(facts: DomainFacts, existing: XmlElement | undefined, style: XmlStyle, out: EditPlan): string {
  if (existing?.prefix) return existing.prefix;
  if (facts.qemuPrefixOnRoot) return facts.qemuPrefixOnRoot;
  if (out.qemuPrefix) return out.qemuPrefix;
  let prefix = 'qemu';
  for (let n = 2; facts.rootPrefixes.has(prefix); n++) prefix = `qemu${n}`;
  out.edits.push(declareOnRoot(facts, prefix, QEMU_NS, style));
  out.created.push(`xmlns:${prefix}`);
  out.qemuPrefix = prefix;
  out.changes.push({ change: { kind: 'namespace-added' }, edit: out.edits.length - 1, at: 1 });
  return prefix;
}

function placeOverrides(facts: DomainFacts, gpus: Gpu[], style: XmlStyle, out: EditPlan): void {
  const prefix = qemuPrefix(facts, facts.qemuOverride, style, out);
  const fresh: Gpu[] = [];
  for (const gpu of gpus) {
    const device = facts.overrideDevices.get(gpu.alias);
    if (!device) {
      fresh.push(gpu);
      continue;
    }
    // The device already has other overrides: add the property beside them.
    const frontend = device.children.find((el) => isQemu(el, 'frontend'));
    const p = device.prefix ?? prefix;
    const insertion = frontend
      ? appendInside(facts, frontend, [[[0, cliquePropertyLine(p, gpu.clique, style)]]], style)
      : appendInside(facts, device, [frontendLines(p, gpu.clique, style)], style);
    const edit = addInsertion(out, insertion);
    out.changes.push({ change: cliqueChange(gpu, 'clique-added', 'override'), edit, at: insertion.blockStarts[0] });
  }
  if (fresh.length === 0) return;
  const blocks = fresh.map((gpu) => overrideDeviceLines(prefix, gpu, style));
  const insertion = facts.qemuOverride
    ? appendInside(facts, facts.qemuOverride, blocks, style)
    : appendInside(facts, facts.root, [wrap(`<${prefix}:override>`, `</${prefix}:override>`, blocks.flat())], style);
  const edit = addInsertion(out, insertion);
  const starts = facts.qemuOverride ? insertion.blockStarts : blockStartsInWrapper(insertion, blocks, style);
  fresh.forEach((gpu, i) => out.changes.push({ change: cliqueChange(gpu, 'clique-added', 'override'), edit, at: starts[i] }));
}

function placeSetArguments(facts: DomainFacts, gpus: Gpu[], style: XmlStyle, out: EditPlan): void {
  const prefix = qemuPrefix(facts, facts.qemuCommandline, style, out);
  for (const gpu of gpus) out.pendingArgs.push({ lines: setArgLines(prefix, gpu, style), changes: [cliqueChange(gpu, 'clique-added', 'commandline')] });
}

/**
 * All queued `<qemu:arg>` pairs in one place: inside the domain's `<qemu:commandline>`, or in a single new
 * one — the `-set` cliques of old stacks and OVMF's MMIO `-fw_cfg` must not each open their own.
 */
function writeCommandline(facts: DomainFacts, style: XmlStyle, out: EditPlan): void {
  if (out.pendingArgs.length === 0) return;
  const blocks = out.pendingArgs.map((p) => p.lines);
  const prefix = qemuPrefix(facts, facts.qemuCommandline, style, out);
  const insertion = facts.qemuCommandline
    ? appendInside(facts, facts.qemuCommandline, blocks, style)
    : appendInside(facts, facts.root, [wrap(`<${prefix}:commandline>`, `</${prefix}:commandline>`, blocks.flat())], style);
  const edit = addInsertion(out, insertion);
  const starts = facts.qemuCommandline ? insertion.blockStarts : blockStartsInWrapper(insertion, blocks, style);
  out.pendingArgs.forEach((p, i) => p.changes.forEach((change) => out.changes.push({ change, edit, at: starts[i] })));
}

/** Offsets of each block inside a freshly written wrapper element (one line per Lines entry). */
function blockStartsInWrapper(insertion: Insertion, blocks: Lines[], style: XmlStyle): number[] {
  const text = insertion.edit.text;
  const lineStarts: number[] = [];
  let at = insertion.blockStarts[0];
  while (at >= 0) {
    lineStarts.push(at);
    const nl = text.indexOf(style.newline, at);
    at = nl < 0 ? -1 : text.indexOf('<', nl);
  }
  let line = 1;
  return blocks.map((block) => {
    const start = lineStarts[line];
    line += block.length;
    return start;
  });
}

// ---- 64-bit MMIO window ------------------------------------------------------------------------

const GiB = 1024 ** 3;
const OVMF_MMIO_ARG = (mb: number) => `name=opt/ovmf/X-PciMmio64Mb,string=${mb}`;

/** `<pcihole64>` on the pcie-root controller and, for OVMF guests, `-fw_cfg opt/ovmf/X-PciMmio64Mb`. */
function placeMmio(facts: DomainFacts, window64GiB: number, style: XmlStyle, out: EditPlan): void {
  placePcihole64(facts, window64GiB, style, out);
  if (!facts.usesOvmf) return;
  const mb = window64GiB * 1024;
  if (facts.ovmfMmio64Mb) {
    if (facts.ovmfMmio64Mb.value !== mb) {
      throw new PassthroughError(
        'MMIO_CONFLICT',
        `The domain already sets OVMF's 64-bit MMIO window to ${facts.ovmfMmio64Mb.value} MiB, the plan asks for ${mb} MiB. Remove the -fw_cfg argument pair or change the plan.`,
        positionOf(facts, facts.ovmfMmio64Mb.element),
      );
    }
    return;
  }
  const prefix = qemuPrefix(facts, facts.qemuCommandline, style, out);
  const lines: Lines = [
    [0, `<${prefix}:arg${attributes([['value', '-fw_cfg']], style.quote)}/>`],
    [0, `<${prefix}:arg${attributes([['value', OVMF_MMIO_ARG(mb)]], style.quote)}/>`],
  ];
  out.pendingArgs.push({ lines, changes: [{ kind: 'mmio-added', mmioWindowGiB: window64GiB }] });
}

function placePcihole64(facts: DomainFacts, window64GiB: number, style: XmlStyle, out: EditPlan): void {
  if (facts.pcihole64) {
    if (facts.pcihole64.bytes !== window64GiB * GiB) {
      throw new PassthroughError(
        'MMIO_CONFLICT',
        `The pcie-root controller already has a 64-bit PCI hole of ${facts.pcihole64.bytes / GiB} GiB, the plan asks for ${window64GiB} GiB. Remove <pcihole64> or change the plan.`,
        positionOf(facts, facts.pcihole64.element),
      );
    }
    return;
  }
  const change: Change = { kind: 'mmio-added', mmioWindowGiB: window64GiB };
  if (out.rootControllerPlaced) {
    out.created.push('pcie-root');
    out.changes.push({ change, ...out.rootControllerPlaced });
    return;
  }
  let insertion: Insertion;
  if (facts.pcieRoot) {
    if (facts.pcieRoot.selfClosing) out.created.push('pcie-root-opened');
    insertion = appendInside(facts, facts.pcieRoot, [pcihole64Lines(window64GiB, style)], style);
  } else {
    const controller = rootControllerLines(window64GiB, style);
    insertion = facts.devices ? insertFirst(facts, facts.devices, [controller], style) : appendInside(facts, facts.root, [wrap('<devices>', '</devices>', controller)], style);
    out.created.push('pcie-root');
  }
  const edit = addInsertion(out, insertion);
  out.changes.push({ change, edit, at: insertion.blockStarts[0] });
}

function pcihole64Lines(window64GiB: number, style: XmlStyle): Lines {
  return [[0, `<pcihole64${attributes([['unit', 'KiB']], style.quote)}>${window64GiB * 1024 * 1024}</pcihole64>`]];
}

/** `<controller type='pci' index='0' model='pcie-root'>` holding the `<pcihole64>` of the window. */
function rootControllerLines(window64GiB: number, style: XmlStyle): Lines {
  return wrap(`<controller${attributes([['type', 'pci'], ['index', 0], ['model', 'pcie-root']], style.quote)}>`, '</controller>', pcihole64Lines(window64GiB, style));
}

// ---- metadata ------------------------------------------------------------------------------

function placeMetadata(facts: DomainFacts, gpus: Gpu[], mmioGiB: number | undefined, style: XmlStyle, out: EditPlan): void {
  const entries = mergedMetadata(facts.metadataGpus, gpus);
  const created = [...new Set([...facts.metadataCreated, ...out.created, ...(facts.metadata ? [] : ['metadata'])])];
  const mmio = mmioGiB ?? facts.metadataMmioGiB;
  if (sameMetadata(entries, facts.metadataGpus) && created.join(' ') === facts.metadataCreated.join(' ') && mmio === facts.metadataMmioGiB) return;
  const lines = metadataLines(entries, created, style, mmio);
  let insertion: Insertion;
  if (facts.ourMetadata) {
    insertion = replaceElement(facts, facts.ourMetadata, lines, style);
  } else if (facts.metadata) {
    insertion = appendInside(facts, facts.metadata, [lines], style);
  } else {
    insertion = insertMetadataElement(facts, lines, style);
    insertion.blockStarts = blockStartsInWrapper(insertion, [lines], style);
  }
  const edit = addInsertion(out, insertion);
  out.changes.push({ change: { kind: 'metadata-written' }, edit, at: insertion.blockStarts[0] });
}

function insertMetadataElement(facts: DomainFacts, lines: Lines, style: XmlStyle): Insertion {
  const block = wrap('<metadata>', '</metadata>', lines);
  const header = ['name', 'uuid', 'genid', 'title', 'description'];
  let anchor: XmlElement | undefined;
  for (const el of facts.root.children) if (!el.namespaceURI && header.includes(el.localName ?? '')) anchor = el;
  return anchor ? insertAfter(facts, anchor, [block], style) : insertFirst(facts, facts.root, [block], style);
}

function mergedMetadata(existing: MetadataGpu[], gpus: Gpu[]): MetadataGpu[] {
  const byAlias = new Map(existing.map((g) => [g.alias, g]));
  for (const gpu of gpus) {
    const g = gpu.planned.gpudirect!;
    byAlias.set(gpu.alias, {
      alias: gpu.alias,
      address: gpu.planned.addressKey,
      clique: gpu.clique,
      architecture: g.architecture,
      offset: g.offset,
    });
  }
  return [...byAlias.values()];
}

function sameMetadata(a: MetadataGpu[], b: MetadataGpu[]): boolean {
  const key = (g: MetadataGpu) => [g.alias, g.address, g.clique, g.architecture, g.offset].join('|');
  return a.length === b.length && a.every((g, i) => key(g) === key(b[i]));
}

export { PASSTHROUGH_NS };
