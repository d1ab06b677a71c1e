import { requireObject, requireOptionalString, requireOptions, requireString } from '../arguments';
import { readDomainFacts } from '../domain/facts';
import { ErrorCode, excerpt, isPassthroughError } from '../errors';
import { loadDomainXml } from '../load/load';
import { Change } from '../edit/changes';
import { Plan } from '../plan/types';
import { explainTransform } from '../transform';
import { Connection, describeConnection, targetFromConnection } from './connection';
import { unifiedDiff } from './diff';
import { checkWithoutDefining } from './dry-check';
import { droppedFacts } from './kept';
import { addedRootPorts, recordRootPorts } from './root-ports';
import { LockedDomain, TransactionOptions, redefine, withLockedDomain } from './transaction';
import { VirshOptions, domainArgs, requireVirshOptions, runVirsh } from './virsh';

export interface ApplyOptions extends TransactionOptions {
  /** Transform, diff and check with libvirt; define nothing. */
  dryRun?: boolean;
  /** What the connection said (describeConnection); asked once per call when absent. Pass it when applying to several domains. */
  connection?: Connection;
  /** Keep the plan's `target` even where the connection reports other versions (default: refused, TARGET_MISMATCH). */
  trustPlanTarget?: boolean;
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
  /** With dryRun: what libvirt checked without a define, and what it could not. */
  checked?: string;
}

/**
 * Reads the persistent definition of `vm` from libvirt under a per-domain lock, transforms it with `plan`
 * for the versions the connection reports, dumps again to make sure nobody changed it meanwhile, defines
 * it, reads it back and checks that libvirt kept every hostdev, alias and override; when libvirt dropped
 * something, the original goes back if the definition is still ours. Never throws for the domain's own
 * problems: the result carries the code. Arguments of the wrong type are refused (INPUT_INVALID) before virsh runs.
 */
export function applyPlan(vm: string, plan: Plan, options: ApplyOptions = {}): ApplyResult {
  // Checked before virsh runs: a wrong argument is the caller's mistake, not the domain's problem.
  requireString(vm, 'applyPlan', 'the domain name as a string first');
  requireObject(plan, 'applyPlan', 'a plan object second');
  requireOptions(options, 'applyPlan', 'its options as an object third (or nothing)');
  requireOptionalString(options.connect, 'applyPlan', 'options.connect as a libvirt URI string');
  requireOptionalString(options.virsh, 'applyPlan', 'options.virsh as the path of the virsh program');
  requireVirshOptions(options, 'applyPlan');
  let changes: Change[] = [];
  let warnings: string[] = [];
  try {
    const connection = options.connection ?? describeConnection(options);
    const targeted = targetFromConnection(plan, connection, options.trustPlanTarget);
    return withLockedDomain(vm, connection, options, (domain) => {
      const result = explainTransform(domain.original, targeted);
      ({ changes, warnings } = result);
      if (result.xml === domain.original) return { vm, code: 'OK', message: 'already configured: nothing to define', changes, warnings };
      if (options.dryRun) {
        const diff = unifiedDiff(domain.original, result.xml, `${vm} (libvirt)`, `${vm} (planned)`);
        const { said } = checkWithoutDefining(result.xml, options);
        return { vm, code: 'OK', message: `dry run: would define ${summarize(changes)}`, changes, warnings, diff, checked: said };
      }
      const state = domainState(vm, options);
      const outcome = redefine(domain, result.xml, options, (readBack) => droppedFacts(result.xml, readBack));
      if (outcome.code !== 'OK') return { vm, code: outcome.code, message: outcome.message, changes, warnings };
      const unrecorded = recordAddedRootPorts(domain, result.xml, outcome.readBack!, options);
      return { vm, code: 'OK', message: definedMessage(changes, state), changes, warnings: unrecorded ? [...warnings, unrecorded] : warnings };
    });
  } catch (err) {
    if (!isPassthroughError(err)) throw err;
    return { vm, code: err.code, message: err.message, changes, warnings };
  }
}

/**
 * The root ports libvirt added for the new hostdevs, recorded in the metadata by a second checked define, so that
 * unapply takes them away again. Returns a warning when that failed (the change itself is in place).
 */
function recordAddedRootPorts(domain: LockedDomain, written: string, readBack: string, options: VirshOptions): string | undefined {
  const added = addedRootPorts(written, readBack);
  if (added.length === 0) return undefined;
  const recorded = recordRootPorts(readBack, added);
  const tokens = added.map((i) => `pcie-root-port:${i}`);
  const lost = (again: string) => [
    ...droppedFacts(recorded, again),
    ...tokens.filter((t) => !readDomainFacts(loadDomainXml(again)).metadataCreated.includes(t)).map((t) => `created ${t}`),
  ];
  let failure: string;
  try {
    const outcome = redefine({ ...domain, original: readBack }, recorded, options, lost);
    if (outcome.code === 'OK') return undefined;
    failure = `${outcome.code}: ${outcome.message}`;
  } catch (err) {
    if (!isPassthroughError(err)) throw err;
    failure = `${err.code}: ${err.message}`;
  }
  return `libvirt added pcie-root-port controller(s) ${added.join(', ')} for the new hostdevs, and recording them for unapply failed (${excerpt(failure, 300)}); unapply will leave them in place`;
}

/** `virsh domstate`: `shut off` for a domain that is not running. */
function domainState(vm: string, options: VirshOptions): string {
  return runVirsh(['domstate', ...domainArgs(vm)], options, { step: 'domstate', ifHung: 'nothing was defined' }).trim();
}

function definedMessage(changes: Change[], state: string): string {
  const base = `defined ${summarize(changes)}`;
  if (state === 'shut off') return base;
  return `${base}; the domain is ${state}: the new definition takes effect at its next start (shut it down and start it; a reboot inside the guest keeps the old one)`;
}

export function summarize(changes: Change[]): string {
  const words = changes.flatMap((c) => {
    if (c.kind === 'hostdev-added') return [`hostdev ${c.address}${c.alias ? ` (${c.alias})` : ''}`];
    if (c.kind === 'alias-added') return [`alias ${c.alias} on ${c.address}`];
    if (c.kind === 'clique-added') return [`clique ${c.clique} on ${c.alias}`];
    if (c.kind === 'mmio-added') return [`a ${c.mmioWindowGiB} GiB MMIO window`];
    return [];
  });
  return words.length === 0 ? 'the transformed domain' : `with ${words.join(', ')}`;
}
