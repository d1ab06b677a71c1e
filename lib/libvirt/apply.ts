import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { requireObject, requireOptionalString, requireOptions, requireString } from '../arguments';
import { ErrorCode, PassthroughError, excerpt, isPassthroughError } from '../errors';
import { Change } from '../edit/changes';
import { Plan } from '../plan/types';
import { explainTransform } from '../transform';
import { unifiedDiff } from './diff';
import { droppedFacts } from './kept';
import { VirshOptions, runVirsh } from './virsh';

export interface ApplyOptions extends VirshOptions {
  /** Transform and diff, define nothing. */
  dryRun?: boolean;
}

/** What `apply` did to one domain. `code` is `OK` or the PassthroughError code of the refusal. */
export interface ApplyResult {
  vm: string;
  code: 'OK' | ErrorCode;
  message: string;
  /** What the transform added (and found in place); empty when nothing was transformed. */
  changes: Change[];
  warnings: string[];
  /** With dryRun: the unified diff from libvirt's definition to the new one ('' when nothing changes). */
  diff?: string;
}

/**
 * Reads the persistent definition of `vm` from libvirt, transforms it with `plan`, defines it, reads it
 * back and checks that libvirt kept every hostdev, alias and override; on a refused define or a dropped
 * fact the original definition is defined again. Never throws for the domain's own problems: the
 * result carries the code. Arguments of the wrong type are refused (INPUT_INVALID) before virsh runs.
 */
export function applyPlan(vm: string, plan: Plan, options: ApplyOptions = {}): ApplyResult {
  // Checked before virsh runs: a wrong argument is the caller's mistake, not the domain's problem.
  requireString(vm, 'applyPlan', 'the domain name as a string first');
  requireObject(plan, 'applyPlan', 'a plan object second');
  requireOptions(options, 'applyPlan', 'its options as an object third (or nothing)');
  requireOptionalString(options.connect, 'applyPlan', 'options.connect as a libvirt URI string');
  requireOptionalString(options.virsh, 'applyPlan', 'options.virsh as the path of the virsh program');
  let original: string;
  let result: ReturnType<typeof explainTransform>;
  try {
    // --security-info: without it libvirt leaves out passwords (VNC, SPICE), and defining the dump would lose them.
    original = runVirsh(['dumpxml', '--inactive', '--security-info', vm], options);
    result = explainTransform(original, withDaemonTarget(plan, options));
  } catch (err) {
    return refused(vm, err);
  }
  const { changes, warnings } = result;
  if (result.xml === original) return { vm, code: 'OK', message: 'already configured: nothing to define', changes, warnings };
  if (options.dryRun) {
    const diff = unifiedDiff(original, result.xml, `${vm} (libvirt)`, `${vm} (planned)`);
    return { vm, code: 'OK', message: `dry run: would define ${summarize(changes)}`, changes, warnings, diff };
  }
  return defineChecked(vm, original, result.xml, changes, warnings, options);
}

/**
 * A GPUDirect plan without (all of) its target gets the versions of the libvirt it is applied through
 * (`virsh version`: the daemon and its QEMU), so the clique is written in the form that stack needs; the
 * plan's own target values win. When virsh cannot say, the plan stays as it is and the transform warns.
 */
export function withDaemonTarget(plan: Plan, options: VirshOptions): Plan {
  if (plan.target?.libvirt !== undefined && plan.target?.qemu !== undefined) return plan;
  if (!Array.isArray(plan?.hostdevs) || !plan.hostdevs.some((h) => h?.gpudirect)) return plan;
  let text: string;
  try {
    text = runVirsh(['version'], options);
  } catch {
    return plan;
  }
  const libvirt = /Running against daemon: (\d+\.\d+\.\d+)/.exec(text)?.[1] ?? /Using library: libvirt (\d+\.\d+\.\d+)/.exec(text)?.[1];
  const qemu = /Running hypervisor: QEMU (\d+\.\d+\.\d+)/.exec(text)?.[1];
  if (libvirt === undefined && qemu === undefined) return plan;
  return { ...plan, target: { ...(libvirt && { libvirt }), ...(qemu && { qemu }), ...plan.target } };
}

function defineChecked(vm: string, original: string, xml: string, changes: Change[], warnings: string[], options: VirshOptions): ApplyResult {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'libvirt-passthrough-apply-'));
  const originalFile = path.join(dir, `${safeName(vm)}.original.xml`);
  let keepDir = false;
  try {
    fs.writeFileSync(originalFile, original);
    const newFile = path.join(dir, `${safeName(vm)}.xml`);
    fs.writeFileSync(newFile, xml);
    let problem: PassthroughError;
    try {
      const state = domainState(vm, options);
      runVirsh(['define', newFile], options);
      const dropped = droppedFacts(xml, runVirsh(['dumpxml', '--inactive', '--security-info', vm], options));
      if (dropped.length === 0) return { vm, code: 'OK', message: definedMessage(changes, state), changes, warnings };
      problem = new PassthroughError(
        'LIBVIRT_DROPPED',
        `libvirt accepted the definition but did not keep ${excerpt(dropped.join('; '), 300)}; check the libvirt version against the plan's target.`,
      );
    } catch (err) {
      if (!isPassthroughError(err)) throw err;
      problem = err;
    }
    const restore = restoreOriginal(originalFile, options);
    keepDir = restore !== undefined;
    const tail = restore === undefined ? 'the original definition is back in place' : `putting the original definition back failed too (${restore}); it is saved in ${originalFile}: run virsh define on it`;
    return { vm, code: problem.code, message: `${problem.message.replace(/\.$/, '')}; ${tail}`, changes, warnings };
  } finally {
    if (!keepDir) fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Defines the saved original again; returns the failure, if any. */
function restoreOriginal(file: string, options: VirshOptions): string | undefined {
  try {
    runVirsh(['define', file], options);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** `virsh domstate`: `shut off` for a domain that is not running. */
function domainState(vm: string, options: VirshOptions): string {
  return runVirsh(['domstate', vm], options).trim();
}

function definedMessage(changes: Change[], state: string): string {
  const base = `defined ${summarize(changes)}`;
  if (state === 'shut off') return base;
  return `${base}; the domain is ${state}: the new definition takes effect at its next start (shut it down and start it; a reboot inside the guest keeps the old one)`;
}

function summarize(changes: Change[]): string {
  const words = changes.flatMap((c) => {
    if (c.kind === 'hostdev-added') return [`hostdev ${c.address}${c.alias ? ` (${c.alias})` : ''}`];
    if (c.kind === 'alias-added') return [`alias ${c.alias} on ${c.address}`];
    if (c.kind === 'clique-added') return [`clique ${c.clique} on ${c.alias}`];
    if (c.kind === 'mmio-added') return [`a ${c.mmioWindowGiB} GiB MMIO window`];
    return [];
  });
  return words.length === 0 ? 'the transformed domain' : `with ${words.join(', ')}`;
}

function refused(vm: string, err: unknown): ApplyResult {
  if (!isPassthroughError(err)) throw err;
  return { vm, code: err.code, message: err.message, changes: [], warnings: [] };
}

function safeName(vm: string): string {
  return vm.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 64) || 'domain';
}
