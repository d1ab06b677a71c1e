import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { droppedFacts } from '../lib/libvirt/kept';
import { loadDomainXml } from '../lib/load/load';
import { inspectDomain } from '../lib';
import { GPUDIRECT_ANNOTATION } from '../lib/kubevirt/hook';
import { HOOK_VERSIONS, shimOnDefineDomain } from './helpers/fake-sidecar-shim';
import { KVM, LIBVIRT, needs } from './helpers/needs';
import { REPO } from './helpers/paths';

// The onDefineDomain entry point, run by a stand-in for KubeVirt's sidecar-shim exactly as the shim runs
// it (helpers/fake-sidecar-shim.ts), on virt-launcher-shaped input (kubevirt/README.md cites the sources).
const data = (f: string) => path.join(REPO, '__tests__', 'kubevirt', f);
const vmi = JSON.parse(fs.readFileSync(data('vmi.json'), 'utf8'));
const domain = fs.readFileSync(data('domain.xml'), 'utf8');

let searchPath: string;
let dir: string;

beforeAll(() => {
  if (!fs.existsSync(path.join(REPO, 'dist', 'kubevirt', 'main.js'))) throw new Error('dist/ is missing: run npm run build');
  // The image links the bin as /usr/bin/onDefineDomain; here a temp dir on PATH holds the link.
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lp-kubevirt-'));
  fs.symlinkSync(path.join(REPO, 'bin', 'onDefineDomain.js'), path.join(dir, 'onDefineDomain'));
  searchPath = [dir, path.dirname(process.execPath), '/usr/bin', '/bin'].join(path.delimiter);
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const withAnnotation = (value: string | undefined) => {
  const copy = JSON.parse(JSON.stringify(vmi));
  if (value === undefined) delete copy.metadata.annotations[GPUDIRECT_ANNOTATION];
  else copy.metadata.annotations[GPUDIRECT_ANNOTATION] = value;
  return JSON.stringify(copy);
};

describe.each(HOOK_VERSIONS)('sidecar-shim --version %s', (version) => {
  test('the annotated GPUs get their clique; stdout is the domain and nothing else; nothing of KubeVirt\'s is lost', () => {
    const out = shimOnDefineDomain(version, JSON.stringify(vmi), domain, searchPath);
    expect(out.argv).toEqual(['--vmi', JSON.stringify(vmi), '--domain', domain]);
    expect(out.error).toBeUndefined();
    expect(out.log).toEqual([]);
    expect(out.domain).toBe(fs.readFileSync(data('expected.xml'), 'utf8'));
    loadDomainXml(out.domain); // well-formed, a <domain> and only that
    expect(inspectDomain(out.domain!).gpudirect).toEqual({
      'ua-gpu-gpu1': expect.objectContaining({ clique: 0, via: 'override', capabilityOffset: '0xd4', architecture: 'hopper' }),
      'ua-gpu-gpu2': expect.objectContaining({ clique: 0, via: 'override', capabilityOffset: '0xd4', architecture: 'hopper' }),
    });
    expect(droppedFacts(domain, out.domain!)).toEqual([]);
  });

  test.each([
    ['no annotation: the domain comes back byte for byte', undefined, 0, /^$/],
    ['raw aliases and per-GPU architecture', '{"gpus": {"ua-gpu-gpu1": {"clique": 1, "architecture": "ampere"}, "gpu2": 2}, "architecture": "hopper", "target": {"libvirt": "11.3.0", "qemu": "10.0.0"}}', 0, /^$/],
    ['no target: written for a current stack, with warnings', '{"gpus": {"gpu1": 0, "gpu2": 0}, "architecture": "hopper"}', 0, /^onDefineDomain: warning: GPUDirect is planned without target.libvirt.*\nonDefineDomain: warning: Turing-or-later GPUs are planned for GPUDirect without target.qemu/],
    ['a GPU the domain does not have', '{"gpus": {"gpu1": 0, "gpu3": 0}, "architecture": "hopper"}', 1, /^onDefineDomain: HOSTDEV_MISSING: .*"gpu3".*ua-gpu-gpu3 or ua-hostdevice-gpu3/],
    ['a vGPU or misspelt raw alias', '{"gpus": {"ua-gpu-gpu9": 0}, "architecture": "hopper"}', 1, /HOSTDEV_MISSING: .*alias ua-gpu-gpu9 \(PCI hostdev aliases: ua-gpu-gpu1, ua-gpu-gpu2, ua-hostdevice-ib0\)/],
    ['no architecture', '{"gpus": {"gpu1": 0}}', 1, /GPU_ARCHITECTURE_UNKNOWN: .*add "architecture"/],
    ['not JSON', '{gpus: 0}', 1, /PLAN_INVALID: The VMI annotation libvirt-passthrough.io\/gpudirect is not JSON/],
    ['an unknown key', '{"gpus": {"gpu1": 0}, "clique": 0}', 1, /PLAN_INVALID: .*unknown key "clique"/],
    ['a clique out of range', '{"gpus": {"gpu1": 16}, "architecture": "hopper"}', 1, /PLAN_INVALID: .*clique/],
    ['Turing on the old QEMU of the target', '{"gpus": {"gpu1": 0}, "architecture": "turing", "target": {"qemu": "7.2.0", "libvirt": "9.0.0"}}', 1, /QEMU_TOO_OLD/],
  ])('%s', (_name, annotation, exit, stderr) => {
    const out = shimOnDefineDomain(version, withAnnotation(annotation), domain, searchPath);
    expect(out.log.join('\n')).toMatch(stderr);
    if (exit === 0) {
      expect(out.error).toBeUndefined();
      if (annotation === undefined) expect(out.domain).toBe(domain);
      else expect(Object.keys(inspectDomain(out.domain!).gpudirect).sort()).toEqual(['ua-gpu-gpu1', 'ua-gpu-gpu2']);
    } else {
      expect(out.error).toBe(`exit status ${exit}`);
      expect(out.domain).toBeUndefined();
    }
  });
});

test('usage: both arguments are required, and nothing reaches stdout', () => {
  const bin = path.join(REPO, 'bin', 'onDefineDomain.js');
  for (const args of [['--vmi', '{}'], ['--vmi', '{}', '--domain', domain, 'extra'], ['--version', 'v1alpha2']]) {
    let status = 0;
    let stdout = '';
    try {
      stdout = execFileSync(process.execPath, [bin, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      status = (err as { status: number }).status;
      stdout = (err as { stdout: string }).stdout;
    }
    expect([args, status, stdout]).toEqual([args, 2, '']);
  }
});

needs(LIBVIRT, KVM).test('real libvirt (embedded driver) defines the hook output and keeps every hostdev, alias and clique override', () => {
  const out = shimOnDefineDomain('v1alpha3', JSON.stringify(vmi), domain, searchPath);
  const root = path.join(dir, 'libvirt');
  const virsh = (...args: string[]) =>
    execFileSync(path.join(REPO, '__tests__', 'helpers', 'virsh-embedded.sh'), ['-c', `qemu:///embed?root=${root}`, ...args], {
      encoding: 'utf8',
      env: { ...process.env, LP_EMBED_ROOT: root },
    });
  const file = path.join(dir, 'hook-output.xml');
  fs.writeFileSync(file, out.domain!);
  virsh('define', file);
  expect(droppedFacts(out.domain!, virsh('dumpxml', '--inactive', 'mynamespace_testvmi'))).toEqual([]);
});
