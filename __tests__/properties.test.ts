import fc from 'fast-check';
import * as fs from 'node:fs';
import { PassthroughError, inspectDomain, removePassthrough, transformDomain, formatPciAddress } from '../lib';
import type { Plan, PlanHostdev } from '../lib';
import { isSubsequence } from './helpers/invariants';
import { corpusEntries } from './helpers/paths';

// Property-based tests over the real corpus. FC_RUNS sets the runs per property (CI: 10,000);
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

const ARCHITECTURES = ['kepler', 'maxwell', 'pascal', 'volta', 'turing', 'ampere', 'ada', 'hopper', 'blackwell'];

const hostdevArb: fc.Arbitrary<PlanHostdev> = fc.record(
  {
    address: fc.oneof(
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

test('(a) any document, damaged or not, gives a string or a PassthroughError — nothing else', () => {
  fc.assert(
    fc.property(fc.nat(texts.length - 1), mutationArb, planArb, (i, m, plan) => {
      const result = attempt(mutate(texts[i], m), plan);
      return typeof result === 'string' || result instanceof PassthroughError;
    }),
    params,
  );
});

test('(b) idempotence: transforming the output again changes nothing', () => {
  fc.assert(
    fc.property(fc.nat(acceptedQ35.length - 1), mutationArb, planArb, (i, m, plan) => {
      const out = attempt(mutate(acceptedQ35[i], m), plan);
      return typeof out !== 'string' || transformDomain(out, plan) === out;
    }),
    params,
  );
});

test('(c) only insertions: the input is inside the output, and removing the plan restores it exactly', () => {
  let restored = 0;
  fc.assert(
    fc.property(fc.nat(acceptedQ35.length - 1), planArb, (i, plan) => {
      const xml = acceptedQ35[i];
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
    fc.property(fc.nat(acceptedQ35.length - 1), planArb, (i, plan) => {
      const xml = acceptedQ35[i];
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
    fc.property(fc.nat(texts.length - 1), planArb, (i, plan) => {
      const copy = structuredClone(plan);
      attempt(texts[i], plan);
      return JSON.stringify(copy) === JSON.stringify(plan);
    }),
    params,
  );
});
