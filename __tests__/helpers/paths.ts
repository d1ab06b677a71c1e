import * as fs from 'node:fs';
import * as path from 'node:path';
import { corpusDir, corpusFiles } from '../../conformance/cases';

export const REPO = path.resolve(__dirname, '..', '..');
export const CASES_DIR = path.join(REPO, '__tests__', 'cases');

export interface CorpusEntry {
  file: string;
  machine: string;
  arch: string;
  path: string;
}

/** jest.config.js found no corpus (a fresh clone without ../shared) and skips what needs it, saying so once. */
export const CORPUS_SKIPPED = process.env.LP_CORPUS_SKIPPED === '1';

/** The shared corpus of real libvirt domains, found the way the conformance harness finds it (LIBVIRT_PASSTHROUGH_CORPUS). */
export function corpusEntries(): CorpusEntry[] {
  return corpusFiles().map((e) => ({ ...e, path: path.join(corpusDir(), e.file) }));
}

export function readCase(name: string, file: string): string | undefined {
  const p = path.join(CASES_DIR, name, file);
  return fs.existsSync(p) ? fs.readFileSync(p, 'utf8') : undefined;
}
