import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * "This test needs X": tests that need real libvirt, KVM, root or the Debian 13 chroot run where X is present; on a
 * machine with only Node they are skipped with ONE line on stderr per suite naming what to install, and when CI is set
 * (CI must run everything) each of them fails with that line instead.
 *
 *   const libvirt = needs(LIBVIRT, KVM);
 *   libvirt.describe('apply on the embedded driver', () => { ... });   // or libvirt.test(...), libvirt.test.each(...)
 */
export interface Need {
  /** What is needed, as the message names it: `KVM`, `root`. */
  name: string;
  /** Why it is missing and what to do about it, or undefined when present. Asked once per suite. */
  missing(): string | undefined;
}

export interface Gate {
  /** Every need is met: the tests run. */
  met: boolean;
  /** The line printed (skipped) or thrown (CI) when a need is missing. */
  reason?: string;
  test: jest.It;
  describe: jest.Describe;
}

const onPath = (command: string) => spawnSync(command, ['--version'], { stdio: 'ignore', timeout: 10_000 }).status === 0;

/** A program that must run from PATH (`NAME --version` exits 0). */
export function command(name: string, install: string): Need {
  return { name, missing: () => (onPath(name) ? undefined : `${name} is not on PATH: ${install}`) };
}

const INSTALL_LIBVIRT = 'install libvirt-clients, libvirt-daemon-driver-qemu and qemu-system-x86 (sudo scripts/install-libvirt.sh does)';

/** virsh with libvirt's embedded QEMU driver, and the QEMU it runs (Debian 12: libvirt 9.0, QEMU 7.2). */
export const LIBVIRT: Need = {
  name: 'libvirt',
  missing: () => (onPath('virsh') && onPath('qemu-system-x86_64') ? undefined : `virsh and qemu-system-x86_64 on PATH: ${INSTALL_LIBVIRT}`),
};

/**
 * libvirt refuses to define type='kvm' domains ("does not support virt type 'kvm'") unless QEMU can open /dev/kvm,
 * as root or not.
 */
export const KVM: Need = {
  name: 'KVM',
  missing() {
    try {
      if (!fs.statSync('/dev/kvm').isCharacterDevice()) return '/dev/kvm as a device: run on a host with KVM';
      fs.accessSync('/dev/kvm', fs.constants.R_OK | fs.constants.W_OK);
      return undefined;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'ENOENT'
        ? '/dev/kvm, which this host does not have: run on a host with KVM (modprobe kvm_intel or kvm_amd)'
        : '/dev/kvm read-write, which this user may not: run as root or join the kvm group';
    }
  },
};

/** Root, for what only root may do: `purpose` says what (`to mount a ConfigMap over hookPath`). */
export function root(purpose: string): Need {
  return { name: 'root', missing: () => (process.getuid?.() === 0 ? undefined : `${purpose}: run as root (sudo npm test)`) };
}

/** The Debian 13 chroot (libvirt 11.3, QEMU 10.0) that scripts/in-trixie.sh runs commands in, finished and runnable. */
export const TRIXIE: Need = {
  name: 'the Debian 13 chroot',
  missing() {
    const root = process.env.LP_TRIXIE_ROOT ?? '/var/tmp/lp-trixie';
    const build = 'build it with sudo scripts/install-libvirt.sh --trixie';
    if (process.getuid?.() !== 0) return `root for scripts/in-trixie.sh (chroot, mounts): run as root, and ${build}`;
    // install.sh writes the stamp last, after virsh and QEMU ran in the chroot; a chroot being rebuilt has an old stamp
    // but may not run yet, so it must also answer.
    if (!/^libvirt \S+, QEMU \S+/.test(readOrEmpty(path.join(root, '.lp-oracle.stamp')))) return `a finished chroot at ${root}: ${build}`;
    const run = spawnSync('bash', [path.join(__dirname, '..', '..', 'scripts', 'in-trixie.sh'), 'virsh', '--version'], { encoding: 'utf8', timeout: 60_000 });
    const said = (run.stderr || run.stdout || '').trim().split('\n')[0].slice(0, 200);
    return run.status === 0 ? undefined : `a chroot at ${root} that runs virsh (it said: ${said}): ${build}`;
  },
};

function readOrEmpty(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

const printed = new Set<string>();

/** test/describe for tests that need every one of `needs`: real, skipped (one line naming what to install), or failing under CI. */
export function needs(...needs: Need[]): Gate {
  const reasons = needs.map((n) => [n.name, n.missing()] as const).filter(([, why]) => why !== undefined);
  if (reasons.length === 0) return { met: true, test, describe };
  const suite = path.basename(expect.getState().testPath ?? 'this suite');
  const reason = `${suite} needs ${reasons.map(([name, why]) => `${name} (${why})`).join(' and ')}`;
  if (process.env.CI) return { met: false, reason, test: failing(test, reason), describe: failingDescribe(reason) };
  if (!printed.has(reason)) {
    printed.add(reason);
    process.stderr.write(`libvirt-passthrough: skipped: ${reason}; CI runs these tests.\n`);
  }
  return { met: false, reason, test: test.skip, describe: describe.skip };
}

type Each = (...table: unknown[]) => (name: string, fn: (...args: never[]) => unknown, timeout?: number) => void;

const refusal = (reason: string) => () => {
  throw new Error(`CI is set, so this cannot be skipped: ${reason}`);
};

/** A `test` whose every test fails with `reason` (CI may not skip). */
function failing(real: jest.It, reason: string): jest.It {
  const fail = refusal(reason);
  const it = ((name: string, _fn?: unknown, timeout?: number) => real(name, fail, timeout)) as unknown as jest.It;
  const each: Each = (...table) => (name, _fn, timeout) => (real.each as unknown as Each)(...table)(name, fail, timeout);
  return Object.assign(it, { each, only: it, skip: it, concurrent: it, failing: it });
}

/** A `describe` whose tests all fail with `reason`: a failing beforeAll fails every test of the block. */
function failingDescribe(reason: string): jest.Describe {
  const guarded = (fn: (...args: never[]) => unknown) => (...args: never[]) => {
    beforeAll(refusal(reason));
    fn(...args);
  };
  const d = ((name: string, fn: () => void) => describe(name, guarded(fn))) as unknown as jest.Describe;
  const each: Each = (...table) => (name, fn, timeout) => (describe.each as unknown as Each)(...table)(name, guarded(fn), timeout);
  return Object.assign(d, { each, only: d, skip: d });
}
