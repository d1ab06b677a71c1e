import * as fs from 'node:fs';
import { decodeXmlBytes } from '../load/decode';
import { parseJson } from '../load/json';
import { LineTable } from '../load/lines';
import { PassthroughError, excerpt } from '../errors';

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /**
   * Reads standard input, at most `limit` bytes and one more (so the caller sees that it was too long);
   * undefined when it is a terminal (nothing piped).
   */
  readStdin: (limit?: number) => Uint8Array | undefined;
  /** Reads a file the same way: at most `limit` + 1 bytes, never the whole of /dev/zero. */
  readFile: (path: string, limit?: number) => Uint8Array;
  /** Runs a local tool for version detection (tests inject one); default: the real tool, 3 s timeout, no shell. */
  runTool?: (command: string, args: string[]) => string | undefined;
}

/**
 * What the CLI reads when nothing says otherwise: domain XML, plans, dumps, topology text. The library's
 * DEFAULT_MAX_BYTES (a test keeps them equal; not imported, so commands that parse no XML do not load the parser).
 */
export const DEFAULT_READ_LIMIT = 16 * 1024 * 1024;
/** --max-bytes stops here: the text is held several times over while it is transformed, and V8 strings end at 2^29 code units. */
export const MAX_READ_LIMIT = 256 * 1024 * 1024;

export const processIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  readStdin: (limit) => {
    if (process.stdin.isTTY) return undefined;
    const bytes = readUpTo(0, limit ?? DEFAULT_READ_LIMIT);
    if (limit === undefined && bytes.length > DEFAULT_READ_LIMIT) throw new CliFailure(`standard input is larger than ${DEFAULT_READ_LIMIT} bytes`);
    return bytes;
  },
  readFile: (file, limit) => {
    const fd = fs.openSync(file, 'r');
    try {
      const bytes = readUpTo(fd, limit ?? DEFAULT_READ_LIMIT);
      // A caller that gave no limit would not notice a cut-off file: refuse it here instead.
      if (limit === undefined && bytes.length > DEFAULT_READ_LIMIT) throw new CliFailure(`${excerpt(file, 200)} is larger than ${DEFAULT_READ_LIMIT} bytes`);
      return bytes;
    } finally {
      fs.closeSync(fd);
    }
  },
};

/**
 * Reads until end of file or until more than `limit` bytes arrived, whichever is first, so a huge pipe or
 * device never fills memory. readFileSync(0) fails with EAGAIN when stdin is a non-blocking pipe; read in a
 * loop and wait instead.
 */
export function readUpTo(fd: number, limit: number): Uint8Array {
  const chunks: Buffer[] = [];
  let total = 0;
  const buffer = Buffer.alloc(1 << 16);
  while (total <= limit) {
    let n: number;
    try {
      n = fs.readSync(fd, buffer, 0, Math.min(buffer.length, limit + 1 - total), null);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
        continue;
      }
      if (code === 'EOF' || (fd === 0 && (code === 'EBADF' || code === 'ENXIO'))) break;
      throw err;
    }
    if (n === 0) break;
    chunks.push(Buffer.from(buffer.subarray(0, n)));
    total += n;
  }
  return Buffer.concat(chunks);
}

/** A mistake in how the command was called: the message and the command's help, exit 2. */
export class UsageError extends Error {}

/** A failure that is not the library's (a file that cannot be read or written): one line, exit 1. */
export class CliFailure extends Error {}

/** The file an error's line:column refers to, so the CLI can print `vm.xml:8:5:`. */
const errorFiles = new WeakMap<object, string>();

export function fileOfError(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null ? errorFiles.get(err) : undefined;
}

/**
 * Runs `fn` on text read from files; a library error located in the XML (line) is tagged with the XML's
 * name, one located in the plan (JSON path) with the plan's.
 */
export function blame<T>(files: { xml?: string; plan?: string }, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (typeof err === 'object' && err !== null && !errorFiles.has(err)) {
      const located = err as { line?: number; path?: string };
      const file = located.line !== undefined ? files.xml : located.path !== undefined ? files.plan : undefined;
      if (file !== undefined) errorFiles.set(err, file);
    }
    throw err;
  }
}

/** The domain XML from FILE or standard input, refused past `limit` bytes while reading. */
export function readText(io: CliIo, file: string | undefined, what: string, limit = DEFAULT_READ_LIMIT): string {
  const name = displayName(file);
  const bytes = readBytes(io, file, what, limit);
  return blame({ xml: name }, () => decodeXmlBytes(bytes, name));
}

export function displayName(file: string | undefined): string {
  return file === undefined || file === '-' ? '<stdin>' : file;
}

export function readBytes(io: CliIo, file: string | undefined, what: string, limit = DEFAULT_READ_LIMIT): Uint8Array {
  let bytes: Uint8Array;
  if (file === undefined || file === '-') {
    bytes = readStdinOrFail(io, what, limit);
  } else {
    bytes = readFileOrFail(io, file, limit);
  }
  refuseTooLarge(bytes, file, what, limit);
  return bytes;
}

function readStdinOrFail(io: CliIo, what: string, limit: number): Uint8Array {
  let piped: Uint8Array | undefined;
  try {
    piped = io.readStdin(limit);
  } catch (err) {
    if (err instanceof CliFailure) throw err;
    throw new CliFailure(`cannot read standard input: ${describeErrno(err)}`);
  }
  if (piped === undefined) throw new UsageError(`no ${what}: give a file, or pipe it on standard input`);
  return piped;
}

/** Bytes read with a limit hold one byte more when the input was longer: refuse it as the library would. */
export function refuseTooLarge(bytes: Uint8Array, file: string | undefined, what: string, limit: number): void {
  if (bytes.length <= limit) return;
  throw new PassthroughError(
    'XML_TOO_LARGE',
    `The ${what} (${excerpt(displayName(file), 200)}) is larger than ${limit} bytes; give --max-bytes N if this really is one (at most ${MAX_READ_LIMIT}).`,
  );
}

/**
 * A plan file (or `-`: standard input): UTF-8 JSON, with or without a byte order mark. Errors give line:column
 * (syntax) or the JSON path (schema, from validatePlan later).
 */
export function readJson(io: CliIo, file: string, what: string): unknown {
  const bytes = file === '-' ? readStdinOrFail(io, what, DEFAULT_READ_LIMIT) : readFileOrFail(io, file, DEFAULT_READ_LIMIT);
  const name = displayName(file);
  const text = decodeJsonBytes(bytes, name, what);
  const parsed = parseJson(text);
  if (parsed.ok) return parsed.value;
  const error = new PassthroughError('PLAN_INVALID', `The ${what} is not valid JSON: ${parsed.reason}.`, new LineTable(text).positionOf(parsed.offset));
  errorFiles.set(error, name);
  throw error;
}

function decodeJsonBytes(bytes: Uint8Array, file: string, what: string): string {
  if (bytes.length > DEFAULT_READ_LIMIT) {
    throw new PassthroughError('PLAN_INVALID', `The ${what} ${excerpt(file)} is larger than ${DEFAULT_READ_LIMIT} bytes; a plan is a few lines of JSON.`);
  }
  const utf16 = (bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff) || (bytes.length >= 2 && (bytes[0] === 0 || bytes[1] === 0));
  if (utf16) {
    throw new PassthroughError('PLAN_INVALID', `The ${what} ${excerpt(file)} is UTF-16 text: the plan's encoding must be UTF-8 (convert it: iconv -f UTF-16 -t UTF-8).`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes); // drops a UTF-8 byte order mark
  } catch {
    throw new PassthroughError('PLAN_INVALID', `The ${what} ${excerpt(file)} is not valid UTF-8: the plan's encoding must be UTF-8.`);
  }
  return text;
}

/** A file's bytes; a file that cannot be read is one line and exit 1. Without a limit, a file past the default is refused. */
export function readFileOrFail(io: CliIo, file: string, limit?: number): Uint8Array {
  try {
    return io.readFile(file, limit);
  } catch (err) {
    if (err instanceof CliFailure) throw err;
    throw new CliFailure(`cannot read ${excerpt(file)}: ${describeErrno(err)}`);
  }
}

export function describeErrno(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  const words: Record<string, string> = {
    ENOENT: 'no such file or folder',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EISDIR: 'it is a folder',
    ENOTDIR: 'a part of the path is not a folder',
    EROFS: 'read-only file system',
    ENOSPC: 'no space left on the device',
    EEXIST: 'it already exists',
    ELOOP: 'too many symbolic links',
    ENAMETOOLONG: 'the name is too long',
  };
  if (code && words[code]) return `${words[code]} (${code})`;
  return code ?? excerpt(String((err as Error)?.message ?? err), 120);
}
