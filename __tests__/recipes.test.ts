import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO } from './helpers/paths';

// The integration recipes in examples/recipes, run as users run them. (The KubeVirt hook is no longer a
// recipe: bin/onDefineDomain.js, tested against the sidecar-shim contract in kubevirt.test.ts; `apply`
// against real libvirt in apply.test.ts.)
const recipe = (name: string) => path.join(REPO, 'examples', 'recipes', name);
const example = (name: string) => path.join(REPO, 'examples', name);
const domain = fs.readFileSync(example('domain.xml'), 'utf8');

test('orchestrate.js: a dry run, then applyPlan for each VM — and nothing to do the second time', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lp-recipe-'));
  fs.writeFileSync(path.join(dir, 'vm1.xml'), domain.replace('<name>vm-name</name>', '<name>vm1</name>')); // apply checks the dump names the domain asked for
  // A stand-in for virsh (argv: COMMAND ARGS, no --connect without VIRSH_URI; the domain last, after --domain;
  // definitions on standard input): a folder of definitions.
  const fakeVirsh = path.join(dir, 'virsh');
  fs.writeFileSync(
    fakeVirsh,
    `#!/bin/sh\nfor vm; do :; done\nf="${dir}/$vm.xml"\ncase "$1" in\n  uri) echo 'test:///fake' ;;\n  version) printf 'Using library: libvirt 9.0.0\\nRunning hypervisor: QEMU 7.2.0\\nRunning against daemon: 9.0.0\\n' ;;\n` +
      `  domuuid) [ -f "$f" ] || { echo "error: failed to get domain '$vm'" >&2; exit 1; }; sed -n 's/.*<uuid>\\(.*\\)<\\/uuid>.*/\\1/p' "$f" ;;\n  dumpxml) cat "$f" ;;\n` +
      `  domstate) echo 'shut off' ;;\n  domxml-to-native) cat >/dev/null ;;\n  define) cat > "${dir}/vm1.xml" ;;\n  *) exit 3 ;;\nesac\n`,
    { mode: 0o755 },
  );
  const run = () => spawnSync(process.execPath, [recipe('orchestrate.js'), example('2gpu-k80.plan.json'), 'vm1', 'vm2'], { encoding: 'utf8', env: { ...process.env, VIRSH: fakeVirsh } });
  const first = run();
  expect(first.status).toBe(1);
  expect(first.stdout).toBe('vm1: 32 changed lines; applying\nvm1: defined with hostdev 0000:04:00.0 (ua-gpu0), hostdev 0000:05:00.0 (ua-gpu1), clique 0 on ua-gpu0, clique 0 on ua-gpu1\n');
  expect(first.stderr).toBe("vm2: LIBVIRT_REFUSED: virsh domuuid failed: failed to get domain 'vm2'\n");
  expect(fs.readFileSync(path.join(dir, 'vm1.xml'), 'utf8')).toContain("name='x-nv-gpudirect-clique'");
  expect(run().stdout).toBe('vm1: already configured: nothing to define\n');
  fs.rmSync(dir, { recursive: true });
});
