import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LIBVIRT, TRIXIE, needs } from './helpers/needs';
import { REPO } from './helpers/paths';
import { chooseTarget, describeChoice, runLocalTool, ToolRunner } from '../lib/cli/stack-detect';
import { Plan } from '../lib/plan/types';

// What each tool prints (Debian 12 / Debian 13 / a modular-daemon host), as a runner the detection is given.
const OUTPUTS: Record<string, string> = {
  'libvirtd --version': 'libvirtd (libvirt) 10.0.0\n',
  'virtqemud --version': 'virtqemud (libvirt) 11.3.0\n',
  'virsh --version': '9.0.0\n',
  'qemu-system-x86_64 --version': 'QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\nCopyright (c) 2003-2022 Fabrice Bellard and the QEMU Project developers\n',
};
const runner = (present: string[]): ToolRunner => (command, args) => {
  const key = `${command} ${args.join(' ')}`;
  return present.includes(command) ? OUTPUTS[key] : undefined;
};
const plan = (target?: Plan['target']): Plan => ({ ...(target ? { target } : {}), hostdevs: [{ address: '3b:00.0' }] });

test.each<[string, Plan, { libvirt?: string; qemu?: string; detect: boolean }, string[], string]>([
  ['daemon first', plan(), { detect: true }, ['libvirtd', 'virsh', 'qemu-system-x86_64'], 'target: libvirt 10.0.0 (from libvirtd --version), QEMU 7.2.22 (from qemu-system-x86_64 --version)'],
  ['modular daemon', plan(), { detect: true }, ['virtqemud', 'virsh'], 'target: libvirt 11.3.0 (from virtqemud --version), QEMU unknown (not found locally)'],
  ['client only', plan(), { detect: true }, ['virsh', 'qemu-system-x86_64'], 'target: libvirt 9.0.0 (from virsh --version), QEMU 7.2.22 (from qemu-system-x86_64 --version)'],
  ['nothing installed', plan(), { detect: true }, [], 'target: libvirt unknown (not found locally), QEMU unknown (not found locally)'],
  ['the plan wins over detection', plan({ libvirt: '8.5.0' }), { detect: true }, ['virsh', 'qemu-system-x86_64'], 'target: libvirt 8.5.0 (from the plan), QEMU 7.2.22 (from qemu-system-x86_64 --version)'],
  ['flags win over the plan', plan({ libvirt: '8.5.0', qemu: '6.2.0' }), { libvirt: '11.3.0', qemu: '10.0.0', detect: true }, ['virsh'], 'target: libvirt 11.3.0 (from --libvirt), QEMU 10.0.0 (from --qemu)'],
  ['--no-detect', plan(), { detect: false }, ['virsh', 'qemu-system-x86_64'], 'target: libvirt unknown, QEMU unknown'],
])('%s', (_name, input, flags, present, said) => {
  const { plan: out, choice } = chooseTarget(input, flags, runner(present));
  expect(describeChoice(choice, flags.detect)).toBe(said);
  expect(out.target?.libvirt).toBe(choice.libvirt?.version);
  expect(out.target?.qemu).toBe(choice.qemu?.version);
  expect(out.hostdevs).toBe(input.hostdevs);
});

test('target.qemuAlternateOffset from the plan is kept when versions are filled in', () => {
  const { plan: out } = chooseTarget(plan({ qemuAlternateOffset: true }), { detect: true }, runner(['virsh', 'qemu-system-x86_64']));
  expect(out.target).toEqual({ qemuAlternateOffset: true, libvirt: '9.0.0', qemu: '7.2.22' });
});

// The real tools of this machine (Debian 12: virsh 9.0, QEMU 7.2): the only tests that read what is installed.
const installed = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
needs(LIBVIRT).test('reads the versions of the installed virsh and QEMU', () => {
  const { choice } = chooseTarget(plan(), { detect: true }, runLocalTool);
  const virsh = spawnSync('virsh', ['--version'], { encoding: 'utf8' }).stdout.trim();
  const qemu = /version (\d+\.\d+\.\d+)/.exec(spawnSync('qemu-system-x86_64', ['--version'], { encoding: 'utf8' }).stdout)![1];
  if (!installed('libvirtd') && !installed('virtqemud')) expect(choice.libvirt).toEqual({ version: virsh, source: 'virsh --version' });
  expect(choice.qemu).toEqual({ version: qemu, source: 'qemu-system-x86_64 --version' });
});

// The same detection against the Debian 13 chroot's binaries (libvirt 11.3, QEMU 10.0), run through scripts/in-trixie.sh.
const trixieStamp = path.join(process.env.LP_TRIXIE_ROOT ?? '/var/tmp/lp-trixie', '.lp-oracle.stamp');
needs(TRIXIE).test('reads the versions of the trixie chroot through a runner', () => {
  const inTrixie: ToolRunner = (command, args) => runLocalTool('bash', [path.join(REPO, 'scripts', 'in-trixie.sh'), command, ...args]);
  const { choice } = chooseTarget(plan(), { detect: true }, inTrixie);
  const [, libvirt, qemu] = /^libvirt (\S+), QEMU (\S+)/.exec(fs.readFileSync(trixieStamp, 'utf8'))!;
  expect(choice.libvirt?.version).toBe(libvirt);
  expect(choice.qemu).toEqual({ version: qemu, source: 'qemu-system-x86_64 --version' });
});

test('a missing tool is undefined, not an exception', () => {
  expect(runLocalTool('libvirt-passthrough-no-such-tool', ['--version'])).toBeUndefined();
});
