import * as fs from 'node:fs';
import { decodeXmlBytes } from '../load/decode';
import { PassthroughError } from '../errors';

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Reads all of standard input; undefined when it is a terminal (nothing piped). */
  readStdin: () => Uint8Array | undefined;
  readFile: (path: string) => Uint8Array;
}

export const processIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  readStdin: () => (process.stdin.isTTY ? undefined : readAllStdin()),
  readFile: (path) => fs.readFileSync(path),
};

/** readFileSync(0) fails with EAGAIN when stdin is a non-blocking pipe; read in a loop and wait instead. */
function readAllStdin(): Uint8Array {
  const chunks: Buffer[] = [];
  const buffer = Buffer.alloc(1 << 16);
  for (;;) {
    let n: number;
    try {
      n = fs.readSync(0, buffer, 0, buffer.length, null);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
        continue;
      }
      if (code === 'EOF' || code === 'EBADF' || code === 'ENXIO') break;
      throw err;
    }
    if (n === 0) break;
    chunks.push(Buffer.from(buffer.subarray(0, n)));
  }
  return Buffer.concat(chunks);
}

export class UsageError extends Error {}

export function readText(io: CliIo, file: string | undefined, what: string): string {
  if (file === undefined || file === '-') {
    const bytes = io.readStdin();
    if (bytes === undefined) throw new UsageError(`no ${what}: give a file, or pipe it on standard input`);
    return decodeXmlBytes(bytes, 'standard input');
  }
  return decodeXmlBytes(readFileOrFail(io, file), file);
}

export function readJson(io: CliIo, file: string, what: string): unknown {
  const text = decodeXmlBytes(readFileOrFail(io, file), file);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new PassthroughError('PLAN_INVALID', `The ${what} ${file} is not valid JSON: ${(err as Error).message}.`);
  }
}

function readFileOrFail(io: CliIo, file: string): Uint8Array {
  try {
    return io.readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(`cannot read ${file}${code ? ` (${code})` : ''}`);
  }
}

/**
 * Replaces `file` atomically: the new text goes to a temp file in the same folder, which is renamed over
 * the original, so a reader sees the old or the new file, never half of one. Keeps FILE.bak unless told not to.
 */
export function writeInPlace(file: string, text: string, backup: boolean): void {
  const temp = `${file}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(temp, text, { mode: fs.statSync(file).mode });
    if (backup) fs.copyFileSync(file, `${file}.bak`);
    fs.renameSync(temp, file);
  } catch (err) {
    fs.rmSync(temp, { force: true });
    throw err;
  }
}
