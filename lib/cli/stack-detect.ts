import { spawnSync } from 'node:child_process';
import { Plan } from '../plan/types';
import { versionAfter, versionProblem } from '../plan/version';
import { UsageError } from './io';

/** Runs one local tool (no shell) and returns its standard output, or undefined when it is absent or fails. */
export type ToolRunner = (command: string, args: string[]) => string | undefined;

export const runLocalTool: ToolRunner = (command, args) => {
  const run = spawnSync(command, args, { encoding: 'utf8', timeout: 3000, shell: false, stdio: ['ignore', 'pipe', 'pipe'] });
  return run.status === 0 ? `${run.stdout}${run.stderr}` : undefined;
};

interface Probe {
  command: string;
  args: string[];
  /** What the tool prints before its version (a regular expression source); the version itself is read with the one grammar. */
  lead: string;
}

// The daemon's QEMU driver writes the command line, so its version comes first; virsh (the client library)
// is the fallback on hosts without a daemon binary in PATH.
const LIBVIRT_PROBES: Probe[] = [
  { command: 'libvirtd', args: ['--version'], lead: '\\(libvirt\\) ' },
  { command: 'virtqemud', args: ['--version'], lead: '\\(libvirt\\) ' },
  { command: 'virsh', args: ['--version'], lead: '^' },
];
const QEMU_PROBES: Probe[] = [{ command: 'qemu-system-x86_64', args: ['--version'], lead: 'QEMU emulator version ' }];

export interface FoundVersion {
  version: string;
  /** Where it came from: `libvirtd --version`, `--libvirt`, `the plan`. */
  source: string;
}

function probe(probes: Probe[], run: ToolRunner): FoundVersion | undefined {
  for (const p of probes) {
    const version = versionAfter(run(p.command, p.args) ?? '', p.lead);
    if (version !== undefined) return { version, source: `${p.command} ${p.args.join(' ')}` };
  }
  return undefined;
}

/** A `--libvirt`/`--qemu` value, checked with the one version grammar: a malformed one is a usage error (exit 2). */
export function versionFlag(values: Record<string, unknown>, name: 'libvirt' | 'qemu'): string | undefined {
  const value = values[name];
  if (value === undefined) return undefined;
  const problem = versionProblem(value, name === 'qemu' ? 'QEMU' : 'libvirt');
  if (problem !== undefined) throw new UsageError(`--${name}: ${problem}`);
  return value as string;
}

export interface StackChoice {
  libvirt?: FoundVersion;
  qemu?: FoundVersion;
}

/**
 * The target the CLI transforms for: each of libvirt and QEMU from its flag, else the plan's
 * `target`, else (unless `detect` is false) the local tools. The plan's other target fields stay.
 */
export function chooseTarget(
  plan: Plan,
  flags: { libvirt?: string; qemu?: string; detect: boolean },
  run: ToolRunner = runLocalTool,
): { plan: Plan; choice: StackChoice } {
  const pick = (flag: string | undefined, flagName: string, planned: string | undefined, probes: Probe[]): FoundVersion | undefined => {
    if (flag !== undefined) return { version: flag, source: `--${flagName}` };
    if (planned !== undefined) return { version: planned, source: 'the plan' };
    return flags.detect ? probe(probes, run) : undefined;
  };
  const choice: StackChoice = {
    libvirt: pick(flags.libvirt, 'libvirt', plan.target?.libvirt, LIBVIRT_PROBES),
    qemu: pick(flags.qemu, 'qemu', plan.target?.qemu, QEMU_PROBES),
  };
  if (!choice.libvirt && !choice.qemu) return { plan, choice };
  const target = { ...plan.target };
  if (choice.libvirt) target.libvirt = choice.libvirt.version;
  if (choice.qemu) target.qemu = choice.qemu.version;
  return { plan: { ...plan, target }, choice };
}

/**
 * The QEMU a command predicts for: `--qemu`, else (unless `--no-detect`) the local qemu-system-x86_64, read as
 * transform reads it; undefined when neither gives one. libvirt is never asked.
 */
export function qemuFromFlagOrHost(values: Record<string, unknown>, run: ToolRunner = runLocalTool): FoundVersion | undefined {
  const flag = versionFlag(values, 'qemu');
  const qemuOnly: ToolRunner = (command, args) => (command.startsWith('qemu-') ? run(command, args) : undefined);
  return chooseTarget({ hostdevs: [] }, { qemu: flag, detect: flag === undefined && !values['no-detect'] }, qemuOnly).choice.qemu;
}

/** One line for standard error: which versions the transform was checked against, and from where. */
export function describeChoice(choice: StackChoice, detect: boolean): string {
  const part = (name: string, found: FoundVersion | undefined) =>
    found ? `${name} ${found.version} (from ${found.source})` : `${name} unknown${detect ? ' (not found locally)' : ''}`;
  return `target: ${part('libvirt', choice.libvirt)}, ${part('QEMU', choice.qemu)}`;
}
