import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { shimOnDefineDomain } from './helpers/fake-sidecar-shim';
import { needs, root } from './helpers/needs';
import { REPO } from './helpers/paths';

// The hook image of examples/kubevirt/Containerfile, without a container runtime: its file tree is laid out by the
// same install-hook.sh from the `npm pack` tarball (with this machine's node in place of CentOS's), and the fake
// sidecar-shim runs it from PATH as KubeVirt does. The ConfigMap form (a key mounted at hookPath
// /usr/bin/onDefineDomain with subPath: configMapVolumeMount in pkg/virt-controller/services/template.go) is a bind mount in a private mount namespace: root only.
const IMAGE = path.join(REPO, 'examples', 'kubevirt');
const data = (f: string) => fs.readFileSync(path.join(REPO, '__tests__', 'kubevirt', f), 'utf8');
const vmi = data('vmi.json');
const domain = data('domain.xml');
const expected = data('expected.xml');

let dir: string;
let tarball: string;

/** A fresh image tree under dir/NAME, as the Containerfile's hook stage leaves /out. */
function layOut(name: string): { root: string; searchPath: string } {
  const root = path.join(dir, name);
  execFileSync('sh', [path.join(IMAGE, 'install-hook.sh'), root, tarball, process.execPath], { stdio: 'pipe' });
  // The image's PATH (/usr/bin before /bin), with the tree's /usr/bin in place of the image's.
  return { root, searchPath: [path.join(root, 'usr', 'bin'), '/usr/bin', '/bin'].join(path.delimiter) };
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lp-hook-image-'));
  fs.chmodSync(dir, 0o755);
  const [pack] = JSON.parse(execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], { cwd: REPO, encoding: 'utf8' }));
  tarball = path.join(dir, pack.filename);
});

afterAll(() => dir && fs.rmSync(dir, { recursive: true, force: true }));

test('the Containerfile builds from the packed tarball and runs install-hook.sh with the files it copies', () => {
  const containerfile = fs.readFileSync(path.join(IMAGE, 'Containerfile'), 'utf8');
  const copied = /^COPY (libvirt-passthrough-\$\{VERSION\}\.tgz) (.+) \/tmp\/hook\/$/m.exec(containerfile);
  expect(copied?.[2].split(' ')).toEqual(['install-hook.sh', 'onDefineDomain']);
  for (const f of copied![2].split(' ')) expect(fs.existsSync(path.join(IMAGE, f))).toBe(true);
  const version = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')).version;
  expect(containerfile).toContain(`ARG VERSION=${version}`);
  expect(path.basename(tarball)).toBe(`libvirt-passthrough-${version}.tgz`);
  expect(containerfile).toMatch(/^RUN sh \/tmp\/hook\/install-hook\.sh \/out \/tmp\/hook\/libvirt-passthrough-\$\{VERSION\}\.tgz \/usr\/bin\/node$/m);
  expect(containerfile).toMatch(/^FROM quay\.io\/kubevirt\/sidecar-shim:\$\{KUBEVIRT_VERSION\}$/m);
});

test('the tree: the package as packed, node beside it, and onDefineDomain on PATH as a regular file', () => {
  const { root } = layOut('tree');
  const lib = path.join(root, 'usr', 'lib', 'libvirt-passthrough');
  const packed = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).trim().split('\n').map((f) => f.replace(/^package\//, ''));
  for (const f of packed) expect([f, fs.existsSync(path.join(lib, f))]).toEqual([f, true]);
  const launcher = fs.lstatSync(path.join(root, 'usr', 'bin', 'onDefineDomain'));
  expect(launcher.isFile()).toBe(true); // never a link: a ConfigMap mounted here would land on its target
  expect(launcher.mode & 0o777).toBe(0o755);
  expect(fs.statSync(path.join(lib, 'node', 'bin', 'node')).mode & 0o111).toBe(0o111);
});

test('the sidecar-shim finds onDefineDomain on PATH and gets the domain with its cliques', () => {
  const { searchPath } = layOut('run');
  const out = shimOnDefineDomain('v1alpha3', vmi, domain, searchPath);
  expect(out.error).toBeUndefined();
  expect(out.log).toEqual([]);
  expect(out.domain).toBe(expected);
  const bare = JSON.parse(vmi);
  delete bare.metadata.annotations['libvirt-passthrough.io/gpudirect'];
  expect(shimOnDefineDomain('v1alpha2', JSON.stringify(bare), domain, searchPath).domain).toBe(domain);
});

describe('the ConfigMap form: a script mounted at hookPath /usr/bin/onDefineDomain', () => {
  const asRoot = needs(root('to bind-mount the ConfigMap script in a private mount namespace'));
  const recipe = path.join(IMAGE, 'configmap', 'onDefineDomain');
  /** Runs the hook with `script` bind-mounted over ROOT/usr/bin/onDefineDomain, as the kubelet mounts the key. */
  const mounted = (root: string, script: string) => ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', 'mount --bind "$1" "$2" && shift 2 && exec "$@"', 'sh', script, path.join(root, 'usr', 'bin', 'onDefineDomain')];
  /** The layout docs/integrations.md showed before: /usr/bin/onDefineDomain a link to the package's entry point. */
  const linkedLayout = (name: string) => {
    const image = layOut(name);
    const bin = path.join(image.root, 'usr', 'bin', 'onDefineDomain');
    fs.rmSync(bin);
    fs.symlinkSync('../lib/libvirt-passthrough/bin/onDefineDomain.js', bin);
    return image;
  };
  const script = (name: string, text: string) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, text, { mode: 0o755 });
    return file;
  };

  asRoot.test('the recipe logs its line and hands over to the package: the domain with its cliques', () => {
    const { root, searchPath } = layOut('configmap');
    const out = shimOnDefineDomain('v1alpha3', vmi, domain, searchPath, { inside: mounted(root, recipe), timeoutMs: 20_000 });
    expect(out.error).toBeUndefined();
    expect(out.log).toEqual([`onDefineDomain: ConfigMap hook in ${os.hostname()}`]);
    expect(out.domain).toBe(expected);
  });

  asRoot.test('the layout with a link: the old recipe starts itself until killed; the recipe stops at once and says why', () => {
    const { root, searchPath } = linkedLayout('linked');
    const entry = path.join(root, 'usr', 'lib', 'libvirt-passthrough', 'bin', 'onDefineDomain.js');
    const oldRecipe = script('old-recipe', `#!/bin/sh\necho "gpudirect hook for $(hostname)" >&2\nexec ${entry} "$@"\n`);
    const looping = shimOnDefineDomain('v1alpha3', vmi, domain, searchPath, { inside: mounted(root, oldRecipe), timeoutMs: 1500 });
    expect(looping.error).toMatch(/ETIMEDOUT/);
    expect(looping.log.length).toBeGreaterThan(20); // one line per start
    const out = shimOnDefineDomain('v1alpha3', vmi, domain, searchPath, { inside: mounted(root, recipe), timeoutMs: 20_000 });
    expect(out.error).toBe('exit status 1');
    expect(out.log).toEqual([expect.stringMatching(/^onDefineDomain: the ConfigMap mount at .*\/usr\/bin\/onDefineDomain replaced the package's entry point .*; use the image from examples\/kubevirt\/Containerfile/)]);
  });

  asRoot.test('a recipe edited to hand over to hookPath itself stops on its second start and says why', () => {
    const { root, searchPath } = layOut('self');
    const self = script('self-recipe', fs.readFileSync(recipe, 'utf8').replace(/^LD_LIBRARY_PATH=.*$/m, 'exec /bin/sh "$0" "$@"'));
    const out = shimOnDefineDomain('v1alpha3', vmi, domain, searchPath, { inside: mounted(root, self), timeoutMs: 20_000 });
    expect(out.error).toBe('exit status 1');
    expect(out.log).toEqual([
      `onDefineDomain: ConfigMap hook in ${os.hostname()}`,
      expect.stringMatching(/^onDefineDomain: the ConfigMap script .*\/usr\/bin\/onDefineDomain started itself again \(first as .*\/usr\/bin\/onDefineDomain\)/),
    ]);
  });

  test('the recipe is plain sh (the image has bash as /bin/sh; dash is stricter)', () => {
    expect(spawnSync('sh', ['-n', recipe]).status).toBe(0);
    expect(spawnSync('sh', ['-n', path.join(IMAGE, 'onDefineDomain')]).status).toBe(0);
  });
});
