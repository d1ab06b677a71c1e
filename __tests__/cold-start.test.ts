import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { REPO } from './helpers/paths';

// What a CLI command loads decides its cold start (measured by bench/cold-start.js, not here): ajv must
// not be loaded at run time, and a command must not load the modules of the others.
function modulesLoadedBy(args: string[]): string[] {
  const script = `
    const main = require(${JSON.stringify(path.join(REPO, 'dist', 'cli', 'main.js'))});
    const io = { stdout() {}, stderr() {}, readStdin() {}, readFile: (p) => require('fs').readFileSync(p) };
    const status = main.runCli(${JSON.stringify(args)}, io);
    process.stdout.write(JSON.stringify({ status, modules: Object.keys(require.cache) }));`;
  const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  const { status, modules } = JSON.parse(run.stdout) as { status: number; modules: string[] };
  expect(status).toBe(0);
  return modules.map((m) => path.relative(REPO, m));
}

const plan = path.join(REPO, 'examples', '2gpu-k80.plan.json');
const domain = path.join(REPO, 'examples', 'domain.xml');

test.each([
  ['transform', ['transform', '--plan', plan, domain], ['dist/transform.js', 'dist/plan/plan-shape.generated.js', 'dist/cli/transform-command.js']],
  ['hostdev', ['hostdev', '1b:00.0'], ['dist/snippet.js', 'dist/cli/hostdev-command.js']],
  ['inspect', ['inspect', domain], ['dist/inspect.js', 'dist/cli/inspect-command.js']],
])('%s loads what it needs, no ajv and no other command', (name, args, needed) => {
  const loaded = modulesLoadedBy(args);
  expect(loaded).toEqual(expect.arrayContaining(needed));
  const otherCommand = (m: string) => /^dist\/cli\/[a-z-]+-commands?\.js$/.test(m) && m !== `dist/cli/${name}-command.js`;
  const unexpected = loaded.filter((m) => /node_modules\/ajv\//.test(m) || otherCommand(m) || /dist\/(libvirt\/|kubevirt\/|host\/|remove\.js)/.test(m));
  expect(unexpected).toEqual([]);
});
