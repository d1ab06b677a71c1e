import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseQemuVersion, planFromHost, predictP2PPlacement, readHostSnapshot } from '../lib';
import { runCli } from '../lib/cli/main';
import { CliIo } from '../lib/cli/io';
import { chooseTarget } from '../lib/cli/stack-detect';
import { parseVersion } from '../lib/plan/stack';
import { validatePlan } from '../lib/plan/validate';
import { readVersion, VERSION_PATTERN } from '../lib/plan/version';
import { REPO } from './helpers/paths';
import { GPU, makeSysfs } from './helpers/sysfs';
import { TURING_CAPS, gpuConfig } from './helpers/config-space';

// One grammar for libvirt and QEMU versions (lib/plan/version.ts): the --libvirt/--qemu flags, the plan schema's
// target pattern, parseQemuVersion and what detection reads from the tools accept and refuse the same forms.

const FORMS: [string, 'accepted' | 'refused'][] = [
  ['8.2.0', 'accepted'],
  ['7.2', 'accepted'],
  ['10.0.2', 'accepted'],
  ['11.3.0', 'accepted'],
  ['1:7.2+dfsg-7+deb12u6', 'accepted'], // Debian's package version, epoch and all
  ['10.0.2-rc1', 'accepted'],
  ['8.0.0-22.el8', 'accepted'], // a RHEL build
  ['9.0.0~rc1', 'accepted'],
  ['8', 'refused'], // 8.0 or 8.2? QEMU 8.1 moved the GPUDirect offset
  ['9.0.0.1', 'refused'],
  ['v8.2.0', 'refused'],
  [' 8.1.0 ', 'refused'],
  ['8.2.', 'refused'],
  ['.8.2', 'refused'],
  ['seven', 'refused'],
  ['', 'refused'],
];

const root = makeSysfs({ devices: [{ path: ['pci0000:00', '0000:00:02.0', '0000:3b:00.0'], vendor: 0x10de, device: 0x1eb8, classCode: GPU, numa: 0, config: gpuConfig(TURING_CAPS) }] });
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
const snapshot = readHostSnapshot(root);
const plan = (target: Record<string, string>) => ({ target, hostdevs: [{ address: '3b:00.0', device: '10de:1eb8', gpudirect: { clique: 0 } }] });
const files: Record<string, string | Uint8Array> = {
  'plan.json': JSON.stringify(plan({})),
  'vm.xml': fs.readFileSync(path.join(REPO, 'examples', 'domain.xml'), 'utf8'),
  'gpu.config': gpuConfig(TURING_CAPS),
};

function cli(args: string[]): number {
  const io: CliIo = {
    stdout: () => undefined,
    stderr: () => undefined,
    readStdin: () => undefined,
    readFile: (f) => (typeof files[f] === 'string' ? new TextEncoder().encode(files[f] as string) : (files[f] as Uint8Array)),
    runTool: () => undefined,
  };
  return runCli(args, io);
}

const accepts = (call: () => unknown): 'accepted' | 'refused' => {
  try {
    call();
    return 'accepted';
  } catch {
    return 'refused';
  }
};
const detected = (output: (v: string) => string, tool: string, which: 'libvirt' | 'qemu') => (v: string) => {
  const { choice } = chooseTarget({ hostdevs: [] }, { detect: true }, (command) => (command === tool ? output(v) : undefined));
  return choice[which]?.version === v ? 'accepted' : choice[which] === undefined ? 'refused' : `read as ${choice[which]!.version}`;
};

const ENTRY_POINTS: [string, (v: string) => string][] = [
  ['readVersion', (v) => (readVersion(v) ? 'accepted' : 'refused')],
  ['parseQemuVersion', (v) => accepts(() => parseQemuVersion(v))],
  ['predictP2PPlacement', (v) => accepts(() => predictP2PPlacement(gpuConfig(TURING_CAPS), v))],
  ['planFromHost qemu', (v) => accepts(() => planFromHost(snapshot, { gpus: 'all', qemu: v }))],
  ['the plan\'s target.qemu', (v) => accepts(() => validatePlan(plan({ qemu: v })))],
  ['the plan\'s target.libvirt', (v) => accepts(() => validatePlan(plan({ libvirt: v })))],
  ['the stack rules (lib/plan/stack.ts)', (v) => accepts(() => parseVersion(v))],
  // A flag's malformed value is a usage error (exit 2); a version that is well formed may still be refused for what it is (exit 1).
  ['transform --qemu', (v) => (cli(['transform', '--plan', 'plan.json', 'vm.xml', '--qemu', v, '--libvirt', '9.0.0']) !== 2 ? 'accepted' : 'refused')],
  ['transform --libvirt', (v) => (cli(['transform', '--plan', 'plan.json', 'vm.xml', '--libvirt', v, '--qemu', '8.2.0', '--no-detect']) !== 2 ? 'accepted' : 'refused')],
  ['predict --qemu', (v) => (cli(['predict', '--config', 'gpu.config', '--qemu', v]) !== 2 ? 'accepted' : 'refused')],
  ['host plan --qemu', (v) => (cli(['host', 'plan', '--gpus', 'all', '--sysfs', root, '--qemu', v]) !== 2 ? 'accepted' : 'refused')],
  ['detection: qemu-system-x86_64 --version', detected((v) => `QEMU emulator version ${v} (Debian)\nCopyright (c) 2003-2022 Fabrice Bellard\n`, 'qemu-system-x86_64', 'qemu')],
  ['detection: libvirtd --version', detected((v) => `libvirtd (libvirt) ${v}\n`, 'libvirtd', 'libvirt')],
  ['detection: virsh --version', detected((v) => `${v}\n`, 'virsh', 'libvirt')],
];

describe.each(ENTRY_POINTS)('%s', (_entry, read) => {
  test.each(FORMS)('%j → %s', (form, want) => {
    expect(read(form)).toBe(want);
  });
});

test('the plan schema\'s version pattern is the grammar itself', () => {
  const schema = JSON.parse(fs.readFileSync(path.join(REPO, 'schemas', 'plan.schema.json'), 'utf8'));
  expect(schema.$defs.version.pattern).toBe(VERSION_PATTERN);
});

test('old QEMU prints its version against a parenthesis; detection reads it', () => {
  const { choice } = chooseTarget({ hostdevs: [] }, { detect: true }, () => 'QEMU emulator version 2.11.1(Debian 1:2.11+dfsg-1ubuntu7.41)\n');
  expect(choice.qemu?.version).toBe('2.11.1');
});
