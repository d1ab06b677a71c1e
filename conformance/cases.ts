import * as fs from 'node:fs';
import * as path from 'node:path';
import { isPassthroughError } from '../lib/errors';
import { formatPciAddress } from '../lib/pci/address';
import { overrideStyleFor } from '../lib/plan/stack';
import { Plan } from '../lib/plan/types';
import { readPlanAddress } from '../lib/plan/validate';
import { transformDomain } from '../lib/transform';
import { controllerExpectations } from './layout';
import { REPO } from './repo';
import { CliqueExpectation, Status } from './judge';

/** One file for the oracle: its XML, what the command line must show, and the original to judge it against. */
export interface ConformanceCase {
  name: string;
  xml: string;
  expect?: CliqueExpectation;
  /** Name of the case holding the untransformed original (judged relative to it). */
  baseline?: string;
  /** A deliberately broken file: the harness must refuse it, with a reason matching this. */
  mustFail?: RegExp;
}

const CASES_DIR = path.join(REPO, '__tests__', 'cases');
const PLANS_DIR = path.join(REPO, '__tests__', 'plans');
export const STANDARD_PLAN_NAMES = ['npu', 'two-gpus-one-clique', 'eight-gpus-two-cliques'];

export function corpusDir(): string {
  const base = process.env.LIBVIRT_PASSTHROUGH_CORPUS ?? path.join(REPO, '..', 'shared', 'corpus');
  return path.resolve(base, 'libvirt');
}

export function expectationFor(plan: Plan, domainXml?: string): CliqueExpectation {
  const hosts: Record<string, number | null> = {};
  plan.hostdevs.forEach((h, i) => {
    hosts[formatPciAddress(readPlanAddress(h.address, `hostdevs[${i}].address`))] = h.gpudirect ? h.gpudirect.clique : null;
  });
  // The library's own rule (lib/plan/stack.ts) for which form it wrote; the oracle then proves what that form does.
  const commandlineStyle = plan.hostdevs.some((h) => h.gpudirect) && overrideStyleFor(plan.target ?? {}) === 'commandline';
  const controllers = controllerExpectations(plan, domainXml);
  return { hosts, commandlineStyle, mmioGiB: plan.mmio?.window64GiB, ...(controllers.length > 0 ? { controllers } : {}) };
}

const readJson = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8'));

/** Every expected.xml of the core suite, judged against its own domain.xml. */
export function fixtureCases(): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  for (const name of fs.readdirSync(CASES_DIR).sort()) {
    const expected = path.join(CASES_DIR, name, 'expected.xml');
    if (!fs.existsSync(expected)) continue;
    const plan = readJson(path.join(CASES_DIR, name, 'plan.json')) as Plan;
    const domain = fs.readFileSync(path.join(CASES_DIR, name, 'domain.xml'), 'utf8');
    cases.push({ name: `fixture/${name}/domain.xml`, xml: domain });
    const xml = fs.readFileSync(expected, 'utf8');
    const expect = { ...expectationFor(plan, domain), ovmf: xml.includes('opt/ovmf/X-PciMmio64Mb') };
    cases.push({ name: `fixture/${name}`, xml, expect, baseline: `fixture/${name}/domain.xml` });
  }
  return cases;
}

export function standardPlans(): Record<string, Plan> {
  return Object.fromEntries(STANDARD_PLAN_NAMES.map((n) => [n, readJson(path.join(PLANS_DIR, `${n}.json`)) as Plan]));
}

interface CorpusFile {
  file: string;
  machine: string;
  arch: string;
}

export function corpusFiles(): CorpusFile[] {
  const index = path.join(corpusDir(), 'INDEX.tsv');
  if (!fs.existsSync(index)) throw new Error(`corpus index not found at ${index}; set LIBVIRT_PASSTHROUGH_CORPUS`);
  const [, ...rows] = fs.readFileSync(index, 'utf8').trim().split('\n');
  return rows.map((r) => {
    const [file, machine, arch] = r.split('\t');
    return { file, machine, arch };
  });
}

export interface CorpusSplit {
  cases: ConformanceCase[];
  /** Non-q35 files: each must be refused with MACHINE_NOT_Q35 (checked without libvirt). */
  refusals: { name: string; status: Status; reasons: string[] }[];
}

/** Every corpus file: q35 ones as original + one output per standard plan; the rest must be refused. */
export function corpusCases(): CorpusSplit {
  const plans = standardPlans();
  const split: CorpusSplit = { cases: [], refusals: [] };
  for (const { file } of corpusFiles()) {
    const xml = fs.readFileSync(path.join(corpusDir(), file), 'utf8');
    const original = `corpus/${file}`;
    let outputs: [string, string][];
    try {
      outputs = Object.entries(plans).map(([planName, plan]) => [planName, transformDomain(xml, plan)]);
    } catch (err) {
      const refused = isPassthroughError(err) && err.code === 'MACHINE_NOT_Q35';
      split.refusals.push({
        name: `${original} (not q35)`,
        status: refused ? 'pass' : 'fail',
        reasons: refused ? [] : [`expected MACHINE_NOT_Q35, got ${isPassthroughError(err) ? err.code : String(err)}`],
      });
      continue;
    }
    split.cases.push({ name: original, xml });
    for (const [planName, out] of outputs) {
      split.cases.push({ name: `${original} + ${planName}`, xml: out, expect: expectationFor(plans[planName]), baseline: original });
    }
  }
  return split;
}

/** Deliberately broken outputs: the harness itself is wrong if it lets any of them pass. */
export function negativeCases(): ConformanceCase[] {
  const good = fs.readFileSync(path.join(CASES_DIR, 'spec-2gpu-k80', 'expected.xml'), 'utf8');
  const plan = readJson(path.join(CASES_DIR, 'spec-2gpu-k80', 'plan.json')) as Plan;
  const expect = expectationFor(plan);
  const mutate = (name: string, xml: string, mustFail: RegExp): ConformanceCase => {
    if (xml === good) throw new Error(`negative case ${name} did not change the file`);
    return { name: `negative/${name}`, xml, expect, mustFail };
  };
  return [
    mutate(
      'guest-slot-0x20',
      good.replace("<alias name='ua-gpu1'/>", "<alias name='ua-gpu1'/>\n      <address type='pci' domain='0x0000' bus='0x00' slot='0x20' function='0x0'/>"),
      /schema|define/,
    ),
    mutate('alias-without-ua', good.split("'ua-gpu1'").join("'gpu1'"), /dropped: alias gpu1/),
    mutate('clique-16', good.replace("value='0'/>", "value='16'/>"), /valid range 0-15/),
    mutate('clique-typed-string', good.replace("type='unsigned' value='0'", "type='string' value='0'"), /x-nv-gpudirect-clique "0"|expects/),
    mutate('override-unknown-alias', good.replace("<qemu:device alias='ua-gpu1'>", "<qemu:device alias='ua-gpu9'>"), /matches no device alias|clique \(none\)/),
    mutate('clique-missing', good.replace(/\n\s*<qemu:device alias='ua-gpu1'>[\s\S]*?<\/qemu:device>/, ''), /clique \(none\), expected 0/),
    mmioNegative(),
    layoutNegative(),
  ];
}

/** The mirror layout with an expander bus's node changed in the file: the command line must differ from the plan. */
function layoutNegative(): ConformanceCase {
  const dir = path.join(CASES_DIR, 'layout-mirror-2s8g');
  const good = fs.readFileSync(path.join(dir, 'expected.xml'), 'utf8');
  const xml = good.replace("<target busNr='240'>\n        <node>1</node>", "<target busNr='240'>\n        <node>0</node>");
  if (xml === good) throw new Error('negative case layout-node-wrong did not change the file');
  return { name: 'negative/layout-node-wrong', xml, expect: expectationFor(readJson(path.join(dir, 'plan.json')) as Plan), mustFail: /pci\.12 has numa_node 0, expected 1/ };
}

/** The H100 MMIO fixture with a window smaller than its plan's: the command line must give it away. */
function mmioNegative(): ConformanceCase {
  const dir = path.join(CASES_DIR, 'mmio-ovmf-h100');
  const good = fs.readFileSync(path.join(dir, 'expected.xml'), 'utf8');
  const xml = good.replace('>536870912</pcihole64>', '>268435456</pcihole64>');
  if (xml === good) throw new Error('negative case mmio-window-too-small did not change the file');
  const expect = { ...expectationFor(readJson(path.join(dir, 'plan.json')) as Plan), ovmf: true };
  return { name: 'negative/mmio-window-too-small', xml, expect, mustFail: /no -global q35-pcihost.pci-hole64-size=536870912K/ };
}
