import * as fs from 'node:fs';
import { PassthroughError, formatPciAddress, inspectDomain, parsePciAddress, transformDomain } from '../lib';
import type { PciAddress, Plan } from '../lib';
import { checkedTransform } from './helpers/invariants';
import { corpusEntries } from './helpers/paths';
import { standardPlans } from '../conformance/cases';

// Real domains from libvirt 9.0's own test suite (../shared/corpus, or LIBVIRT_PASSTHROUGH_CORPUS).
const entries = corpusEntries();
const isQ35Machine = (m: string) => m === 'q35' || m.startsWith('pc-q35-');
const q35 = entries.filter((e) => isQ35Machine(e.machine) && ['x86_64', 'i686'].includes(e.arch));
const others = entries.filter((e) => !q35.includes(e));
const read = (file: string) => fs.readFileSync(file, 'utf8');

const STANDARD_PLANS: Record<string, Plan> = standardPlans();

test('the corpus has the q35 and non-q35 files its README promises', () => {
  expect(q35.length).toBeGreaterThanOrEqual(40);
  expect(others.length).toBeGreaterThanOrEqual(90);
});

describe.each(q35.map((e) => [e.file, e.path]))('q35 corpus file %s', (_file, file) => {
  const xml = read(file);

  test('an empty plan returns the input unchanged, byte for byte', () => {
    expect(transformDomain(xml, { hostdevs: [] })).toBe(xml);
  });

  test.each(Object.keys(STANDARD_PLANS))('plan %s adds exactly the planned devices and cliques', (planName) => {
    const plan = STANDARD_PLANS[planName];
    const before = inspectDomain(xml);
    const result = checkedTransform(xml, plan);
    const after = inspectDomain(result.xml);
    const planned = plan.hostdevs.map((h) => formatPciAddress(parsePciAddress(String(h.address)) as PciAddress));
    expect(after.hostdevs.map((h) => h.source).sort()).toEqual([...before.hostdevs.map((h) => h.source), ...planned].sort());
    for (const h of plan.hostdevs) {
      if (h.gpudirect) expect(after.gpudirect[`ua-${h.alias}`]).toMatchObject({ clique: h.gpudirect.clique, via: 'override' });
    }
  });
});

describe.each(others.map((e) => [e.file, e.machine, e.arch, e.path]))('non-q35 corpus file %s (%s, %s)', (_f, _m, _a, file) => {
  test('is refused with MACHINE_NOT_Q35 and a position', () => {
    expect.assertions(3);
    try {
      transformDomain(read(file), STANDARD_PLANS.npu);
    } catch (err) {
      expect(err).toBeInstanceOf(PassthroughError);
      expect((err as PassthroughError).code).toBe('MACHINE_NOT_Q35');
      expect((err as PassthroughError).line).toBeGreaterThan(0);
    }
  });
});
