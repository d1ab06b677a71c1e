import { ErrorCode, PassthroughError, excerpt, isPassthroughError } from '../errors';
import { describeChange, foreignLines } from './changes';
import { Connection } from './connection';
import { requireRequestedDomain } from './identity';
import { lockDomain } from './lock';
import { DEFAULT_TIMEOUT_SECONDS, VirshOptions, domainArgs, runVirsh } from './virsh';

export interface TransactionOptions extends VirshOptions {
  /** Folder of the per-domain locks (default: lock.ts lockFolder()). */
  lockFolder?: string;
}

/** A domain under this tool's lock, with the definition read under it. */
export interface LockedDomain {
  vm: string;
  uuid: string;
  original: string;
}

export interface Outcome {
  code: 'OK' | ErrorCode;
  message: string;
  /** libvirt's definition after a successful define. */
  readBack?: string;
}

const NOTHING_DEFINED = 'nothing was defined';

/**
 * Resolves `vm` to its UUID, takes the per-domain lock (waiting for another run up to the time limit),
 * reads the persistent definition and checks it is that domain (name and UUID), then runs `fn`.
 */
export function withLockedDomain<T>(vm: string, connection: Connection, options: TransactionOptions, fn: (domain: LockedDomain) => T): T {
  const uuid = runVirsh(['domuuid', ...domainArgs(vm)], options, { step: 'domuuid', ifHung: NOTHING_DEFINED }).trim();
  const lock = lockDomain(connection.uri, uuid, { folder: options.lockFolder, waitSeconds: options.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS });
  try {
    const original = dumpDefinition(vm, options, 'dumpxml', NOTHING_DEFINED);
    requireRequestedDomain(original, vm, uuid);
    return fn({ vm, uuid, original });
  } finally {
    lock.release();
  }
}

export function dumpDefinition(vm: string, options: VirshOptions, step: string, ifHung: string): string {
  // --security-info: without it libvirt leaves out passwords (VNC, SPICE), and defining the dump would lose them.
  return runVirsh(['dumpxml', '--inactive', '--security-info', ...domainArgs(vm)], options, { step, ifHung });
}

/**
 * Replaces the definition read under the lock with `next`, checked: dumps again first and refuses
 * (CONCURRENT_CHANGE) if anything changed since; defines through a pipe (no file holds the definition);
 * reads back and asks `lost` what libvirt did not keep. Then the original goes back, but only while the
 * definition is still exactly the one libvirt stored for us; otherwise nothing more is defined.
 */
export function redefine(domain: LockedDomain, next: string, options: VirshOptions, lost: (readBack: string) => string[]): Outcome {
  const { vm, original } = domain;
  const now = dumpDefinition(vm, options, 're-dump before define', NOTHING_DEFINED);
  if (now !== original) {
    throw new PassthroughError('CONCURRENT_CHANGE', `The definition changed while this run prepared its own (${describeChange(original, now)}); nothing was defined. Run again to start from the new definition.`);
  }
  try {
    runVirsh(['define', '--file', '/dev/stdin'], options, {
      step: 'define',
      ifHung: 'libvirt may or may not have the new definition (check with virsh dumpxml --inactive)',
      input: next,
    });
  } catch (err) {
    if (!isPassthroughError(err) || err.code !== 'LIBVIRT_REFUSED') throw err;
    return { code: err.code, message: `${err.message}; nothing was defined, the domain keeps its definition` };
  }
  const readBack = dumpDefinition(vm, options, 'read-back', 'the new definition is in place but was not checked (check with virsh dumpxml --inactive)');
  const dropped = lost(readBack);
  if (dropped.length === 0) return { code: 'OK', message: '', readBack };
  const foreign = readBack === original ? ['(the definition from before)'] : foreignLines(original, next, readBack);
  if (foreign.length > 0) {
    // Not libvirt's doing: another define came between ours and the read-back. Rolling back would erase it.
    return {
      code: 'CONCURRENT_CHANGE',
      message: `After this run defined the domain, someone else defined it (${excerpt(foreign.join(' '), 200)}); what this run added is not all there (missing: ${excerpt(dropped.join('; '), 200)}). Not rolled back, nothing more defined: check the definition (virsh dumpxml --inactive) and run again`,
    };
  }
  const problem = `libvirt accepted the definition but did not keep ${excerpt(dropped.join('; '), 300)}; check the libvirt version against the plan's target`;
  return { code: 'LIBVIRT_DROPPED', message: `${problem}; ${rollBack(domain, readBack, options)}` };
}

/** Defines the original again if the definition is still the read-back (ours, as libvirt stored it); says what happened. */
function rollBack(domain: LockedDomain, readBack: string, options: VirshOptions): string {
  const stop = (what: string) => `not rolled back: ${what}, so this run defines nothing more. Check the definition (virsh dumpxml --inactive)`;
  const current = dumpDefinition(domain.vm, options, 'dump before rollback', 'the new definition is in place, not rolled back');
  if (current !== readBack) return stop(`the definition changed after ours was defined (${describeChange(readBack, current)})`);
  try {
    runVirsh(['define', '--file', '/dev/stdin'], options, {
      step: 'rollback define',
      ifHung: 'libvirt may or may not have the original definition back (check with virsh dumpxml --inactive)',
      input: domain.original,
    });
    return 'the original definition is back in place';
  } catch (err) {
    if (!isPassthroughError(err)) throw err;
    return `putting the original definition back failed too (${err.message}); the domain has the new definition without what is listed: libvirt-passthrough unapply takes it back`;
  }
}
