import * as fs from 'node:fs';
import * as path from 'node:path';
import { transformDomain } from '../lib';
import type { Plan } from '../lib';
import { ReaderPlan, readIndependently } from './helpers/independent-reader';

// Issue 17: every output of the snapshot suite (each __tests__/cases folder with expected.xml) and every corpus x
// standard plan result, read a second time by @xmldom/xmldom + xpath and checked against the plan alone
// (helpers/independent-reader.ts imports nothing from lib/; only the transform under test is called here).
const REPO = path.resolve(__dirname, '..');
const CASES = path.join(REPO, '__tests__', 'cases');
const PLANS = path.join(REPO, '__tests__', 'plans');
const CORPUS = path.resolve(process.env.LIBVIRT_PASSTHROUGH_CORPUS ?? path.join(REPO, '..', 'shared', 'corpus'), 'libvirt');
const read = (file: string) => fs.readFileSync(file, 'utf8');

const cases = fs.readdirSync(CASES).filter((c) => fs.existsSync(path.join(CASES, c, 'expected.xml'))).sort();
const standardPlans: [string, ReaderPlan][] = fs
  .readdirSync(PLANS)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => [f.replace(/\.json$/, ''), JSON.parse(read(path.join(PLANS, f)))]);
// Without the corpus (a fresh clone, see jest.config.js) only the corpus part is skipped; the cases still run.
const CORPUS_SKIPPED = process.env.LP_CORPUS_SKIPPED === '1';
/** INDEX.tsv: file, machine, arch, …; the q35 x86 files are the ones a transform accepts. */
const corpusQ35 = (CORPUS_SKIPPED ? '' : read(path.join(CORPUS, 'INDEX.tsv')))
  .split('\n')
  .slice(1)
  .map((line) => line.split('\t'))
  .filter(([file, machine, arch]) => file && /^(q35|pc-q35-)/.test(machine) && ['x86_64', 'i686'].includes(arch))
  .map(([file]) => file);

test('there is something to read: cases, standard plans, q35 corpus files', () => {
  expect(cases.length).toBeGreaterThanOrEqual(20);
  expect(standardPlans.map(([name]) => name)).toEqual(['eight-gpus-two-cliques', 'npu', 'two-gpus-one-clique']);
  if (!CORPUS_SKIPPED) expect(corpusQ35.length).toBeGreaterThanOrEqual(40);
});

test.each(cases)('case %s: expected.xml read independently', (name) => {
  const plan = JSON.parse(read(path.join(CASES, name, 'plan.json')));
  expect(readIndependently(read(path.join(CASES, name, 'domain.xml')), read(path.join(CASES, name, 'expected.xml')), plan)).toEqual([]);
});

if (!CORPUS_SKIPPED) {
  describe.each(corpusQ35)('corpus %s', (file) => {
    const xml = read(path.join(CORPUS, file));
    test.each(standardPlans)('plan %s: output read independently', (_name, plan) => {
      expect(readIndependently(xml, transformDomain(xml, plan as Plan), plan)).toEqual([]);
    });
  });
}

// The reader must be able to fail: each kind of breakage of a good output is reported.
describe('a deliberately broken output is caught', () => {
  const domain = read(path.join(CASES, 'spec-2gpu-k80', 'domain.xml'));
  const plan: ReaderPlan = JSON.parse(read(path.join(CASES, 'spec-2gpu-k80', 'plan.json')));
  const good = read(path.join(CASES, 'spec-2gpu-k80', 'expected.xml'));
  const oldDir = path.join(CASES, 'h100-8x-libvirt-7.0');
  const oldStack = { domain: read(path.join(oldDir, 'domain.xml')), plan: JSON.parse(read(path.join(oldDir, 'plan.json'))), good: read(path.join(oldDir, 'expected.xml')) };
  const firstHostdev = /\n *<hostdev mode='subsystem' type='pci' managed='yes'>[\s\S]*?<\/hostdev>/;

  test('the good outputs pass (so the failures below are the breakage)', () => {
    expect(readIndependently(domain, good, plan)).toEqual([]);
    expect(readIndependently(oldStack.domain, oldStack.good, oldStack.plan)).toEqual([]);
  });

  test.each<[string, (xml: string) => string, RegExp]>([
    ['a planned hostdev missing', (x) => x.replace(firstHostdev, ''), /expected 1 <hostdev> with source 0000:04:00\.0, found 0/],
    ['a hostdev twice', (x) => x.replace(firstHostdev, (m) => m + m), /found 2/],
    ['a wrong alias', (x) => x.replace("<alias name='ua-gpu1'/>", "<alias name='ua-gpu9'/>"), /alias 'ua-gpu9', expected 'ua-gpu1'/],
    ['a wrong clique', (x) => x.replace(/value='0'\/>/, "value='3'/>"), /expected one qemu:property x-nv-gpudirect-clique unsigned 0 .* found \[unsigned:3\]/],
    ['the clique property outside the qemu namespace', (x) => x.replace("xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'", "xmlns:qemu='http://libvirt.org/schemas/domain/qemu/2.0'"), /found \[\]/],
    ['a wrong offset in the metadata', (x) => x.replace("offset='0xc8'", "offset='0xd4'"), /metadata records '0000:04:00\.0 0 0xd4', expected '0000:04:00\.0 0 0xc8'/],
    ['an input element lost', (x) => x.replace(/\n *<memballoon[^>]*\/>/, ''), /memballoon> of the input is missing/],
    ['an unplanned element added', (x) => x.replace('</devices>', "  <watchdog model='itco'/>\n  </devices>"), /unplanned new <watchdog>/],
    ['an attribute of an untouched element changed', (x) => x.replace("<memory unit='GiB'>", "<memory unit='MiB'>"), /domain\/memory: attributes changed/],
    ['not well-formed', (x) => x.replace('</devices>', '</device>'), /xmldom: /],
  ])('%s', (_name, breakIt, message) => {
    const broken = breakIt(good);
    expect(broken).not.toBe(good);
    expect(readIndependently(domain, broken, plan).join('\n')).toMatch(message);
  });

  test('a wrong -set clique on an old stack', () => {
    const broken = oldStack.good.replace('device.ua-gpu7.x-nv-gpudirect-clique=0', 'device.ua-gpu7.x-nv-gpudirect-clique=2');
    expect(broken).not.toBe(oldStack.good);
    expect(readIndependently(oldStack.domain, broken, oldStack.plan).join('\n')).toMatch(/expected one -set device\.ua-gpu7\.x-nv-gpudirect-clique=0, found \[device\.ua-gpu7\.x-nv-gpudirect-clique=2\]/);
  });
});

test('the reader shares no code with lib/', () => {
  const source = read(path.join(REPO, '__tests__', 'helpers', 'independent-reader.ts'));
  expect(source).not.toMatch(/from '\.\.\/\.\.\/lib|require\([^)]*lib/);
});
