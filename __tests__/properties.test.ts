import fc from 'fast-check';
import * as fs from 'node:fs';
import { PassthroughError, inspectDomain, removePassthrough, transformDomain, formatPciAddress } from '../lib';
import type { Plan, PlanHostdev } from '../lib';
import { isSubsequence } from './helpers/invariants';
import { corpusEntries } from './helpers/paths';
import { extraArb, withUserExtras } from './helpers/removal-arbs';

// Property-based tests over the real corpus and over domains generated with xmlbuilder2. FC_RUNS sets the runs per property (CI: 10,000);
// FC_SEED replays a failure: fast-check prints the seed and the shrunk counterexample.
const RUNS = Number(process.env.FC_RUNS ?? (process.env.CI ? 10_000 : 300));
const SEED = Number(process.env.FC_SEED ?? 20261124);
const params = { numRuns: RUNS, seed: SEED, endOnFailure: false };
jest.setTimeout(600_000);

const entries = corpusEntries();
const texts = entries.map((e) => fs.readFileSync(e.path, 'utf8'));
const q35 = texts.filter((_, i) => /^(q35|pc-q35-)/.test(entries[i].machine) && ['x86_64', 'i686'].includes(entries[i].arch));
const acceptedQ35 = q35.filter((x) => {
  try {
    transformDomain(x, { hostdevs: [] });
    return true;
  } catch {
    return false;
  }
});

// Generated domains (issue 17): a random spec, built as a tree by xmlbuilder2 (bench/inputs.js), so well-formed by
// construction; the document style (indentation, CRLF, quote character) is applied after.
interface Built {
  buildDomain(spec: unknown): unknown;
  serialise(root: unknown, style: { indent: string; newline: string; quote: string }): string;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { buildDomain, serialise } = require('../bench/inputs') as Built;

const pciArb = fc.record({ domain: fc.constant(0), bus: fc.integer({ min: 0, max: 0xff }), slot: fc.integer({ min: 0, max: 0x1f }), function: fc.integer({ min: 0, max: 7 }) });
const SHARED_SOURCES = [{ domain: 0, bus: 0x3b, slot: 0, function: 0 }, { domain: 0, bus: 0x5e, slot: 0, function: 0 }];
const REPEATABLE = ['disk', 'root-port', 'interface', 'serial', 'input', 'hostdev'];
const ONCE_AT_THE_END = ['usb', 'graphics', 'video', 'watchdog', 'rng', 'memballoon'];
const textArb = (re: RegExp) => fc.stringMatching(re);
const key = (a: { bus: number; slot: number; function: number }) => `${a.bus}:${a.slot}.${a.function}`;

const devicesArb = fc
  .tuple(
    fc.array(fc.record({ kind: fc.constantFrom(...REPEATABLE), source: fc.oneof(pciArb, fc.constantFrom(...SHARED_SOURCES)), alias: fc.constantFrom('none', 'user', 'libvirt'), guest: fc.boolean() }), { maxLength: 8 }),
    fc.subarray(ONCE_AT_THE_END),
  )
  .map(([repeatable, once]) => {
    const seen = new Set<string>();
    const devices: Record<string, unknown>[] = [{ kind: 'emulator', i: 0 }];
    repeatable.forEach((d, i) => {
      if (d.kind === 'hostdev' && seen.has(key(d.source))) return;
      if (d.kind === 'hostdev') seen.add(key(d.source));
      const alias = d.alias === 'user' ? `ua-dev${i}` : d.alias === 'libvirt' ? `hostdev${i}` : undefined;
      devices.push({ kind: d.kind, i: i + 1, source: d.source, alias, guest: d.guest ? { bus: 0x10 + i, slot: 0, function: 0 } : undefined });
    });
    once.forEach((kind, i) => devices.push({ kind, i: 100 + i }));
    return devices;
  });

const qemuElementArb = (rootPrefix: string | null) =>
  fc.constantFrom('qemu', 'q', 'vt').map((prefix) => ({ prefix, declareOnItself: prefix !== rootPrefix }));

const generatedDomainArb: fc.Arbitrary<string> = fc
  .record({
    name: textArb(/^[a-z][a-z0-9-]{0,10}$/),
    machine: fc.constantFrom('q35', 'pc-q35-7.2', 'pc-q35-9.0'),
    firmware: fc.constantFrom(undefined, 'efi', 'ovmf-loader'),
    hiddenKvm: fc.boolean(),
    description: fc.option(textArb(/^[ -~]{0,30}$/).filter((t) => !t.includes(']]>')), { nil: undefined }),
    comments: fc.array(textArb(/^[ a-z0-9.:]{0,20}$/), { maxLength: 3 }),
    rootQemuPrefix: fc.constantFrom(null, 'qemu', 'q', 'qemu2'),
    foreignMetadata: fc.boolean(),
    devices: fc.oneof({ weight: 1, arbitrary: fc.constant('none' as const) }, { weight: 1, arbitrary: fc.constant([]) }, { weight: 8, arbitrary: devicesArb }),
    style: fc.record({ indent: fc.constantFrom('  ', '    ', '\t'), newline: fc.constantFrom('\n', '\r\n'), quote: fc.constantFrom("'", '"') }),
  })
  .chain((spec) =>
    fc
      .record({
        commandline: fc.option(qemuElementArb(spec.rootQemuPrefix).map((q) => ({ ...q, args: ['-no-hpet'] })), { nil: undefined }),
        override: fc.option(qemuElementArb(spec.rootQemuPrefix).map((q) => ({ ...q, alias: 'ua-disk0' })), { nil: undefined }),
      })
      .map((qemu) => ({ ...spec, ...qemu })),
  )
  .map(({ style, rootQemuPrefix, ...spec }) => serialise(buildDomain({ ...spec, rootQemuPrefix: rootQemuPrefix ?? undefined }), style));

/** A corpus file or a generated domain. */
const domainArb = (pool: string[]): fc.Arbitrary<string> => fc.oneof(fc.nat(pool.length - 1).map((i) => pool[i]), generatedDomainArb);

const ARCHITECTURES = ['kepler', 'maxwell', 'pascal', 'volta', 'turing', 'ampere', 'ada', 'hopper', 'blackwell'];

const hostdevArb: fc.Arbitrary<PlanHostdev> = fc.record(
  {
    address: fc.oneof(
      fc.constantFrom('3b:00.0', '5e:00.0'),
      fc.tuple(fc.integer({ min: 0, max: 0xff }), fc.integer({ min: 0, max: 0x1f }), fc.integer({ min: 0, max: 7 })).map(
        ([b, s, f]) => `${b.toString(16).padStart(2, '0')}:${s.toString(16).padStart(2, '0')}.${f}`,
      ),
      fc.record({ domain: fc.integer({ min: 0, max: 3 }), bus: fc.integer({ min: 0, max: 0xff }), slot: fc.integer({ min: 0, max: 0x1f }), function: fc.integer({ min: 0, max: 7 }) }),
    ),
    alias: fc.stringMatching(/^[a-z][a-z0-9_-]{0,8}$/),
    managed: fc.boolean(),
    gpudirect: fc.record({ clique: fc.integer({ min: 0, max: 15 }), architecture: fc.constantFrom(...ARCHITECTURES) }),
  },
  { requiredKeys: ['address'] },
);
const planArb: fc.Arbitrary<Plan> = fc.record({ hostdevs: fc.array(hostdevArb, { maxLength: 6 }) });

/** Random damage to a document: dropped characters, a duplicated element, requoted attributes, extra whitespace. */
const mutationArb = fc.oneof(
  fc.record({ kind: fc.constant('none' as const) }),
  fc.record({ kind: fc.constant('drop' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('requote' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('whitespace' as const), at: fc.nat(), text: fc.constantFrom(' ', '\n', '\t', '\r\n', '  ') }),
);
type Mutation = typeof mutationArb extends fc.Arbitrary<infer T> ? T : never;

function mutate(xml: string, m: Mutation): string {
  const at = 'at' in m ? m.at % Math.max(xml.length, 1) : 0;
  switch (m.kind) {
    case 'none':
      return xml;
    case 'drop':
      return xml.slice(0, at) + xml.slice(at + m.length);
    case 'duplicate': {
      const start = xml.indexOf('\n    <', at);
      const end = start < 0 ? -1 : xml.indexOf('/>', start);
      return end < 0 ? xml : xml.slice(0, end + 2) + xml.slice(start, end + 2) + xml.slice(end + 2);
    }
    case 'requote': {
      const q = xml.indexOf("='", at);
      const close = q < 0 ? -1 : xml.indexOf("'", q + 2);
      return close < 0 ? xml : `${xml.slice(0, q)}="${xml.slice(q + 2, close)}"${xml.slice(close + 1)}`;
    }
    case 'whitespace': {
      const tagGap = xml.indexOf(' ', at);
      return tagGap < 0 ? xml : xml.slice(0, tagGap) + m.text + xml.slice(tagGap);
    }
  }
}

function attempt(xml: string, plan: Plan): string | PassthroughError {
  try {
    return transformDomain(xml, plan);
  } catch (err) {
    if (err instanceof PassthroughError) return err;
    throw err;
  }
}

const canonical = (h: PlanHostdev) =>
  typeof h.address === 'string' ? formatPciAddress(parseShort(h.address)) : formatPciAddress({ domain: h.address.domain ?? 0, ...h.address });
function parseShort(a: string) {
  const [bus, rest] = a.split(':');
  const [slot, fn] = rest.split('.');
  return { domain: 0, bus: parseInt(bus, 16), slot: parseInt(slot, 16), function: Number(fn) };
}

test('(0) generated domains are valid q35 domains: accepted, and an empty plan returns them byte for byte', () => {
  fc.assert(
    fc.property(generatedDomainArb, (xml) => transformDomain(xml, { hostdevs: [] }) === xml && inspectDomain(xml).isQ35),
    params,
  );
});

test('(0) the generator covers what it promises: comments, CDATA, CRLF, both quotes, tabs, qemu prefixes, hostdevs, <devices/>', () => {
  const sample = fc.sample(generatedDomainArb, { numRuns: 300, seed: SEED });
  const seen = (re: RegExp) => sample.some((x) => re.test(x));
  for (const re of [/<!--/, /<!\[CDATA\[/, /\r\n/, /type="kvm"/, /type='kvm'/, /\n\t</, /<hostdev /, /<devices\/>/, /<qemu:commandline xmlns:qemu=/, /xmlns:qemu2=/, /<vt:override/, /libosinfo/]) {
    expect([re.source, seen(re)]).toEqual([re.source, true]);
  }
});

test('(a) any document, damaged or not, gives a string or a PassthroughError — nothing else', () => {
  fc.assert(
    fc.property(domainArb(texts), mutationArb, planArb, (xml, m, plan) => {
      const result = attempt(mutate(xml, m), plan);
      return typeof result === 'string' || result instanceof PassthroughError;
    }),
    params,
  );
});

test('(b) idempotence: transforming the output again changes nothing', () => {
  fc.assert(
    fc.property(domainArb(acceptedQ35), mutationArb, planArb, (xml, m, plan) => {
      const out = attempt(mutate(xml, m), plan);
      return typeof out !== 'string' || transformDomain(out, plan) === out;
    }),
    params,
  );
});

test('(c) only insertions: the input is inside the output, and removing the plan restores it exactly', () => {
  let restored = 0;
  fc.assert(
    fc.property(domainArb(acceptedQ35), planArb, (xml, plan) => {
      const out = attempt(xml, plan);
      if (typeof out !== 'string') return true;
      restored++;
      const before = new Set(inspectDomain(xml).hostdevs.map((h) => h.source));
      const untouched = plan.hostdevs.every((h) => !before.has(canonical(h)));
      return isSubsequence(xml, out) && (!untouched || removePassthrough(out, plan) === xml);
    }),
    params,
  );
  // Not vacuous: most random plans are valid for most files.
  expect(restored).toBeGreaterThan(RUNS * 0.5);
});

test('(d) the output reports exactly the planned devices and cliques plus what was there', () => {
  fc.assert(
    fc.property(domainArb(acceptedQ35), planArb, (xml, plan) => {
      const out = attempt(xml, plan);
      if (typeof out !== 'string') return true;
      const before = inspectDomain(xml);
      const after = inspectDomain(out);
      const expected = new Set([...before.hostdevs.map((h) => h.source), ...plan.hostdevs.map(canonical)]);
      if (after.hostdevs.length !== expected.size || !after.hostdevs.every((h) => expected.has(h.source))) return false;
      return plan.hostdevs.every((h) => {
        if (!h.gpudirect) return true;
        const device = after.hostdevs.find((d) => d.source === canonical(h));
        return device?.alias !== undefined && after.gpudirect[device.alias]?.clique === h.gpudirect.clique;
      });
    }),
    params,
  );
});

test('(e) the caller’s plan object is never mutated', () => {
  fc.assert(
    fc.property(domainArb(texts), planArb, (xml, plan) => {
      const copy = structuredClone(plan);
      attempt(xml, plan);
      return JSON.stringify(copy) === JSON.stringify(plan);
    }),
    params,
  );
});

// Issue 21 item 6: removal takes back only what the transform added, for every domain: also one that already holds
// some of the plan's hostdevs in other spellings, the user's clique settings for the plan's aliases, or a
// self-closing <qemu:device> the transform opens.
test('(f) remove(transform(x, plan), plan) === x, x holding the plan\'s hostdevs in other spellings and its own clique settings', () => {
  let transformed = 0;
  fc.assert(
    fc.property(domainArb(acceptedQ35), planArb, fc.array(extraArb, { minLength: 1, maxLength: 6 }), (base, plan, extras) => {
      const xml = withUserExtras(base, plan, extras);
      const out = attempt(xml, plan);
      if (typeof out !== 'string') return true;
      transformed++;
      return removePassthrough(out, plan) === xml;
    }),
    params,
  );
  expect(transformed).toBeGreaterThan(RUNS * 0.3);
});
