import type { XmlElement } from '../load/element';
import { DomainFacts } from '../domain/facts';
import { PASSTHROUGH_NS, attr } from '../domain/xml';
import { lookupNvidiaDevice } from '../gpudirect/architecture';
import { DeviceRole, LayoutCell, LayoutKind, LayoutLink, PlanLayout } from '../layout/types';
import { parseDeviceId } from '../pci/address';
import { PlannedHostdev } from '../plan/types';
import { METADATA_PREFIX, MetadataPart } from '../render/metadata';
import { Lines, XmlStyle, attributes, placeLines } from '../render/style';
import { indentOf } from './anchors';

/**
 * The layout as the metadata records it (`<passthrough:layout>`), for what the domain XML cannot say:
 * which host bridge or port each controller mirrors and the host's link there, which host node each guest
 * cell serves, and what each placed device is. nccl-topo and guestTreeFromDomain read it back.
 */
export interface LayoutRecord {
  kind: LayoutKind;
  cells: LayoutCell[];
  /** `index` in the domain's numbering, `plan` the plan's (the transform renumbers above the domain's own). */
  controllers: { index: number; plan?: number; mirrors?: string; link?: LayoutLink }[];
  devices: { alias: string; role: DeviceRole; address?: string; device?: string }[];
}

export const LAYOUT_PART = 'layout';

export function layoutRecord(layout: PlanLayout, planIndexes: Map<number, number>, hostdevs: PlannedHostdev[]): LayoutRecord {
  return {
    kind: layout.kind,
    cells: layout.cells.map((c) => ({ cell: c.cell, hostNode: c.hostNode })),
    controllers: layout.controllers.map((c) => ({ index: c.index, plan: planIndexes.get(c.index), mirrors: c.mirrors, link: c.link })),
    devices: hostdevs.flatMap((h) => (h.alias ? [{ alias: h.alias, role: deviceRole(h.alias, h.device), address: h.addressKey, device: h.device }] : [])),
  };
}

/** What a placed device is: from its alias as `host plan` names them (gpuN, nicN, npuN), else from its PCI ID. */
export function deviceRole(alias: string | undefined, device: string | undefined): DeviceRole {
  const named = /^(?:ua-)?(gpu|nic|npu)/.exec(alias ?? '')?.[1];
  if (named) return named as DeviceRole;
  const id = device === undefined ? undefined : parseDeviceId(device);
  if (id && lookupNvidiaDevice(id)?.isGpu) return 'gpu';
  if (id?.vendor === 0x15b3) return 'nic';
  return 'other';
}

/** The class code a device of this role reports (the plan carries no class): 3D controller, Ethernet, accelerator. */
export function roleClassCode(role: DeviceRole): string {
  return { gpu: '0x030200', nic: '0x020000', npu: '0x120000', other: '0xff0000' }[role];
}

export function layoutRecordLines(record: LayoutRecord, style: XmlStyle): Lines {
  const q = style.quote;
  const p = METADATA_PREFIX;
  const lines: Lines = [[0, `<${p}:${LAYOUT_PART}${attributes([['kind', record.kind]], q)}>`]];
  for (const c of record.cells) lines.push([1, `<${p}:cell${attributes([['cell', c.cell], ['hostNode', c.hostNode]], q)}/>`]);
  for (const c of record.controllers) {
    const pairs: [string, string | number][] = [['index', c.index]];
    if (c.plan !== undefined) pairs.push(['plan', c.plan]);
    if (c.mirrors !== undefined) pairs.push(['mirrors', c.mirrors]);
    if (c.link) pairs.push(['speed', c.link.speed], ['width', c.link.width]);
    lines.push([1, `<${p}:controller${attributes(pairs, q)}/>`]);
  }
  for (const d of record.devices) {
    const pairs: [string, string][] = [['alias', d.alias], ['role', d.role]];
    if (d.address) pairs.push(['address', d.address]);
    if (d.device) pairs.push(['device', d.device]);
    lines.push([1, `<${p}:device${attributes(pairs, q)}/>`]);
  }
  lines.push([0, `</${p}:${LAYOUT_PART}>`]);
  return lines;
}

/** The record as a part of the library's metadata; undefined when the domain already holds exactly this record. */
export function layoutMetadataPart(facts: DomainFacts, record: LayoutRecord, style: XmlStyle): MetadataPart | undefined {
  const lines = layoutRecordLines(record, style);
  const existing = layoutRecordElement(facts);
  if (existing) {
    const indent = indentOf(facts, existing);
    const text = placeLines(lines, indent, style).slice(style.newline.length + indent.length);
    if (text === facts.doc.body.slice(existing.start, existing.elementEnd)) return undefined;
  }
  return { name: LAYOUT_PART, lines };
}

/** The `<passthrough:layout>` element of the library's record, if the domain has one. */
export function layoutRecordElement(facts: DomainFacts): XmlElement | undefined {
  return facts.ourMetadata?.children.find((el) => el.namespaceURI === PASSTHROUGH_NS && el.localName === LAYOUT_PART);
}

export function readLayoutRecord(facts: DomainFacts): LayoutRecord | undefined {
  const element = layoutRecordElement(facts);
  if (!element) return undefined;
  const record: LayoutRecord = { kind: (attr(element, 'kind') ?? 'mirror') as LayoutKind, cells: [], controllers: [], devices: [] };
  for (const el of element.children) {
    if (el.namespaceURI !== PASSTHROUGH_NS) continue;
    const number = (name: string) => Number(attr(el, name));
    if (el.localName === 'cell') record.cells.push({ cell: number('cell'), hostNode: number('hostNode') });
    if (el.localName === 'controller') {
      const speed = attr(el, 'speed');
      const plan = attr(el, 'plan');
      record.controllers.push({ index: number('index'), ...(plan === undefined ? {} : { plan: Number(plan) }), mirrors: attr(el, 'mirrors'), link: speed === undefined ? undefined : { speed, width: number('width') } });
    }
    if (el.localName === 'device') {
      const alias = attr(el, 'alias');
      if (alias) record.devices.push({ alias, role: (attr(el, 'role') ?? 'other') as DeviceRole, address: attr(el, 'address'), device: attr(el, 'device') });
    }
  }
  return record;
}
