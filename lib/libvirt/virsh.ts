import { spawnSync } from 'node:child_process';
import { refuseArgument, requireOptionalString } from '../arguments';
import { PassthroughError, excerpt } from '../errors';

export interface VirshOptions {
  /** libvirt connection URI (`virsh --connect=URI`); absent: virsh's default. */
  connect?: string;
  /** The virsh program; default `virsh` from PATH. */
  virsh?: string;
  /** Seconds each virsh call may take before its process group is killed (default 60). */
  timeoutSeconds?: number;
}

export const DEFAULT_TIMEOUT_SECONDS = 60;

/** One virsh call: what it is for (named in messages) and, for `define`, the XML it reads on standard input. */
export interface VirshCall {
  /** The step, e.g. `dumpxml`, `re-dump before define`, `read-back`: named when the call fails or hangs. */
  step: string;
  /** What state the domain is in if this call hangs, for the message (`nothing was defined`, …). */
  ifHung: string;
  /** Fed to virsh on standard input (a definition goes to `define --file /dev/stdin`, never to a file). */
  input?: string;
}

// The supervisor runs virsh in a process group of its own and kills the whole group at the deadline: virsh
// may have children (ssh for qemu+ssh://), and spawnSync's own timeout would kill only its direct child.
const SUPERVISOR = `
const { spawn } = require('node:child_process');
const [ms, command, ...args] = process.argv.slice(1);
const child = spawn(command, args, { detached: true, stdio: 'inherit' });
let late = false;
const killGroup = () => { try { process.kill(-child.pid, 'SIGKILL'); } catch {} };
const timer = setTimeout(() => { late = true; killGroup(); }, Number(ms));
child.on('error', (e) => { process.stderr.write('\\u0000spawn ' + e.code); process.exit(127); });
child.on('exit', (code) => { clearTimeout(timer); killGroup(); if (late) process.stderr.write('\\u0000timeout'); process.exit(late ? 124 : code ?? 1); });
`;

/**
 * Runs virsh with arguments (no shell) under a time limit and returns its standard output. Refusals:
 * LIBVIRT_TIMEOUT (the process group was killed at the deadline; the message names the step and the
 * domain's state), LIBVIRT_REFUSED (virsh failed; its message is quoted).
 */
export function runVirsh(args: string[], options: VirshOptions, call: VirshCall): string {
  const program = options.virsh ?? 'virsh';
  // --connect=URI as one word: a URI that starts with '-' cannot be read as an option.
  const argv = [...(options.connect === undefined ? [] : [`--connect=${options.connect}`]), ...args];
  const seconds = timeoutSeconds(options);
  // Node hands standard input over as a socket, which virsh cannot open as /dev/stdin: `cat |` makes it a pipe.
  const command = call.input === undefined ? [program, ...argv] : ['/bin/sh', '-c', 'cat | exec "$0" "$@"', program, ...argv];
  const run = spawnSync(process.execPath, ['-e', SUPERVISOR, String(seconds * 1000), ...command], {
    encoding: 'utf8',
    input: call.input ?? '',
    maxBuffer: 64 * 1024 * 1024,
    // A backstop only: the supervisor itself ends at the deadline.
    timeout: seconds * 1000 + 10_000,
    killSignal: 'SIGKILL',
  });
  const stderr = run.stderr ?? '';
  if (run.status === 0) return run.stdout;
  if (stderr.endsWith('\u0000spawn ENOENT')) {
    throw new PassthroughError('LIBVIRT_REFUSED', `Cannot run ${excerpt(program, 80)}: not found. Install libvirt's client (Debian: libvirt-clients).`);
  }
  if (stderr.endsWith('\u0000timeout') || run.error || run.status === null) {
    throw new PassthroughError(
      'LIBVIRT_TIMEOUT',
      `virsh ${args[0]} (${call.step}) did not answer within ${seconds} s and was killed; ${call.ifHung}. Check that libvirt answers (virsh list), or give --timeout more seconds.`,
    );
  }
  throw new PassthroughError('LIBVIRT_REFUSED', `virsh ${args[0]} failed: ${virshMessage(stderr)}`);
}

function timeoutSeconds(options: VirshOptions): number {
  const s = options.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
  if (typeof s !== 'number' || !Number.isFinite(s) || s <= 0) {
    throw new PassthroughError('INPUT_INVALID', `The virsh time limit must be a positive number of seconds, not ${excerpt(String(s), 20)}.`);
  }
  return s;
}

/** The options every virsh-running export takes, checked before virsh runs. */
export function requireVirshOptions(options: Record<string, unknown>, fn: string): void {
  const t = options.timeoutSeconds;
  if (t !== undefined && !(typeof t === 'number' && Number.isFinite(t) && t > 0)) refuseArgument(fn, 'options.timeoutSeconds as a positive number of seconds', t);
  requireOptionalString(options.lockFolder, fn, 'options.lockFolder as the path of a folder');
}

/** The arguments that name a domain: `--domain NAME`, so that a name such as `--xpath=…` is never read as an option. */
export function domainArgs(vm: string): string[] {
  return ['--domain', vm];
}

/** virsh's own error lines without the `error: ` prefixes, one line, clipped. */
function virshMessage(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.replace(/^error: /, '').trim())
    // libvirt's own log lines (a timestamp, `info :`, `warning :`) are not the error.
    .filter((l) => l !== '' && !/^Failed to define domain from /.test(l) && !/^\d{4}-\d\d-\d\d [\d:.+]+: \d+: (info|warning|debug) : /.test(l));
  return lines.length === 0 ? 'no message' : excerpt(lines.join('; '), 400);
}
