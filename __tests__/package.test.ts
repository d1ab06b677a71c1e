import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO } from './helpers/paths';

// The packed tarball, as users get it: what it contains, and that both module systems can load it.
jest.setTimeout(180_000);
const npm = (args: string[], cwd: string) => execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

test('npm pack ships the library, CLI, schema, LICENSE and docs, and no tests, fixtures or dev tooling', () => {
  const [pack] = JSON.parse(npm(['pack', '--dry-run', '--json', '--ignore-scripts'], REPO));
  const files: string[] = pack.files.map((f: { path: string }) => f.path);
  expect(files).toEqual(expect.arrayContaining(['dist/index.js', 'dist/index.mjs', 'dist/index.d.ts', 'dist/index.d.mts', 'bin/libvirt-passthrough.js', 'schemas/plan.schema.json', 'README.md', 'CHANGELOG.md', 'LICENSE']));
  expect(files.filter((f) => /__tests__|examples\/|bench\/|scripts\/|dist-conformance|conformance\/|\.map$|\.ts$(?<!\.d\.ts)/.test(f) && !f.endsWith('.d.mts'))).toEqual([]);
  // package.json says MIT; the text travels with it.
  expect(fs.readFileSync(path.join(REPO, 'LICENSE'), 'utf8')).toMatch(/^MIT License\n/);
  // The README's links into docs/ work wherever the package is installed.
  const docLinks = [...fs.readFileSync(path.join(REPO, 'README.md'), 'utf8').matchAll(/\]\((docs\/[^)#]+)/g)].map((m) => m[1]);
  expect(docLinks.length).toBeGreaterThan(5);
  expect(docLinks.filter((link) => !files.includes(link))).toEqual([]);
});

test('the package builds on pack, not on install: no lifecycle script a consumer would be asked to allow', () => {
  const { scripts } = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8'));
  expect(scripts.prepack).toBe('npm run build');
  // npm runs these when the package is installed as a dependency (prepare also from git).
  expect(Object.keys(scripts).filter((s) => ['preinstall', 'install', 'postinstall', 'prepare'].includes(s))).toEqual([]);
});

describe('the tarball in fresh projects', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lp-pack-'));
  let tarball: string;
  beforeAll(() => {
    const [pack] = JSON.parse(npm(['pack', '--json', '--ignore-scripts', '--pack-destination', dir], REPO));
    tarball = path.join(dir, pack.filename);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const names: Record<string, string[]> = {};

  test.each([
    ['module', 'index.mjs', "import { transformDomain, PassthroughError } from 'libvirt-passthrough';\nimport * as lp from 'libvirt-passthrough';"],
    ['commonjs', 'index.cjs', "const { transformDomain, PassthroughError } = require('libvirt-passthrough');\nconst lp = require('libvirt-passthrough');"],
  ])('a %s project loads it', (type, file, header) => {
    const project = path.join(dir, type);
    fs.mkdirSync(project);
    fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: `consumer-${type}`, private: true, type }));
    // Without --ignore-scripts: npm 11 warns about every install script it was not told to allow.
    const install = spawnSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], { cwd: project, encoding: 'utf8' });
    expect(install.status).toBe(0);
    expect(install.stderr).not.toMatch(/libvirt-passthrough.*(prepare|install)/);
    const domain = fs.readFileSync(path.join(REPO, 'examples', 'domain.xml'), 'utf8');
    fs.writeFileSync(path.join(project, 'domain.xml'), domain);
    fs.writeFileSync(
      path.join(project, file),
      `${header}
const fs = ${type === 'module' ? "await import('node:fs')" : "require('node:fs')"};
const out = transformDomain(fs.readFileSync('domain.xml', 'utf8'), { hostdevs: [{ address: '1b:00.0' }] });
let code = 'none';
try { transformDomain('<x/>', { hostdevs: [] }); } catch (e) { code = e instanceof PassthroughError ? e.code : 'wrong class'; }
const names = ${type === 'module' ? "Object.keys(await import('libvirt-passthrough'))" : "Object.keys(require('libvirt-passthrough')).filter((n) => n !== '__esModule')"};
console.log(JSON.stringify({ added: out.includes("bus='0x1b'"), code, same: lp.transformDomain === transformDomain, names: names.sort() }));
`,
    );
    const result = JSON.parse(execFileSync(process.execPath, [file], { cwd: project, encoding: 'utf8' }));
    expect(result).toMatchObject({ added: true, code: 'NOT_A_DOMAIN', same: true });
    names[type] = result.names;
    // What a consumer script needed (issue 15): the AMD-aware parameter list and the capture reader.
    expect(result.names).toEqual(expect.arrayContaining(['recommendedParameters', 'kernelParameters', 'readHostCapture']));
    const cli = execFileSync(path.join(project, 'node_modules', '.bin', 'libvirt-passthrough'), ['hostdev', '1b:00.0'], { encoding: 'utf8' });
    expect(cli).toMatch(/^<hostdev mode='subsystem'/);
  });

  test('the ES module exports exactly the CommonJS names: no stray default', () => {
    expect(names.module).toEqual(names.commonjs);
    expect(names.module).not.toContain('default');
  });
});
