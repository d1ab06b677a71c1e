/**
 * A second reader of every transform output, sharing no code with lib/ (issue 17): @xmldom/xmldom parses, xpath
 * looks things up from small context nodes, and what to expect is derived here from the plan alone — its own
 * address normaliser, alias rule, offset table and stack rule, written from the spec and the docs. A bug in the
 * library's parser or facts can then not hide in both the transform and its check.
 *
 * xpath 0.0.34 sorts node sets with a quadratic comparison, so it is only used from context nodes with few
 * children (a hostdev, the qemu override, the metadata); sibling lists are walked with plain DOM.
 */
import { DOMParser } from '@xmldom/xmldom';
import * as xpath from 'xpath';

const QEMU_NS = 'http://libvirt.org/schemas/domain/qemu/1.0';
const METADATA_NS = 'urn:libvirt-passthrough:metadata:1';
const select = xpath.useNamespaces({ q: QEMU_NS, p: METADATA_NS });

type PlanAddress = string | { domain?: number; bus: number; slot: number; function: number };
export interface ReaderPlan {
  target?: { libvirt?: string; qemu?: string };
  mmio?: { window64GiB: number };
  hostdevs: { address: PlanAddress; alias?: string; device?: string; gpudirect?: { clique: number; architecture?: string } }[];
  layout?: { cells: { cell: number }[]; controllers: { index: number; model: string; bus: number; slot: number; function: number; busNr?: number; node?: number }[] };
}

/** Element as xmldom gives it, typed only as far as this reader uses it. */
interface El {
  nodeType: number;
  localName: string;
  namespaceURI: string | null;
  childNodes: { length: number; [i: number]: El };
  attributes: { length: number; [i: number]: { name: string; value: string } };
  getAttribute(name: string): string | null;
  textContent: string | null;
}

/**
 * GPUs of the test plans by PCI ID, from pci.ids (Debian package pci.ids 0.0~2023.04.11-1, /usr/share/misc/pci.ids):
 *   102d  GK210GL [Tesla K80]            -> Kepler
 *   1db4  GV100GL [Tesla V100 PCIe 16GB] -> Volta
 *   1eb8  TU104GL [Tesla T4]             -> Turing
 *   20b0  GA100 [A100 SXM4 40GB]         -> Ampere
 *   20b2  GA100 [A100 SXM4 80GB]         -> Ampere (trixie's pci.ids 0.0~2025.06.09-1)
 *   2330  GH100[H100 SXM5 80GB]          -> Hopper
 */
const ARCHITECTURE_BY_DEVICE: Record<string, string> = {
  '10de:102d': 'kepler',
  '10de:1db4': 'volta',
  '10de:1eb8': 'turing',
  '10de:20b0': 'ampere',
  '10de:20b2': 'ampere',
  '10de:2330': 'hopper',
};

/**
 * NVIDIA's GPUDirect pass-through spec (../shared/reference/nvidia-gpudirect-passthrough-spec.txt), verbatim:
 *   Kepler, Maxwell, Pascal, Volta	C8h
 *   Turing and later	D4h
 */
const C8H_ARCHITECTURES = ['kepler', 'maxwell', 'pascal', 'volta'];
const expectedOffset = (architecture: string) => (C8H_ARCHITECTURES.includes(architecture) ? '0xc8' : '0xd4');

/** `0000:3b:00.0` from `3b:00.0`, `0000:3B:00.0` or `{bus: 0x3b, slot: 0, function: 0}`. */
export function addressKey(address: PlanAddress): string {
  let [domain, bus, slot, fn] = [0, 0, 0, 0];
  if (typeof address === 'string') {
    const m = /^(?:([0-9a-f]{1,4}):)?([0-9a-f]{1,2}):([0-9a-f]{1,2})\.([0-7])$/i.exec(address);
    if (!m) throw new Error(`reader: not a PCI address: ${address}`);
    [domain, bus, slot, fn] = [parseInt(m[1] ?? '0', 16), parseInt(m[2], 16), parseInt(m[3], 16), Number(m[4])];
  } else {
    [domain, bus, slot, fn] = [address.domain ?? 0, address.bus, address.slot, address.function];
  }
  const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');
  return `${hex(domain, 4)}:${hex(bus, 2)}:${hex(slot, 2)}.${fn}`;
}

/** libvirt writes `0x3b`; it also reads decimal. */
function xmlNumber(value: string | null): number {
  if (value === null || value === '') return 0;
  return /^0x/i.test(value) ? parseInt(value.slice(2), 16) : parseInt(value, 10);
}

function sourceKeyOf(hostdev: El): string | undefined {
  const address = select('source/address', hostdev as never, true) as unknown as El | undefined;
  if (!address) return undefined;
  const n = (name: string) => xmlNumber(address.getAttribute(name));
  return addressKey({ domain: n('domain'), bus: n('bus'), slot: n('slot'), function: n('function') });
}

function childElements(parent: El): El[] {
  const out: El[] = [];
  for (let i = 0; i < parent.childNodes.length; i++) if (parent.childNodes[i].nodeType === 1) out.push(parent.childNodes[i]);
  return out;
}

const isPlain = (el: El, name: string) => !el.namespaceURI && el.localName === name;
const isPciHostdev = (el: El) => isPlain(el, 'hostdev') && el.getAttribute('type') === 'pci' && el.getAttribute('mode') !== 'capabilities';

export function parseStrictly(xml: string): El {
  const problems: string[] = [];
  let doc;
  try {
    doc = new DOMParser({ onError: (level: string, message: string) => problems.push(`${level}: ${message}`) }).parseFromString(
      xml.replace(/^\uFEFF/, ''),
      'text/xml',
    );
  } catch (err) {
    problems.push(`fatalError: ${(err as Error).message}`);
  }
  if (problems.length > 0 || !doc?.documentElement) throw new Error(`xmldom: ${problems.join('; ')}`);
  return doc.documentElement as unknown as El;
}

function userAlias(alias: string): string {
  return alias.startsWith('ua-') ? alias : `ua-${alias}`;
}

/** Does `version` come before `floor` (both dotted numbers)? */
function versionBefore(version: string, floor: string): boolean {
  const a = version.split(/[^0-9.]/)[0].split('.').map(Number);
  const b = floor.split('.').map(Number);
  for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== b[i]) return (a[i] ?? 0) < b[i];
  return false;
}

interface Expected {
  key: string;
  alias?: string;
  clique?: number;
  offset?: string;
}

/** Every problem found in `output` as the transform of `input` by `plan`; empty when all checks hold. */
export function readIndependently(input: string, output: string, plan: ReaderPlan): string[] {
  const problems: string[] = [];
  let before: El;
  let after: El;
  try {
    before = parseStrictly(input);
    after = parseStrictly(output);
  } catch (err) {
    return [(err as Error).message];
  }
  const inputHostdevs = new Map<string, El>();
  for (const devices of childElements(before).filter((el) => isPlain(el, 'devices'))) {
    for (const el of childElements(devices)) if (isPciHostdev(el)) inputHostdevs.set(sourceKeyOf(el) ?? '', el);
  }
  const expected = plan.hostdevs.map((h) => expectation(h, inputHostdevs));
  checkHostdevs(after, expected, problems);
  const oldStack = plan.target?.libvirt !== undefined && versionBefore(plan.target.libvirt, '8.2.0');
  for (const gpu of expected.filter((e) => e.clique !== undefined)) {
    checkClique(after, gpu, oldStack, problems);
    checkMetadata(after, gpu, problems);
  }
  if (plan.mmio) checkMmio(before, after, plan.mmio.window64GiB, problems);
  if (plan.layout) checkLayout(after, plan.layout, domainIndexes(before, plan.layout), problems);
  compareStructure(before, after, allowedInsertions(before, plan, expected, inputHostdevs, oldStack), problems, 'domain');
  return problems;
}

function expectation(h: ReaderPlan['hostdevs'][number], inputHostdevs: Map<string, El>): Expected {
  const key = addressKey(h.address);
  const existing = inputHostdevs.get(key);
  const existingAlias = existing ? (select('string(alias/@name)', existing as never) as string) || undefined : undefined;
  const alias = h.alias !== undefined ? userAlias(h.alias) : existingAlias ?? (h.gpudirect ? `ua-gpu-${key.replace(/[:.]/g, '-')}` : undefined);
  if (!h.gpudirect) return { key, alias };
  const architecture = h.gpudirect.architecture ?? ARCHITECTURE_BY_DEVICE[h.device ?? ''];
  if (!architecture) throw new Error(`reader: no architecture for ${h.device}; add it to ARCHITECTURE_BY_DEVICE from pci.ids`);
  return { key, alias, clique: h.gpudirect.clique, offset: expectedOffset(architecture) };
}

function checkHostdevs(after: El, expected: Expected[], problems: string[]): void {
  const found = new Map<string, El[]>();
  for (const devices of childElements(after).filter((el) => isPlain(el, 'devices'))) {
    for (const el of childElements(devices)) {
      if (!isPciHostdev(el)) continue;
      const key = sourceKeyOf(el) ?? '';
      found.set(key, [...(found.get(key) ?? []), el]);
    }
  }
  for (const e of expected) {
    const hostdevs = found.get(e.key) ?? [];
    if (hostdevs.length !== 1) {
      problems.push(`expected 1 <hostdev> with source ${e.key}, found ${hostdevs.length}`);
      continue;
    }
    const alias = select('string(alias/@name)', hostdevs[0] as never) as string;
    if (alias !== (e.alias ?? '')) problems.push(`hostdev ${e.key}: alias '${alias}', expected '${e.alias ?? ''}'`);
  }
}

function checkClique(after: El, gpu: Expected, oldStack: boolean, problems: string[]): void {
  const alias = gpu.alias!;
  if (/'/.test(alias)) throw new Error(`reader: alias with a quote: ${alias}`);
  const properties = select(`q:override/q:device[@alias='${alias}']/q:frontend/q:property[@name='x-nv-gpudirect-clique']`, after as never) as unknown as El[];
  const setArgs = commandlineArgs(after).filter((a, i, all) => a.startsWith(`device.${alias}.x-nv-gpudirect-clique=`) && all[i - 1] === '-set');
  if (oldStack) {
    if (properties.length > 0) problems.push(`${alias}: a <qemu:override> clique on a stack without <qemu:override>`);
    if (setArgs.length !== 1 || setArgs[0] !== `device.${alias}.x-nv-gpudirect-clique=${gpu.clique}`) {
      problems.push(`${alias}: expected one -set device.${alias}.x-nv-gpudirect-clique=${gpu.clique}, found [${setArgs.join(', ')}]`);
    }
    return;
  }
  if (setArgs.length > 0) problems.push(`${alias}: -set clique arguments on a stack with <qemu:override>`);
  const values = properties.map((p) => `${p.getAttribute('type')}:${p.getAttribute('value')}`);
  if (values.length !== 1 || values[0] !== `unsigned:${gpu.clique}`) {
    problems.push(`${alias}: expected one qemu:property x-nv-gpudirect-clique unsigned ${gpu.clique} (qemu namespace), found [${values.join(', ')}]`);
  }
}

/** The values of every `<qemu:arg>` in every `<qemu:commandline>`, in order. */
function commandlineArgs(root: El): string[] {
  const values: string[] = [];
  for (const commandline of childElements(root).filter((el) => el.namespaceURI === QEMU_NS && el.localName === 'commandline')) {
    for (const arg of childElements(commandline)) if (arg.namespaceURI === QEMU_NS && arg.localName === 'arg') values.push(arg.getAttribute('value') ?? '');
  }
  return values;
}

function checkMetadata(after: El, gpu: Expected, problems: string[]): void {
  const entries = select(`metadata/p:gpudirect/p:gpu[@alias='${gpu.alias}']`, after as never) as unknown as El[];
  if (entries.length !== 1) {
    problems.push(`${gpu.alias}: expected 1 metadata entry, found ${entries.length}`);
    return;
  }
  const got = ['address', 'clique', 'offset'].map((n) => entries[0].getAttribute(n)).join(' ');
  const want = `${gpu.key} ${gpu.clique} ${gpu.offset}`;
  if (got !== want) problems.push(`${gpu.alias}: metadata records '${got}', expected '${want}'`);
}

function checkMmio(before: El, after: El, window64GiB: number, problems: string[]): void {
  const recorded = select('string(metadata/p:gpudirect/p:mmio/@window64GiB)', after as never) as string;
  if (recorded !== String(window64GiB)) problems.push(`metadata records MMIO window '${recorded}', expected '${window64GiB}'`);
  const holes = select("devices/controller[@type='pci'][@model='pcie-root']/pcihole64", after as never) as unknown as El[];
  const KiB: Record<string, number> = { KiB: 1, K: 1, MiB: 1024, M: 1024, GiB: 1024 ** 2, G: 1024 ** 2 };
  const kib = holes.map((h) => Number((h.textContent ?? '').trim()) * (KiB[h.getAttribute('unit') ?? 'KiB'] ?? NaN));
  if (kib.length !== 1 || kib[0] !== window64GiB * 1024 * 1024) problems.push(`expected one pcihole64 of ${window64GiB} GiB, found [${kib.join(', ')}] KiB`);
  const os = childElements(before).find((el) => isPlain(el, 'os'));
  const loader = os && childElements(os).find((el) => isPlain(el, 'loader'));
  const ovmf = os?.getAttribute('firmware') === 'efi' || /ovmf|edk2|efi/i.test(loader?.textContent ?? '');
  if (!ovmf) return;
  const args = commandlineArgs(after);
  const at = args.indexOf(`name=opt/ovmf/X-PciMmio64Mb,string=${window64GiB * 1024}`);
  if (at < 1 || args[at - 1] !== '-fw_cfg') problems.push(`OVMF guest without -fw_cfg opt/ovmf/X-PciMmio64Mb for ${window64GiB} GiB`);
}

// ---- structure: every input element is still there, in order, with its attributes; only planned ones are new ----

type Allowance = Map<string, number>;

const nameOf = (el: El) => (el.namespaceURI === QEMU_NS ? 'q:' : el.namespaceURI === METADATA_NS ? 'p:' : el.namespaceURI ? `{${el.namespaceURI}}` : '') + el.localName;

/** How many new children of each name each parent (by name) may get, derived from the plan and the input. */
function allowedInsertions(before: El, plan: ReaderPlan, expected: Expected[], inputHostdevs: Map<string, El>, oldStack: boolean): Map<string, Allowance> {
  const gpus = expected.filter((e) => e.clique !== undefined).length;
  const newHostdevs = expected.filter((e) => !inputHostdevs.has(e.key)).length;
  const aliasesAdded = expected.filter((e) => {
    const existing = inputHostdevs.get(e.key);
    return existing && e.alias && !(select('string(alias/@name)', existing as never) as string);
  }).length;
  const mmio = plan.mmio ? 1 : 0;
  const devices = childElements(before).filter((el) => isPlain(el, 'devices'));
  const layout = layoutInsertions(before, plan);
  return new Map<string, Allowance>([
    ['domain', new Map([['metadata', 1], ['devices', devices.length === 0 ? 1 : 0], ['q:override', gpus > 0 && !oldStack ? 1 : 0], ['q:commandline', (gpus > 0 && oldStack) || mmio ? 1 : 0], ['cpu', layout.cpu]])],
    ['cpu', new Map([['numa', layout.numa]])],
    ['numa', new Map([['cell', layout.cells]])],
    ['metadata', new Map([['p:gpudirect', 1]])],
    ['devices', new Map([['hostdev', newHostdevs], ['controller', mmio + layout.controllers]])],
    ['hostdev', new Map([['alias', aliasesAdded]])],
    ['controller', new Map([['pcihole64', mmio]])],
    ['q:override', new Map([['q:device', gpus]])],
    ['q:device', new Map([['q:frontend', gpus]])],
    ['q:frontend', new Map([['q:property', gpus]])],
    ['q:commandline', new Map([['q:arg', 2 * gpus + 2 * mmio]])],
  ]);
}

/** What a plan's layout may add: controllers the input lacks (by index), and cells (with <numa>, <cpu>) when it has none. */
function layoutInsertions(before: El, plan: ReaderPlan): { cpu: number; numa: number; cells: number; controllers: number } {
  if (!plan.layout) return { cpu: 0, numa: 0, cells: 0, controllers: 0 };
  const controllers = plan.layout.controllers.length;
  const hasCells = (select('count(cpu/numa/cell)', before as never) as number) > 0;
  const cells = plan.layout.cells.length > 0 && !hasCells ? plan.layout.cells.length : 0;
  return { cpu: cells && !(select('count(cpu)', before as never) as number) ? 1 : 0, numa: cells && !(select('count(cpu/numa)', before as never) as number) ? 1 : 0, cells, controllers };
}

/** docs/plan.md: the plan's controllers, in index order, take the next indexes above the input's own PCI controllers. */
function domainIndexes(before: El, layout: NonNullable<ReaderPlan['layout']>): Map<number, number> {
  const own = (select("devices/controller[@type='pci']/@index", before as never) as unknown as { value: string }[]).map((a) => Number(a.value));
  const base = Math.max(0, ...own);
  return new Map([...layout.controllers].sort((a, b) => a.index - b.index).map((c, i) => [c.index, base + i + 1]));
}

/** Each layout controller is in the output with its model, place, and an expander bus's busNr and node; each cell exists. */
function checkLayout(after: El, layout: NonNullable<ReaderPlan['layout']>, index: Map<number, number>, problems: string[]): void {
  for (const planned of layout.controllers) {
    const c = { ...planned, index: index.get(planned.index)!, bus: index.get(planned.bus) ?? planned.bus };
    const found = select(`devices/controller[@type='pci'][@index='${c.index}']`, after as never) as unknown as El[];
    if (found.length !== 1) {
      problems.push(`layout: expected 1 controller with index ${c.index}, found ${found.length}`);
      continue;
    }
    const el = found[0];
    const address = select("address[@type='pci']", el as never) as unknown as El[];
    const at = address.length === 1 ? ['bus', 'slot', 'function'].map((n) => xmlNumber(address[0].getAttribute(n))).join(':') : 'none';
    const got = [el.getAttribute('model'), at, select('string(target/@busNr)', el as never), select('normalize-space(target/node)', el as never)].join(' ');
    const want = [c.model, [c.bus, c.slot, c.function].join(':'), c.busNr ?? '', c.node ?? ''].join(' ');
    if (got !== want) problems.push(`layout: controller ${c.index} is '${got}', expected '${want}'`);
  }
  for (const cell of layout.cells) {
    if ((select(`count(cpu/numa/cell[@id='${cell.cell}'])`, after as never) as number) !== 1) problems.push(`layout: no NUMA cell ${cell.cell}`);
  }
}

/** Pairs children by name (and, for hostdevs, source address); unpaired output children are insertions. */
function compareStructure(before: El, after: El, allowed: Map<string, Allowance>, problems: string[], where: string): void {
  if (nameOf(before) !== 'p:gpudirect') compareAttributes(before, after, problems, where);
  if (nameOf(before) === 'p:gpudirect') return; // the library's own record is rewritten; checkMetadata reads it
  const identity = (el: El) => (isPciHostdev(el) ? `hostdev ${sourceKeyOf(el)}` : nameOf(el));
  const old = childElements(before);
  const next = childElements(after);
  let i = 0;
  for (const child of next) {
    if (i < old.length && identity(old[i]) === identity(child)) {
      compareStructure(old[i], child, allowed, problems, `${where}/${nameOf(child)}`);
      i++;
      continue;
    }
    const parentKind = nameOf(before) === 'domain' ? 'domain' : nameOf(before);
    const budget = allowed.get(parentKind);
    const left = budget?.get(nameOf(child)) ?? 0;
    if (left <= 0) problems.push(`${where}: unplanned new <${nameOf(child)}>`);
    else budget!.set(nameOf(child), left - 1);
  }
  for (; i < old.length; i++) problems.push(`${where}: <${nameOf(old[i])}> of the input is missing or out of order`);
}

function compareAttributes(before: El, after: El, problems: string[], where: string): void {
  const list = (el: El) => {
    const out: string[] = [];
    for (let i = 0; i < el.attributes.length; i++) {
      const a = el.attributes[i];
      if (where === 'domain' && a.name.startsWith('xmlns:')) continue; // the transform may declare the qemu prefix
      out.push(`${a.name}=${a.value}`);
    }
    return out.join(' ');
  };
  if (list(before) !== list(after)) problems.push(`${where}: attributes changed from [${list(before)}] to [${list(after)}]`);
}
