import * as fs from 'node:fs';
import * as path from 'node:path';
import { inspectDomain, transformDomain } from '../lib';
import { PassthroughError } from '../lib/errors';
import { P2P_OFFSET_KEPLER_TO_VOLTA, P2P_OFFSET_TURING_AND_LATER } from '../lib/gpudirect/architecture';
import { checkQemuForGpudirect, overrideStyleFor, stackWarnings, Target } from '../lib/plan/stack';
import { Plan, PlannedHostdev } from '../lib/plan/types';

// Every libvirt/QEMU pair the version rules distinguish, with what must happen (sources: STACK_SOURCES in
// lib/plan/stack.ts, rendered in docs/gpudirect.md "Versions"). 'override' = <qemu:override>, 'set' = -set in
// <qemu:commandline>, otherwise the error code and a word its message must contain.
type Want = 'override' | 'set' | { code: string; says: RegExp };
const tooOld = (says: RegExp): Want => ({ code: 'LIBVIRT_TOO_OLD', says });

export const PAIRS: [string | undefined, string | undefined, Want][] = [
  [undefined, undefined, 'override'], // no target: a current stack assumed, explainTransform warns
  ['7.0.0', undefined, 'set'], // key=value -device before 7.9
  ['7.0.0', '6.2.0', 'set'],
  ['7.8.0', '6.2.0', 'set'],
  ['7.9.0', '6.1.0', 'set'], // 7.9 uses JSON only when QEMU has json-cli (6.2)
  ['7.9.0', '6.2.0', tooOld(/del capability='device.json'/)], // NEWS 7.9.0: JSON -device
  ['7.10.0', '7.2.0', tooOld(/del capability='device.json'/)],
  ['7.9.0', undefined, tooOld(/give target.qemu/)],
  ['8.0.0', '7.2.0', 'set'], // NEWS 8.0.0: reverted to key=value
  ['8.1.0', '6.2.0', 'set'], // 8.1 needs json-cli-hotplug (QEMU 7.0) for JSON
  ['8.1.0', '7.0.0', tooOld(/del capability='device.json\+hotplug'/)],
  ['8.1.0', undefined, tooOld(/give target.qemu/)],
  ['8.2.0', '6.2.0', 'set'], // override crashes before 8.5, but -set works on key=value
  ['8.2.0', '7.0.0', tooOld(/crashes libvirt's QEMU driver before 8.5.0/)],
  ['8.4.0', '8.0.0', tooOld(/Upgrade libvirt to 8.5.0/)],
  ['8.4.0', undefined, tooOld(/give target.qemu/)],
  ['8.5.0', '6.2.0', 'override'], // NEWS 8.5.0: the crash is fixed
  ['8.5.0', '7.0.0', 'override'],
  ['9.0.0', '7.2.0', 'override'], // Debian 12, proven by the conformance run
  ['10.0.0', '8.2.0', 'override'], // Ubuntu 24.04
  ['11.3.0', '10.0.0', 'override'], // Debian 13, proven by the conformance run
  ['11.3.0', undefined, 'override'],
  ['4.0.0', '2.10.0', { code: 'QEMU_TOO_OLD', says: /no x-nv-gpudirect-clique property/ }],
];

const gpu = (offset: number): PlannedHostdev => ({
  index: 0, address: { domain: 0, bus: 0x3b, slot: 0, function: 0 }, addressKey: '0000:3b:00.0', alias: 'ua-gpu0',
  aliasWasGenerated: false, managed: true, gpudirect: { clique: 0, architecture: offset === P2P_OFFSET_TURING_AND_LATER ? 'Hopper' : 'Volta', offset },
});

function outcome(target: Target, offset = P2P_OFFSET_KEPLER_TO_VOLTA): 'override' | 'set' | PassthroughError {
  try {
    checkQemuForGpudirect(target, [gpu(offset)]);
    return overrideStyleFor(target) === 'override' ? 'override' : 'set';
  } catch (err) {
    if (err instanceof PassthroughError) return err;
    throw err;
  }
}

describe.each(PAIRS)('libvirt %s + QEMU %s', (libvirt, qemu, want) => {
  test(`→ ${typeof want === 'string' ? want : want.code}`, () => {
    const got = outcome({ libvirt, qemu });
    if (typeof want === 'string') expect(got).toBe(want);
    else {
      expect(got).toBeInstanceOf(PassthroughError);
      expect((got as PassthroughError).code).toBe(want.code);
      expect((got as PassthroughError).message).toMatch(want.says);
    }
  });
});

describe('placement of Turing-and-later cliques (D4h)', () => {
  test.each<[Target, 'override' | 'QEMU_TOO_OLD']>([
    [{ libvirt: '9.0.0', qemu: '7.2.0' }, 'QEMU_TOO_OLD'],
    [{ libvirt: '9.0.0', qemu: '8.1.0' }, 'override'],
    [{ libvirt: '9.0.0', qemu: '7.2.0', qemuAlternateOffset: true }, 'override'], // a vendor build with the backport
    [{ libvirt: '11.3.0', qemu: '10.0.0', qemuAlternateOffset: false }, 'QEMU_TOO_OLD'],
    [{ qemuAlternateOffset: false }, 'QEMU_TOO_OLD'],
    [{}, 'override'],
  ])('%j → %s', (target, want) => {
    const got = outcome(target, P2P_OFFSET_TURING_AND_LATER);
    expect(got instanceof PassthroughError ? got.code : got).toBe(want);
  });
});

describe('a Turing-or-later card read at C8h starts on QEMU < 8.1 (real consumer cards have nothing there)', () => {
  const domain = fs.readFileSync(path.join(__dirname, '..', 'examples', 'domain.xml'), 'utf8');
  const plan = (offset?: '0xc8'): Plan => ({
    target: { libvirt: '9.0.0', qemu: '7.2.0' },
    hostdevs: [{ address: '0000:3b:00.0', alias: 'gpu0', device: '10de:249d', gpudirect: { clique: 0, ...(offset ? { offset } : {}) } }],
  });

  test('the spec\'s D4h is refused, and the message says how to read the card', () => {
    expect(() => transformDomain(domain, plan())).toThrow(
      expect.objectContaining({ code: 'QEMU_TOO_OLD', message: expect.stringMatching(/predict --config CAPTURE --qemu 7\.2\.0.*gpudirect\.offset: "0xc8"/) }),
    );
  });

  test('the offset predicted from the card (C8h free) is written and recorded', () => {
    const out = transformDomain(domain, plan('0xc8'));
    expect(out).toMatch(/x-nv-gpudirect-clique/);
    expect(inspectDomain(out).gpudirect['ua-gpu0']).toMatchObject({ clique: 0, capabilityOffset: '0xc8' });
  });
});

describe('target.libvirtDeviceJson states what the versions would imply (a domain masking device.json)', () => {
  test.each<[Target, 'override' | 'set' | 'LIBVIRT_TOO_OLD']>([
    [{ libvirt: '7.9.0', qemu: '6.2.0', libvirtDeviceJson: false }, 'set'], // NEWS 8.0.0's workaround applied
    [{ libvirt: '8.2.0', qemu: '7.2.0', libvirtDeviceJson: false }, 'set'],
    [{ libvirt: '8.1.0', libvirtDeviceJson: false }, 'set'],
    [{ libvirt: '8.0.0', qemu: '7.2.0', libvirtDeviceJson: true }, 'LIBVIRT_TOO_OLD'],
    [{ libvirt: '9.0.0', qemu: '7.2.0', libvirtDeviceJson: false }, 'override'], // 8.5+: the override works
  ])('%j → %s', (target, want) => {
    const got = outcome(target);
    expect(got instanceof PassthroughError ? got.code : got).toBe(want);
  });

  test('the refusal names the upgrade and the workaround with this field', () => {
    const got = outcome({ libvirt: '8.2.0', qemu: '7.2.0' }) as PassthroughError;
    expect(got.message).toMatch(/Upgrade libvirt to 8\.5\.0 or later\..*<qemu:del capability='device\.json\+hotplug'\/>.*target\.libvirtDeviceJson: false/);
  });
});

describe('warnings when the stack is not known or is 8.2-8.4', () => {
  test.each<[Target, number, RegExp[]]>([
    [{}, P2P_OFFSET_KEPLER_TO_VOLTA, [/without target.libvirt/]],
    [{}, P2P_OFFSET_TURING_AND_LATER, [/without target.libvirt/, /without target.qemu/]],
    [{ libvirt: '9.0.0' }, P2P_OFFSET_TURING_AND_LATER, [/without target.qemu/]],
    [{ libvirt: '9.0.0', qemuAlternateOffset: true }, P2P_OFFSET_TURING_AND_LATER, []],
    [{ libvirt: '9.0.0', qemu: '7.2.0' }, P2P_OFFSET_KEPLER_TO_VOLTA, []],
    [{ libvirt: '8.3.0', qemu: '6.2.0' }, P2P_OFFSET_KEPLER_TO_VOLTA, [/crashes when it overrides a device property/]],
  ])('%j, offset %i', (target, offset, want) => {
    const warnings = stackWarnings(target, [gpu(offset)]);
    expect(warnings).toHaveLength(want.length);
    want.forEach((re, i) => expect(warnings[i]).toMatch(re));
  });

  test('no GPUDirect, no warning', () => {
    expect(stackWarnings({}, [{ ...gpu(P2P_OFFSET_KEPLER_TO_VOLTA), gpudirect: undefined }])).toEqual([]);
  });
});

test('every pair of the generated docs/gpudirect.md table has a hand-written expectation above', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { PAIRS: documented } = require('../scripts/gen-versions-doc.js') as { PAIRS: [string, string, string][] };
  const tested = new Set(PAIRS.map(([l, q]) => `${l} ${q}`));
  const missing = documented.filter(([l, q]) => !tested.has(`${l} ${q}`));
  expect(missing).toEqual([]);
});
