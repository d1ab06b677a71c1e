import type { XmlElement } from './load/element';
import { DomainFacts, readDomainFacts } from './domain/facts';
import { QEMU_NS, isQemu } from './domain/xml';
import { applyEdits, Edit } from './edit/splice';
import { guessIndentUnit, replaceElement } from './edit/anchors';
import { PassthroughError, excerpt } from './errors';
import { LoadOptions, loadDomainXml } from './load/load';
import { userAlias } from './plan/normalize';
import { PlanAddress } from './plan/types';
import { readPlanAddress, validatePlan } from './plan/validate';
import { formatPciAddress } from './pci/address';
import { CLIQUE_PROPERTY } from './render/qemu';
import { closest } from './suggest';
import { metadataLines } from './render/metadata';

/** Which pass-through configuration to remove: host addresses and/or aliases, or a whole plan. */
export interface RemoveSelection {
  addresses?: PlanAddress[];
  aliases?: string[];
}

/** One thing the caller asked to remove (an address, an alias, or a plan entry's address and alias): it must be found. */
interface Wanted {
  label: string;
  addresses: string[];
  aliases: string[];
}

/**
 * The inverse of transformDomain: removes the selected PCI hostdevs, their GPUDirect clique settings
 * (`<qemu:override>` properties or `-set` arguments), and their entries in the library's metadata;
 * containers left empty go too, and so do `<metadata>`, the qemu namespace declaration, and a `<devices>`
 * the transform created or opened from `<devices/>`, as the metadata records. With a plan, removes
 * everything the plan describes, so that `removePassthrough(transformDomain(x, plan), plan) === x`.
 * Without a selection: every GPU (and MMIO window) recorded in the library's metadata.
 *
 * Throws PassthroughError `INPUT_INVALID` for a selection with unknown keys or wrong types, and
 * `REMOVE_NOT_FOUND` when something selected (an address, an alias, a plan entry) is not in the domain,
 * or, without a selection, when the metadata records nothing: nothing is removed then. An empty selection
 * (a plan without hostdevs, no addresses or aliases) removes nothing and returns the input.
 */
export function removePassthrough(xml: string, selection?: RemoveSelection | { hostdevs: unknown[] }, options: LoadOptions = {}): string {
  const facts = readDomainFacts(loadDomainXml(xml, options));
  const wanted = resolveSelection(facts, selection);
  const addresses = new Set(wanted.flatMap((w) => w.addresses));
  const aliases = new Set(wanted.flatMap((w) => w.aliases));
  const hostdevs = facts.hostdevs.filter(
    (h) => h.kind === 'hostdev' && (addresses.has(h.sourceKey) || (h.alias !== undefined && aliases.has(h.alias))),
  );
  const removeMmio = facts.metadataMmioGiB !== undefined && (selection === undefined || ('hostdevs' in selection && 'mmio' in selection));
  requireFound(facts, wanted, hostdevs.map((h) => h.sourceKey), selection === undefined && !removeMmio);
  const removedAliases = new Set([...aliases, ...hostdevs.flatMap((h) => (h.alias ? [h.alias] : []))]);
  let removals: XmlElement[] = hostdevs.map((h) => h.element);
  removals.push(...overrideRemovals(facts, removedAliases), ...commandlineRemovals(facts, removedAliases, removeMmio));
  const reclose = removeMmio && facts.metadataCreated.includes('pcie-root-opened') && facts.pcieRoot;
  if (removeMmio && !reclose) removals.push(...pciholeRemovals(facts));
  const devices = devicesRestoration(facts, removals, reclose ? facts.pcieRoot : undefined);
  if (devices) removals = removals.filter((el) => !within(el, facts.devices!));
  const edits: Edit[] = removals.map((el) => removal(facts, el));
  if (reclose && !devices) edits.push(recloseElement(facts, facts.pcieRoot!));
  if (devices) edits.push(devices.edit);
  edits.push(...metadataEdits(facts, removedAliases, removals, removeMmio, devices?.token));
  if (edits.length === 0) return xml;
  return facts.doc.bom + applyEdits(facts.doc.body, edits).text;
}

function resolveSelection(facts: DomainFacts, selection: RemoveSelection | { hostdevs: unknown[] } | undefined): Wanted[] {
  if (selection === undefined) return facts.metadataGpus.map((g) => ({ label: `alias ${g.alias}`, addresses: [], aliases: [g.alias] }));
  if (selection === null || typeof selection !== 'object' || Array.isArray(selection)) {
    throw new PassthroughError('INPUT_INVALID', 'The selection must be a plan ({ hostdevs: [...] }) or { addresses: [...], aliases: [...] }.');
  }
  if ('hostdevs' in selection) {
    validatePlan(selection);
    return selection.hostdevs.map((h, i) => {
      const address = formatPciAddress(readPlanAddress(h.address, `hostdevs[${i}].address`));
      const alias = h.alias === undefined ? [] : [userAlias(h.alias)];
      return { label: `hostdevs[${i}] (${[address, ...alias].join(', ')})`, addresses: [address], aliases: alias };
    });
  }
  checkSelectionKeys(selection);
  const addresses = (selection.addresses ?? []).map((a, i) => formatPciAddress(readPlanAddress(a, `addresses[${i}]`)));
  const aliases = (selection.aliases ?? []).map((a) => userAlias(a));
  return [
    ...addresses.map((a) => ({ label: `address ${a}`, addresses: [a], aliases: [] })),
    ...aliases.map((a) => ({ label: `alias ${excerpt(a, 80)}`, addresses: [], aliases: [a] })),
  ];
}

const SELECTION_KEYS = ['addresses', 'aliases'];

function checkSelectionKeys(selection: object): asserts selection is RemoveSelection {
  for (const key of Object.keys(selection)) {
    if (SELECTION_KEYS.includes(key)) continue;
    const near = closest(key, SELECTION_KEYS);
    throw new PassthroughError(
      'INPUT_INVALID',
      `The selection has an unknown key "${excerpt(key, 40)}"${near ? ` (did you mean "${near}"?)` : ''}; it takes addresses and aliases, or is a plan.`,
    );
  }
  const { addresses, aliases } = selection as Record<string, unknown>;
  const isAddress = (a: unknown) => typeof a === 'string' || (typeof a === 'object' && a !== null && !Array.isArray(a));
  if (addresses !== undefined && !(Array.isArray(addresses) && addresses.every(isAddress))) {
    throw new PassthroughError('INPUT_INVALID', 'The selection\'s addresses must be an array of PCI addresses (`3b:00.0` or { bus, slot, function }).');
  }
  if (aliases !== undefined && !(Array.isArray(aliases) && aliases.every((a) => typeof a === 'string'))) {
    throw new PassthroughError('INPUT_INVALID', 'The selection\'s aliases must be an array of strings.');
  }
}

/** Everything asked for must be in the domain (as a hostdev, a clique setting or a metadata entry): a typo must not pass as done. */
function requireFound(facts: DomainFacts, wanted: Wanted[], removedSources: string[], nothingRecorded: boolean): void {
  if (wanted.length === 0 && nothingRecorded) {
    throw new PassthroughError(
      'REMOVE_NOT_FOUND',
      'Nothing to remove: without a selection only what the library recorded in the domain\'s metadata is removed (GPUs, the MMIO window), and it records none. Name the devices (--address, --alias, or --plan).',
    );
  }
  const sources = new Set(removedSources);
  const knownAliases = new Set([
    ...facts.hostdevs.flatMap((h) => (h.kind === 'hostdev' && h.alias ? [h.alias] : [])),
    ...facts.cliques.keys(),
    ...facts.metadataGpus.map((g) => g.alias),
  ]);
  const missing = wanted.filter((w) => !w.addresses.some((a) => sources.has(a)) && !w.aliases.some((a) => knownAliases.has(a)));
  if (missing.length === 0) return;
  const shown = missing.slice(0, 5).map((w) => w.label).join('; ') + (missing.length > 5 ? `; and ${missing.length - 5} more` : '');
  throw new PassthroughError(
    'REMOVE_NOT_FOUND',
    `Not in the domain, so nothing was removed: ${shown}. Check the addresses and aliases with \`libvirt-passthrough inspect\` (aliases are compared with their ua- prefix).`,
  );
}

/** Whether `el` is `ancestor` or inside it. */
function within(el: XmlElement, ancestor: XmlElement): boolean {
  for (let at: XmlElement | undefined = el; at; at = at.parent) if (at === ancestor) return true;
  return false;
}

/**
 * A `<devices>` the transform created, or opened from `<devices/>` (metadata `created`), goes back to
 * what it was once nothing but whitespace would be left in it; the one edit replaces the removals inside it.
 */
function devicesRestoration(facts: DomainFacts, removals: XmlElement[], reclosed?: XmlElement): { edit: Edit; token: string } | undefined {
  const devices = facts.devices;
  const token = ['devices', 'devices-opened'].find((t) => facts.metadataCreated.includes(t));
  if (!devices || !token) return undefined;
  const gone = new Set(removals);
  if (reclosed) gone.add(reclosed);
  if (!devices.children.every((el) => gone.has(el))) return undefined;
  const body = facts.doc.body;
  let rest = '';
  let cursor = devices.end;
  for (const el of devices.children) {
    rest += body.slice(cursor, el.start);
    cursor = el.elementEnd;
  }
  rest += body.slice(cursor, devices.contentEnd);
  if (rest.trim() !== '') return undefined;
  return { edit: token === 'devices' ? removal(facts, devices) : recloseElement(facts, devices), token };
}

/** Clique properties of removed aliases; a frontend, device or override left empty goes with them. */
function overrideRemovals(facts: DomainFacts, aliases: Set<string>): XmlElement[] {
  const removals: XmlElement[] = [];
  for (const override of facts.root.children.filter((el) => isQemu(el, 'override'))) {
    const doomed = new Set<XmlElement>();
    for (const device of override.children) {
      if (!isQemu(device, 'device') || !aliases.has(device.getAttribute('alias') ?? '')) continue;
      for (const frontend of device.children) {
        if (!isQemu(frontend, 'frontend')) continue;
        for (const p of frontend.children) if (isQemu(p, 'property') && p.getAttribute('name') === CLIQUE_PROPERTY) doomed.add(p);
      }
    }
    removals.push(...collapse(override, doomed));
  }
  return removals;
}

/** `<controller …>…</controller>` back to the self-closing `<controller …/>` the transform opened. */
function recloseElement(facts: DomainFacts, element: XmlElement): Edit {
  return { start: element.start, end: element.elementEnd, text: facts.doc.body.slice(element.start, element.end - 1) + '/>' };
}

/** The `<pcihole64>` the transform wrote, or the whole pcie-root controller when the transform created it. */
function pciholeRemovals(facts: DomainFacts): XmlElement[] {
  if (facts.metadataCreated.includes('pcie-root') && facts.pcieRoot) return [facts.pcieRoot];
  return facts.pcihole64 ? [facts.pcihole64.element] : [];
}

/** `-set device.ALIAS.x-nv-gpudirect-clique=N` pairs of removed aliases, the OVMF MMIO `-fw_cfg` pair, and the commandline if emptied. */
function commandlineRemovals(facts: DomainFacts, aliases: Set<string>, removeMmio: boolean): XmlElement[] {
  const removals: XmlElement[] = [];
  for (const commandline of facts.root.children.filter((el) => isQemu(el, 'commandline'))) {
    const args = commandline.children;
    const doomed = new Set<XmlElement>();
    args.forEach((arg, i) => {
      const m = /^device\.([^.]+)\.x-nv-gpudirect-clique=/.exec(arg.getAttribute('value') ?? '');
      if (m && aliases.has(m[1]) && args[i - 1]?.getAttribute('value') === '-set') {
        doomed.add(args[i - 1]);
        doomed.add(arg);
      }
      if (removeMmio && arg === facts.ovmfMmio64Mb?.element && args[i - 1]?.getAttribute('value') === '-fw_cfg') {
        doomed.add(args[i - 1]);
        doomed.add(arg);
      }
    });
    removals.push(...collapse(commandline, doomed));
  }
  return removals;
}

/** The topmost elements to remove so that no container is left without element children. */
function collapse(container: XmlElement, doomed: Set<XmlElement>): XmlElement[] {
  if (doomed.size === 0) return [];
  // Without recursion: a caller may raise maxDepth far beyond what the call stack survives.
  const preorder: XmlElement[] = [];
  for (const stack = [container]; stack.length > 0; ) {
    const el = stack.pop()!;
    preorder.push(el);
    for (let i = el.children.length - 1; i >= 0; i--) stack.push(el.children[i]);
  }
  const gone = new Set<XmlElement>();
  for (let i = preorder.length - 1; i >= 0; i--) {
    const el = preorder[i]; // its descendants were decided first
    if (doomed.has(el) || (el.children.length > 0 && el.children.every((child) => gone.has(child)))) gone.add(el);
  }
  const topmost: XmlElement[] = [];
  for (const stack = [container]; stack.length > 0; ) {
    const el = stack.pop()!;
    if (gone.has(el)) topmost.push(el);
    else for (let i = el.children.length - 1; i >= 0; i--) stack.push(el.children[i]);
  }
  return topmost;
}

/** An element and the line break and indentation in front of it: the exact text an insertion adds. */
function removal(facts: DomainFacts, element: XmlElement): Edit {
  const body = facts.doc.body;
  let start = element.start;
  while (start > 0 && (body[start - 1] === ' ' || body[start - 1] === '\t')) start--;
  if (body[start - 1] === '\n') start -= body[start - 2] === '\r' ? 2 : 1;
  else if (body[start - 1] === '\r') start--;
  return { start, end: element.elementEnd, text: '' };
}

function metadataEdits(facts: DomainFacts, aliases: Set<string>, removals: XmlElement[], removeMmio: boolean, devicesToken?: string): Edit[] {
  if (!facts.ourMetadata) return [];
  const remaining = facts.metadataGpus.filter((g) => !aliases.has(g.alias));
  if (remaining.length === facts.metadataGpus.length && !removeMmio && !devicesToken) return [];
  const mmio = removeMmio ? undefined : facts.metadataMmioGiB;
  const created = facts.metadataCreated.filter((c) => !(removeMmio && (c === 'pcie-root' || c === 'pcie-root-opened')) && c !== devicesToken);
  const devicesStillOpen = created.includes('devices') || created.includes('devices-opened');
  if (remaining.length > 0 || mmio !== undefined || devicesStillOpen) {
    // The same style the transform wrote the metadata with.
    const style = { quote: facts.quote, newline: facts.newline, unit: guessIndentUnit(facts) };
    return [replaceElement(facts, facts.ourMetadata, metadataLines(remaining, created, style, mmio), style).edit];
  }
  const edits: Edit[] = [];
  const metadataIsOurs = created.includes('metadata') && facts.metadata!.children.length === 1;
  edits.push(removal(facts, metadataIsOurs ? facts.metadata! : facts.ourMetadata));
  for (const token of created) {
    const prefix = /^xmlns:(.+)$/.exec(token)?.[1];
    if (prefix && !prefixStillUsed(facts, prefix, removals)) {
      const declaration = rootDeclaration(facts, prefix);
      if (declaration) edits.push(declaration);
    }
  }
  return edits;
}

/**
 * Whether anything left in the document still needs the root's `xmlns:PREFIX`: an element or attribute
 * with that prefix that is not removed and not under an element declaring the prefix itself (virt-install
 * writes `<qemu:commandline xmlns:qemu=…>`).
 */
function prefixStillUsed(facts: DomainFacts, prefix: string, removals: XmlElement[]): boolean {
  const removed = new Set(removals);
  // Without recursion: a caller may raise maxDepth far beyond what the call stack survives.
  for (const stack = facts.root.children.slice(); stack.length > 0; ) {
    const el = stack.pop()!;
    if (removed.has(el) || el.getAttribute(`xmlns:${prefix}`) !== null) continue;
    if (el.prefix === prefix) return true;
    const pairs = el.attributePairs;
    for (let i = 0; i < pairs.length; i += 2) if (pairs[i].startsWith(`${prefix}:`)) return true;
    for (const child of el.children) stack.push(child);
  }
  return false;
}

/** The ` xmlns:PREFIX='…'` attribute text in the root start tag. */
function rootDeclaration(facts: DomainFacts, prefix: string): Edit | undefined {
  const start = facts.root.start;
  const tag = facts.doc.body.slice(start, facts.root.end);
  const m = new RegExp(`\\s+xmlns:${prefix}\\s*=\\s*(["'])${QEMU_NS.replace(/[.]/g, '\\.')}\\1`).exec(tag);
  return m ? { start: start + m.index, end: start + m.index + m[0].length, text: '' } : undefined;
}
