import * as fs from 'node:fs';
import * as path from 'node:path';

export const REPO = path.resolve(__dirname, '..', '..');
export const CASES_DIR = path.join(REPO, '__tests__', 'cases');

/** The shared corpus of real libvirt domains; LIBVIRT_PASSTHROUGH_CORPUS overrides where it is. */
export const CORPUS_DIR = path.resolve(process.env.LIBVIRT_PASSTHROUGH_CORPUS ?? path.join(REPO, '..', 'shared', 'corpus'), 'libvirt');

export interface CorpusEntry {
  file: string;
  machine: string;
  arch: string;
  hasPciHostdev: boolean;
  hasQemuNs: boolean;
  path: string;
}

export function corpusEntries(): CorpusEntry[] {
  const index = path.join(CORPUS_DIR, 'INDEX.tsv');
  if (!fs.existsSync(index)) throw new Error(`corpus index not found at ${index}; set LIBVIRT_PASSTHROUGH_CORPUS to the folder holding libvirt/INDEX.tsv`);
  const [, ...rows] = fs.readFileSync(index, 'utf8').trim().split('\n');
  return rows.map((row) => {
    const [file, machine, arch, hostdev, qemuNs] = row.split('\t');
    return { file, machine, arch, hasPciHostdev: hostdev === '1', hasQemuNs: qemuNs === '1', path: path.join(CORPUS_DIR, file) };
  });
}

export function readCase(name: string, file: string): string | undefined {
  const p = path.join(CASES_DIR, name, file);
  return fs.existsSync(p) ? fs.readFileSync(p, 'utf8') : undefined;
}
