import type { XmlElement } from '../load/element';
import { DomainFacts } from '../domain/facts';
import { readLayoutFacts } from '../domain/layout-facts';
import { attr, child, isPlain } from '../domain/xml';
import { StructureKind, UndoContext } from './structure';

/**
 * The structure a guest layout creates: its PCI controllers (`controller:INDEX`), and the `<numa>` cells (with the
 * `<cpu>` around them when the domain had none). Registered in structure-kinds.ts; removal has no case for them.
 */
export const LAYOUT_KINDS: StructureKind[] = [
  {
    // A controller is needed while a device that stays names its bus (libvirt would add one back, elsewhere).
    kind: 'controller',
    find: (facts, index) => facts.deviceElements.find((d) => isPciController(d) && attr(d, 'index') === index),
    occupied: (_controller, index, context) => busStillUsed(context, Number(index)),
  },
  {
    kind: 'cpu',
    find: (facts) => child(facts.root, 'cpu'),
    create: (facts) => ({ tags: ['<cpu>', '</cpu>'], parent: 'root', position: cpuPosition(facts) }),
  },
  {
    // The cells are the layout's: needed while an expander bus that stays puts devices on a node, or while something
    // else (a distance, a cell the user added) was put in since.
    kind: 'numa',
    find: (facts) => child(child(facts.root, 'cpu') ?? facts.root, 'numa'),
    create: () => ({ tags: ['<numa>', '</numa>'], parent: { kind: 'cpu' }, position: 'last' }),
    occupied: (numa, _arg, context) => nodesStillUsed(context) || numa.children.some((cell) => !isPlain(cell, 'cell') || cell.children.length > 0),
  },
];

function isPciController(el: XmlElement): boolean {
  return isPlain(el, 'controller') && attr(el, 'type') === 'pci';
}

function busStillUsed(context: UndoContext, index: number): boolean {
  return readLayoutFacts(context.facts).addressed.some((d) => d.address.bus === index && !context.isGone(d.element));
}

function nodesStillUsed(context: UndoContext): boolean {
  const lf = readLayoutFacts(context.facts);
  const numatune = child(context.facts.root, 'numatune');
  return lf.controllers.some((c) => c.node !== undefined && !context.isGone(c.element)) || (!!numatune && !!child(numatune, 'memnode'));
}

/** libvirt writes `<cpu>` after `<features>`; a domain with a layout has them (ACPI is required). */
function cpuPosition(facts: DomainFacts): 'first' | { after: XmlElement } {
  const anchor = child(facts.root, 'features') ?? child(facts.root, 'os') ?? facts.root.children[facts.root.children.length - 1];
  return anchor ? { after: anchor } : 'first';
}
