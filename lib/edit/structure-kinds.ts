import type { XmlElement } from '../load/element';
import { DomainFacts } from '../domain/facts';
import { isQemu } from '../domain/xml';
import { attributes } from '../render/style';
import { LAYOUT_KINDS } from './layout-kinds';
import { ROOT_PORT_KIND } from './root-port-kind';
import { StructureKind, UndoContext, registerStructureKind, registeredKind } from './structure';

/** The structure the library itself creates; a new kind is one more entry here (or a registerStructureKind call). */
const LIBRARY_KINDS: StructureKind[] = [
  {
    kind: 'devices',
    find: (facts) => facts.devices,
    create: () => ({ tags: ['<devices>', '</devices>'], parent: 'root', position: 'last' }),
  },
  {
    // The MMIO window's controller: created holding `<pcihole64>`, or opened from `<controller …/>`.
    kind: 'pcie-root',
    find: (facts) => facts.pcieRoot,
    create: (_facts, style) => ({
      tags: [`<controller${attributes([['type', 'pci'], ['index', 0], ['model', 'pcie-root']], style.quote)}>`, '</controller>'],
      parent: { kind: 'devices' },
      position: 'first',
    }),
  },
  {
    kind: 'metadata',
    find: (facts) => facts.metadata,
    create: (facts) => {
      const anchor = lastHeaderElement(facts);
      return { tags: ['<metadata>', '</metadata>'], parent: 'root', position: anchor ? { after: anchor } : 'first' };
    },
  },
  {
    // `xmlns:PREFIX` on the root, declared for the qemu elements; it goes once nothing that stays uses the prefix.
    kind: 'xmlns',
    find: (facts, prefix) => (facts.root.getAttribute(`xmlns:${prefix}`) === null ? undefined : facts.root),
    attribute: (prefix) => `xmlns:${prefix}`,
    occupied: (_root, prefix, context) => prefixStillUsed(context, prefix ?? ''),
  },
  // The user's self-closing qemu elements, opened for what the library writes into them; never created as kinds
  // (a `<qemu:override>` or `<qemu:commandline>` the library creates goes when removal empties it).
  { kind: 'qemu-override', find: (facts) => facts.qemuOverride },
  { kind: 'qemu-commandline', find: (facts) => facts.qemuCommandline },
  { kind: 'qemu-device', find: (facts, alias) => facts.overrideDevices.get(alias ?? '') },
  { kind: 'qemu-frontend', find: (facts, alias) => facts.overrideDevices.get(alias ?? '')?.children.find((el) => isQemu(el, 'frontend')) },
];

for (const kind of [...LIBRARY_KINDS, ...LAYOUT_KINDS, ROOT_PORT_KIND]) registerStructureKind(kind);

/** The kind's definition, the library's own kinds always included. */
export function structureKind(kind: string): StructureKind | undefined {
  return registeredKind(kind);
}

/** libvirt writes name, uuid, genid, title and description first; a new `<metadata>` follows them. */
function lastHeaderElement(facts: DomainFacts): XmlElement | undefined {
  const header = ['name', 'uuid', 'genid', 'title', 'description'];
  let anchor: XmlElement | undefined;
  for (const el of facts.root.children) if (!el.namespaceURI && header.includes(el.localName ?? '')) anchor = el;
  return anchor;
}

/**
 * Whether anything that stays still needs the root's `xmlns:PREFIX`: an element or attribute with that prefix
 * not under an element declaring the prefix itself (virt-install writes `<qemu:commandline xmlns:qemu=…>`).
 */
function prefixStillUsed(context: UndoContext, prefix: string): boolean {
  // Without recursion: a caller may raise maxDepth far beyond what the call stack survives.
  for (const stack = context.facts.root.children.slice(); stack.length > 0; ) {
    const el = stack.pop()!;
    if (context.isRemoved(el) || el.getAttribute(`xmlns:${prefix}`) !== null) continue;
    if (el.prefix === prefix) return true;
    const pairs = el.attributePairs;
    for (let i = 0; i < pairs.length; i += 2) if (pairs[i].startsWith(`${prefix}:`)) return true;
    for (const child of el.children) stack.push(child);
  }
  return false;
}
