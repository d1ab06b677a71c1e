import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { KVM, LIBVIRT, needs } from './helpers/needs';
import { REPO } from './helpers/paths';

// `apply` against REAL libvirt: the embedded QEMU driver (qemu:///embed?root=DIR, no daemon) through
// __tests__/helpers/virsh-embedded.sh, which sets up what the driver needs (as root: a private /run and
// a libvirt-qemu user) and then runs the real virsh with the arguments `apply` gives it, --connect included.
// Without virsh, QEMU or KVM every test here is skipped with one line naming what to install (failed under CI);
// the pure parts of apply (the diff, the read-back facts) are tested in apply-checks.test.ts.
const { test } = needs(LIBVIRT, KVM);
const BIN = path.join(REPO, 'bin', 'libvirt-passthrough.js');
const EMBEDDED_VIRSH = path.join(REPO, '__tests__', 'helpers', 'virsh-embedded.sh');
const example = (f: string) => path.join(REPO, 'examples', f);
const domain = fs.readFileSync(example('domain.xml'), 'utf8');

let dir: string;
let root: string;
let uri: string;

beforeAll(() => {
  if (!fs.existsSync(path.join(REPO, 'dist', 'cli', 'main.js'))) throw new Error('dist/ is missing: run npm run build');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lp-apply-'));
  root = path.join(dir, 'root');
  uri = `qemu:///embed?root=${root}`;
});

afterAll(() => dir && fs.rmSync(dir, { recursive: true, force: true }));

const env = (virsh = EMBEDDED_VIRSH) => ({ ...process.env, LP_EMBED_ROOT: root, LIBVIRT_PASSTHROUGH_VIRSH: virsh });
const virsh = (...args: string[]) => execFileSync(EMBEDDED_VIRSH, ['-c', uri, ...args], { encoding: 'utf8', env: env() });

/** Defines examples/domain.xml under a new name and UUID; returns libvirt's definition of it. */
function defineVm(name: string): string {
  const file = path.join(dir, `${name}.xml`);
  const uuid = `6f2a8e4c-1b3d-4c8e-9a41-${Buffer.from(name).toString('hex').padStart(12, '0').slice(-12)}`;
  fs.writeFileSync(file, domain.replace('<name>vm-name</name>', `<name>${name}</name>`).replace(/<uuid>[^<]*<\/uuid>/, `<uuid>${uuid}</uuid>`));
  virsh('define', file);
  return virsh('dumpxml', '--inactive', '--security-info', name);
}

/** The versions come from the connection (virsh version), whatever this machine runs. */
const TARGET_LINE = /^target: libvirt \d+\.\d+\.\d+ \(from virsh version on qemu:\/\/\/embed\?root=[^)]*\), QEMU \d+\.\d+\.\d+ \(from virsh version on qemu:\/\/\/embed\?root=[^)]*\)\n$/;

const TARGET_LINE_START = /^target: .*\n/;

function writePlan(name: string, plan: unknown): string {
  const file = path.join(dir, `${name}.plan.json`);
  fs.writeFileSync(file, JSON.stringify(plan));
  return file;
}

function apply(args: string[], virshProgram?: string) {
  const run = spawnSync(process.execPath, [BIN, 'apply', ...args, '--connect', uri], { encoding: 'utf8', env: env(virshProgram) });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** A virsh wrapper for one test: runs `script` (sh) before handing the call to the embedded virsh. */
function wrapper(name: string, script: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, `#!/bin/sh\n# argv: --connect=URI COMMAND ARGS...\n${script}\nexec "${EMBEDDED_VIRSH}" "$@"\n`, { mode: 0o755 });
  return file;
}

test('--dry-run prints the unified diff and defines nothing', () => {
  const before = defineVm('lp-dry');
  const r = apply(['lp-dry', '--plan', example('2gpu-k80.plan.json'), '--dry-run']);
  expect(r.stderr).toMatch(TARGET_LINE);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/^--- lp-dry \(libvirt\)\n\+\+\+ lp-dry \(planned\)\n@@ /);
  expect(r.stdout).toContain("+        <qemu:property name='x-nv-gpudirect-clique' type='unsigned' value='0'/>\n");
  expect(r.stdout).toMatch(/lp-dry: dry run: would define with hostdev 0000:04:00.0 \(ua-gpu0\), hostdev 0000:05:00.0 \(ua-gpu1\), clique 0 on ua-gpu0, clique 0 on ua-gpu1\n/);
  // Without VFIO here libvirt cannot build the QEMU command line, and the dry run says what it could not check.
  expect(r.stdout).toMatch(/\nlp-dry: checked: libvirt parsed the new definition and placed its devices, but could not build the QEMU command line on this host \(.*\); not checked without defining: .*\n$/);
  expect(virsh('dumpxml', '--inactive', '--security-info', 'lp-dry')).toBe(before);
});

test('defines, libvirt keeps every hostdev and override, and the second run has nothing to do', () => {
  defineVm('lp-ok');
  const first = apply(['lp-ok', '--plan', example('2gpu-k80.plan.json')]);
  expect(first.stderr).toMatch(TARGET_LINE);
  expect(first.code).toBe(0);
  expect(first.stdout).toBe('lp-ok: defined with hostdev 0000:04:00.0 (ua-gpu0), hostdev 0000:05:00.0 (ua-gpu1), clique 0 on ua-gpu0, clique 0 on ua-gpu1\n');
  const defined = virsh('dumpxml', '--inactive', 'lp-ok');
  expect(defined).toContain("<qemu:device alias='ua-gpu1'>");
  expect(defined).toMatch(/<alias name='ua-gpu0'\/>/);
  expect(apply(['lp-ok', '--plan', example('2gpu-k80.plan.json')]).stdout).toBe('lp-ok: already configured: nothing to define\n');
});

test('several VMs, --json per VM; libvirt refuses one definition and that VM keeps its original', () => {
  defineVm('lp-a');
  const originalB = defineVm('lp-b');
  // q35 has its LPC bridge at 00:1f.0: libvirt refuses a second device there ("Attempted double use of PCI Address").
  const plan = writePlan('clash', { hostdevs: [{ address: '1b:00.0', guestAddress: '00:1f.0' }] });
  const good = writePlan('npu', JSON.parse(fs.readFileSync(example('npu.plan.json'), 'utf8')));
  const okRun = apply(['lp-a', '--plan', good, '--json']);
  expect(JSON.parse(okRun.stdout)).toEqual([expect.objectContaining({ vm: 'lp-a', code: 'OK', message: 'defined with hostdev 0000:1b:00.0' })]);
  const r = apply(['lp-a', 'lp-b', 'lp-missing', '--plan', plan, '--json']);
  expect(r.code).toBe(1);
  const results = JSON.parse(r.stdout) as { vm: string; code: string; message: string; changes: unknown[] }[];
  expect(results.map((x) => [x.vm, x.code])).toEqual([
    ['lp-a', 'HOSTDEV_CONFLICT'], // 1b:00.0 is already there without that guest address: refused before libvirt
    ['lp-b', 'LIBVIRT_REFUSED'],
    ['lp-missing', 'LIBVIRT_REFUSED'],
  ]);
  // A refused define changes nothing: there is nothing to roll back.
  expect(results[1].message).toMatch(/^virsh define failed: .*Attempted double use of PCI Address 0000:00:1f\.0.*; nothing was defined, the domain keeps its definition$/);
  expect(results[1].changes).toEqual([expect.objectContaining({ kind: 'hostdev-added', address: '0000:1b:00.0' }), expect.objectContaining({ kind: 'metadata-written' })]);
  expect(results[2].message).toMatch(/^virsh domuuid failed: .*lp-missing/);
  expect(virsh('dumpxml', '--inactive', '--security-info', 'lp-b')).toBe(originalB);
});

test('libvirt accepts the definition but drops the override: LIBVIRT_DROPPED, and the original goes back', () => {
  const original = defineVm('lp-drop');
  // Stands in for a libvirt that does not know <qemu:override> (before 8.2) and silently leaves it out:
  // the definition piped to the real define loses the element.
  const dropping = wrapper(
    'virsh-drops-override',
    `if [ "$2" = define ]; then perl -0777 -pe 's{\\s*<qemu:override>.*?</qemu:override>}{}s' | "${EMBEDDED_VIRSH}" "$@"; exit $?; fi`,
  );
  const r = apply(['lp-drop', '--plan', example('2gpu-k80.plan.json')], dropping);
  expect(r.code).toBe(1);
  expect(r.stderr.replace(TARGET_LINE_START, '')).toBe(
    "lp-drop: LIBVIRT_DROPPED: libvirt accepted the definition but did not keep override ua-gpu0 x-nv-gpudirect-clique=0 (unsigned); override ua-gpu1 x-nv-gpudirect-clique=0 (unsigned); check the libvirt version against the plan's target; the original definition is back in place\n",
  );
  expect(virsh('dumpxml', '--inactive', '--security-info', 'lp-drop')).toBe(original);
});

test('a running domain is defined for its next start, and the message says so', () => {
  defineVm('lp-running');
  // The embedded driver cannot run a guest here (no KVM in CI): the wrapper answers domstate as a host with it running would.
  const running = wrapper('virsh-running', 'if [ "$2" = domstate ]; then echo running; exit 0; fi');
  const r = apply(['lp-running', '--plan', example('npu.plan.json')], running);
  expect(r.code).toBe(0);
  expect(r.stdout).toBe(
    'lp-running: defined with hostdev 0000:1b:00.0; the domain is running: the new definition takes effect at its next start (shut it down and start it; a reboot inside the guest keeps the old one)\n',
  );
});

test('a plan without a target asks the connection for its versions once, for all the VMs', () => {
  defineVm('lp-v1');
  defineVm('lp-v2');
  const log = path.join(dir, 'virsh-calls.log');
  const counting = wrapper('virsh-counting', `echo "$2" >> "${log}"`);
  const plan = writePlan('k80-no-target', JSON.parse(fs.readFileSync(example('2gpu-k80.plan.json'), 'utf8')));
  const r = apply(['lp-v1', 'lp-v2', '--plan', plan, '--dry-run'], counting);
  expect(r.code).toBe(0);
  expect(fs.readFileSync(log, 'utf8').split('\n').filter((c) => c === 'version')).toHaveLength(1);
  expect(r.stderr).not.toMatch(/without target\.libvirt/); // both VMs were transformed for the connection's versions
});

test('usage errors', () => {
  expect(apply(['--plan', example('npu.plan.json')]).code).toBe(2);
  expect(apply(['vm1']).stderr).toMatch(/apply needs --plan/);
});
