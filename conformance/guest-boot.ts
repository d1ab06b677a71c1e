import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { guestTreeFromDomain } from '../lib/layout/guest-tree';
import { PciTreeNode } from '../lib/layout/types';
import { Judgement } from './judge';
import { BootedGuest, hgxSnapshot, OracleDevice, pathTypeProblems, placedDevices, predictionProblems, runPipeline } from './pipeline';
import { REPO } from './repo';
import { Stack } from './stacks';

/** A transformed domain with a layout, and where guestTreeFromDomain says each placed device will be in the guest. */
export interface BootCase {
  name: string;
  xml: string;
  /** libvirt alias (`ua-gpu0`) → predicted guest BDF and NUMA node. */
  predicted: Record<string, { bdf: string; node: number }>;
  /** A deliberately broken domain: the boot judge must refuse it, with a reason matching this. */
  mustFail?: RegExp;
  /** Problems found before booting (the pipeline's own prediction checks): the case fails with them. */
  before?: string[];
  /** More to judge on the booted guest (NCCL's path types against the host's); returns problems and a summary. */
  judgeGuest?: (guest: BootedGuest) => { problems: string[]; summary: string };
}

export function guestBootDir(): string {
  return path.resolve(process.env.LIBVIRT_PASSTHROUGH_GUEST_BOOT ?? path.join(REPO, '..', 'shared', 'tools', 'guest-boot'));
}

const CASES_DIR = path.join(REPO, '__tests__', 'cases');
const PIPELINE_FIXTURE = 'layout-hgx-a100';

/** Every layout fixture's output (`__tests__/cases/layout-*` with an expected.xml), with the library's prediction. */
export function bootCases(): BootCase[] {
  return fs
    .readdirSync(CASES_DIR)
    .filter((d) => d.startsWith('layout-') && fs.existsSync(path.join(CASES_DIR, d, 'expected.xml')))
    // The pipeline boot (pipelineBootCase) makes this fixture's domain itself and boots that.
    .filter((d) => d !== PIPELINE_FIXTURE)
    .sort()
    .map((d) => {
      const xml = fs.readFileSync(path.join(CASES_DIR, d, 'expected.xml'), 'utf8');
      const predicted: BootCase['predicted'] = {};
      const visit = (n: PciTreeNode, node: number) => {
        if (n.role && n.alias) predicted[`ua-${n.alias}`] = { bdf: n.bdf, node };
        n.children.forEach((c) => visit(c, node));
      };
      for (const cpu of guestTreeFromDomain(xml).cpus) cpu.roots.forEach((r) => visit(r, cpu.numaNode));
      return { name: `boot/${d}`, xml, predicted };
    });
}

/**
 * The boot judge must be able to fail: the mirror fixture with its second expander bus moved into the first one's
 * bus range (busNr 232 -> 228, inside 224-229), judged against the prediction for the good file. libvirt and QEMU
 * accept it; the guest loses the devices behind the bridge that got no bus.
 */
export function negativeBootCases(cases: BootCase[]): BootCase[] {
  const good = cases.find((c) => c.name === 'boot/layout-mirror-2s8g');
  if (!good) return [];
  const xml = good.xml.replace("<target busNr='232'>", "<target busNr='228'>");
  if (xml === good.xml) throw new Error('negative boot case busnr-overlap did not change the file');
  return [{ name: 'negative/boot-busnr-overlap', xml, predicted: good.predicted, mustFail: /not in the guest|guest has it at|missing in the guest/ }];
}

/** What guest-boot's boot.sh printed (the fields judged here). */
export interface BootReport {
  error?: string;
  standIns?: Record<string, string>;
  missing?: string[];
  missingDevices?: string[];
  devices?: OracleDevice[];
  guestSeconds?: number;
}

const BOOT_ATTEMPTS = 3;
/** The guest never reached its init: the oracle's machine, never the layout (a layout fault still lets init report). */
const GUEST_NEVER_RAN_INIT = /stopped before its init finished|no output from the guest's init/;

/** Boots each case under TCG on the stack (two at a time) and judges what the guest kernel saw against the prediction. */
export async function bootAndJudge(cases: BootCase[], stack: Stack, parallel = 2): Promise<{ name: string; judgement: Judgement }[]> {
  const results: { name: string; judgement: Judgement }[] = new Array(cases.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < cases.length; i = next++) {
      let report = await boot(cases[i], stack);
      // Under TCG on a loaded machine the guest kernel's early timer check can fail and the guest powers off before
      // its init runs (seen in about one boot in a dozen here, with OVMF on trixie, twice in a row once): that is the
      // oracle's machine, not the layout; so is a guest whose init printed nothing before boot.sh's timeout (seen once
      // on trixie with OVMF, 120 s, where the same boot took 21 s a run earlier). Up to two more boots; each is named.
      let earlyStops = 0;
      while (earlyStops < BOOT_ATTEMPTS - 1 && report.error !== undefined && GUEST_NEVER_RAN_INIT.test(report.error)) {
        earlyStops++;
        report = await boot(cases[i], stack);
      }
      const judgement = judgeBoot(cases[i], report);
      if (earlyStops > 0) judgement.reasons.unshift(`booted ${earlyStops + 1} times: ${earlyStops} guest(s) never ran their init (stopped early or timed out)`);
      results[i] = { name: cases[i].name, judgement };
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, cases.length) }, worker));
  return results;
}

/** Each predicted device must be in the guest at its predicted BDF, on its predicted NUMA node; nothing may be missing. */
export function judgeBoot(c: BootCase, report: BootReport): Judgement {
  if (c.before?.length) return { status: 'fail', reasons: c.before };
  if (report.error) return { status: 'fail', reasons: [`boot: ${report.error}`] };
  const reasons: string[] = [];
  const nodes = new Map((report.devices ?? []).map((d) => [d.bdf, d.numaNode]));
  for (const [alias, want] of Object.entries(c.predicted)) {
    const got = report.standIns?.[alias];
    if (got === undefined) reasons.push(`${alias}: not in the guest (predicted ${want.bdf})`);
    else if (got !== want.bdf) reasons.push(`${alias}: guest has it at ${got}, predicted ${want.bdf}`);
    else if (nodes.get(got) !== want.node) reasons.push(`${alias}: numa_node ${nodes.get(got)}, planned ${want.node}`);
  }
  if (Object.keys(c.predicted).length === 0) reasons.push('no placed device predicted: the fixture tests nothing');
  for (const alias of Object.keys(report.standIns ?? {})) if (!(alias in c.predicted)) reasons.push(`${alias}: in the guest but not predicted`);
  if (report.missing?.length) reasons.push(`missing in the guest: ${report.missing.join(', ')}`);
  if (report.missingDevices?.length) reasons.push(`devices missing in the guest: ${report.missingDevices.join(', ')}`);
  const extra = c.judgeGuest?.({ devices: report.devices ?? [], standIns: report.standIns ?? {} });
  if (extra) reasons.push(...extra.problems);
  if (reasons.length > 0) return { status: 'fail', reasons };
  const seen = Object.entries(c.predicted).map(([alias, want]) => `${alias} ${want.bdf} node ${want.node}`);
  return { status: 'pass', reasons: [`guest ${report.guestSeconds} s, as predicted: ${seen.join(', ')}`, ...(extra ? [extra.summary] : [])] };
}

/**
 * The "Done when" on the HGX A100 host (two sockets, two switch levels, 8 GPUs, 5 NICs): host plan from its
 * sysfs tree with --gpus all --nics all --layout mirror, transform into the layout-hgx-a100 domain, nccl-topo; the
 * booted guest must show every device at the predicted BDF that nccl-topo names, on its host node's cell, and give
 * every GPU–GPU and GPU–NIC pair NCCL's host path type.
 */
export function pipelineBootCase(): BootCase {
  const snapshot = hgxSnapshot();
  const run = runPipeline('mirror', snapshot);
  const predicted = Object.fromEntries(Object.entries(placedDevices(run.planned)).map(([a, p]) => [a, { bdf: p.bdf, node: p.node }]));
  return {
    name: 'boot/pipeline-hgx-a100-mirror',
    xml: run.xml,
    predicted,
    before: predictionProblems(run, snapshot),
    judgeGuest: (guest) => {
      const r = pathTypeProblems(run, guest);
      return { problems: r.problems, summary: `NCCL path types equal the host's for all ${r.compared} GPU–GPU and GPU–NIC pairs: ${r.pairs.join(', ')}` };
    },
  };
}

/** Outside /tmp and /run (see boot). */
const BOOT_STAGING = '/var/tmp';

function boot(c: BootCase, stack: Stack): Promise<BootReport> {
  // boot.sh mounts a private tmpfs on /tmp and /run before it reads its input and its own guest.pl: the domain and
  // the tool must sit elsewhere (CI clones into a mktemp -d folder, with ../shared beside it, under /tmp).
  const dir = fs.mkdtempSync(path.join(BOOT_STAGING, 'libvirt-passthrough-boot-'));
  const tool = path.join(dir, 'guest-boot');
  fs.cpSync(guestBootDir(), tool, { recursive: true });
  const file = path.join(dir, `${c.name.replace(/\W+/g, '-')}.xml`);
  fs.writeFileSync(file, c.xml);
  return new Promise((resolve) => {
    const child = spawn('bash', [path.join(tool, 'boot.sh'), '--stack', stack.id, file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', (err) => resolve({ error: err.message }));
    child.on('close', (code) => {
      fs.rmSync(dir, { recursive: true, force: true });
      let report: BootReport | undefined;
      try {
        report = JSON.parse(stdout) as BootReport;
      } catch {
        report = undefined;
      }
      // Exit 3 (stand-ins missing) still has a report, which names what is missing.
      if (report && (code === 0 || code === 3)) return resolve(report);
      resolve({ error: `boot.sh exit ${code}: ${(report?.error ?? stderr.trim().split('\n').slice(-3).join('; ')) || 'no message'}` });
    });
  });
}

/** Why the boots cannot run here, if they cannot: not root, or guest-boot not installed. */
export function bootUnavailable(): string | undefined {
  const dir = guestBootDir();
  if (!fs.existsSync(path.join(dir, 'boot.sh'))) return `guest-boot not found at ${dir} (a checkout of ../shared beside the repository, or set LIBVIRT_PASSTHROUGH_GUEST_BOOT)`;
  if (process.getuid?.() !== 0) return 'the guest boots need root (namespaces): sudo npm run test:libvirt';
  return undefined;
}
