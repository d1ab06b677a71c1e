import { execFileSync } from 'node:child_process';
import { PassthroughError, excerpt } from '../errors';

export interface VirshOptions {
  /** libvirt connection URI (`virsh -c URI`); absent: virsh's default. */
  connect?: string;
  /** The virsh program; default `virsh` from PATH. */
  virsh?: string;
}

/** Runs virsh with arguments (no shell) and returns its standard output; a failure is LIBVIRT_REFUSED with virsh's message. */
export function runVirsh(args: string[], options: VirshOptions): string {
  const argv = [...(options.connect === undefined ? [] : ['-c', options.connect]), ...args];
  try {
    return execFileSync(options.virsh ?? 'virsh', argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string; status?: number | null };
    if (e.code === 'ENOENT') {
      throw new PassthroughError('LIBVIRT_REFUSED', `Cannot run ${options.virsh ?? 'virsh'}: not found. Install libvirt's client (Debian: libvirt-clients).`);
    }
    throw new PassthroughError('LIBVIRT_REFUSED', `virsh ${args[0]} failed: ${virshMessage(e.stderr ?? '')}`);
  }
}

/** virsh's own error lines without the `error: ` prefixes, one line, clipped. */
function virshMessage(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.replace(/^error: /, '').trim())
    .filter((l) => l !== '' && !/^Failed to define domain from /.test(l));
  return lines.length === 0 ? 'no message' : excerpt(lines.join('; '), 400);
}
