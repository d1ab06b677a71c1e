import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { droppedFacts } from '../lib/libvirt/kept';
import * as load from '../lib/load/load';
import { loadDomainXml } from '../lib/load/load';
import { inspectDomain } from '../lib';
import { GPUDIRECT_ANNOTATION, onDefineDomain } from '../lib/kubevirt/hook';
import { runOnDefineDomain } from '../lib/kubevirt/main';
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
    ['no target: written for a current stack, with warnings', '{"gpus": {"gpu1": 0, "gpu2": 0}, "architecture": "hopper"}', 0, /^onDefineDomain: warning: GPUDirect is asked for without target.libvirt.*Give target.libvirt in the annotation.*\nonDefineDomain: warning: Turing-or-later GPUs are asked for GPUDirect without target.qemu/],
    ['a GPU the VMI does not list', '{"gpus": {"gpu1": 0, "gpu3": 0}, "architecture": "hopper"}', 1, /^onDefineDomain: HOSTDEV_MISSING: .*"gpu3" \(at gpus.gpu3\), but the VMI lists no device of that name .* \(its GPUs: gpu1, gpu2\); did you mean "gpu1"\?$/],
    ['a misspelt raw alias', '{"gpus": {"ua-gpu-gpu9": 0}, "architecture": "hopper"}', 1, /HOSTDEV_MISSING: .*"ua-gpu-gpu9" \(at gpus.ua-gpu-gpu9\), but the VMI lists no device of that name/],
    ['no architecture', '{"gpus": {"gpu1": 0}}', 1, /GPU_ARCHITECTURE_UNKNOWN: .*\(at gpus.gpu1\): add "architecture"/],
    ['not JSON', '{gpus: 0}', 1, /PLAN_INVALID: The annotation libvirt-passthrough.io\/gpudirect is not JSON: Expected property name or '}' at line 1, column 2 \(near "gpus: 0}"\)\.$/],
    ['an unknown key', '{"gpus": {"gpu1": 0}, "clique": 0}', 1, /PLAN_INVALID: .*unknown key "clique" \(known: gpus, architecture, target\) \(at clique\)/],
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

describe('the edges of the annotation (issue 22): refused with the annotation\'s words and JSON path, never a silent no-op', () => {
  type VmiEdit = (vmi: { metadata: { annotations: Record<string, string> }; spec: { domain: { devices: Record<string, { name: string; deviceName?: string }[]> } } }) => void;
  const edited = (annotation: string | undefined, edit: VmiEdit = () => undefined) => {
    const copy = JSON.parse(withAnnotation(annotation));
    edit(copy);
    return JSON.stringify(copy);
  };
  const TURING_ON_OLD_QEMU = '"architecture": "turing", "target": {"qemu": "7.2.0", "libvirt": "9.0.0"}';
  test.each<[string, string | undefined, VmiEdit | undefined, number, RegExp]>([
    ['a misspelt annotation key', undefined, (v) => (v.metadata.annotations['libvirt-passthrough.io/gpu-direct'] = '{"gpus": {"gpu1": 0}}'), 1,
      /^onDefineDomain: PLAN_INVALID: The VMI annotation "libvirt-passthrough.io\/gpu-direct" is not one this hook knows; did you mean libvirt-passthrough.io\/gpudirect\? /],
    ['another key of ours', '{"gpus": {"gpu1": 0}, "architecture": "hopper"}', (v) => (v.metadata.annotations['libvirt-passthrough.io/layout'] = '{}'), 1,
      /PLAN_INVALID: The VMI annotation "libvirt-passthrough.io\/layout" is not one this hook knows \(known: libvirt-passthrough.io\/gpudirect\)/],
    ['a misspelt prefix', undefined, (v) => (v.metadata.annotations['libvirt-pasthrough.io/gpudirect'] = '{"gpus": {"gpu1": 0}}'), 1, /did you mean libvirt-passthrough.io\/gpudirect\?/],
    ['a Mellanox NIC the VMI lists under hostDevices', '{"gpus": {"gpu1": 0, "ib0": 0}, "architecture": "hopper"}', undefined, 1,
      /^onDefineDomain: GPUDIRECT_UNSUPPORTED_DEVICE: The annotation libvirt-passthrough.io\/gpudirect names "ib0" \(at gpus.ib0\), which the VMI lists under spec.domain.devices.hostDevices as mellanox.com\/MT28908_CONNECTX6: not an NVIDIA GPU\./],
    ['the same NIC by its raw alias', '{"gpus": {"ua-hostdevice-ib0": 0}, "architecture": "hopper"}', undefined, 1, /GPUDIRECT_UNSUPPORTED_DEVICE: .*"ua-hostdevice-ib0" \(at gpus.ua-hostdevice-ib0\)/],
    ['an NVSwitch listed under gpus', '{"gpus": {"gpu1": 0, "gpu2": 0}, "architecture": "hopper"}', (v) => (v.spec.domain.devices.gpus[1].deviceName = 'nvidia.com/GH100_H100_NVSwitch'), 1,
      /GPUDIRECT_UNSUPPORTED_DEVICE: .*"gpu2" \(at gpus.gpu2\), which the VMI lists under spec.domain.devices.gpus as nvidia.com\/GH100_H100_NVSwitch: not an NVIDIA GPU/],
    ['a GPU\'s audio function, as the device plugin names it', '{"gpus": {"gpu1": 0, "gpu2": 0}, "architecture": "hopper"}', (v) => (v.spec.domain.devices.gpus[1].deviceName = 'nvidia.com/TU116_HIGH_DEFINITION_AUDIO_CONTROLLER'), 1,
      /GPUDIRECT_UNSUPPORTED_DEVICE: .*"gpu2" \(at gpus.gpu2\), which the VMI lists under spec.domain.devices.gpus as nvidia.com\/TU116_HIGH_DEFINITION_AUDIO_CONTROLLER: not an NVIDIA GPU/],
    ['a vGPU: a GPU by the spec, but no PCI hostdev', '{"gpus": {"vgpu1": 0}, "architecture": "turing"}', (v) => v.spec.domain.devices.gpus.push({ name: 'vgpu1', deviceName: 'nvidia.com/GRID_T4-16Q' }), 1,
      /HOSTDEV_MISSING: .*"vgpu1" \(at gpus.vgpu1\), which the VMI lists under spec.domain.devices.gpus as nvidia.com\/GRID_T4-16Q, but the domain has no PCI hostdev with its alias .* A vGPU/],
    ['Turing on an old QEMU: the fix names the annotation\'s "offset"', `{"gpus": {"gpu1": 0}, ${TURING_ON_OLD_QEMU}}`, undefined, 1,
      /^onDefineDomain: QEMU_TOO_OLD: QEMU 7.2.0 always puts .* the annotation expects D4h for GPU "gpu1" \(0000:3b:00.0\), .* give "offset": "0xc8" to that GPU in the annotation \({"clique": N, "offset": "0xc8"}\)\. .* \(at gpus.gpu1 in the annotation\)\.$/],
    ['... and the annotation takes that "offset"', `{"gpus": {"gpu1": {"clique": 0, "offset": "0xc8"}}, ${TURING_ON_OLD_QEMU}}`, undefined, 0, /^$/],
    ['an offset that is neither', '{"gpus": {"gpu1": {"clique": 0, "offset": "0xd0"}}, "architecture": "hopper"}', undefined, 1, /PLAN_INVALID: .*"offset" must be "0xc8" or "0xd4" .*not "0xd0" \(at gpus.gpu1.offset\)/],
    ['a misspelt key of a GPU', '{"gpus": {"gpu1": {"clique": 0, "ofset": "0xc8"}}, "architecture": "hopper"}', undefined, 1, /PLAN_INVALID: .*unknown key "ofset"; did you mean "offset"\? \(at gpus.gpu1.ofset\)/],
    ['a misspelt architecture', '{"gpus": {"gpu1": 0}, "architecture": "hoper"}', undefined, 1, /GPU_ARCHITECTURE_UNKNOWN: .* gives architecture "hoper" at architecture, .*; did you mean "hopper"\?/],
    ['a clique out of range', '{"gpus": {"gpu1": 16}, "architecture": "hopper"}', undefined, 1, /PLAN_INVALID: .*needs a clique: a whole number from 0 to 15, not "16" \(at gpus.gpu1\)/],
    ['a target the transform refuses', '{"gpus": {"gpu1": 0}, "architecture": "hopper", "target": {"qemu": "seven"}}', undefined, 1, /PLAN_INVALID: The annotation libvirt-passthrough.io\/gpudirect is invalid: target\.qemu has the wrong form \(a version like 9\.0\.0\) \(at target.qemu in the annotation\)\.$/],
    ['JSON errors keep their position (line 3, column 3: the trailing comma)', '{\n  "gpus": {"gpu1": 0},\n  }', undefined, 1, /not JSON: Expected double-quoted property name \(JSON allows no comma before }\) at line 3, column 3 \(near "}"\)\.$/],
    ['JSON errors V8 gives no position for', '{"gpus": {"gpu1": x}}', undefined, 1, /not JSON: Unexpected token 'x' at line 1, column 19 \(near "x}}"\)\.$/],
  ])('%s', (_name, annotation, edit, exit, stderr) => {
    const out = shimOnDefineDomain('v1alpha3', edited(annotation, edit), domain, searchPath);
    const log = out.log.join('\n');
    expect(log).toMatch(stderr);
    expect(log.replace(/^onDefineDomain: PLAN_INVALID: /gm, '')).not.toMatch(/\bplan/i); // the user wrote an annotation, not a plan
    expect(out.error).toBe(exit === 0 ? undefined : `exit status ${exit}`);
  });

  test('--help prints the usage on stdout, exit 0', () => {
    const run = spawnSync(process.execPath, [path.join(REPO, 'bin', 'onDefineDomain.js'), '--help'], { encoding: 'utf8' });
    expect([run.status, run.stderr]).toEqual([0, '']);
    expect(run.stdout).toMatch(/^Usage: onDefineDomain --vmi VMI_JSON --domain DOMAIN_XML\n/);
  });
});

describe('every value the hook echoes is clipped and printable (issue 21 item 8): a 100,000-character name with a newline and ESC', () => {
  const HUGE = `${'n'.repeat(100_000)}\n\u001b[31mFORGED`;
  const LONG = 'g'.repeat(100_000); // for names that must also be an XML alias (no control characters there)
  type Vmi = { metadata: { annotations: Record<string, string> }; spec: { domain: { devices: Record<string, { name: string; deviceName?: string }[]> } } };
  const vmiWith = (annotation: unknown, edit: (v: Vmi) => void = () => undefined) => {
    const copy = JSON.parse(withAnnotation(typeof annotation === 'string' ? annotation : JSON.stringify(annotation)));
    edit(copy);
    return JSON.stringify(copy);
  };
  const gpu1 = (extra: object) => ({ gpus: { gpu1: { clique: 0, ...extra } }, architecture: 'hopper' });
  const withAlias = (alias: string) => domain.replace("<alias name='ua-gpu-gpu2'/>", `<alias name='${alias}'/>`).replace('<alias name="ua-gpu-gpu2"></alias>', `<alias name="${alias}"></alias>`);
  test.each<[string, string[], number, RegExp]>([
    ['an unknown key of ours', ['--vmi', vmiWith({ gpus: { gpu1: 0 } }, (v) => (v.metadata.annotations[`libvirt-passthrough.io/${HUGE}`] = '{}')), '--domain', domain], 1, /PLAN_INVALID: The VMI annotation "libvirt-passthrough.io\/n+…"/],
    ['a GPU the VMI does not list', ['--vmi', vmiWith({ gpus: { [HUGE]: 0 }, architecture: 'hopper' }), '--domain', domain], 1, /HOSTDEV_MISSING: .*GPU "n+…" \(at gpus\["n+…"\]\)/],
    ['a device that is not a GPU', ['--vmi', vmiWith({ gpus: { [HUGE]: 0 }, architecture: 'hopper' }, (v) => v.spec.domain.devices.hostDevices.push({ name: HUGE, deviceName: `mellanox.com/${HUGE}` })), '--domain', domain], 1, /GPUDIRECT_UNSUPPORTED_DEVICE: .*as mellanox.com\/n+…: not an NVIDIA GPU/],
    ['a GPU without a hostdev', ['--vmi', vmiWith({ gpus: { [HUGE]: 0 }, architecture: 'hopper' }, (v) => v.spec.domain.devices.gpus.push({ name: HUGE, deviceName: `nvidia.com/${HUGE}` })), '--domain', domain], 1, /HOSTDEV_MISSING: .*but the domain has no PCI hostdev/],
    ['a GPU without architecture', ['--vmi', vmiWith({ gpus: { [LONG]: 0 } }, (v) => v.spec.domain.devices.gpus.push({ name: LONG, deviceName: 'nvidia.com/GH100' })), '--domain', withAlias(`ua-gpu-${LONG}`)], 1, /GPU_ARCHITECTURE_UNKNOWN: .*GPU "g+…"/],
    ['a GPU two hostdevs match', ['--vmi', vmiWith({ gpus: { [LONG]: 0 }, architecture: 'hopper' }, (v) => v.spec.domain.devices.gpus.push({ name: LONG, deviceName: 'nvidia.com/GH100' })), '--domain', withAlias(`ua-gpu-${LONG}`).replace("<alias name='ua-gpu-gpu1'/>", `<alias name='ua-hostdevice-${LONG}'/>`).replace('<alias name="ua-gpu-gpu1"></alias>', `<alias name="ua-hostdevice-${LONG}"></alias>`)], 1, /HOSTDEV_CONFLICT: .*matches ua-(gpu|hostdevice)-g+…/],
    ['an unknown key', ['--vmi', vmiWith({ gpus: { gpu1: 0 }, [HUGE]: 1 }), '--domain', domain], 1, /PLAN_INVALID: .*unknown key "n+…"/],
    ['an unknown key of a GPU', ['--vmi', vmiWith(gpu1({ [HUGE]: 1 })), '--domain', domain], 1, /PLAN_INVALID: .*unknown key "n+…"/],
    ['an architecture', ['--vmi', vmiWith({ gpus: { gpu1: 0 }, architecture: HUGE }), '--domain', domain], 1, /GPU_ARCHITECTURE_UNKNOWN: .*architecture "n+…"/],
    ['an offset', ['--vmi', vmiWith(gpu1({ offset: HUGE })), '--domain', domain], 1, /PLAN_INVALID: .*not "n+…"/],
    ['a clique', ['--vmi', vmiWith({ gpus: { gpu1: HUGE }, architecture: 'hopper' }), '--domain', domain], 1, /PLAN_INVALID: .*must be a clique number/],
    ['a target the transform reads', ['--vmi', vmiWith({ gpus: { gpu1: 0 }, architecture: 'hopper', target: { qemu: HUGE } }), '--domain', domain], 1, /PLAN_INVALID: .*target\.qemu/],
    ['an annotation that is not JSON', ['--vmi', vmiWith(`{"gpus": ${HUGE}}`), '--domain', domain], 1, /PLAN_INVALID: .*is not JSON: .* \(near "n+…"\)/],
    ['a VMI that is not JSON', ['--vmi', `{"metadata": ${HUGE}}`, '--domain', domain], 1, /INPUT_INVALID: --vmi is not JSON/],
    ['a domain that is not XML', ['--vmi', vmiWith({ gpus: { gpu1: 0 }, architecture: 'hopper' }), '--domain', `<domain><${HUGE}`], 1, /XML_MALFORMED/],
    ['an unknown option', [`--${HUGE}`], 2, /^onDefineDomain: Unknown option '--n+…/],
  ])('%s', (_name, argv, exit, first) => {
    let [stdout, stderr] = ['', ''];
    const status = runOnDefineDomain(argv, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
    expect([status, stdout]).toEqual([exit, '']);
    const line = exit === 1 ? stderr : stderr.split('\n')[0] + '\n'; // a usage error adds the usage text
    expect(line).toMatch(first);
    expect(line).toMatch(/^onDefineDomain: [^\n]*\n$/);
    expect(line).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]|FORGED/);
    expect(line.length).toBeLessThan(1200);
  });

  test('through the shim, the refusal is one short log line', () => {
    const out = shimOnDefineDomain('v1alpha3', vmiWith({ gpus: { [HUGE]: 0 }, architecture: 'hopper' }), domain, searchPath);
    expect(out.error).toBe('exit status 1');
    expect(out.log).toHaveLength(1);
    expect(out.log[0].length).toBeLessThan(600);
  });
});

test('the hook parses the domain once (issue 20): its hostdevs and the transform come from one read', () => {
  const spy = jest.spyOn(load, 'loadDomainXml');
  try {
    expect(inspectDomain(onDefineDomain(JSON.stringify(vmi), domain).xml).gpudirect).toHaveProperty('ua-gpu-gpu1');
    expect(spy).toHaveBeenCalledTimes(2); // the hook's one read, then inspectDomain's here
  } finally {
    spy.mockRestore();
  }
});
