import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The repository root: the nearest folder above this file holding the oracle script. The harness runs
 * both from its sources (jest) and compiled into dist-conformance/, at different depths.
 */
function findRepo(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'scripts', 'libvirt-oracle.sh'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`conformance: no repository (scripts/libvirt-oracle.sh) above ${from}`);
  }
}

export const REPO = findRepo(__dirname);
