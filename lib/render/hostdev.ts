import { PlannedHostdev } from '../plan/types';
import { pciAddressAttributes } from '../pci/address';
import { Lines, XmlStyle, attributes, nest } from './style';

/**
 * The NPU guide's `<hostdev>` shape, plus what the plan asks for, in the order `virsh dumpxml`
 * prints a hostdev's children (source, alias, boot, rom, guest address).
 */
export function hostdevLines(h: PlannedHostdev, style: XmlStyle): Lines {
  const q = style.quote;
  const lines: Lines = [
    [0, `<hostdev${attributes([['mode', 'subsystem'], ['type', 'pci'], ['managed', h.managed ? 'yes' : 'no']], q)}>`],
    [1, '<source>'],
    [2, `<address${attributes(pciAddressAttributes(h.address), q)}/>`],
    [1, '</source>'],
  ];
  if (h.alias) lines.push(aliasLine(h.alias, style));
  if (h.bootOrder !== undefined) lines.push([1, `<boot${attributes([['order', h.bootOrder]], q)}/>`]);
  if (h.rom) lines.push([1, `<rom${attributes(romAttributes(h.rom), q)}/>`]);
  if (h.guestAddress) {
    const multifunction: [string, string][] = h.guestMultifunction ? [['multifunction', 'on']] : [];
    lines.push([1, `<address${attributes([['type', 'pci'], ...pciAddressAttributes(h.guestAddress), ...multifunction], q)}/>`]);
  }
  lines.push([0, '</hostdev>']);
  return lines;
}

export function aliasLine(alias: string, style: XmlStyle): [number, string] {
  return [1, `<alias${attributes([['name', alias]], style.quote)}/>`];
}

function romAttributes(rom: { bar?: string; file?: string }): [string, string][] {
  const pairs: [string, string][] = [];
  if (rom.bar) pairs.push(['bar', rom.bar]);
  if (rom.file) pairs.push(['file', rom.file]);
  return pairs;
}

export { nest };
