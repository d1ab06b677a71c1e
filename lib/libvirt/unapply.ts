import { requireObject, requireOptionalString, requireOptions, requireString } from '../arguments';
import { ErrorCode, isPassthroughError } from '../errors';
import { Plan } from '../plan/types';
import { removePassthrough } from '../remove';
import { Connection, describeConnection } from './connection';
import { unifiedDiff } from './diff';
import { checkWithoutDefining } from './dry-check';
import { droppedFacts, keptFacts } from './kept';
import { addedRootPorts } from './root-ports';
import { TransactionOptions, redefine, withLockedDomain } from './transaction';
import { requireVirshOptions } from './virsh';

export interface UnapplyOptions extends TransactionOptions {
  /** Remove, diff and check with libvirt; define nothing. */
  dryRun?: boolean;
  /** What the connection said (describeConnection); asked once per call when absent. */
  connection?: Connection;
}

/** What `unapply` did to one domain. `code` is `OK` or the PassthroughError code of the refusal. */
export interface UnapplyResult {
  vm: string;
  code: 'OK' | ErrorCode;
  message: string;
  /** What goes: `hostdev 0000:04:00.0`, `override ua-gpu0 …`, `pcie-root-port 6`, … (the read-back facts). */
  removed: string[];
  /** With dryRun: the unified diff from libvirt's definition to the new one. */
  diff?: string;
  /** With dryRun: what libvirt checked without a define, and what it could not. */
  checked?: string;
}

/**
 * The inverse of applyPlan, through libvirt: reads the persistent definition under the per-domain lock, takes out
 * what the plan describes (without a plan: every GPU the library's metadata records) with removePassthrough,
 * which also takes away the root ports apply recorded as added by libvirt for them once they are empty; then the
 * same checked define as apply (re-dump, define through a pipe, read-back: nothing else lost and the removed
 * things gone, rollback only of our own definition). apply followed by unapply gives back libvirt's original
 * definition byte for byte.
 */
export function unapplyPlan(vm: string, plan?: Plan, options: UnapplyOptions = {}): UnapplyResult {
  requireString(vm, 'unapplyPlan', 'the domain name as a string first');
  requireOptions(options, 'unapplyPlan', 'its options as an object third (or nothing)');
  requireOptionalString(options.connect, 'unapplyPlan', 'options.connect as a libvirt URI string');
  requireOptionalString(options.virsh, 'unapplyPlan', 'options.virsh as the path of the virsh program');
  requireVirshOptions(options, 'unapplyPlan');
  if (plan !== undefined) requireObject(plan, 'unapplyPlan', 'a plan object second (or nothing: what the metadata records)');
  let removed: string[] = [];
  try {
    const connection = options.connection ?? describeConnection(options);
    return withLockedDomain(vm, connection, options, (domain) => {
      const next = removePassthrough(domain.original, plan);
      removed = removedFacts(domain.original, next);
      if (next === domain.original) return { vm, code: 'OK', message: 'nothing to remove', removed };
      if (options.dryRun) {
        const diff = unifiedDiff(domain.original, next, `${vm} (libvirt)`, `${vm} (unapplied)`);
        const { said } = checkWithoutDefining(next, options);
        return { vm, code: 'OK', message: `dry run: would remove ${summarize(removed)}`, removed, diff, checked: said };
      }
      const outcome = redefine(domain, next, options, (readBack) => [
        ...droppedFacts(next, readBack),
        ...removedFacts(next, readBack, true).map((f) => `${f} (still there)`),
      ]);
      const message = outcome.code === 'OK' ? `removed ${summarize(removed)}` : outcome.message.replace(/^libvirt accepted the definition but did not keep/, 'libvirt accepted the definition but changed');
      return { vm, code: outcome.code, message, removed };
    });
  } catch (err) {
    if (!isPassthroughError(err)) throw err;
    return { vm, code: err.code, message: err.message, removed };
  }
}

/** Facts (and root ports) of `before` that `after` no longer has; `reverse`: those `after` has that `before` did not. */
function removedFacts(before: string, after: string, reverse = false): string[] {
  const [from, to] = reverse ? [after, before] : [before, after];
  const kept = new Set(keptFacts(to));
  const facts = [...new Set(keptFacts(from).filter((f) => !kept.has(f) && !f.includes(' at ')))];
  const ports = addedRootPorts(to, from).map((i) => `pcie-root-port ${i}`);
  return [...facts, ...ports];
}

/** `hostdev 0000:04:00.0, hostdev 0000:05:00.0, 2 clique settings, 2 metadata entries, the root ports libvirt added (6, 7)`. */
function summarize(removed: string[]): string {
  const of = (prefix: string) => removed.filter((f) => f.startsWith(prefix));
  const count = (prefix: string, what: string) => {
    const n = of(prefix).length;
    return n === 0 ? [] : [`${n} ${what}${n === 1 ? '' : 's'}`];
  };
  const ports = of('pcie-root-port ').map((f) => f.split(' ')[1]);
  const parts = [
    ...of('hostdev '),
    ...count('override ', 'clique setting'),
    ...count('arg ', 'command-line argument'),
    ...count('metadata ', 'metadata entr').map((s) => s.replace(/entrs$/, 'entries').replace(/entr$/, 'entry')),
    ...count('pcihole64 ', 'MMIO window'),
    ...(ports.length === 0 ? [] : [`the root port${ports.length === 1 ? '' : 's'} libvirt added (${ports.join(', ')})`]),
  ];
  return parts.length === 0 ? 'what was selected' : parts.join(', ');
}
