import * as fs from 'node:fs';
import { ConformanceCase, corpusCases, fixtureCases, negativeCases } from './cases';
import { BootCase, bootAndJudge, bootCases, bootUnavailable, negativeBootCases, pipelineBootCase } from './guest-boot';
import { Judgement, judge } from './judge';
import { OracleVerdict, runOracle } from './oracle';
import { hostStack, Stack, TRIXIE_ROOT, trixieStack } from './stacks';

const INSTALL_HINT: Record<Stack['id'], string> = {
  bookworm:
    "The host's libvirt is not installed. The conformance tests need Debian/Ubuntu packages libxml2-utils, libvirt-clients, " +
    'libvirt-daemon-driver-qemu, qemu-system-x86 and ovmf (no daemon is started):\n\n    sudo bash scripts/install-libvirt.sh\n',
  trixie:
    `The second stack (Debian 13: libvirt 11.3, QEMU 10.0) is not built at ${TRIXIE_ROOT}, or this is not root. Build it ` +
    '(about a minute, needs ../shared beside the repository):\n\n    sudo bash scripts/install-libvirt.sh --trixie\n\n' +
    'or run one stack only: CONFORMANCE_STACKS=bookworm npm run test:libvirt\n',
};

interface Line {
  name: string;
  /** The stack that judged it; undefined for checks that need no libvirt (non-q35 refusals). */
  stack?: Stack['id'];
  judgement: Judgement;
}

function judgeNegative(c: ConformanceCase, verdict: OracleVerdict): Judgement {
  const j = judge(verdict, c.expect);
  const text = j.reasons.join(' | ');
  if (j.status === 'fail' && c.mustFail!.test(text)) return { status: 'pass', reasons: [`refused as it must be: ${text}`] };
  return { status: 'fail', reasons: [`the harness let a broken file through (wanted ${c.mustFail}): ${text || 'all checks ok'}`] };
}

function wantedStacks(): Stack['id'][] {
  const ids = (process.env.CONFORMANCE_STACKS ?? 'bookworm,trixie').split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = ids.filter((id) => id !== 'bookworm' && id !== 'trixie');
  if (unknown.length > 0 || ids.length === 0) throw new Error(`CONFORMANCE_STACKS: use bookworm, trixie or both, not "${unknown.join(',')}"`);
  return ids as Stack['id'][];
}

/**
 * The layout fixtures booted under TCG with guest-boot: the guest's bus IDs and NUMA nodes against the prediction.
 * Without root or guest-boot one line says what is missing: a skip on a workstation, a failure in CI.
 */
async function bootOnStack(stack: Stack, cases: BootCase[]): Promise<Line[]> {
  if (cases.length === 0) return [];
  const unavailable = bootUnavailable();
  if (unavailable) {
    if (!process.env.CI) {
      process.stderr.write(`conformance: guest boots skipped on ${stack.id}: ${unavailable}\n`);
      return [];
    }
    return [{ name: 'boot/layout fixtures', stack: stack.id, judgement: { status: 'fail', reasons: [unavailable] } }];
  }
  process.stderr.write(`conformance: booting ${cases.length} layout fixture(s) on ${stack.label}\n`);
  const results = await bootAndJudge(cases, stack);
  return results.map((r, i) => ({ name: r.name, stack: stack.id, judgement: cases[i].mustFail ? judgeNegativeBoot(cases[i].mustFail!, r.judgement) : r.judgement }));
}

function judgeNegativeBoot(mustFail: RegExp, j: Judgement): Judgement {
  const text = j.reasons.join(' | ');
  if (j.status === 'fail' && mustFail.test(text)) return { status: 'pass', reasons: [`refused as it must be: ${text}`] };
  return { status: 'fail', reasons: [`the boot judge let a broken file through (wanted ${mustFail}): ${text || 'all checks ok'}`] };
}

async function judgeOnStack(stack: Stack, cases: ConformanceCase[], boots: BootCase[]): Promise<{ lines: Line[]; seconds: number }> {
  const started = Date.now();
  const verdicts = new Map((await runOracle(cases, stack)).map((v) => [v.name, v]));
  const lines: Line[] = [];
  for (const c of cases) {
    const verdict = verdicts.get(c.name)!;
    if (c.mustFail) lines.push({ name: c.name, stack: stack.id, judgement: judgeNegative(c, verdict) });
    else if (c.baseline || c.expect) {
      lines.push({ name: c.name, stack: stack.id, judgement: judge(verdict, c.expect, c.baseline ? verdicts.get(c.baseline) : undefined) });
    }
  }
  lines.push(...(await bootOnStack(stack, boots)));
  return { lines, seconds: Math.round((Date.now() - started) / 100) / 10 };
}

const LABEL = { pass: 'PASS', fail: 'FAIL', 'refused-before': 'REFUSED-BEFORE' } as const;
const count = (lines: Line[], status: string) => lines.filter((l) => l.judgement.status === status).length;

/** Cases that one stack judged and every other stack refused before the transform, per judging stack. */
function judgedOnOneStackOnly(lines: Line[], stacks: Stack[]): Record<string, string[]> {
  const byName = new Map<string, Line[]>();
  for (const l of lines) if (l.stack) byName.set(l.name, [...(byName.get(l.name) ?? []), l]);
  const only: Record<string, string[]> = Object.fromEntries(stacks.map((s) => [s.id, []]));
  if (stacks.length < 2) return only;
  for (const [name, ls] of byName) {
    const judged = ls.filter((l) => l.judgement.status !== 'refused-before');
    if (judged.length === 1) only[judged[0].stack!].push(name);
  }
  return only;
}

async function main(): Promise<number> {
  const ids = wantedStacks();
  const stacks: Stack[] = [];
  for (const id of ids) {
    const stack = id === 'bookworm' ? hostStack() : trixieStack();
    if (!stack) {
      process.stderr.write(INSTALL_HINT[id]);
      return 1;
    }
    stacks.push(stack);
  }
  const started = Date.now();
  const corpus = corpusCases();
  const cases = [...negativeCases(), ...fixtureCases(), ...corpus.cases];
  const layoutBoots = [...bootCases(), pipelineBootCase()];
  const boots = [...negativeBootCases(layoutBoots), ...layoutBoots];
  const lines: Line[] = corpus.refusals.map((r) => ({ name: r.name, judgement: { status: r.status, reasons: r.reasons } }));
  const perStack: Record<string, object> = {};
  for (const stack of stacks) {
    process.stderr.write(`conformance: ${cases.length} files on ${stack.label}\n`);
    const run = await judgeOnStack(stack, cases, boots);
    lines.push(...run.lines);
    perStack[stack.id] = {
      label: stack.label, passed: count(run.lines, 'pass'), failed: count(run.lines, 'fail'),
      refusedBefore: count(run.lines, 'refused-before'), seconds: run.seconds,
    };
  }
  const only = judgedOnOneStackOnly(lines, stacks);
  for (const { name, stack, judgement } of lines) {
    const onlyHere = stack && only[stack]?.includes(name) ? ' (only this stack loads it)' : '';
    const reasons = judgement.reasons.length ? `: ${judgement.reasons.join(' | ')}` : '';
    process.stdout.write(`${LABEL[judgement.status]} [${stack ?? 'no libvirt'}] ${name}${onlyHere}${reasons}\n`);
  }
  const summary = {
    files: cases.length + corpus.refusals.length,
    verdicts: lines.length,
    passed: count(lines, 'pass'),
    failed: count(lines, 'fail'),
    refusedBefore: count(lines, 'refused-before'),
    stacks: perStack,
    judgedOnOneStackOnly: Object.fromEntries(Object.entries(only).map(([id, names]) => [id, names.length])),
    seconds: Math.round((Date.now() - started) / 100) / 10,
  };
  for (const stack of stacks) {
    const s = perStack[stack.id] as { passed: number; failed: number; refusedBefore: number; seconds: number };
    process.stdout.write(
      `conformance [${stack.id}] ${stack.label}: ${s.passed} passed, ${s.failed} failed, ${s.refusedBefore} refused by libvirt before the transform (not ours)` +
        `${stacks.length > 1 ? `, ${only[stack.id].length} judged only here` : ''}, ${s.seconds} s\n`,
    );
  }
  process.stdout.write(
    `conformance: ${summary.files} files, ${summary.verdicts} verdicts on ${stacks.length} stack(s): ${summary.passed} passed, ${summary.failed} failed, ` +
      `${summary.refusedBefore} refused before the transform, ${summary.seconds} s\n`,
  );
  if (process.env.CONFORMANCE_SUMMARY) fs.writeFileSync(process.env.CONFORMANCE_SUMMARY, JSON.stringify(summary) + '\n');
  return summary.failed === 0 ? 0 : 1;
}

main().then(
  (code) => (process.exitCode = code),
  (err) => {
    process.stderr.write(`conformance: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
