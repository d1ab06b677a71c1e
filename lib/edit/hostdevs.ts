import { DomainFacts, ExistingHostdev, positionOf } from '../domain/facts';
import { child } from '../domain/xml';
import { excerpt } from '../errors';
import { formatPciAddress } from '../pci/address';
import { PlannedHostdev } from '../plan/types';
import { aliasLine, hostdevLines } from '../render/hostdev';
import { Lines, XmlStyle } from '../render/style';
import { added } from './added';
import { hostdevPosition, insertAfter, insertFirst } from './anchors';
import { Change } from './changes';
import { insertInto, kindContainer } from './container';
import { EditPlan, Gpu, addInsertion, conflict } from './edit-plan';
import { rootControllerLines } from './mmio';

/**
 * New `<hostdev>` elements in one insertion; devices already present are checked and reused. Returns the GPUs that need
 * a clique. `leading`: layout controllers, written in the same insertion just before the new hostdevs that sit on them.
 */
export function placeHostdevs(
  facts: DomainFacts,
  hostdevs: PlannedHostdev[],
  style: XmlStyle,
  out: EditPlan,
  window64GiB?: number,
  leading: { lines: Lines; change: Change }[] = [],
): Gpu[] {
  const existingBySource = new Map(facts.hostdevs.map((h) => [h.sourceKey, h]));
  const newHostdevs: PlannedHostdev[] = [];
  const gpus: Gpu[] = [];
  for (const planned of hostdevs) {
    const existing = existingBySource.get(planned.addressKey);
    const alias = existing ? reuseExisting(facts, planned, existing, style, out) : checkNewHostdev(facts, planned);
    if (!existing) newHostdevs.push(planned);
    if (planned.gpudirect && alias) gpus.push({ alias, clique: planned.gpudirect.clique, planned });
  }
  if (newHostdevs.length > 0) {
    // Opening `<devices/>` (or creating `<devices>`) twice would overlap: a new pcie-root goes in the same insertion.
    const controller = window64GiB !== undefined && !facts.pcieRoot && (!facts.devices || facts.devices.selfClosing);
    const blocks = [
      ...(controller ? [rootControllerLines(facts, window64GiB, style)] : []),
      ...leading.map((l) => l.lines),
      ...newHostdevs.map((h) => hostdevLines(h, style)),
    ];
    const position = facts.devices ? hostdevPosition(facts, facts.devices) : 'last';
    const insertion = insertInto(facts, kindContainer(facts, style, 'devices'), blocks, style, position);
    const edit = addInsertion(out, insertion);
    if (controller) out.rootControllerPlaced = { edit, at: insertion.blockStarts[0] };
    const first = (controller ? 1 : 0) + leading.length;
    leading.forEach((l, i) => out.changes.push({ change: l.change, edit, at: insertion.blockStarts[first - leading.length + i] }));
    out.added.push(...newHostdevs.map((h) => added.hostdev(h.addressKey)));
    newHostdevs.forEach((h, i) =>
      out.changes.push({ change: { kind: 'hostdev-added', address: h.addressKey, alias: h.alias }, edit, at: insertion.blockStarts[first + i] }),
    );
  }
  return gpus;
}

function checkNewHostdev(facts: DomainFacts, planned: PlannedHostdev): string | undefined {
  const path = `hostdevs[${planned.index}]`;
  const owner = planned.alias === undefined ? undefined : facts.aliases.get(planned.alias);
  if (owner) {
    throw conflict(facts, owner, `Alias ${planned.alias} (${path}) is already used by a <${clipValue(owner.tagName)}> in the domain. Choose another alias.`);
  }
  const guest = planned.guestAddress && formatPciAddress(planned.guestAddress);
  const occupant = guest === undefined ? undefined : facts.guestAddresses.get(guest);
  if (occupant) {
    throw conflict(facts, occupant, `Guest PCI address ${guest} (${path}.guestAddress) is already used by a <${clipValue(occupant.tagName)}>. Choose a free address or omit guestAddress.`);
  }
  checkBootOrder(facts, planned);
  return planned.alias;
}

function checkBootOrder(facts: DomainFacts, planned: PlannedHostdev): void {
  if (planned.bootOrder === undefined) return;
  const path = `hostdevs[${planned.index}].bootOrder`;
  if (facts.osBoot) {
    throw conflict(
      facts,
      facts.osBoot,
      `bootOrder (${path}) cannot be used while the domain boots by <os><boot dev=…>: libvirt refuses per-device boot elements together with os/boot elements. Remove <boot dev> from <os> and give each boot device an order, or drop bootOrder.`,
    );
  }
  const other = facts.bootOrders.get(planned.bootOrder);
  if (other) throw conflict(facts, other, `Boot order ${planned.bootOrder} (${path}) is already used by a <${clipValue(other.tagName)}>; libvirt needs each order once.`);
}

/** A device already in the domain: unchanged when it matches, a conflict when it differs in a way that matters. */
function reuseExisting(facts: DomainFacts, planned: PlannedHostdev, existing: ExistingHostdev, style: XmlStyle, out: EditPlan): string | undefined {
  const differences = differencesFrom(planned, existing);
  if (differences.length > 0) {
    throw conflict(
      facts,
      existing.element,
      `Host device ${planned.addressKey} (hostdevs[${planned.index}]) is already in the domain but ${differences.join(', ')}. ` +
        'Change the plan to match, or remove the device from the domain first.',
    );
  }
  const line = positionOf(facts, existing.element).line;
  out.changes.push({ change: { kind: 'hostdev-unchanged', address: planned.addressKey, alias: existing.alias ?? planned.alias, line } });
  // A planned alias is written (the clique override needs one; `remove --alias` and --explain rely on it).
  if (existing.alias !== undefined || planned.alias === undefined) return existing.alias;
  return addAlias(facts, planned, existing, style, out);
}

function differencesFrom(planned: PlannedHostdev, existing: ExistingHostdev): string[] {
  const found: string[] = [];
  if (existing.kind === 'interface') found.push("as an <interface type='hostdev'> (a network function), not a <hostdev>");
  if (existing.managed !== planned.managed) found.push(`with managed='${existing.managed ? 'yes' : 'no'}'`);
  if (existing.alias !== undefined && !planned.aliasWasGenerated && planned.alias !== undefined && existing.alias !== planned.alias) {
    found.push(`with alias '${clipValue(existing.alias)}', not '${planned.alias}'`);
  }
  if (existing.alias !== undefined && planned.gpudirect && !existing.alias.startsWith('ua-')) {
    found.push(`with alias '${clipValue(existing.alias)}', which libvirt assigned itself and drops on define (use \`virsh dumpxml --inactive\`)`);
  }
  const guest = planned.guestAddress && formatPciAddress(planned.guestAddress);
  const existingGuest = existing.guestAddress && formatPciAddress(existing.guestAddress);
  if (guest !== undefined && guest !== existingGuest) found.push(`at guest address ${existingGuest ?? '(none)'}, not ${guest}`);
  if (planned.rom?.bar !== undefined && planned.rom.bar !== existing.romBar) found.push(`with rom bar '${clipValue(existing.romBar ?? '(unset)')}'`);
  if (planned.rom?.file !== undefined && planned.rom.file !== existing.romFile) found.push(`with rom file '${clipValue(existing.romFile ?? '(unset)')}'`);
  if (planned.bootOrder !== undefined && planned.bootOrder !== existing.bootOrder) found.push(`with boot order ${existing.bootOrder ?? '(unset)'}`);
  return found;
}

/** An existing hostdev without an alias gets the planned one (a GPU's generated alias included: its clique override names it). */
function addAlias(facts: DomainFacts, planned: PlannedHostdev, existing: ExistingHostdev, style: XmlStyle, out: EditPlan): string {
  const alias = planned.alias!;
  const owner = facts.aliases.get(alias);
  if (owner) throw conflict(facts, owner, `Alias ${alias} (hostdevs[${planned.index}]) is already used by another <${clipValue(owner.tagName)}>. Choose another alias.`);
  const source = child(existing.element, 'source');
  const line: Lines = [[0, aliasLine(alias, style)[1]]];
  const insertion = source ? insertAfter(facts, source, [line], style) : insertFirst(facts, existing.element, [line], style);
  const edit = addInsertion(out, insertion);
  out.added.push(added.alias(alias));
  out.changes.push({ change: { kind: 'alias-added', alias, address: planned.addressKey }, edit, at: insertion.blockStarts[0] });
  return alias;
}

/** Values read from the domain can be any length; messages quote at most a line of them. */
function clipValue(value: string): string {
  return excerpt(value, 80);
}
