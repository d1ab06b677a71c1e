import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO } from './repo';

/** A real libvirt + QEMU the oracle can run: the host's packages, or the Debian 13 chroot. */
export interface Stack {
  id: 'bookworm' | 'trixie';
  /** e.g. "libvirt 9.0.0, QEMU 7.2.22 (host)". */
  label: string;
  /** The program and arguments that run `argv` on this stack; `bind` (a folder under /tmp) must be visible to it. */
  command(argv: string[], bind?: string): [string, string[]];
  /** Job folders must live under /tmp (the chroot sees only what is bound there). */
  jobsUnderTmp: boolean;
}

const IN_TRIXIE = path.join(REPO, 'scripts', 'in-trixie.sh');
export const TRIXIE_ROOT = process.env.LP_TRIXIE_ROOT ?? '/var/tmp/lp-trixie';

function firstLine(cmd: string, args: string[]): string | undefined {
  const run = spawnSync(cmd, args, { encoding: 'utf8', timeout: 20_000 });
  return run.status === 0 ? run.stdout.split('\n')[0].trim() : undefined;
}

const qemuVersion = (line: string | undefined) => /version (\S+)/.exec(line ?? '')?.[1];

/** The host's Debian packages (scripts/install-libvirt.sh); undefined when a tool is missing. */
export function hostStack(): Stack | undefined {
  const tools = ['virsh', 'xmllint', 'qemu-system-x86_64'].every((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status === 0);
  if (!tools || !fs.existsSync('/usr/share/libvirt/schemas/domain.rng')) return undefined;
  const libvirt = firstLine('virsh', ['--version']);
  const qemu = qemuVersion(firstLine('qemu-system-x86_64', ['--version']));
  return { id: 'bookworm', label: `libvirt ${libvirt}, QEMU ${qemu} (host)`, command: (argv) => [argv[0], argv.slice(1)], jobsUnderTmp: false };
}

/** The Debian 13 chroot (scripts/install-libvirt.sh --trixie); undefined when it is not built or we are not root. */
export function trixieStack(): Stack | undefined {
  const stamp = path.join(TRIXIE_ROOT, '.lp-oracle.stamp');
  if (process.getuid?.() !== 0 || !fs.existsSync(stamp)) return undefined;
  return {
    id: 'trixie',
    label: fs.readFileSync(stamp, 'utf8').trim(),
    command: (argv, bind) => ['bash', [IN_TRIXIE, ...(bind ? ['--bind', bind] : []), ...argv]],
    jobsUnderTmp: true,
  };
}
