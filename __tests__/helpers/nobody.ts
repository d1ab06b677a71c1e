import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO } from './paths';

let copy: string | undefined;

/**
 * The CLI as a user without rights runs it: a copy of what the binary needs (bin/, dist/, package.json, examples/)
 * in a folder everyone may read. The checkout itself may sit where `nobody` cannot enter (CI clones into a
 * `mktemp -d` folder, mode 0700), and then `setpriv --reuid=nobody node bin/…` would fail to load the program.
 */
export function readableByNobody(): { bin: string; example: (file: string) => string } {
  if (copy === undefined) {
    copy = fs.mkdtempSync(path.join(os.tmpdir(), 'lp-as-nobody-'));
    fs.chmodSync(copy, 0o755);
    for (const part of ['bin', 'dist', 'package.json', 'examples']) fs.cpSync(path.join(REPO, part), path.join(copy, part), { recursive: true });
  }
  const root = copy;
  return { bin: path.join(root, 'bin', 'libvirt-passthrough.js'), example: (file) => path.join(root, 'examples', file) };
}

/** For afterAll in the suites that use readableByNobody: the copy goes with the suite (jest workers skip exit handlers). */
export function removeNobodyCopy(): void {
  if (copy !== undefined) fs.rmSync(copy, { recursive: true, force: true });
  copy = undefined;
}

/**
 * The command line that runs `argv` as a user without rights: through setpriv as nobody when the tests run as root,
 * as it is otherwise (the tests already run as such a user, and files they made unreadable are unreadable to it).
 */
export function unprivileged(argv: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ['setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', ...argv]] : [argv[0], argv.slice(1)];
}
