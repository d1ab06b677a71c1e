import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as os from 'node:os';
import { REPO } from './helpers/paths';
import { TURING_CAPS, VOLTA_CAPS, gpuConfig, lspciText, p2pCap } from './helpers/config-space';
import { GPU, GUIDE_CMDLINE, NIC, makeSysfs } from './helpers/sysfs';

// Drives the real binary (built by `npm ci`/`npm run build`) the way users run it.
const BIN = path.join(REPO, 'bin', 'libvirt-passthrough.js');
const example = (f: string) => path.join(REPO, 'examples', f);
// GPUDirect transforms are checked against given versions, never this machine's (stack-detect.test.ts tests detection).
const STACK = ['--libvirt', '11.3.0', '--qemu', '10.0.0'];

function cli(args: string[], input?: string) {
  const run = spawnSync(process.execPath, [BIN, ...args], { input, encoding: 'utf8', cwd: REPO });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

beforeAll(() => {
  if (!fs.existsSync(path.join(REPO, 'dist', 'cli', 'main.js'))) throw new Error('dist/ is missing: run npm run build');
});

test.each([
  ['transform from a file', ['transform', '--plan', example('2gpu-k80.plan.json'), example('domain.xml'), ...STACK], undefined, 0, /x-nv-gpudirect-clique/],
  ['transform from stdin', ['transform', '--plan', example('npu.plan.json')], fs.readFileSync(example('domain.xml'), 'utf8'), 0, /bus='0x1b'/],
  ['hostdev snippet', ['hostdev', '1b:00.0'], undefined, 0, /^<hostdev mode='subsystem' type='pci' managed='yes'>/],
  ['inspect', ['inspect', example('domain.xml')], undefined, 0, /pc-q35-7.2 \(q35\)/],
  ['--help', ['--help'], undefined, 0, /Commands:/],
  ['command help', ['transform', '--help'], undefined, 0, /Example:/],
])('%s', (_name, args, input, code, out) => {
  const r = cli(args as string[], input as string | undefined);
  // GPUDirect plans say which libvirt/QEMU versions they were checked against.
  expect(r.stderr.replace(/^target: libvirt 11\.3\.0 \(from --libvirt\), QEMU 10\.0\.0 \(from --qemu\)\n/, '')).toBe('');
  expect(r.code).toBe(code);
  expect(r.stdout).toMatch(out as RegExp);
});

test.each([
  ['bad XML → 1 with code and position', ['transform', '--plan', example('npu.plan.json')], '<domain>\n<os>\n</domain>', 1, /<stdin>:3:1: XML_MALFORMED: /],
  ['non-q35 → 1', ['transform', '--plan', example('npu.plan.json')], "<domain><os><type machine='pc'>hvm</type></os></domain>", 1, /MACHINE_NOT_Q35/],
  ['bad address → 2 (usage)', ['hostdev', '1b:20.0'], undefined, 2, /'1b:20.0' is not a PCI address: PCI slot 32 is out of range/],
  ['missing --plan → 2', ['transform', example('domain.xml')], undefined, 2, /needs --plan/],
  ['unknown option → 2', ['inspect', '--bogus'], undefined, 2, /Unknown option/],
  ['unknown command → 2', ['frobnicate'], undefined, 2, /unknown command/],
  ['invalid UTF-8 → 1', ['inspect'], Buffer.from([0x3c, 0x64, 0xff, 0x3e]) as unknown as string, 1, /not valid UTF-8/],
  ['remove that matches nothing → 1', ['remove', '--alias', 'gpu9', example('domain.xml')], undefined, 1, /remove: REMOVE_NOT_FOUND: Not in the domain, so nothing was removed: alias ua-gpu9/],
  ['remove with nothing recorded and no selection → 1', ['remove', example('domain.xml')], undefined, 1, /REMOVE_NOT_FOUND: Nothing to remove/],
])('%s', (_name, args, input, code, err) => {
  const r = cli(args as string[], input as string | undefined);
  expect(r.code).toBe(code);
  expect(r.stdout).toBe('');
  expect(r.stderr).toMatch(err as RegExp);
});

test('remove undoes transform through the binary', () => {
  const plan = example('2gpu-k80.plan.json');
  const transformed = cli(['transform', '--plan', plan, example('domain.xml'), ...STACK]).stdout;
  const removed = cli(['remove', '--plan', plan], transformed);
  expect(removed.code).toBe(0);
  expect(removed.stdout).toBe(fs.readFileSync(example('domain.xml'), 'utf8'));
  expect(cli(['remove', '--alias', 'gpu1'], transformed).stdout).not.toContain('ua-gpu1');
});

test('the README example command prints the transformed example', () => {
  const r = cli(['transform', '--plan', example('2gpu-k80.plan.json'), example('domain.xml'), ...STACK]);
  expect(r.stdout.match(/<hostdev /g)).toHaveLength(2);
});

describe('predict and verify-guest', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lp-cli-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, data: string | Uint8Array) => {
    fs.writeFileSync(path.join(dir, name), data);
    return path.join(dir, name);
  };

  test('predict reads lspci text and raw sysfs bytes; exit 1 when QEMU would refuse', () => {
    const turing = gpuConfig(TURING_CAPS, { device: 0x2330 });
    const old = cli(['predict', '--config', write('h100.txt', lspciText('3b:00.0', '3D controller: NVIDIA GH100', turing)), '--qemu', '7.2.0']);
    expect(old.code).toBe(1);
    expect(old.stdout).toMatch(/will refuse to start/);
    const recent = cli(['predict', '--config', write('h100.bin', turing), '--qemu', '8.2.0', '--architecture', 'hopper', '--json']);
    expect(recent.code).toBe(0);
    expect(JSON.parse(recent.stdout)).toMatchObject({ offset: '0xd4', recommended: '0xd4', agrees: true });
  });

  test('verify-guest checks a guest dump against the domain metadata', () => {
    const domainFile = write('vm.xml', cli(['transform', '--plan', example('2gpu-k80.plan.json'), example('domain.xml'), ...STACK]).stdout);
    const gpu = (bus: string, clique: number) => lspciText(`${bus}:00.0`, '3D controller: NVIDIA Corporation GK210GL [Tesla K80]', gpuConfig([...VOLTA_CAPS, p2pCap(0xc8, clique)], { device: 0x102d }));
    const good = cli(['verify-guest', '--domain', domainFile, '--lspci', write('good.txt', gpu('06', 0) + gpu('07', 0))]);
    expect(good.code).toBe(0);
    expect(good.stdout).toMatch(/reached the guest as planned/);
    const bad = cli(['verify-guest', '--domain', domainFile, '--lspci', write('bad.txt', gpu('06', 0) + gpu('07', 3)), '--json']);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout).problems.join()).toMatch(/clique 0: expected 2 GPUs, found 1/);
  });
});

describe('host commands on a captured tree', () => {
  const root = makeSysfs({
    cmdline: GUIDE_CMDLINE,
    devices: [
      { path: ['pci0000:00', '0000:00:02.0', '0000:3b:00.0'], vendor: 0x10de, device: 0x20b0, classCode: GPU, numa: 0, group: '3', driver: 'vfio-pci' },
      { path: ['pci0000:80', '0000:80:02.0', '0000:af:00.0'], vendor: 0x10de, device: 0x20b0, classCode: GPU, numa: 1, group: '4' },
      { path: ['pci0000:80', '0000:80:02.0', '0000:af:00.1'], vendor: 0x15b3, device: 0x1017, classCode: NIC, numa: 1, group: '4' },
    ],
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  test('host plan: GPUs on two sockets get two cliques and the plan transforms', () => {
    const r = cli(['host', 'plan', '--gpus', 'all', '--sysfs', root, '--qemu', '10.0.0']);
    expect(r.code).toBe(0);
    const plan = JSON.parse(r.stdout);
    expect(plan.hostdevs.map((h: { gpudirect: { clique: number } }) => h.gpudirect.clique)).toEqual([0, 1]);
    expect(r.stderr).toMatch(/SYS/);
  });

  test('host check: exit 1 for a GPU sharing its group with a NIC, 0 for one alone; capture round-trips', () => {
    expect(cli(['host', 'check', '--devices', '3b:00.0', '--sysfs', root]).code).toBe(0);
    const shared = cli(['host', 'check', '--devices', 'af:00.0', '--sysfs', root]);
    expect(shared.code).toBe(1);
    expect(shared.stdout).toMatch(/shares IOMMU group 4 with 0000:af:00.1/);
    const tar = path.join(os.tmpdir(), `lp-capture-${process.pid}.tar`);
    expect(cli(['host', 'capture', tar, '--sysfs', root]).code).toBe(0);
    const fromTar = cli(['host', 'check', '--devices', 'af:00.0', '--sysfs', tar, '--json']);
    fs.rmSync(tar);
    expect(JSON.parse(fromTar.stdout)).toEqual(JSON.parse(cli(['host', 'check', '--devices', 'af:00.0', '--sysfs', root, '--json']).stdout));
  });
});

test('--in-place rewrites the file atomically, keeps a .bak unless --no-backup, and leaves it alone on error', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lp-inplace-'));
  const file = path.join(dir, 'vm.xml');
  const original = fs.readFileSync(example('domain.xml'), 'utf8');
  fs.writeFileSync(file, original);
  expect(cli(['transform', '--plan', example('npu.plan.json'), file, '--in-place']).code).toBe(0);
  expect(fs.readFileSync(`${file}.bak`, 'utf8')).toBe(original);
  expect(fs.readFileSync(file, 'utf8')).toContain("bus='0x1b'");
  expect(cli(['remove', '--plan', example('npu.plan.json'), file, '--in-place', '--no-backup']).code).toBe(0);
  expect(fs.readFileSync(file, 'utf8')).toBe(original);
  fs.writeFileSync(file, original.replace("machine='pc-q35-7.2'", "machine='pc'"));
  const refused = cli(['transform', '--plan', example('npu.plan.json'), file, '--in-place', '--no-backup']);
  expect(refused.code).toBe(1);
  expect(fs.readFileSync(file, 'utf8')).toContain("machine='pc'");
  expect(fs.readdirSync(dir).sort()).toEqual(['vm.xml', 'vm.xml.bak']);
  fs.rmSync(dir, { recursive: true });
});
