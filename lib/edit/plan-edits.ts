import { DomainFacts } from '../domain/facts';
import { OverrideStyle, PlannedHostdev } from '../plan/types';
import { XmlStyle } from '../render/style';
import { placeCliques } from './cliques';
import { writeCommandline } from './commandline';
import { EditPlan, emptyEditPlan } from './edit-plan';
import { placeHostdevs } from './hostdevs';
import { placeMetadata } from './metadata';
import { placeMmio } from './mmio';
import { decideLayout, placeCells, placeLonelyControllers, recordControllers } from './layout';
import { layoutMetadataPart, layoutRecord } from './layout-record';
import { PlanLayout } from '../layout/types';

export type { EditPlan } from './edit-plan';

/**
 * The edit list of a transform, one planner per concern, in an order that matters: hostdevs first (they
 * decide the aliases cliques name), then cliques and the MMIO window (both may queue `<qemu:arg>` pairs),
 * then the one `<qemu:commandline>` for those pairs, then the metadata recording what was created.
 */
export function planEdits(
  facts: DomainFacts,
  hostdevs: PlannedHostdev[],
  style: XmlStyle,
  overrideStyle: OverrideStyle,
  mmio?: { window64GiB: number },
  layout?: PlanLayout,
): EditPlan {
  const out = emptyEditPlan();
  const decided = layout && decideLayout(facts, layout, hostdevs, style, out.warnings);
  const planned = decided ? decided.hostdevs : hostdevs;
  const addsHostdevs = planned.some((h) => !facts.hostdevs.some((e) => e.sourceKey === h.addressKey));
  const gpus = placeHostdevs(facts, planned, style, out, mmio?.window64GiB, addsHostdevs ? decided?.controllerBlocks : []);
  if (decided && !addsHostdevs) placeLonelyControllers(facts, decided, style, out);
  if (decided) {
    placeCells(facts, decided, style, out);
    recordControllers(decided, out);
    const part = layoutMetadataPart(facts, layoutRecord(decided.layout, decided.planIndexes, planned), style);
    if (part) out.metadataParts.push(part);
  }
  if (gpus.length > 0) placeCliques(facts, gpus, style, overrideStyle, out);
  if (mmio) placeMmio(facts, mmio.window64GiB, style, out);
  writeCommandline(facts, style, out);
  // Also for plans without GPUs: the record says what removal takes back (even when the domain had it all already),
  // and what structure (`<devices>`, a layout) the transform created.
  if (hostdevs.length > 0 || mmio || out.created.length > 0 || out.metadataParts.length > 0) placeMetadata(facts, gpus, mmio?.window64GiB, style, out);
  if (gpus.length > 0 && facts.hidesKvm) {
    out.warnings.push(
      'The domain hides KVM from the guest (<kvm><hidden state=\'on\'/> or kvm=off): the NVIDIA driver then ignores the GPUDirect capability. Remove it unless the guest driver needs it.',
    );
  }
  return out;
}
