import type { XmlElement } from '../load/element';
import { DomainFacts } from '../domain/facts';
import { isQemu } from '../domain/xml';
import { CLIQUE_PROPERTY } from '../render/qemu';

/** Clique properties of removed aliases; a frontend, device or override left empty goes with them. */
export function overrideRemovals(facts: DomainFacts, aliases: Set<string>, keep: Set<XmlElement>): XmlElement[] {
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
    removals.push(...collapse(override, doomed, keep));
  }
  return removals;
}

/** `-set device.ALIAS.x-nv-gpudirect-clique=N` pairs of removed aliases, the OVMF MMIO `-fw_cfg` pair, and the commandline if emptied. */
export function commandlineRemovals(facts: DomainFacts, aliases: Set<string>, removeMmio: boolean, keep: Set<XmlElement>): XmlElement[] {
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
    removals.push(...collapse(commandline, doomed, keep));
  }
  return removals;
}

/**
 * The topmost elements to remove so that no container is left without element children, except the user's own
 * (`keep`: self-closing ones the library opened, which removal closes again instead).
 */
function collapse(container: XmlElement, doomed: Set<XmlElement>, keep: Set<XmlElement>): XmlElement[] {
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
    if (doomed.has(el) || (!keep.has(el) && el.children.length > 0 && el.children.every((child) => gone.has(child)))) gone.add(el);
  }
  const topmost: XmlElement[] = [];
  for (const stack = [container]; stack.length > 0; ) {
    const el = stack.pop()!;
    if (gone.has(el)) topmost.push(el);
    else for (let i = el.children.length - 1; i >= 0; i--) stack.push(el.children[i]);
  }
  return topmost;
}
