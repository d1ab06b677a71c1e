import type { XmlElement } from '../load/element';
import { DomainFacts } from '../domain/facts';
import { isPlain } from '../domain/xml';
import { pciAddressFromAttributes } from '../pci/address';
import { StructureKind, UndoContext } from './structure';

/**
 * A `pcie-root-port` controller libvirt added on define for a hostdev the transform placed without a free port
 * (`created='pcie-root-port:INDEX'`, recorded by apply from libvirt's read-back: lib/libvirt/root-ports.ts). It is
 * needed while a device that stays sits on its bus, or a PCI controller with a higher index stays: libvirt fills a
 * gap in the controller indexes with a new root port on define, so taking it out would change nothing.
 */
export const ROOT_PORT_KIND: StructureKind = {
  kind: 'pcie-root-port',
  find: (facts, index) => rootPorts(facts).find((c) => Number(c.getAttribute('index')) === Number(index)),
  occupied: (port, index, context) => busUsers(context, Number(index)).some((el) => el !== port) || higherControllerStays(context, Number(index)),
};

export function rootPorts(facts: DomainFacts): XmlElement[] {
  const devices = facts.devices?.children ?? [];
  return devices.filter((el) => isPlain(el, 'controller') && el.getAttribute('type') === 'pci' && el.getAttribute('model') === 'pcie-root-port');
}

/** Devices and controllers that stay and whose own guest `<address type='pci'>` is on `bus`. */
function busUsers(context: UndoContext, bus: number): XmlElement[] {
  return (context.facts.devices?.children ?? []).filter((device) => {
    if (context.isGone(device)) return false;
    const address = device.children.find((c) => isPlain(c, 'address') && c.getAttribute('type') === 'pci');
    return address !== undefined && pciAddressFromAttributes((n) => address.getAttribute(n))?.bus === bus;
  });
}

function higherControllerStays(context: UndoContext, index: number): boolean {
  return (context.facts.devices?.children ?? []).some(
    (el) => isPlain(el, 'controller') && el.getAttribute('type') === 'pci' && Number(el.getAttribute('index')) > index && !context.isGone(el),
  );
}
