import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { REPO } from './helpers/paths';

// helpers/needs.ts, run as a suite uses it (a nested jest on helpers/needs-fixture): a missing need skips its tests
// with one line naming what to install, and under CI fails each of them with that line instead.
function runFixture(ci: boolean) {
  const env = { ...process.env };
  delete env.CI;
  if (ci) env.CI = 'true';
  const run = spawnSync(
    process.execPath,
    [path.join(REPO, 'node_modules', 'jest', 'bin', 'jest.js'), '--roots', '<rootDir>/__tests__/helpers/needs-fixture', '--testMatch', '**/*.fixture.ts', '--json', '--runInBand'],
    // A corpus folder is named so that jest.config.js does not announce the missing corpus (the fixture reads none).
    { cwd: REPO, env: { ...env, LIBVIRT_PASSTHROUGH_CORPUS: path.join(REPO, 'no-corpus-needed') }, encoding: 'utf8' },
  );
  const result = JSON.parse(run.stdout) as { numPassedTests: number; numFailedTests: number; numPendingTests: number; testResults: { assertionResults: { status: string; failureMessages: string[] }[] }[] };
  return { status: run.status, stderr: run.stderr, result };
}

const LINE = 'libvirt-passthrough: skipped: gated.fixture.ts needs libvirt-passthrough-no-such-tool (libvirt-passthrough-no-such-tool is not on PATH: install the no-such-tool package); CI runs these tests.';

test('without CI: the tests of a missing need are skipped, with one line naming what to install', () => {
  const { status, stderr, result } = runFixture(false);
  expect(status).toBe(0);
  expect(stderr.split('\n').filter((l) => l.startsWith('libvirt-passthrough: skipped'))).toEqual([LINE]);
  expect([result.numPassedTests, result.numPendingTests, result.numFailedTests]).toEqual([1, 4, 0]);
});

test('with CI set: each of them fails with that line instead', () => {
  const { status, stderr, result } = runFixture(true);
  expect(status).toBe(1);
  expect(stderr).not.toContain('libvirt-passthrough: skipped');
  expect([result.numPassedTests, result.numPendingTests, result.numFailedTests]).toEqual([1, 0, 4]);
  const failures = result.testResults[0].assertionResults.filter((a) => a.status === 'failed').map((a) => a.failureMessages.join('\n'));
  for (const f of failures) expect(f).toContain('CI is set, so this cannot be skipped: gated.fixture.ts needs libvirt-passthrough-no-such-tool (libvirt-passthrough-no-such-tool is not on PATH: install the no-such-tool package)');
});
