import * as fs from 'node:fs';
import * as path from 'node:path';
import { ERROR_CODES, transformDomain } from '../lib';
import { REPO } from './helpers/paths';

const read = (f: string) => fs.readFileSync(path.join(REPO, f), 'utf8');

test('docs/plan.md is what scripts/gen-plan-doc.js renders from the schema', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { render } = require('../scripts/gen-plan-doc.js');
  expect(read('docs/plan.md')).toBe(render());
});

test('docs/errors.md has a row for every error code, and README names them all', () => {
  const errors = read('docs/errors.md');
  const readme = read('README.md');
  for (const code of ERROR_CODES) {
    expect(errors).toContain(`| \`${code}\` |`);
    expect(readme).toContain(`\`${code}\``);
  }
});

test.each(['npu.plan.json', '2gpu-k80.plan.json', '4plus4-k80.plan.json', '8x-h100.plan.json'])('examples/%s transforms examples/domain.xml', (plan) => {
  const out = transformDomain(read('examples/domain.xml'), JSON.parse(read(`examples/${plan}`)));
  expect(out.length).toBeGreaterThan(read('examples/domain.xml').length);
});

test('the README starts with the two set-up commands', () => {
  const firstScreen = read('README.md').split('\n').slice(0, 15).join('\n');
  expect(firstScreen).toContain('npm ci && npm run example');
  expect(firstScreen).toContain('npm test');
});

test('docs/gpudirect.md shows the 2-GPU example exactly as the CLI prints it', () => {
  const doc = read('docs/gpudirect.md');
  const out = transformDomain(read('examples/domain.xml'), JSON.parse(read('examples/2gpu-k80.plan.json')));
  for (const line of ["<passthrough:gpu alias='ua-gpu0' address='0000:04:00.0' clique='0' architecture='kepler' offset='0xc8'/>", "<qemu:property name='x-nv-gpudirect-clique' type='unsigned' value='0'/>"]) {
    expect(doc).toContain(line);
    expect(out).toContain(line);
  }
});

test('docs/api.md is what TypeDoc generates from lib/index.ts', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { spawnSync } = require('node:child_process');
  const run = spawnSync(process.execPath, ['scripts/gen-api-doc.js', '--check'], { cwd: REPO, encoding: 'utf8' });
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
}, 60_000);

test('the Versions table of docs/gpudirect.md is what scripts/gen-versions-doc.js renders from lib/plan/stack.ts', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { render, START, END } = require('../scripts/gen-versions-doc.js');
  const doc = read('docs/gpudirect.md');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  expect(doc.slice(doc.indexOf(START), doc.indexOf(END) + END.length)).toBe(render(require('../lib/plan/stack')));
});
