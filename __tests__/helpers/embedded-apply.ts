import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO } from './paths';

// `apply`/`unapply` against REAL libvirt: the embedded QEMU driver (qemu:///embed?root=DIR, no daemon)
// through virsh-embedded.sh. Every virsh call is serialised on a lock file, as a daemon serialises the
// calls of its clients: two embedded drivers over one root at once are not a libvirt anyone runs.
export const BIN = path.join(REPO, 'bin', 'libvirt-passthrough.js');
export const EMBEDDED_VIRSH = path.join(REPO, '__tests__', 'helpers', 'virsh-embedded.sh');
export const example = (f: string) => path.join(REPO, 'examples', f);
export const DOMAIN = fs.readFileSync(example('domain.xml'), 'utf8');

export interface Embedded {
  dir: string;
  root: string;
  uri: string;
  /** The serialising virsh every test uses (and wrappers hand over to). */
  virshProgram: string;
  /** TMPDIR of the CLI runs: checked for leftovers. */
  tmp: string;
}

/** The stacks: this host's libvirt, and Debian 13's in the chroot scripts/in-trixie.sh runs commands in. */
export type Stack = 'host' | 'trixie';
export const TRIXIE_ROOT = process.env.LP_TRIXIE_ROOT ?? '/var/tmp/lp-trixie';

export function startEmbedded(prefix: string, stack: Stack = 'host'): Embedded {
  // Under /tmp: in-trixie.sh shows a folder there at the same path inside the chroot.
  const dir = fs.mkdtempSync(path.join(stack === 'trixie' ? '/tmp' : os.tmpdir(), prefix));
  const root = path.join(dir, 'root');
  const tmp = path.join(dir, 'tmp');
  fs.mkdirSync(tmp);
  const virshProgram = path.join(dir, 'virsh-serial');
  // Sets its root itself, so that applyPlan called inside a jest worker (whose process.env children do not see) finds it.
  let run = `LP_EMBED_ROOT='${root}' exec flock "${dir}/serial.lock" "${EMBEDDED_VIRSH}" "$@"`;
  if (stack === 'trixie') {
    fs.copyFileSync(EMBEDDED_VIRSH, path.join(dir, 'virsh-embedded.sh'));
    run = `exec flock "${dir}/serial.lock" "${path.join(REPO, 'scripts', 'in-trixie.sh')}" --bind "${dir}" env LP_EMBED_ROOT='${root}' bash "${dir}/virsh-embedded.sh" "$@"`;
  }
  fs.writeFileSync(virshProgram, `#!/bin/sh\n${run}\n`, { mode: 0o755 });
  return { dir, root, uri: `qemu:///embed?root=${root}`, virshProgram, tmp };
}

export function env(e: Embedded, virsh = e.virshProgram): NodeJS.ProcessEnv {
  return { ...process.env, LP_EMBED_ROOT: e.root, LIBVIRT_PASSTHROUGH_VIRSH: virsh, TMPDIR: e.tmp };
}

export function virsh(e: Embedded, ...args: string[]): string {
  return execFileSync(e.virshProgram, [`--connect=${e.uri}`, ...args], { encoding: 'utf8', env: env(e) });
}

export function dump(e: Embedded, vm: string): string {
  return virsh(e, 'dumpxml', '--inactive', '--security-info', '--domain', vm);
}

const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/'/g, '&apos;').replace(/"/g, '&quot;');

/** Defines examples/domain.xml (or `xml`) under `name` and a UUID made from it; returns libvirt's definition. */
export function defineVm(e: Embedded, name: string, xml = DOMAIN): string {
  const file = path.join(e.dir, 'define-input.xml');
  const hex = createHash('sha256').update(name).digest('hex').slice(0, 12);
  const uuid = `6f2a8e4c-1b3d-4c8e-9a41-${hex}`;
  fs.writeFileSync(file, xml.replace(/<name>[^<]*<\/name>/, `<name>${escapeXml(name)}</name>`).replace(/<uuid>[^<]*<\/uuid>/, `<uuid>${uuid}</uuid>`));
  virsh(e, 'define', '--file', file);
  fs.rmSync(file);
  return dump(e, name);
}

export function writePlan(e: Embedded, name: string, plan: unknown): string {
  const file = path.join(e.dir, `${name}.plan.json`);
  fs.writeFileSync(file, JSON.stringify(plan));
  return file;
}

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `COMMAND --connect=URI ARGS...`: before the arguments, which may end in `-- NAME`. */
const withConnect = (e: Embedded, args: string[]) => [args[0], `--connect=${e.uri}`, ...args.slice(1)];

export function cli(e: Embedded, args: string[], virshProgram?: string): Run {
  const run = spawnSync(process.execPath, [BIN, ...withConnect(e, args)], { encoding: 'utf8', env: env(e, virshProgram) });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** The same, not waited for: for runs at the same time, and runs killed part way. */
export function cliAsync(e: Embedded, args: string[], virshProgram?: string): { child: ReturnType<typeof spawn>; done: Promise<Run> } {
  const child = spawn(process.execPath, [BIN, ...withConnect(e, args)], { env: env(e, virshProgram) });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<Run>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  return { child, done };
}

/**
 * A virsh wrapper for one test: runs `script` (sh; `$cmd` is the virsh command) before handing the call to the
 * serialising virsh. `$cmd` is found after `--connect=URI` or the older `-c URI`, so that the same tests run
 * against earlier versions of apply.
 */
export function wrapper(e: Embedded, name: string, script: string): string {
  const file = path.join(e.dir, name);
  fs.writeFileSync(file, `#!/bin/sh\nif [ "$1" = -c ]; then cmd=$3; else cmd=$2; fi\n${script}\nexec "${e.virshProgram}" "$@"\n`, { mode: 0o755 });
  return file;
}
