import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO } from './helpers/paths';

// The packed tarball, as users get it: what it contains, and that both module systems can load it.
jest.setTimeout(180_000);
const npm = (args: string[], cwd: string) => execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

test('npm pack ships the library, CLI, schema and docs, and no tests, fixtures or dev tooling', () => {
  const [pack] = JSON.parse(npm(['pack', '--dry-run', '--json', '--ignore-scripts'], REPO));
  const files: string[] = pack.files.map((f: { path: string }) => f.path);
  expect(files).toEqual(expect.arrayContaining(['dist/index.js', 'dist/index.mjs', 'dist/index.d.ts', 'dist/index.d.mts', 'bin/libvirt-passthrough.js', 'schemas/plan.schema.json', 'README.md', 'CHANGELOG.md']));
  expect(files.filter((f) => /__tests__|examples\/|bench\/|scripts\/|dist\/conformance|\.map$|\.ts$(?<!\.d\.ts)/.test(f) && !f.endsWith('.d.mts'))).toEqual([]);
});

describe('the tarball in fresh projects', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lp-pack-'));
  let tarball: string;
  beforeAll(() => {
    const [pack] = JSON.parse(npm(['pack', '--json', '--ignore-scripts', '--pack-destination', dir], REPO));
    tarball = path.join(dir, pack.filename);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test.each([
    ['module', 'index.mjs', "import { transformDomain, PassthroughError } from 'libvirt-passthrough';\nimport lp from 'libvirt-passthrough';"],
    ['commonjs', 'index.cjs', "const { transformDomain, PassthroughError } = require('libvirt-passthrough');\nconst lp = require('libvirt-passthrough');"],
  ])('a %s project loads it', (type, file, header) => {
    const project = path.join(dir, type);
    fs.mkdirSync(project);
    fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: `consumer-${type}`, private: true, type }));
    npm(['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', tarball], project);
    const domain = fs.readFileSync(path.join(REPO, 'examples', 'domain.xml'), 'utf8');
    fs.writeFileSync(path.join(project, 'domain.xml'), domain);
    fs.writeFileSync(
      path.join(project, file),
      `${header}
const fs = ${type === 'module' ? "await import('node:fs')" : "require('node:fs')"};
const out = transformDomain(fs.readFileSync('domain.xml', 'utf8'), { hostdevs: [{ address: '1b:00.0' }] });
let code = 'none';
try { transformDomain('<x/>', { hostdevs: [] }); } catch (e) { code = e instanceof PassthroughError ? e.code : 'wrong class'; }
console.log(JSON.stringify({ added: out.includes("bus='0x1b'"), code, same: lp.transformDomain === transformDomain }));
`,
    );
    const result = JSON.parse(execFileSync(process.execPath, [file], { cwd: project, encoding: 'utf8' }));
    expect(result).toEqual({ added: true, code: 'NOT_A_DOMAIN', same: true });
    const cli = execFileSync(path.join(project, 'node_modules', '.bin', 'libvirt-passthrough'), ['hostdev', '1b:00.0'], { encoding: 'utf8' });
    expect(cli).toMatch(/^<hostdev mode='subsystem'/);
  });
});
