import { excerpt } from '../errors';
import { CliIo, MAX_READ_LIMIT, UsageError, writeInPlace } from './io';

/** One CLI command: what `--help` and the command list show, the options parseArgs reads, and the body. */
export interface Command {
  summary: string;
  help: string;
  options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }>;
  /** Returns the exit status when it is not simply 0. */
  run: (args: CommandArgs, io: CliIo) => void | number;
}

export interface CommandArgs {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/** Standard output, or with --in-place an atomic rewrite of the input file (left alone when nothing changed). */
export function output(values: Record<string, unknown>, positionals: string[], text: string, io: CliIo): void {
  if (!values['in-place']) {
    if (values['no-backup']) throw new UsageError('--no-backup goes with --in-place');
    io.stdout(text);
    return;
  }
  if (positionals[0] === undefined || positionals[0] === '-') throw new UsageError('--in-place needs a domain file, not standard input');
  writeInPlace(positionals[0], text, !values['no-backup']);
}

export const loadOptions = (maxBytes: number | undefined) => (maxBytes === undefined ? {} : { maxBytes });

export function readMaxBytes(values: Record<string, unknown>): number | undefined {
  const given = values['max-bytes'];
  if (given === undefined) return undefined;
  const n = typeof given === 'string' && /^[0-9]+$/.test(given) ? Number(given) : NaN;
  if (!(n >= 1 && n <= MAX_READ_LIMIT)) throw new UsageError(`--max-bytes takes a whole number from 1 to ${MAX_READ_LIMIT}, not '${excerpt(String(given))}'`);
  return n;
}
