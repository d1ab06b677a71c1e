import { excerpt } from '../errors';
import type { InPlaceSource } from './in-place';
import { CliIo, MAX_READ_LIMIT, UsageError, readText } from './io';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const inPlace = () => require('./in-place') as typeof import('./in-place');

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

/** The domain XML; with --in-place read so that the write can check that the file is still the one read. */
export function readDomain(values: Record<string, unknown>, positionals: string[], io: CliIo, maxBytes: number | undefined): { xml: string; source?: InPlaceSource } {
  if (!values['in-place']) {
    if (values['no-backup']) throw new UsageError('--no-backup goes with --in-place');
    return { xml: readText(io, positionals[0], 'domain XML', maxBytes) };
  }
  if (positionals[0] === undefined || positionals[0] === '-') throw new UsageError('--in-place needs a domain file, not standard input');
  const { text, source } = inPlace().readInPlaceText(positionals[0], 'domain XML', maxBytes);
  return { xml: text, source };
}

/** Standard output, or with --in-place an atomic rewrite of the file read (left alone when nothing changed). */
export function output(values: Record<string, unknown>, source: InPlaceSource | undefined, text: string, io: CliIo): void {
  if (source === undefined) {
    io.stdout(text);
    return;
  }
  const { numberedBackup } = inPlace().writeInPlace(source, text, !values['no-backup']);
  if (numberedBackup) io.stderr(`kept the old text as ${excerpt(numberedBackup, 200)} (${excerpt(source.target, 200)}.bak was there already)\n`);
}

/**
 * A PCI address typed on the command line (`hostdev ADDR`, `--address ADDR`): a malformed one is a mistake in the
 * command line, exit 2 with the help (docs/errors.md), said before any file is read.
 */
export function commandLineAddress(option: string | undefined, value: string): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const parsed = (require('../pci/address') as typeof import('../pci/address')).parsePciAddress(value);
  if (typeof parsed !== 'string') return;
  const why = parsed.startsWith('PCI ') ? parsed : 'write it as lspci prints it, e.g. 0000:1b:00.0 or 1b:00.0';
  throw new UsageError(`${option ? `${option}: ` : ''}'${excerpt(value)}' is not a PCI address: ${why}`);
}

/** `--plan -` takes standard input, so the domain XML must then come from a file. */
export function refuseTwoFromStdin(plan: unknown, domain: string | undefined): void {
  if (plan === '-' && (domain === undefined || domain === '-')) {
    throw new UsageError('--plan - reads the plan from standard input, so the domain XML cannot come from there too: give DOMAIN.xml');
  }
}

export const loadOptions = (maxBytes: number | undefined) => (maxBytes === undefined ? {} : { maxBytes });

export function readMaxBytes(values: Record<string, unknown>): number | undefined {
  const given = values['max-bytes'];
  if (given === undefined) return undefined;
  const n = typeof given === 'string' && /^[0-9]+$/.test(given) ? Number(given) : NaN;
  if (!(n >= 1 && n <= MAX_READ_LIMIT)) throw new UsageError(`--max-bytes takes a whole number from 1 to ${MAX_READ_LIMIT}, not '${excerpt(String(given))}'`);
  return n;
}
