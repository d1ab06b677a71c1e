import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { ConformanceCase, corpusCases, fixtureCases, negativeCases } from './cases';
import { Judgement, judge } from './judge';
import { OracleVerdict, runOracle } from './oracle';

const INSTALL_HINT =
  'Real libvirt is not installed. The conformance tests need Debian/Ubuntu packages libxml2-utils, libvirt-clients, ' +
  'libvirt-daemon-driver-qemu, qemu-system-x86 and ovmf (no daemon is started):\n\n' +
  '    sudo bash scripts/install-libvirt.sh\n    npm run test:libvirt\n';

function libvirtInstalled(): boolean {
  return ['virsh', 'xmllint', 'qemu-system-x86_64'].every((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status === 0) &&
    fs.existsSync('/usr/share/libvirt/schemas/domain.rng');
}

interface Line {
  name: string;
  judgement: Judgement;
}

function judgeNegative(c: ConformanceCase, verdict: OracleVerdict): Judgement {
  const j = judge(verdict, c.expect);
  const text = j.reasons.join(' | ');
  if (j.status === 'fail' && c.mustFail!.test(text)) return { status: 'pass', reasons: [`refused as it must be: ${text}`] };
  return { status: 'fail', reasons: [`the harness let a broken file through (wanted ${c.mustFail}): ${text || 'all checks ok'}`] };
}

async function main(): Promise<number> {
  if (!libvirtInstalled()) {
    process.stderr.write(INSTALL_HINT);
    return 1;
  }
  const started = Date.now();
  const corpus = corpusCases();
  const cases = [...negativeCases(), ...fixtureCases(), ...corpus.cases];
  const verdicts = new Map((await runOracle(cases)).map((v) => [v.name, v]));
  const lines: Line[] = corpus.refusals.map((r) => ({ name: r.name, judgement: { status: r.status, reasons: r.reasons } }));
  for (const c of cases) {
    const verdict = verdicts.get(c.name)!;
    if (c.mustFail) lines.push({ name: c.name, judgement: judgeNegative(c, verdict) });
    else if (c.baseline || c.expect) lines.push({ name: c.name, judgement: judge(verdict, c.expect, c.baseline ? verdicts.get(c.baseline) : undefined) });
  }
  for (const { name, judgement } of lines) {
    const label = judgement.status === 'pass' ? 'PASS' : judgement.status === 'fail' ? 'FAIL' : 'REFUSED-BEFORE';
    process.stdout.write(`${label} ${name}${judgement.reasons.length ? `: ${judgement.reasons.join(' | ')}` : ''}\n`);
  }
  const count = (s: string) => lines.filter((l) => l.judgement.status === s).length;
  const summary = {
    files: lines.length,
    passed: count('pass'),
    failed: count('fail'),
    refusedBefore: count('refused-before'),
    seconds: Math.round((Date.now() - started) / 100) / 10,
  };
  process.stdout.write(
    `conformance: ${summary.files} files, ${summary.passed} passed, ${summary.failed} failed, ${summary.refusedBefore} refused by libvirt before the transform (not ours), ${summary.seconds} s\n`,
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
