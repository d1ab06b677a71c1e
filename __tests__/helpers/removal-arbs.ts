import fc from 'fast-check';
import type { Plan, PlanHostdev } from '../../lib';

// Issue 21 item 6: domains that already hold some of the plan's hostdevs, spelled as a person or another tool may
// write them (bus='24', '0x18', '0X18', '030', '+24', without domain, …), and their own clique settings (a
// `<qemu:override>` property, a `-set` pair, a self-closing `<qemu:device>`) for aliases the plan names.

const QEMU = "xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'";
const SPELLINGS = ['dec', 'hex', 'HEX', 'pad', 'oct', 'plus', 'space'] as const;
type Spelling = (typeof SPELLINGS)[number];

function spell(v: number, s: Spelling): string {
  switch (s) {
    case 'dec': return String(v);
    case 'hex': return `0x${v.toString(16)}`;
    case 'HEX': return `0X${v.toString(16).toUpperCase()}`;
    case 'pad': return `0x${v.toString(16).padStart(2, '0')}`;
    case 'oct': return v === 0 ? '0' : `0${v.toString(8)}`;
    case 'plus': return `+${v}`;
    case 'space': return ` ${v}`;
  }
}

export interface UserExtra {
  hostdev: false | { spellings: Spelling[]; withDomain: boolean; alias: boolean };
  clique: 'none' | 'override' | 'set' | 'device-self-closing';
  cliqueValue: number;
}

export const extraArb: fc.Arbitrary<UserExtra> = fc.record({
  hostdev: fc.oneof(
    fc.constant(false as const),
    fc.record({ spellings: fc.array(fc.constantFrom(...SPELLINGS), { minLength: 4, maxLength: 4 }), withDomain: fc.boolean(), alias: fc.boolean() }),
  ),
  clique: fc.constantFrom('none', 'override', 'set', 'device-self-closing'),
  cliqueValue: fc.integer({ min: 0, max: 15 }),
});

function sourceOf(h: PlanHostdev): { domain: number; bus: number; slot: number; function: number } {
  if (typeof h.address !== 'string') return { domain: h.address.domain ?? 0, ...h.address };
  const parts = h.address.split(/[:.]/).map((p) => parseInt(p, 16));
  return parts.length === 4 ? { domain: parts[0], bus: parts[1], slot: parts[2], function: parts[3] } : { domain: 0, bus: parts[0], slot: parts[1], function: parts[2] };
}

const aliasOf = (h: PlanHostdev) => (h.alias === undefined ? undefined : h.alias.startsWith('ua-') ? h.alias : `ua-${h.alias}`);

/** The domain with the user's own copies of plan hostdevs and clique settings, inserted as a person would. */
export function withUserExtras(xml: string, plan: Plan, extras: UserExtra[]): string {
  const hostdevs: string[] = [];
  const devices: string[] = [];
  const args: string[] = [];
  plan.hostdevs.forEach((h, i) => {
    const extra = extras[i % extras.length];
    const alias = aliasOf(h);
    if (extra.hostdev) {
      const a = sourceOf(h);
      const [d, b, s, f] = extra.hostdev.spellings;
      const domain = extra.hostdev.withDomain || a.domain !== 0 ? ` domain='${spell(a.domain, d)}'` : '';
      const name = extra.hostdev.alias && alias ? `<alias name='${alias}'/>` : '';
      hostdevs.push(`<hostdev mode='subsystem' type='pci' managed='${h.managed === false ? 'no' : 'yes'}'><source><address${domain} bus='${spell(a.bus, b)}' slot='${spell(a.slot, s)}' function='${spell(a.function, f)}'/></source>${name}</hostdev>`);
    }
    if (!alias) return;
    const property = `<qemu:property name='x-nv-gpudirect-clique' type='unsigned' value='${extra.cliqueValue}'/>`;
    if (extra.clique === 'override') devices.push(`<qemu:device alias='${alias}'><qemu:frontend>${property}</qemu:frontend></qemu:device>`);
    if (extra.clique === 'device-self-closing') devices.push(`<qemu:device alias='${alias}'/>`);
    if (extra.clique === 'set') args.push(`<qemu:arg value='-set'/><qemu:arg value='device.${alias}.x-nv-gpudirect-clique=${extra.cliqueValue}'/>`);
  });
  let out = xml;
  const devicesEnd = out.lastIndexOf('</devices>');
  if (devicesEnd >= 0 && hostdevs.length > 0) out = `${out.slice(0, devicesEnd)}${hostdevs.join('\n')}\n${out.slice(devicesEnd)}`;
  const domainEnd = out.lastIndexOf('</domain>');
  const qemu = [
    ...(devices.length > 0 ? [`<qemu:override ${QEMU}>${devices.join('')}</qemu:override>`] : []),
    ...(args.length > 0 ? [`<qemu:commandline ${QEMU}>${args.join('')}</qemu:commandline>`] : []),
  ];
  if (qemu.length > 0) out = `${out.slice(0, domainEnd)}${qemu.join('\n')}\n${out.slice(domainEnd)}`;
  return out;
}
