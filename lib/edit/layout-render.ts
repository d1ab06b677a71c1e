import { LayoutController } from '../layout/types';
import { PciAddress, pciAddressAttributes } from '../pci/address';
import { Lines, XmlStyle, attributes } from '../render/style';

/** Where a layout controller sits, as a PCI address on its parent bus. */
export function controllerAddress(c: LayoutController): PciAddress {
  return { domain: 0, bus: c.bus, slot: c.slot, function: c.function };
}

/**
 * A controller in the order `virsh dumpxml` prints one (model, target, address). Ports get no `<model name>`:
 * libvirt fills in its default (pcie-root-port, x3130-upstream, xio3130-downstream), which is what we want.
 */
export function controllerLines(c: LayoutController, style: XmlStyle): Lines {
  const q = style.quote;
  const lines: Lines = [[0, `<controller${attributes([['type', 'pci'], ['index', c.index], ['model', c.model]], q)}>`]];
  if (c.model === 'pcie-expander-bus') {
    lines.push([1, `<model${attributes([['name', 'pxb-pcie']], q)}/>`]);
    lines.push([1, `<target${attributes([['busNr', c.busNr!]], q)}>`], [2, `<node>${c.node}</node>`], [1, '</target>']);
  } else if (c.chassis !== undefined || c.port !== undefined) {
    const target: [string, string | number][] = [];
    if (c.chassis !== undefined) target.push(['chassis', c.chassis]);
    if (c.port !== undefined) target.push(['port', `0x${c.port.toString(16)}`]);
    lines.push([1, `<target${attributes(target, q)}/>`]);
  }
  lines.push([1, addressLine(controllerAddress(c), c.multifunction === true, style)]);
  lines.push([0, '</controller>']);
  return lines;
}

/** `<address type='pci' …/>` in libvirt's format, `multifunction='on'` last as libvirt writes it. */
export function addressLine(address: PciAddress, multifunction: boolean, style: XmlStyle): string {
  const pairs: [string, string][] = [['type', 'pci'], ...pciAddressAttributes(address)];
  if (multifunction) pairs.push(['multifunction', 'on']);
  return `<address${attributes(pairs, style.quote)}/>`;
}

/** One guest NUMA cell the transform creates. */
export interface NewCell {
  id: number;
  firstCpu: number;
  lastCpu: number;
  memoryKiB: number;
}

export function cpuRange(cell: NewCell): string {
  return cell.firstCpu === cell.lastCpu ? String(cell.firstCpu) : `${cell.firstCpu}-${cell.lastCpu}`;
}

export function cellLines(cells: NewCell[], style: XmlStyle): Lines {
  return cells.map((c): [number, string] => [
    0,
    `<cell${attributes([['id', c.id], ['cpus', cpuRange(c)], ['memory', c.memoryKiB], ['unit', 'KiB']], style.quote)}/>`,
  ]);
}
