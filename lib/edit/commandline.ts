import { DomainFacts } from '../domain/facts';
import { XmlStyle } from '../render/style';
import { insertInto, rootChild } from './container';
import { EditPlan, addInsertion } from './edit-plan';
import { qemuPrefix } from './qemu-namespace';

/**
 * All queued `<qemu:arg>` pairs in one place: inside the domain's `<qemu:commandline>`, or in a single new
 * one — the `-set` cliques of old stacks and OVMF's MMIO `-fw_cfg` must not each open their own.
 */
export function writeCommandline(facts: DomainFacts, style: XmlStyle, out: EditPlan): void {
  if (out.pendingArgs.length === 0) return;
  const blocks = out.pendingArgs.map((p) => p.lines);
  const prefix = qemuPrefix(facts, facts.qemuCommandline, style, out);
  const commandline = { structure: { kind: 'qemu-commandline', openedOnly: true }, element: facts.qemuCommandline, creation: rootChild(`<${prefix}:commandline>`, `</${prefix}:commandline>`) };
  const insertion = insertInto(facts, commandline, blocks, style);
  const edit = addInsertion(out, insertion);
  out.pendingArgs.forEach((p, i) => p.changes.forEach((change) => out.changes.push({ change, edit, at: insertion.blockStarts[i] })));
}
