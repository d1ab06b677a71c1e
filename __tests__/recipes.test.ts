import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO } from './helpers/paths';

// The integration recipes in examples/recipes, run as users run them.
const recipe = (name: string) => path.join(REPO, 'examples', 'recipes', name);
const example = (name: string) => path.join(REPO, 'examples', name);
const domain = fs.readFileSync(example('domain.xml'), 'utf8');

test('orchestrate.js: dumpxml, transform, define — and nothing to do the second time', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lp-recipe-'));
  const defined = path.join(dir, 'defined.xml');
  fs.writeFileSync(path.join(dir, 'current.xml'), domain);
  // A stand-in for virsh: dumpxml prints the current definition, define replaces it.
  const fakeVirsh = path.join(dir, 'virsh');
  fs.writeFileSync(fakeVirsh, `#!/bin/sh\ncase "$1" in\n  dumpxml) cat "${dir}/current.xml" ;;\n  define) cp "$2" "${dir}/current.xml"; cp "$2" "${defined}" ;;\n  *) exit 3 ;;\nesac\n`, { mode: 0o755 });
  const run = () => spawnSync(process.execPath, [recipe('orchestrate.js'), 'vm1', example('2gpu-k80.plan.json')], { encoding: 'utf8', env: { ...process.env, VIRSH: fakeVirsh } });
  const first = run();
  expect(first.stderr).toBe('');
  expect(first.stdout).toMatch(/vm1: defined with hostdev-added ua-gpu0, hostdev-added ua-gpu1, namespace-added, clique-added ua-gpu0, clique-added ua-gpu1/);
  expect(fs.readFileSync(defined, 'utf8')).toContain("name='x-nv-gpudirect-clique'");
  expect(run().stdout).toMatch(/already configured/);
  fs.rmSync(dir, { recursive: true });
});

test('kubevirt-hook.js: domain on stdin, transformed domain on stdout; a refusal exits 1 with the code', () => {
  const env = { ...process.env, PASSTHROUGH_PLAN: example('npu.plan.json') };
  const ok = spawnSync(process.execPath, [recipe('kubevirt-hook.js')], { input: domain, encoding: 'utf8', env });
  expect(ok.status).toBe(0);
  expect(ok.stdout).toContain("bus='0x1b'");
  const bad = spawnSync(process.execPath, [recipe('kubevirt-hook.js')], { input: domain.replace('pc-q35-7.2', 'pc'), encoding: 'utf8', env });
  expect(bad.status).toBe(1);
  expect(bad.stdout).toBe('');
  expect(bad.stderr).toMatch(/^MACHINE_NOT_Q35: /);
});
