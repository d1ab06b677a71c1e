import type { XmlElement } from '../load/element';
import { DomainFacts } from '../domain/facts';
import { QEMU_NS } from '../domain/xml';
import { XmlStyle } from '../render/style';
import { declareOnRoot } from './anchors';
import { EditPlan, addInsertion } from './edit-plan';

/** The prefix to write qemu elements with, declaring it on the root when the root has none. */
export function qemuPrefix(facts: DomainFacts, existing: XmlElement | undefined, style: XmlStyle, out: EditPlan): string {
  if (existing?.prefix) return existing.prefix;
  if (facts.qemuPrefixOnRoot) return facts.qemuPrefixOnRoot;
  if (out.qemuPrefix) return out.qemuPrefix;
  let prefix = 'qemu';
  for (let n = 2; facts.rootPrefixes.has(prefix); n++) prefix = `qemu${n}`;
  const edit = addInsertion(out, { edit: declareOnRoot(facts, prefix, QEMU_NS, style), blockStarts: [1], creates: [{ kind: 'xmlns', arg: prefix, opened: false }] });
  out.qemuPrefix = prefix;
  out.changes.push({ change: { kind: 'namespace-added' }, edit, at: 1 });
  return prefix;
}
