import { DomainFacts, positionOf } from '../domain/facts';
import { isQemu } from '../domain/xml';
import { PassthroughError, excerpt } from '../errors';
import { OverrideStyle } from '../plan/types';
import { cliquePropertyLine, frontendLines, overrideDeviceLines, setArgLines } from '../render/qemu';
import { XmlStyle } from '../render/style';
import { added } from './added';
import { appendInside } from './anchors';
import { Change } from './changes';
import { insertInto, rootChild } from './container';
import { EditPlan, Gpu, addInsertion, recordCreated } from './edit-plan';
import { qemuPrefix } from './qemu-namespace';

/** Each GPU's clique, as a `<qemu:override>` property or (old stacks) a queued `-set` argument pair. */
export function placeCliques(facts: DomainFacts, gpus: Gpu[], style: XmlStyle, overrideStyle: OverrideStyle, out: EditPlan): void {
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
      `The domain already gives ${gpu.alias} GPUDirect clique ${excerpt(setting.clique, 20)}, but the plan says ${gpu.clique}. Remove the existing setting (libvirt-passthrough remove) or change the plan.`,
      where,
    );
  }
  out.changes.push({ change: { ...cliqueChange(gpu, 'clique-unchanged', overrideStyle), line: where.line } });
  return true;
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
    // The user's `<qemu:device alias=…/>` (or frontend) opened for the property: removal closes it again.
    if ((frontend ?? device).selfClosing) recordCreated(out, { kind: frontend ? 'qemu-frontend' : 'qemu-device', arg: gpu.alias, opened: true });
    out.added.push(added.clique(gpu.alias));
    out.changes.push({ change: cliqueChange(gpu, 'clique-added', 'override'), edit, at: insertion.blockStarts[0] });
  }
  if (fresh.length === 0) return;
  const blocks = fresh.map((gpu) => overrideDeviceLines(prefix, gpu, style));
  const override = { structure: { kind: 'qemu-override', openedOnly: true }, element: facts.qemuOverride, creation: rootChild(`<${prefix}:override>`, `</${prefix}:override>`) };
  const insertion = insertInto(facts, override, blocks, style);
  const edit = addInsertion(out, insertion);
  out.added.push(...fresh.map((gpu) => added.clique(gpu.alias)));
  fresh.forEach((gpu, i) => out.changes.push({ change: cliqueChange(gpu, 'clique-added', 'override'), edit, at: insertion.blockStarts[i] }));
}

/** Queued for writeCommandline, which puts every `<qemu:arg>` pair of this transform into one `<qemu:commandline>`. */
function placeSetArguments(facts: DomainFacts, gpus: Gpu[], style: XmlStyle, out: EditPlan): void {
  const prefix = qemuPrefix(facts, facts.qemuCommandline, style, out);
  for (const gpu of gpus) out.added.push(added.clique(gpu.alias));
  for (const gpu of gpus) out.pendingArgs.push({ lines: setArgLines(prefix, gpu, style), changes: [cliqueChange(gpu, 'clique-added', 'commandline')] });
}
