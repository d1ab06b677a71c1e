import { DomainFacts, positionOf } from '../domain/facts';
import { PassthroughError } from '../errors';
import { wrap } from '../render/qemu';
import { Lines, XmlStyle, attributes } from '../render/style';
import { added } from './added';
import { Change } from './changes';
import { insertInto, kindContainer } from './container';
import { EditPlan, addInsertion, recordCreated } from './edit-plan';
import { qemuPrefix } from './qemu-namespace';

const GiB = 1024 ** 3;
const OVMF_MMIO_ARG = (mb: number) => `name=opt/ovmf/X-PciMmio64Mb,string=${mb}`;

/** `<pcihole64>` on the pcie-root controller and, for OVMF guests, a queued `-fw_cfg opt/ovmf/X-PciMmio64Mb`. */
export function placeMmio(facts: DomainFacts, window64GiB: number, style: XmlStyle, out: EditPlan): void {
  placePcihole64(facts, window64GiB, style, out);
  if (!facts.usesOvmf) return;
  const mb = window64GiB * 1024;
  if (facts.ovmfMmio64Mb) {
    if (facts.ovmfMmio64Mb.value !== mb) {
      throw new PassthroughError(
        'MMIO_CONFLICT',
        `The domain already sets OVMF's 64-bit MMIO window to ${facts.ovmfMmio64Mb.value} MiB, the plan asks for ${mb} MiB. Remove the -fw_cfg argument pair or change the plan.`,
        positionOf(facts, facts.ovmfMmio64Mb.element),
      );
    }
    return;
  }
  const prefix = qemuPrefix(facts, facts.qemuCommandline, style, out);
  const lines: Lines = [
    [0, `<${prefix}:arg${attributes([['value', '-fw_cfg']], style.quote)}/>`],
    [0, `<${prefix}:arg${attributes([['value', OVMF_MMIO_ARG(mb)]], style.quote)}/>`],
  ];
  out.added.push(added.fwCfg);
  out.pendingArgs.push({ lines, changes: [{ kind: 'mmio-added', mmioWindowGiB: window64GiB }] });
}

function placePcihole64(facts: DomainFacts, window64GiB: number, style: XmlStyle, out: EditPlan): void {
  if (facts.pcihole64) {
    if (facts.pcihole64.bytes !== window64GiB * GiB) {
      throw new PassthroughError(
        'MMIO_CONFLICT',
        `The pcie-root controller already has a 64-bit PCI hole of ${facts.pcihole64.bytes / GiB} GiB, the plan asks for ${window64GiB} GiB. Remove <pcihole64> or change the plan.`,
        positionOf(facts, facts.pcihole64.element),
      );
    }
    return;
  }
  const change: Change = { kind: 'mmio-added', mmioWindowGiB: window64GiB };
  if (out.rootControllerPlaced) {
    // placeHostdevs wrote the controller into the `<devices>` it created or opened, as its first block.
    recordCreated(out, { kind: 'pcie-root', opened: false });
    out.added.push(added.pcihole64);
    out.changes.push({ change, ...out.rootControllerPlaced });
    return;
  }
  const insertion = insertInto(facts, kindContainer(facts, style, 'pcie-root'), [pcihole64Lines(window64GiB, style)], style);
  const edit = addInsertion(out, insertion);
  out.added.push(added.pcihole64);
  out.changes.push({ change, edit, at: insertion.outerStart ?? insertion.blockStarts[0] });
}

function pcihole64Lines(window64GiB: number, style: XmlStyle): Lines {
  return [[0, `<pcihole64${attributes([['unit', 'KiB']], style.quote)}>${window64GiB * 1024 * 1024}</pcihole64>`]];
}

/** `<controller type='pci' index='0' model='pcie-root'>` holding the `<pcihole64>` of the window. */
export function rootControllerLines(facts: DomainFacts, window64GiB: number, style: XmlStyle): Lines {
  const [open, close] = kindContainer(facts, style, 'pcie-root').creation.tags;
  return wrap(open, close, pcihole64Lines(window64GiB, style));
}
