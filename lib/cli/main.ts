import { parseArgs } from 'node:util';
import { excerpt, excerptQuoted, isPassthroughError } from '../errors';
import { Command } from './command';
import { COMMANDS } from './commands';
import { CliFailure, CliIo, UsageError, fileOfError, processIo } from './io';

export const EXIT_OK = 0;
export const EXIT_BAD_INPUT = 1;
export const EXIT_USAGE = 2;

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `Usage: libvirt-passthrough COMMAND [options]\n\nCommands:\n${lines.join('\n')}\n\nRun 'libvirt-passthrough COMMAND --help' for a command's options and an example.\nExit status: 0 done, 1 bad input (one line: FILE:LINE:COLUMN: CODE: message), 2 usage error.\nAdd --debug to any command to print the stack trace of an error as well.\n`;
}

/** The whole CLI as a function of argv and io; returns the exit status. `--debug` anywhere adds the stack trace to an error. */
export function runCli(argv: string[], io: CliIo = processIo): number {
  const debug = argv.includes('--debug');
  const [name, ...rest] = argv.filter((a) => a !== '--debug');
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? io.stderr : io.stdout)(usage());
    return name === undefined ? EXIT_USAGE : EXIT_OK;
  }
  if (name === '--version') {
    io.stdout(`${require('../../package.json').version}\n`);
    return EXIT_OK;
  }
  const command = Object.prototype.hasOwnProperty.call(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) {
    io.stderr(`libvirt-passthrough: unknown command '${excerpt(name)}'\n\n${usage()}`);
    return EXIT_USAGE;
  }
  try {
    const parsed = parseArgs({ args: rest, options: { ...command.options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
    if (parsed.values.help) {
      io.stdout(command.help);
      return EXIT_OK;
    }
    return command.run(parsed as never, io) ?? EXIT_OK;
  } catch (err) {
    return reportError(err, name, command, io, debug);
  }
}

/** Every failure becomes one line on standard error and an exit status; the stack only with --debug. */
function reportError(err: unknown, name: string, command: Command, io: CliIo, debug: boolean): number {
  const prefix = `libvirt-passthrough ${name}: `;
  const trace = () => {
    if (debug) io.stderr(`${typeof stackOf(err) === 'string' ? stackOf(err) : String(err)}\n`);
  };
  if (isPassthroughError(err)) {
    io.stderr(`${prefix}${locatedMessage(err, fileOfError(err))}\n`);
    trace();
    return EXIT_BAD_INPUT;
  }
  if (err instanceof UsageError || (err as { code?: string } | null)?.code?.startsWith?.('ERR_PARSE_ARGS')) {
    io.stderr(`${prefix}${oneLine(excerptQuoted((err as Error).message))}\n\n${command.help}`);
    trace();
    return EXIT_USAGE;
  }
  if (err instanceof CliFailure) {
    io.stderr(`${prefix}${oneLine(err.message)}\n`);
    trace();
    return EXIT_BAD_INPUT;
  }
  const what = String(err); // Error.prototype.toString: "TypeError: message", also for errors from another realm
  io.stderr(`${prefix}unexpected error: ${oneLine(excerptQuoted(what))}${debug ? '' : ' (run again with --debug for the stack trace, and please report it)'}\n`);
  trace();
  return EXIT_BAD_INPUT;
}

/** `vm.xml:8:5: MACHINE_NOT_Q35: The machine type ...`, like a compiler; the location leaves the message's tail. */
function locatedMessage(err: import('../errors').PassthroughError, file: string | undefined): string {
  const message = oneLine(err.message);
  if (file === undefined) return `${err.code}: ${message}`;
  if (err.line === undefined) return `${excerpt(file, 200)}: ${err.code}: ${message}`;
  return `${excerpt(file, 200)}:${err.line}:${err.column ?? 1}: ${err.code}: ${oneLine(err.reason ?? err.message)}`;
}

const stackOf = (err: unknown): unknown => (typeof err === 'object' && err !== null ? (err as { stack?: unknown }).stack : undefined);

function oneLine(text: string): string {
  return excerpt(text, 2000);
}
