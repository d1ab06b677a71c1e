const fs = require('node:fs');
const path = require('node:path');

// The corpus of real libvirt domains is not in this repository: ../shared/corpus beside the clone, or
// LIBVIRT_PASSTHROUGH_CORPUS. Without it (a fresh clone), the suites that read it are skipped with one
// message; in CI (CI set) or when LIBVIRT_PASSTHROUGH_CORPUS names a folder, a missing corpus fails them.
const corpusIndex = path.resolve(process.env.LIBVIRT_PASSTHROUGH_CORPUS ?? path.join(__dirname, '..', 'shared', 'corpus'), 'libvirt', 'INDEX.tsv');
const CORPUS_SUITES = ['corpus.test.ts', 'properties.test.ts', 'remove.test.ts'];
const skipCorpus = !fs.existsSync(corpusIndex) && !process.env.CI && !process.env.LIBVIRT_PASSTHROUGH_CORPUS;
if (skipCorpus) {
  process.env.LP_CORPUS_SKIPPED = '1';
  console.warn(
    `libvirt-passthrough: corpus not found (${corpusIndex}): skipping ${CORPUS_SUITES.join(', ')} and the corpus tests of parse.test.ts and independent-reader.test.ts.\n` +
      '  Put the corpus at ../shared/corpus or set LIBVIRT_PASSTHROUGH_CORPUS (see README, "Tests"); CI always runs them.',
  );
}

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  // examples/ holds a recipe suite users copy; it runs with ours so it cannot rot.
  roots: ['<rootDir>/__tests__', '<rootDir>/examples'],
  testMatch: ['**/*.test.ts', '**/examples/**/*.test.js'],
  testPathIgnorePatterns: ['/node_modules/', ...(skipCorpus ? CORPUS_SUITES.map((f) => `/__tests__/${f.replace(/\./g, '\\.')}$`) : [])],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.test.json' }] },
};
