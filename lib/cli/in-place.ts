import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { excerpt } from '../errors';
import { decodeXmlBytes } from '../load/decode';
import { CliFailure, DEFAULT_READ_LIMIT, blame, describeErrno, readUpTo, refuseTooLarge } from './io';

/**
 * `--in-place` in folders other users may write to (issue 21): the file is read once through a descriptor that
 * never blocks (a FIFO or device is refused, not waited on), and what was read is remembered (device, inode, size,
 * mtime, hash) so that the write can refuse when another editor saved in between. New text and backup go to fresh
 * temp files with unguessable names (O_EXCL, O_NOFOLLOW, mode 0600 until complete); the backup gets its final name
 * with link(), which never follows or replaces what is there, so a planted link or an earlier backup is never
 * written through or overwritten; the file is replaced by rename() and the folder is synced.
 */
export interface InPlaceSource {
  /** The name the user gave (maybe a symlink). */
  file: string;
  /** Where it led when it was read: every later step uses this, never the link again. */
  target: string;
  bytes: Uint8Array;
  identity: Identity;
}

interface Identity {
  dev: bigint;
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
  sha256: string;
}

const READ_FLAGS = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK;
const CREATE_FLAGS = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;
/** Numbered backups stop here: past it, someone is filling the folder with names, and we refuse. */
const MAX_BACKUPS = 1000;

/** Reads the file --in-place will replace, at most `limit` + 1 bytes (the caller refuses more). */
export function readForInPlace(file: string, limit: number): InPlaceSource {
  refuseOthersLink(file);
  const target = resolve(file);
  const { bytes, identity } = readIdentified(target, file, limit);
  return { file, target, bytes, identity };
}

/** The domain XML --in-place will replace, decoded and size-checked as readText does, with what identifies it. */
export function readInPlaceText(file: string, what: string, limit = DEFAULT_READ_LIMIT): { text: string; source: InPlaceSource } {
  const source = readForInPlace(file, limit);
  refuseTooLarge(source.bytes, file, what, limit);
  return { text: blame({ xml: file }, () => decodeXmlBytes(source.bytes, file)), source };
}

export interface InPlaceResult {
  changed: boolean;
  /** The backup's name when it is not FILE.bak (an earlier backup was there). */
  numberedBackup?: string;
}

/** Replaces the file read by `readForInPlace` with `text`; nothing is written when the text is what was read. */
export function writeInPlace(source: InPlaceSource, text: string, backup: boolean): InPlaceResult {
  const bytes = Buffer.from(text, 'utf8');
  if (Buffer.from(source.bytes).equals(bytes)) return { changed: false };
  const folder = path.dirname(source.target);
  const before = verifyUnchanged(source);
  removeStaleTemps(folder, path.basename(source.target), Number(before.uid));
  const created: string[] = [];
  let bakName: string | undefined;
  try {
    const temp = writeTemp(folder, source, bytes, before, created);
    if (backup) bakName = keepBackup(folder, source, before, created);
    verifyUnchanged(source);
    fs.renameSync(temp, source.target);
    created.splice(created.indexOf(temp), 1);
  } catch (err) {
    for (const name of created) fs.rmSync(name, { force: true });
    if (err instanceof CliFailure) throw err;
    const kept = bakName === undefined ? '' : ` (${excerpt(bakName, 200)} was not kept either)`;
    throw new CliFailure(`--in-place could not replace ${excerpt(source.file, 200)}: ${describeErrno(err)}; the file is unchanged${kept}`);
  }
  syncFolder(folder, source.file);
  return bakName === undefined || bakName === `${source.target}.bak` ? { changed: true } : { changed: true, numberedBackup: bakName };
}

function resolve(file: string): string {
  try {
    return fs.realpathSync(file);
  } catch (err) {
    throw new CliFailure(`cannot read ${excerpt(file, 200)}: ${describeErrno(err)}`);
  }
}

/**
 * The kernel's protected_symlinks rule, kept whatever the sysctl says: in a sticky folder anyone may write to, a
 * link is followed only when it is ours or the folder owner's; another user's link could lead us (root) anywhere.
 */
function refuseOthersLink(file: string): void {
  let link: fs.Stats | undefined;
  try {
    link = fs.lstatSync(file);
  } catch {
    return; // resolve() says what is wrong with the name
  }
  if (!link.isSymbolicLink() || link.uid === process.geteuid?.()) return;
  const folder = fs.statSync(path.dirname(file));
  if ((folder.mode & 0o1002) !== 0o1002 || link.uid === folder.uid) return;
  throw new CliFailure(
    `--in-place will not follow ${excerpt(file, 200)}: it is a symbolic link of another user (uid ${link.uid}) in a folder anyone may write to; give the path it leads to if you trust it`,
  );
}

/** One read of `target` without following a link or waiting on a FIFO, with what identifies it. */
function readIdentified(target: string, file: string, limit: number): { bytes: Uint8Array; identity: Identity; stat: fs.BigIntStats } {
  let fd: number;
  try {
    fd = fs.openSync(target, READ_FLAGS);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw changedUnderUs(file, 'it became a symbolic link');
    throw new CliFailure(`cannot read ${excerpt(file, 200)}: ${describeErrno(err)}`);
  }
  try {
    const stat = fs.fstatSync(fd, { bigint: true });
    if (!stat.isFile()) throw new CliFailure(`--in-place needs a regular file; ${excerpt(file, 200)} is ${kindOf(stat)}: write to standard output instead`);
    const bytes = readUpTo(fd, limit);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    return { bytes, stat, identity: { dev: stat.dev, ino: stat.ino, size: stat.size, mtimeNs: stat.mtimeNs, sha256 } };
  } finally {
    fs.closeSync(fd);
  }
}

function kindOf(stat: fs.BigIntStats): string {
  if (stat.isFIFO()) return 'a FIFO';
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return 'a device';
  if (stat.isDirectory()) return 'a folder';
  if (stat.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** The file at the same name is still the one read, byte for byte; its stat is returned for the owner and mode. */
function verifyUnchanged(source: InPlaceSource): fs.BigIntStats {
  if (resolve(source.file) !== source.target) throw changedUnderUs(source.file, 'it now leads to another file');
  const now = readIdentified(source.target, source.file, Number(source.identity.size) + 1);
  const was = source.identity;
  const same = now.identity.dev === was.dev && now.identity.ino === was.ino && now.identity.size === was.size && now.identity.mtimeNs === was.mtimeNs && now.identity.sha256 === was.sha256;
  if (!same) throw changedUnderUs(source.file, 'another program saved it');
  return now.stat;
}

function changedUnderUs(file: string, how: string): CliFailure {
  return new CliFailure(`--in-place: ${excerpt(file, 200)} changed after it was read (${how}): nothing was written; run the command again on the file as it is now`);
}

/** The new text, complete and synced, in a fresh temp file with the old file's owner and mode. */
function writeTemp(folder: string, source: InPlaceSource, bytes: Uint8Array, before: fs.BigIntStats, created: string[]): string {
  const { name, fd } = createTemp(folder, path.basename(source.target), source.file);
  created.push(name);
  try {
    writeAll(fd, bytes);
    keepOwnerAndMode(fd, before, source.file, Number(before.mode) & 0o7777);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return name;
}

/** The text that was read, as FILE.bak, or FILE.bak.1, .2 … when earlier backups exist; returns the name used. */
function keepBackup(folder: string, source: InPlaceSource, before: fs.BigIntStats, created: string[]): string {
  const { name: temp, fd } = createTemp(folder, path.basename(source.target), source.file);
  created.push(temp);
  try {
    writeAll(fd, source.bytes);
    keepOwnerAndMode(fd, before, source.file, Number(before.mode) & 0o777);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  const base = `${source.target}.bak`;
  for (let n = 0; n <= MAX_BACKUPS; n++) {
    const name = n === 0 ? base : `${base}.${n}`;
    if (!nameWithoutReplacing(temp, name)) continue;
    created.splice(created.indexOf(temp), 1, name);
    return name;
  }
  throw new CliFailure(`--in-place: ${excerpt(base, 200)} and ${MAX_BACKUPS} numbered backups exist; remove old ones, or give --no-backup. The file is unchanged`);
}

/**
 * Gives `temp` the name `name` unless something is there (then false). link() fails on anything already there (a
 * file, a link, a FIFO) and never follows it. File systems without hard links (vfat, some FUSE) fall back to
 * rename() after checking the name is free: rename() replaces a link rather than following it, and the only race
 * left is another program creating the name in between.
 */
function nameWithoutReplacing(temp: string, name: string): boolean {
  let linked = false;
  try {
    fs.linkSync(temp, name);
    linked = true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw err;
  }
  if (linked) {
    fs.rmSync(temp);
    return true;
  }
  if (fs.lstatSync(name, { throwIfNoEntry: false }) !== undefined) return false;
  fs.renameSync(temp, name);
  return true;
}

const tempPrefix = (base: string) => `.${base.slice(0, 100)}.lp-`;
const TEMP_TAIL = /^(\d+)-[0-9a-f]{24}\.tmp$/;

function createTemp(folder: string, base: string, file: string): { name: string; fd: number } {
  const name = path.join(folder, `${tempPrefix(base)}${process.pid}-${randomBytes(12).toString('hex')}.tmp`);
  try {
    return { name, fd: fs.openSync(name, CREATE_FLAGS, 0o600) };
  } catch (err) {
    throw new CliFailure(`--in-place cannot create a temporary file in ${excerpt(folder, 200)}: ${describeErrno(err)}; ${excerpt(file, 200)} is unchanged; write to standard output instead (> FILE.new)`);
  }
}

/**
 * Temp files of ours that a killed run left (its process is gone): they hold a complete or partial copy. Ours:
 * our name pattern, and owned by us or by the file's owner (root's temp files get the owner before the rename).
 */
function removeStaleTemps(folder: string, base: string, owner: number): void {
  const prefix = tempPrefix(base);
  let names: string[];
  try {
    names = fs.readdirSync(folder);
  } catch {
    return;
  }
  for (const name of names) {
    const tail = name.startsWith(prefix) ? TEMP_TAIL.exec(name.slice(prefix.length)) : null;
    if (!tail || isAlive(Number(tail[1]))) continue;
    const full = path.join(folder, name);
    const stat = fs.lstatSync(full, { throwIfNoEntry: false });
    if (stat?.isFile() && (stat.uid === process.geteuid?.() || stat.uid === owner)) fs.rmSync(full, { force: true });
  }
}

function isAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** write(2) may write less than asked (a full disk first fills what it can): loop, so a short file is never renamed into place. */
function writeAll(fd: number, bytes: Uint8Array): void {
  for (let done = 0; done < bytes.length; ) done += fs.writeSync(fd, bytes, done, bytes.length - done);
}

function keepOwnerAndMode(fd: number, before: fs.BigIntStats, file: string, mode: number): void {
  const uid = Number(before.uid);
  const gid = Number(before.gid);
  const now = fs.fstatSync(fd);
  if (now.uid !== uid || now.gid !== gid) {
    try {
      fs.fchownSync(fd, uid, gid);
    } catch {
      throw new CliFailure(
        `--in-place would change the owner of ${excerpt(file, 200)} (uid ${uid}, gid ${gid}) to yours: run it as the file's owner, or write to standard output instead`,
      );
    }
  }
  fs.fchmodSync(fd, mode); // after chown, which clears set-id bits
}

function syncFolder(folder: string, file: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(folder, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    fs.fsyncSync(fd);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EINVAL' || code === 'ENOTSUP') return; // a file system without directory sync
    throw new CliFailure(`--in-place replaced ${excerpt(file, 200)}, but its folder could not be synced (${describeErrno(err)}): the change may not survive a power loss`);
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
