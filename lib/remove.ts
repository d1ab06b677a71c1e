import type { XmlElement } from './load/element';
import { DomainFacts, readDomainFacts } from './domain/facts';
import { QEMU_NS, isQemu } from './domain/xml';
import { applyEdits, Edit } from './edit/splice';
import { guessIndentUnit, replaceElement } from './edit/anchors';
import { PassthroughError } from './errors';
import { LoadOptions, loadDomainXml } from './load/load';
import { userAlias } from './plan/normalize';
import { PlanAddress } from './plan/types';
import { readPlanAddress, validatePlan } from './plan/validate';
import { formatPciAddress } from './pci/address';
import { CLIQUE_PROPERTY } from './render/qemu';
import { metadataLines } from './render/metadata';

/** Which pass-through configuration to remove: host addresses and/or aliases, or a whole plan. */
export interface RemoveSelection {
  addresses?: PlanAddress[];
  aliases?: string[];
}

/**
 * The inverse of transformDomain: removes the selected PCI hostdevs, their GPUDirect clique settings
 * (`<qemu:override>` properties or `-set` arguments), and their entries in the library's metadata;
 * containers left empty go too, and so do `<metadata>` and the qemu namespace declaration when the
 * library created them. With a plan, removes everything the plan describes, so that
 * `removePassthrough(transformDomain(x, plan), plan) === x`. Without a selection: every GPU recorded
 * in the library's metadata.
 */
export function removePassthrough(xml: string, selection?: RemoveSelection | { hostdevs: unknown[] }, options: LoadOptions = {}): string {
  const facts = readDomainFacts(loadDomainXml(xml, options));
  const { addresses, aliases } = resolveSelection(facts, selection);
  const hostdevs = facts.hostdevs.filter(
    (h) => h.kind === 'hostdev' && (addresses.has(h.sourceKey) || (h.alias !== undefined && aliases.has(h.alias))),
  );
  const removedAliases = new Set([...aliases, ...hostdevs.flatMap((h) => (h.alias ? [h.alias] : []))]);
  const removeMmio = facts.metadataMmioGiB !== undefined && (selection === undefined || ('hostdevs' in selection && 'mmio' in selection));
  const removals: XmlElement[] = hostdevs.map((h) => h.element);
  removals.push(...overrideRemovals(facts, removedAliases), ...commandlineRemovals(facts, removedAliases, removeMmio));
  const reclose = removeMmio && facts.metadataCreated.includes('pcie-root-opened') && facts.pcieRoot;
  if (removeMmio && !reclose) removals.push(...pciholeRemovals(facts));
  const edits: Edit[] = removals.map((el) => removal(facts, el));
  if (reclose) edits.push(recloseElement(facts, facts.pcieRoot!));
  edits.push(...metadataEdits(facts, removedAliases, removals, removeMmio));
  if (edits.length === 0) return xml;
  return facts.doc.bom + applyEdits(facts.doc.body, edits).text;
}

function resolveSelection(facts: DomainFacts, selection: RemoveSelection | { hostdevs: unknown[] } | undefined) {
  const addresses = new Set<string>();
  const aliases = new Set<string>();
  if (selection === undefined) {
    for (const g of facts.metadataGpus) aliases.add(g.alias);
  } else if (selection && typeof selection === 'object' && 'hostdevs' in selection) {
    validatePlan(selection);
    selection.hostdevs.forEach((h, i) => {
      addresses.add(formatPciAddress(readPlanAddress(h.address, `hostdevs[${i}].address`)));
      if (h.alias) aliases.add(userAlias(h.alias));
    });
  } else if (selection && typeof selection === 'object') {
    (selection.addresses ?? []).forEach((a, i) => addresses.add(formatPciAddress(readPlanAddress(a, `addresses[${i}]`))));
    (selection.aliases ?? []).forEach((a) => aliases.add(userAlias(a)));
  } else {
    throw new PassthroughError('PLAN_INVALID', 'The selection must be a plan or { addresses, aliases }.', { path: '(root)' });
  }
  return { addresses, aliases };
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

function metadataEdits(facts: DomainFacts, aliases: Set<string>, removals: XmlElement[], removeMmio: boolean): Edit[] {
  if (!facts.ourMetadata) return [];
  const remaining = facts.metadataGpus.filter((g) => !aliases.has(g.alias));
  if (remaining.length === facts.metadataGpus.length && !removeMmio) return [];
  const mmio = removeMmio ? undefined : facts.metadataMmioGiB;
  if (remaining.length > 0 || mmio !== undefined) {
    // The same style the transform wrote the metadata with.
    const style = { quote: facts.quote, newline: facts.newline, unit: guessIndentUnit(facts) };
    const created = facts.metadataCreated.filter((c) => !(removeMmio && (c === 'pcie-root' || c === 'pcie-root-opened')));
    return [replaceElement(facts, facts.ourMetadata, metadataLines(remaining, created, style, mmio), style).edit];
  }
  const edits: Edit[] = [];
  const created = new Set(facts.metadataCreated);
  const metadataIsOurs = created.has('metadata') && facts.metadata!.children.length === 1;
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

/** Whether any qemu element other than the removed ones still needs the root's declaration. */
function prefixStillUsed(facts: DomainFacts, prefix: string, removals: XmlElement[]): boolean {
  const removed = new Set(removals);
  return facts.root.children.some((el) => el.namespaceURI === QEMU_NS && el.prefix === prefix && !removed.has(el));
}

/** The ` xmlns:PREFIX='…'` attribute text in the root start tag. */
function rootDeclaration(facts: DomainFacts, prefix: string): Edit | undefined {
  const start = facts.root.start;
  const tag = facts.doc.body.slice(start, facts.root.end);
  const m = new RegExp(`\\s+xmlns:${prefix}\\s*=\\s*(["'])${QEMU_NS.replace(/[.]/g, '\\.')}\\1`).exec(tag);
  return m ? { start: start + m.index, end: start + m.index + m[0].length, text: '' } : undefined;
}
