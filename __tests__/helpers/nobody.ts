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
