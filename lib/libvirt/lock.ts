import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassthroughError, excerpt } from '../errors';

/**
 * An advisory lock per domain for runs of this tool on one machine: a directory `HASH.lock` (HASH of the
 * canonical connection URI and the domain's UUID) in a folder only this user can write, holding the owner's
 * process id and start time. mkdir is atomic, so one run holds it; a lock whose owner process is gone
 * (SIGKILL) is taken over. It is on the machine that runs the tool, not on the libvirt host of a remote URI,
 * and it binds only this tool: the re-dump before define is what protects against everything else.
 */
export interface DomainLock {
  release(): void;
}

export interface LockOptions {
  /** Folder of the locks; default lockFolder(). */
  folder?: string;
  /** How long to wait for another run to finish, in seconds. */
  waitSeconds: number;
}

/** `/run/libvirt-passthrough` for root, else `$XDG_RUNTIME_DIR/libvirt-passthrough`, else `TMPDIR/libvirt-passthrough-UID`. */
export function lockFolder(): string {
  const uid = process.getuid?.() ?? -1;
  if (uid === 0) return '/run/libvirt-passthrough';
  if (process.env.XDG_RUNTIME_DIR) return path.join(process.env.XDG_RUNTIME_DIR, 'libvirt-passthrough');
  return path.join(os.tmpdir(), `libvirt-passthrough-${uid}`);
}

/** A lock left without an owner file for this long is from a run killed between mkdir and writing it. */
const ORPHAN_MS = 10_000;
const POLL_MS = 100;

export function lockDomain(uri: string, uuid: string, options: LockOptions): DomainLock {
  const folder = privateFolder(options.folder ?? lockFolder());
  const key = createHash('sha256').update(`${uri}\n${uuid.toLowerCase()}`).digest('hex').slice(0, 32);
  const lock = path.join(folder, `${key}.lock`);
  const me = `${process.pid} ${startTime(process.pid) ?? ''} ${randomBytes(8).toString('hex')}\n${uri}\n${uuid}\n`;
  const deadline = Date.now() + options.waitSeconds * 1000;
  for (;;) {
    try {
      fs.mkdirSync(lock, { mode: 0o700 });
      fs.writeFileSync(path.join(lock, 'owner'), me, { mode: 0o600 });
      return { release: () => release(lock, me) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    if (isStale(lock)) takeOver(lock);
    else if (Date.now() > deadline) {
      throw new PassthroughError(
        'VM_LOCKED',
        `Another libvirt-passthrough run (${excerpt(owner(lock)?.split('\n')[0] ?? 'starting', 40)}) has held this domain's lock for ${options.waitSeconds} s; nothing was done. Wait for it, or give --timeout more seconds.`,
      );
    } else sleep(POLL_MS);
  }
}

function privateFolder(folder: string): string {
  fs.mkdirSync(folder, { recursive: true, mode: 0o700 });
  const st = fs.lstatSync(folder);
  const uid = process.getuid?.();
  if (!st.isDirectory() || (uid !== undefined && st.uid !== uid) || (st.mode & 0o022) !== 0) {
    throw new PassthroughError('VM_LOCKED', `The lock folder ${excerpt(folder, 80)} is not a private folder of this user (a link, another owner, or writable by others); remove it.`);
  }
  return folder;
}

function owner(lock: string): string | undefined {
  try {
    return fs.readFileSync(path.join(lock, 'owner'), 'utf8');
  } catch {
    return undefined;
  }
}

function isStale(lock: string): boolean {
  const text = owner(lock);
  if (text === undefined) {
    try {
      return Date.now() - fs.statSync(lock).mtimeMs > ORPHAN_MS;
    } catch {
      return false; // released meanwhile: try again
    }
  }
  const [pid, start] = text.split(/[\s]/);
  return !isAlive(Number(pid), start);
}

/** Alive: the process exists and (where /proc says) started when the owner file says, so a reused pid is not mistaken for it. */
function isAlive(pid: number, start: string | undefined): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const now = startTime(pid);
  return now === undefined || !start || now === start;
}

/** Field 22 of /proc/PID/stat (start time in clock ticks since boot); undefined without /proc. */
function startTime(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** Removes a stale lock under a second lock, so two runs that both found it stale cannot remove a fresh one. */
function takeOver(lock: string): void {
  const guard = `${lock}.takeover`;
  try {
    fs.mkdirSync(guard, { mode: 0o700 });
  } catch {
    try {
      if (Date.now() - fs.statSync(guard).mtimeMs > ORPHAN_MS) fs.rmdirSync(guard);
    } catch {
      // gone meanwhile
    }
    sleep(POLL_MS);
    return;
  }
  try {
    if (isStale(lock)) fs.rmSync(lock, { recursive: true, force: true });
  } finally {
    fs.rmdirSync(guard);
  }
}

function release(lock: string, me: string): void {
  if (owner(lock) !== me) return; // taken over after all (this run was thought dead): not ours to remove
  fs.rmSync(path.join(lock, 'owner'), { force: true });
  fs.rmdirSync(lock);
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
