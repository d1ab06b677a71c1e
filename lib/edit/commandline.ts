import { DomainFacts } from '../domain/facts';
import { wrap } from '../render/qemu';
import { XmlStyle } from '../render/style';
import { appendInside } from './anchors';
import { EditPlan, addInsertion, blockStartsInWrapper } from './edit-plan';
import { qemuPrefix } from './qemu-namespace';

/**
 * All queued `<qemu:arg>` pairs in one place: inside the domain's `<qemu:commandline>`, or in a single new
 * one — the `-set` cliques of old stacks and OVMF's MMIO `-fw_cfg` must not each open their own.
 */
export function writeCommandline(facts: DomainFacts, style: XmlStyle, out: EditPlan): void {
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
