import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli } from '../lib/cli/main';
import { CliIo, processIo } from '../lib/cli/io';
import { runOnDefineDomain } from '../lib/kubevirt/main';
import { REPO } from './helpers/paths';
import { GPU, NPU, makeSysfs } from './helpers/sysfs';

// Every value the CLI and the hook echo is clipped and made printable (issue 21 item 8, docs/security.md): each
// message-producing path is fed a 100,000-character name that starts with a newline and terminal escapes. A raw
// echo would forge a log line ("FORGED: …" at the start of a line), send ESC to the terminal, or print 100 KB.
const NAME = `vm\nFORGED: all good\x1b[2K\x1b[31m\r${'n'.repeat(100_000)}`;
// A file name can hold the same, up to 255 bytes.
const FILE_NAME = `f\nFORGED: all good\x1b[2K\r${'n'.repeat(200)}`;

const example = (f: string) => path.join(REPO, 'examples', f);
const DOMAIN = fs.readFileSync(example('domain.xml'), 'utf8');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lp-echo-'));
const sysfs = makeSysfs({
  devices: [
    { path: ['pci0000:00', '0000:00:02.0', '0000:3b:00.0'], vendor: 0x10de, device: 0x20b0, classCode: GPU, numa: 0, group: '3' },
    { path: ['pci0000:00', '0000:00:03.0', '0000:1b:00.0'], vendor: 0x19e5, device: 0xd801, classCode: NPU, numa: 0, group: '5' },
  ],
});
afterAll(() => [dir, sysfs].forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** A file with the hostile name in its own folder; `make` writes it (or makes it a FIFO). */
function hostileFile(tag: string, content: string | ((file: string) => void)): string {
  const sub = fs.mkdtempSync(path.join(dir, `${tag}-`));
  const file = path.join(sub, FILE_NAME);
  if (typeof content === 'string') fs.writeFileSync(file, content);
  else content(file);
  return file;
}

const virsh = path.join(dir, 'virsh');
// Like the real virsh, it repeats the domain name it could not find.
fs.writeFileSync(virsh, '#!/bin/sh\nfor a; do last="$a"; done\necho "error: failed to get domain \'$last\'" >&2\nexit 1\n', { mode: 0o755 });

const notQ35 = hostileFile('pc', DOMAIN.replace("machine='pc-q35-7.2'", "machine='pc'"));
const badJson = hostileFile('json', '{\n  "hostdevs": [1,]\n}\n');
const badPlan = hostileFile('plan', '{"hostdevs": [{"adress": "1b:00.0"}]}');
const emptyConfig = hostileFile('config', 'nothing here\n');
const fifo = hostileFile('fifo', (file) => spawnSync('mkfifo', [file]));
const big = hostileFile('big', DOMAIN);
const plan = example('npu.plan.json');
const domain = example('domain.xml');

type Case = [string, string[]];
const CASES: Case[] = [
  ['unknown command', [NAME]],
  ['unknown option', ['transform', `--${NAME}`]],
  ['transform: missing plan file', ['transform', '--plan', NAME, domain]],
  ['transform: missing domain file', ['transform', '--plan', plan, NAME]],
  ['transform: extra file', ['transform', '--plan', plan, domain, NAME]],
  ['transform: --max-bytes', ['transform', '--plan', plan, domain, '--max-bytes', NAME]],
  ['transform: --libvirt', ['transform', '--plan', plan, domain, '--libvirt', NAME]],
  ['transform: --in-place on a missing file', ['transform', '--plan', plan, NAME, '--in-place']],
  ['transform: --in-place on a FIFO', ['transform', '--plan', plan, fifo, '--in-place']],
  ['transform: a domain error names the file', ['transform', '--plan', plan, notQ35]],
  ['transform: a JSON syntax error names the plan', ['transform', '--plan', badJson, domain]],
  ['transform: a schema error names the plan', ['transform', '--plan', badPlan, domain]],
  ['transform: a domain past --max-bytes', ['transform', '--plan', plan, big, '--max-bytes', '100']],
  ['apply: a VM that does not exist', ['apply', NAME, '--plan', plan]],
  ['apply: a missing plan', ['apply', 'vm', '--plan', NAME]],
  ['hostdev: address', ['hostdev', NAME]],
  ['hostdev: --alias', ['hostdev', '1b:00.0', '--alias', NAME]],
  ['hostdev: --rom-bar', ['hostdev', '1b:00.0', '--rom-bar', NAME]],
  ['remove: --address', ['remove', '--address', NAME, domain]],
  ['remove: --alias not in the domain', ['remove', '--alias', NAME, domain]],
  ['remove: missing plan', ['remove', '--plan', NAME, domain]],
  ['predict: missing config', ['predict', '--config', NAME, '--qemu', '8.2.0']],
  ['predict: a config without a device names the file', ['predict', '--config', emptyConfig, '--qemu', '8.2.0']],
  ['predict: --qemu', ['predict', '--config', emptyConfig, '--qemu', NAME]],
  ['predict: --architecture', ['predict', '--config', emptyConfig, '--qemu', '8.2.0', '--architecture', NAME]],
  ['predict: --address', ['predict', '--config', emptyConfig, '--qemu', '8.2.0', '--address', NAME]],
  ['predict: positional', ['predict', NAME]],
  ['verify-guest: missing domain', ['verify-guest', '--domain', NAME]],
  ['verify-guest: missing plan', ['verify-guest', '--expect', NAME]],
  ['verify-guest: missing lspci dump', ['verify-guest', '--expect', plan, '--lspci', NAME]],
  ['verify-guest: positional', ['verify-guest', NAME]],
  ['verify-guest: --cpu', ['verify-guest', '--expect', plan, '--sysfs', sysfs, '--cpu', NAME]],
  ['verify-guest: missing --sysfs', ['verify-guest', '--expect', plan, '--sysfs', NAME]],
  ['verify-guest: missing --host', ['verify-guest', '--expect', plan, '--lspci', emptyConfig, '--host', NAME]],
  ['inspect: missing file', ['inspect', NAME]],
  ['host: unknown subcommand', ['host', NAME]],
  ['host: extra argument', ['host', 'check', NAME]],
  ['host check: --devices', ['host', 'check', '--sysfs', sysfs, '--devices', NAME]],
  ['host check: missing --sysfs', ['host', 'check', '--sysfs', NAME]],
  ['host plan: --gpus', ['host', 'plan', '--sysfs', sysfs, '--gpus', NAME]],
  ['host plan: --npus', ['host', 'plan', '--sysfs', sysfs, '--npus', NAME]],
  ['host plan: --policy', ['host', 'plan', '--sysfs', sysfs, '--gpus', 'all', '--policy', NAME]],
  ['host plan: --qemu', ['host', 'plan', '--sysfs', sysfs, '--gpus', 'all', '--qemu', NAME]],
  ['host plan: missing --topo', ['host', 'plan', '--sysfs', sysfs, '--gpus', 'all', '--topo', NAME]],
  ['host capture: into a missing folder', ['host', 'capture', path.join(dir, NAME.slice(0, 200), 'out.tar'), '--sysfs', sysfs]],
];

/** What is wrong with the output, in a few words each (a failure must not print 100 KB). */
function problems(output: string): string[] {
  const found: string[] = [];
  const control = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/.exec(output);
  if (control) found.push(`control character U+${control[0].charCodeAt(0).toString(16).padStart(4, '0')} at ${control.index}`);
  if (/^FORGED/m.test(output)) found.push('a line starts with FORGED: the newline was echoed');
  const run = Math.max(0, ...(output.match(/n{10,}/g) ?? []).map((r) => r.length));
  if (run > 400) found.push(`${run} characters of the name echoed`); // file names 200, libvirt's own words (which repeat it) 400
  const longest = Math.max(...output.split('\n').map((l) => l.length));
  if (longest >= 1000) found.push(`a line of ${longest} characters`);
  if (/unexpected error|internal error/.test(output)) found.push(`a bug: ${output.slice(0, 300)}`);
  return found;
}

describe('the CLI', () => {
  const env = process.env.LIBVIRT_PASSTHROUGH_VIRSH;
  beforeAll(() => (process.env.LIBVIRT_PASSTHROUGH_VIRSH = virsh));
  afterAll(() => (env === undefined ? delete process.env.LIBVIRT_PASSTHROUGH_VIRSH : (process.env.LIBVIRT_PASSTHROUGH_VIRSH = env)));

  test.each(CASES)('%s', (_name, args) => {
    let output = '';
    const io: CliIo = {
      ...processIo,
      stdout: (t) => (output += t),
      stderr: (t) => (output += t),
      readStdin: () => undefined,
      runTool: () => undefined,
    };
    const code = runCli(args, io);
    expect(problems(output)).toEqual([]);
    expect(code).not.toBe(0);
  });
});

describe('the KubeVirt hook', () => {
  const vmi = (annotation: Record<string, unknown>) =>
    JSON.stringify({
      metadata: { name: NAME, annotations: { 'libvirt-passthrough.io/gpudirect': JSON.stringify(annotation) } },
      spec: { domain: { devices: { gpus: [{ name: 'gpu1', deviceName: 'nvidia.com/GH100_H100_SXM5_80GB' }] } } },
    });
  const hookDomain = fs.readFileSync(path.join(REPO, '__tests__', 'kubevirt', 'domain.xml'), 'utf8');

  const hook = (args: string[]) => {
    let output = '';
    const code = runOnDefineDomain(args, { stdout: (t) => (output += t), stderr: (t) => (output += t) });
    expect(problems(output)).toEqual([]);
    expect(code).not.toBe(0);
  };

  test.each([
    ['an annotation field that is not one', ['--vmi', vmi({ gpus: { gpu1: 0 }, [NAME]: 1 }), '--domain', hookDomain]],
    ['an architecture that is not one', ['--vmi', vmi({ gpus: { gpu1: 0 }, architecture: NAME }), '--domain', hookDomain]],
  ])('%s', (_name, args) => hook(args));

  // The hook's own paths are fed the same way in kubevirt.test.ts ("every value the hook echoes").
  test.each([
    ['a GPU the domain does not have (HOSTDEV_MISSING)', ['--vmi', vmi({ gpus: { [NAME]: 0 }, architecture: 'hopper' }), '--domain', hookDomain]],
    ['an unknown option', [`--${NAME}`]],
  ])('%s', (_name, args) => hook(args));
});
