import { PciControllerFact } from '../domain/layout-facts';
import { PassthroughError } from '../errors';

/** The emulated bridges QEMU gives for libvirt's controller models: vendor, device (what the guest's sysfs shows). */
export const BRIDGES: Record<string, [vendor: string, device: string]> = {
  'pcie-root-port': ['0x1b36', '0x000c'],
  'pcie-switch-upstream-port': ['0x104c', '0x8232'],
  'pcie-switch-downstream-port': ['0x104c', '0x8233'],
  'pci-bridge': ['0x1b36', '0x0001'],
  'pcie-to-pci-bridge': ['0x1b36', '0x000e'],
  'dmi-to-pci-bridge': ['0x8086', '0x244e'],
};
export const EXPANDERS = ['pcie-expander-bus', 'pci-expander-bus'];

/** One PCI function on a guest bus, as the firmware meets it while numbering buses. */
export interface BusMember {
  /** The libvirt bus (controller index) it sits on. */
  bus: number;
  slot: number;
  function: number;
  /** What it is to the numbering: a bridge gets a secondary bus; an expander bus is a root bus of its own. */
  kind: 'bridge' | 'expander' | 'endpoint';
  /** Bridges and expander buses: the controller index the devices below them name as their bus. */
  index?: number;
  /** Expander buses: the first bus number (busNr) and the guest NUMA node. */
  busNr?: number;
  node?: number;
}

/** A member with the guest bus number it sits on and, for bridges and expander buses, the number below it. */
export interface NumberedMember {
  member: BusMember;
  /** Guest bus number of the bus it sits on. */
  guestBus: number;
  /** Bridges: the secondary bus the firmware gives them; expander buses: busNr. */
  secondary?: number;
  /** The guest NUMA node of its root bus (-1 for pcie.0). */
  node: number;
  children: NumberedMember[];
}

export interface NumberedRoot {
  /** Controller index: 0 for pcie.0, the expander bus's index otherwise. */
  index: number;
  busNumber: number;
  node: number;
  /** The highest bus number used below this root. */
  last: number;
  members: NumberedMember[];
}

/**
 * Guest bus numbers as the firmware (SeaBIOS and OVMF alike, observed with the guest oracle) assigns them: each
 * root bus (pcie.0 from 0, each pxb-pcie from its busNr) is walked depth-first in slot/function order, and every
 * bridge met takes the next number as its secondary bus before the walk goes below it. Throws
 * LAYOUT_INVALID when one root's buses run into the next root's busNr (libvirt accepts that, and the guest
 * silently loses the devices behind the bridge that got no bus) or past 255.
 */
export function numberBuses(members: BusMember[]): NumberedRoot[] {
  const onBus = new Map<number, BusMember[]>();
  for (const m of members) onBus.set(m.bus, [...(onBus.get(m.bus) ?? []), m]);
  for (const list of onBus.values()) list.sort((a, b) => a.slot - b.slot || a.function - b.function);
  const expanders = members.filter((m) => m.kind === 'expander').sort((a, b) => a.busNr! - b.busNr!);
  const roots: NumberedRoot[] = [{ index: 0, busNumber: 0, node: -1, last: 0, members: [] }];
  for (const e of expanders) roots.push({ index: e.index!, busNumber: e.busNr!, node: e.node ?? -1, last: e.busNr!, members: [] });
  for (const root of roots) {
    let counter = root.busNumber;
    const walk = (busIndex: number, guestBus: number): NumberedMember[] =>
      (onBus.get(busIndex) ?? []).map((member) => {
        const numbered: NumberedMember = { member, guestBus, node: root.node, children: [] };
        if (member.kind === 'expander') numbered.secondary = member.busNr;
        if (member.kind === 'bridge') {
          numbered.secondary = ++counter;
          numbered.children = walk(member.index!, numbered.secondary);
        }
        return numbered;
      });
    root.members = walk(root.index, root.busNumber);
    root.last = counter;
  }
  checkRanges(roots);
  return roots;
}

function checkRanges(roots: NumberedRoot[]): void {
  const sorted = [...roots].sort((a, b) => a.busNumber - b.busNumber);
  sorted.forEach((root, i) => {
    const next = sorted[i + 1];
    const name = root.index === 0 ? 'pcie.0' : `the pcie-expander-bus with index ${root.index} (busNr ${root.busNumber})`;
    if (next && root.last >= next.busNumber) {
      throw new PassthroughError(
        'LAYOUT_INVALID',
        `The guest's buses overlap: ${name} needs buses ${root.busNumber} to ${root.last} for the bridges below it, but the pcie-expander-bus with index ${next.index} starts at busNr ${next.busNumber}. ` +
          'libvirt accepts this and the guest silently loses the devices behind the bridge that gets no bus: raise that busNr (and the ones above it) so each range fits.',
      );
    }
    if (root.last > 255) {
      throw new PassthroughError('LAYOUT_INVALID', `The guest's buses run out: ${name} needs buses ${root.busNumber} to ${root.last}, past 255. Lower its busNr or put fewer bridges below it.`);
    }
  });
}

/** A device at `address` as the numbering sees it; `controller` when it is a PCI controller. */
export function busMember(address: { bus: number; slot: number; function: number }, controller?: Pick<PciControllerFact, 'index' | 'model' | 'busNr' | 'node'>): BusMember {
  const place = { bus: address.bus, slot: address.slot, function: address.function };
  const model = controller?.model ?? '';
  if (controller && EXPANDERS.includes(model)) {
    if (controller.busNr === undefined) {
      throw new PassthroughError(
        'INPUT_INVALID',
        `The ${model} with index ${controller.index} has no busNr: libvirt picks one at define, so the guest's bus numbers are not known before. Give it <target busNr='…'>, or give the defined domain (\`virsh dumpxml --inactive\`).`,
      );
    }
    return { ...place, kind: 'expander', index: controller.index, busNr: controller.busNr, node: controller.node };
  }
  if (controller && BRIDGES[model]) return { ...place, kind: 'bridge', index: controller.index };
  return { ...place, kind: 'endpoint' };
}
