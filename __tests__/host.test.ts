import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassthroughError, checkHost, cliquesFromTopology, explainPlanFromHost, planFromHost, readHostCapture, readHostSnapshot, transformDomain } from '../lib';
import * as os from 'node:os';
import { REPO } from './helpers/paths';
import { TURING_CAPS, VOLTA_CAPS, gpuConfig } from './helpers/config-space';
import { BRIDGE, FakeDevice, GPU, GUIDE_CMDLINE, NIC, NPU, makeSysfs } from './helpers/sysfs';
import { runHost } from '../lib/cli/host-commands';
import { CliIo } from '../lib/cli/io';
import { runCli } from '../lib/cli/main';
import { ToolRunner } from '../lib/cli/stack-detect';
import { unpackCapture, withoutSerialNumber } from '../lib/host/capture';
import { Plan } from '../lib/plan/types';

const fixture = (f: string) => fs.readFileSync(path.join(REPO, '__tests__', 'host-fixtures', f), 'utf8');
const roots: string[] = [];
afterAll(() => roots.forEach((r) => fs.rmSync(r, { recursive: true, force: true })));
const host = (...args: Parameters<typeof makeSysfs>) => {
  const root = makeSysfs(...args);
  roots.push(root);
  return root;
};

const gpu = (path: string[], numa: number, extra: Partial<FakeDevice> = {}): FakeDevice => ({ path, vendor: 0x10de, device: 0x102d, classCode: GPU, numa, ...extra });

/** The spec's 4+4 example: two K80s (four GPUs) on root ports of each of two sockets. */
const dualSocket = (): FakeDevice[] => [
  ...['01', '02', '03'].map((p) => ({ path: ['pci0000:00', `0000:00:${p}.0`], vendor: 0x8086, device: 0x6f08, classCode: BRIDGE, numa: 0 })),
  gpu(['pci0000:00', '0000:00:02.0', '0000:04:00.0'], 0),
  gpu(['pci0000:00', '0000:00:02.0', '0000:05:00.0'], 0),
  gpu(['pci0000:00', '0000:00:03.0', '0000:08:00.0'], 0),
  gpu(['pci0000:00', '0000:00:03.0', '0000:09:00.0'], 0),
  gpu(['pci0000:80', '0000:80:02.0', '0000:84:00.0'], 1),
  gpu(['pci0000:80', '0000:80:02.0', '0000:85:00.0'], 1),
  gpu(['pci0000:80', '0000:80:03.0', '0000:88:00.0'], 1),
  gpu(['pci0000:80', '0000:80:03.0', '0000:89:00.0'], 1),
];

describe('cliques from sysfs', () => {
  test('dual socket 4+4 → cliques 0 and 1, by socket', () => {
    const { cliques, reasons } = cliquesFromTopology({ sysfs: host({ devices: dualSocket() }) });
    expect(cliques).toEqual({
      '0000:04:00.0': 0, '0000:05:00.0': 0, '0000:08:00.0': 0, '0000:09:00.0': 0,
      '0000:84:00.0': 1, '0000:85:00.0': 1, '0000:88:00.0': 1, '0000:89:00.0': 1,
    });
    expect(reasons.join('\n')).toMatch(/0000:84:00.0: clique 1 \(not clique 0: on different CPU sockets \(SYS\) with 0000:04:00.0\)/);
  });

  test('policy switch: only GPUs under one switch share a clique', () => {
    const { cliques } = cliquesFromTopology({ sysfs: host({ devices: dualSocket() }), policy: 'switch' });
    expect(new Set(Object.values(cliques)).size).toBe(4);
  });

  test('8-GPU NVSwitch box → one clique', () => {
    const devices = [0, 1, 2, 3, 4, 5, 6, 7].map((i) =>
      gpu([`pci0000:${(i * 0x20).toString(16).padStart(2, '0')}`, `0000:${(i * 0x20 + 1).toString(16).padStart(2, '0')}:00.0`], i < 4 ? 0 : 1, { device: 0x2330 }),
    );
    devices.push({ path: ['pci0000:f0', '0000:f1:00.0'], vendor: 0x10de, device: 0x22a3, classCode: 0x068000, numa: 1 });
    const { cliques } = cliquesFromTopology({ sysfs: host({ devices }) });
    expect(new Set(Object.values(cliques))).toEqual(new Set([0]));
    expect(Object.keys(cliques)).toHaveLength(8);
  });

  test('more than 16 cliques is refused', () => {
    const devices = Array.from({ length: 17 }, (_, i) => gpu([`pci0000:${(i * 8).toString(16).padStart(2, '0')}`, `0000:${(i * 8 + 1).toString(16).padStart(2, '0')}:00.0`], i));
    expect(() => cliquesFromTopology({ sysfs: host({ devices }) })).toThrow(PassthroughError);
  });
});

describe('cliques from nvidia-smi topo -m', () => {
  test('the Kubernetes 8-GPU two-socket matrix → two cliques of four, keyed by bus ID', () => {
    const { cliques } = cliquesFromTopology({ topo: fixture('k8s-8gpu-2socket.topo.txt'), busIds: fixture('k8s-8gpu-2socket.busids.csv') });
    expect(cliques).toEqual({
      '0000:04:00.0': 0, '0000:05:00.0': 0, '0000:08:00.0': 0, '0000:09:00.0': 0,
      '0000:84:00.0': 1, '0000:85:00.0': 1, '0000:88:00.0': 1, '0000:89:00.0': 1,
    });
  });

  test('without bus IDs the keys are the matrix names; host-bridge policy splits nothing more here', () => {
    const { cliques } = cliquesFromTopology({ topo: fixture('k8s-8gpu-2socket.topo.txt'), policy: 'host-bridge' });
    expect(cliques.GPU0).toBe(0);
    expect(cliques.GPU7).toBe(1);
    expect(cliquesFromTopology({ topo: fixture('k8s-8gpu-2socket.topo.txt'), policy: 'switch' }).cliques.GPU2).toBe(1);
  });

  test('16 GPUs behind NVSwitch → one clique', () => {
    const { cliques } = cliquesFromTopology({ topo: fixture('dgx2-16gpu-nvswitch.topo.txt') });
    expect(Object.keys(cliques)).toHaveLength(16);
    expect(new Set(Object.values(cliques))).toEqual(new Set([0]));
  });

  test('text that is not a matrix is refused', () => {
    expect(() => cliquesFromTopology({ topo: 'No devices were found' })).toThrow(/GPU0/);
  });
});

describe('checkHost against the NPU guide', () => {
  const npu: FakeDevice = { path: ['pci0000:00', '0000:00:01.0', '0000:1b:00.0'], vendor: 0x1eff, device: 0x1220, classCode: NPU, numa: 0, driver: 'rebellions' };

  test('a host set up as the guide says: only info findings', () => {
    const findings = checkHost(readHostSnapshot(host({ devices: [npu], cmdline: GUIDE_CMDLINE })), ['1b:00.0']);
    expect(findings.filter((f) => f.level !== 'info')).toEqual([]);
    expect(findings.map((f) => f.what).join()).toMatch(/bound to rebellions/);
  });

  test('IOMMU off is an error with the grub line', () => {
    const findings = checkHost(readHostSnapshot(host({ devices: [npu], iommu: false, cmdline: GUIDE_CMDLINE })));
    expect(findings).toContainEqual(expect.objectContaining({ level: 'error', what: expect.stringMatching(/IOMMU is not active/) }));
  });

  test('each missing recommended parameter is named; AMD gets amd_iommu=on', () => {
    const findings = checkHost(readHostSnapshot(host({ devices: [npu], cmdline: 'ro iommu=pt pci=noats', cpuVendor: 'AuthenticAMD' })));
    const missing = findings.filter((f) => f.level === 'warning').map((f) => f.what);
    expect(missing).toEqual([
      'kernel parameter transparent_hugepage=madvise is missing',
      'kernel parameter pcie_aspm=force is missing',
      'kernel parameter pci=pcie_bus_perf is missing',
      'kernel parameter pci=bfsort is missing',
      'kernel parameter amd_iommu=on is missing',
      'kernel parameter iommu.strict=1 is missing',
    ]);
    expect(findings.find((f) => f.level === 'warning')!.fix).toMatch(/GRUB_CMDLINE_LINUX/);
  });

  // Documentation/admin-guide/kernel-parameters.txt: "pci=option[,option...]", and intel_iommu= /
  // amd_iommu= / iommu= take comma lists (e.g. intel_iommu=on,sm_on); each occurrence counts.
  test.each([
    ['comma lists', 'GenuineIntel', 'ro transparent_hugepage=madvise pcie_aspm=force pci=pcie_bus_perf,bfsort,noats iommu=pt intel_iommu=on,sm_on iommu.strict=1', []],
    ['comma list and a separate pci=', 'GenuineIntel', 'transparent_hugepage=madvise pcie_aspm=force pci=pcie_bus_perf,noats pci=bfsort iommu=pt intel_iommu=sm_on,on iommu.strict=1', []],
    ['a value only inside a longer one does not count', 'GenuineIntel', 'transparent_hugepage=madvise pcie_aspm=force pci=pcie_bus_perf_x,bfsort,noats iommu=pt intel_iommu=onx iommu.strict=1', ['kernel parameter pci=pcie_bus_perf is missing', 'kernel parameter intel_iommu=on is missing']],
    ['intel_iommu= on AMD', 'AuthenticAMD', 'transparent_hugepage=madvise pcie_aspm=force pci=pcie_bus_perf,bfsort,noats iommu=pt intel_iommu=on iommu.strict=1', ['kernel parameter amd_iommu=on is missing', 'kernel parameter intel_iommu= is set, but the CPU is AMD']],
    ['amd_iommu= on Intel', 'GenuineIntel', 'transparent_hugepage=madvise pcie_aspm=force pci=pcie_bus_perf,bfsort,noats iommu=pt intel_iommu=on amd_iommu=on iommu.strict=1', ['kernel parameter amd_iommu= is set, but the CPU is Intel']],
  ])('kernel parameters: %s', (_name, cpuVendor, cmdline, warnings) => {
    const findings = checkHost(readHostSnapshot(host({ devices: [npu], cmdline, cpuVendor })));
    expect(findings.filter((f) => f.level === 'warning').map((f) => f.what)).toEqual(warnings);
  });

  test('a GPU sharing its IOMMU group with a NIC is an error; a bridge in the group is not', () => {
    const devices: FakeDevice[] = [
      { path: ['pci0000:00', '0000:00:03.0'], vendor: 0x8086, device: 0x6f08, classCode: BRIDGE, group: '7' },
      gpu(['pci0000:00', '0000:00:03.0', '0000:3b:00.0'], 0, { group: '7', driver: 'vfio-pci' }),
      { path: ['pci0000:00', '0000:00:03.0', '0000:3b:00.1'], vendor: 0x15b3, device: 0x1017, classCode: NIC, group: '7', driver: 'mlx5_core' },
    ];
    const findings = checkHost(readHostSnapshot(host({ devices, cmdline: GUIDE_CMDLINE })), ['0000:3b:00.0']);
    expect(findings).toContainEqual(expect.objectContaining({ level: 'error', what: '0000:3b:00.0 shares IOMMU group 7 with 0000:3b:00.1' }));
    expect(findings.map((f) => f.what).join()).not.toMatch(/0000:00:03.0/);
  });
});

describe('planFromHost', () => {
  test.each([
    // BAR sizes from public captures: H100 128G (fastfetch#1658), A100 40GB 64G (kata-containers#4358), K40c 256M.
    ['8 x H100 (16M + 128G + 32M each)', 8, [16 * 2 ** 20, 128 * 2 ** 30, 32 * 2 ** 20], 2048],
    ['2 x A100 40GB (16M + 64G + 32M each)', 2, [16 * 2 ** 20, 64 * 2 ** 30, 32 * 2 ** 20], 256],
    ['4 x K40c (256M + 32M each): fits the default', 4, [256 * 2 ** 20, 32 * 2 ** 20], undefined],
  ])('large BARs: %s → mmio window %s GiB', (_name, count, bars, window) => {
    const devices = Array.from({ length: count as number }, (_, i) =>
      gpu(['pci0000:00', `0000:00:0${i + 1}.0`, `0000:${(0x10 + i).toString(16)}:00.0`], 0, { bars: bars as number[] }),
    );
    const { plan, reasons } = explainPlanFromHost(readHostSnapshot(host({ devices })), { gpus: 'all' });
    expect(plan.mmio?.window64GiB).toBe(window);
    expect(reasons.join('\n')).toMatch(/mmio: /);
  });

  test('workstation: two GPUs under one PLX switch share clique 0, the NPU has none, and the plan transforms', () => {
    const devices: FakeDevice[] = [
      gpu(['pci0000:00', '0000:00:01.0', '0000:01:00.0', '0000:02:08.0', '0000:03:00.0'], 0, { device: 0x1db4 }),
      gpu(['pci0000:00', '0000:00:01.0', '0000:01:00.0', '0000:02:10.0', '0000:04:00.0'], 0, { device: 0x1db4 }),
      { path: ['pci0000:00', '0000:00:1c.0', '0000:1b:00.0'], vendor: 0x1eff, device: 0x1220, classCode: NPU, numa: 0 },
    ];
    const snapshot = readHostSnapshot(host({ devices }));
    const { plan, reasons } = explainPlanFromHost(snapshot, { gpus: 'all', npus: 'all' });
    expect(plan.hostdevs).toEqual([
      { address: '0000:03:00.0', alias: 'gpu0', device: '10de:1db4', gpudirect: { clique: 0 } },
      { address: '0000:04:00.0', alias: 'gpu1', device: '10de:1db4', gpudirect: { clique: 0 } },
      { address: '0000:1b:00.0', alias: 'npu0', device: '1eff:1220' },
    ]);
    expect(reasons.join()).toMatch(/PIX/);
    const domain = fs.readFileSync(path.join(REPO, 'examples', 'domain.xml'), 'utf8');
    expect(transformDomain(domain, planFromHost(snapshot, { gpus: 'all', npus: 'all' }))).toContain("value='0'");
  });
});

test.each([
  ['a missing path', () => '/nonexistent/capture.tar', /Cannot read the capture \/nonexistent\/capture.tar \(ENOENT\)/],
  ['a file that is not a tar', () => {
    const root = host({ devices: [] });
    fs.writeFileSync(path.join(root, 'notes.txt'), 'hello\n');
    return path.join(root, 'notes.txt');
  }, /notes.txt is not a tar file from host capture/],
])('readHostCapture refuses %s with INPUT_INVALID', (_name, file, message) => {
  let caught: unknown;
  try {
    readHostCapture(file());
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(PassthroughError);
  expect(caught).toMatchObject({ code: 'INPUT_INVALID', message: expect.stringMatching(message) });
});

test('a huge unknown link label in nvidia-smi topo -m text is clipped in the message', () => {
  const label = 'Q'.repeat(100_000);
  let message = '';
  try {
    cliquesFromTopology({ topo: `\tGPU0\tGPU1\nGPU0\t X \t${label}\nGPU1\t${label}\t X\n` });
  } catch (err) {
    message = (err as Error).message;
  }
  expect(message).toMatch(/^Unknown link "Q+…" between GPU0 and GPU1/);
  expect(message.length).toBeLessThan(200);
});

/** The CLI with captured output; `runTool` stands in for the local tools version detection runs, and records each call. */
function cliIo(tools: Record<string, string> = {}) {
  const out = { stdout: '', stderr: '', ran: [] as string[] };
  const runTool: ToolRunner = (command, args) => {
    out.ran.push(`${command} ${args.join(' ')}`);
    return tools[`${command} ${args.join(' ')}`];
  };
  const io: CliIo = {
    stdout: (t) => void (out.stdout += t),
    stderr: (t) => void (out.stderr += t),
    readStdin: () => undefined,
    readFile: (file) => fs.readFileSync(file),
    runTool,
  };
  return { io, out };
}
const runCaptured = (args: string[], tools?: Record<string, string>) => {
  const { io, out } = cliIo(tools);
  return { code: runCli(args, io), ...out };
};
const tempFolder = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lp-hostcfg-'));
  roots.push(dir);
  return dir;
};

// Synthetic config spaces (helpers/config-space.ts): a T4-like card has MSI-X at C8h, so QEMU >= 8.1 moves the
// GPUDirect capability to D4h; on a consumer Turing card C8h is free and QEMU uses it.
const T4 = gpuConfig(TURING_CAPS, { device: 0x1eb8 });
const CONSUMER_TURING = gpuConfig(VOLTA_CAPS, { device: 0x1e93 });
const GPU_PATHS = [['pci0000:00', '0000:00:02.0', '0000:3b:00.0'], ['pci0000:00', '0000:00:02.0', '0000:3c:00.0']];
/** Two GPUs on one root port and a NIC with config space of its own. */
const gpuHost = (device: number, config: Uint8Array | undefined) =>
  host({
    devices: [
      ...GPU_PATHS.map((p) => gpu(p, 0, { device, config })),
      { path: ['pci0000:00', '0000:00:03.0', '0000:5e:00.0'], vendor: 0x15b3, device: 0x1017, classCode: NIC, numa: 0, config: new Uint8Array(256).fill(0x5a) },
    ],
  });

test('a live snapshot reads config space only for the NVIDIA GPUs (the only config it uses), as a capture stores it', () => {
  const snapshot = readHostSnapshot(gpuHost(0x1eb8, T4));
  expect(snapshot.devices.filter((d) => d.config).map((d) => d.vendor)).toEqual(GPU_PATHS.map(() => 0x10de));
  expect(snapshot.devices.find((d) => d.vendor === 0x15b3)?.config).toBeUndefined();
});

describe('host capture keeps each NVIDIA GPU\'s config space; host plan --qemu predicts from the tar as from the tree', () => {
  test.each([
    ['T4-like (MSI-X at C8h)', 0x1eb8, T4, '0xd4'],
    ['consumer Turing (C8h free)', 0x1e93, CONSUMER_TURING, '0xc8'],
  ] as const)('%s: the same offsets from the tar as from the tree', (_name, device, config, offset) => {
    const root = gpuHost(device, config);
    const tar = path.join(tempFolder(), 'host.tar');
    const capture = runCaptured(['host', 'capture', tar, '--sysfs', root]);
    expect(capture.code).toBe(0);
    expect(capture.stderr).not.toMatch(/warning/);
    const fromTar = runCaptured(['host', 'plan', '--gpus', 'all', '--qemu', '8.2.0', '--sysfs', tar]);
    const fromTree = runCaptured(['host', 'plan', '--gpus', 'all', '--qemu', '8.2.0', '--sysfs', root]);
    expect(fromTar.code).toBe(0);
    const plan = JSON.parse(fromTar.stdout) as Plan;
    expect(plan).toEqual(JSON.parse(fromTree.stdout));
    expect(plan.target).toEqual({ qemu: '8.2.0' });
    expect(plan.hostdevs.map((h) => h.gpudirect)).toEqual([{ clique: 0, offset }, { clique: 0, offset }]);
    expect(fromTar.stderr).toContain(`0000:3b:00.0: QEMU 8.2.0 puts the GPUDirect capability at ${offset}`);
    expect(fromTar.stderr).toBe(fromTree.stderr);
  });

  test('only the GPUs\' config is copied, whole, with the Device Serial Number zeroed', () => {
    // A PCIe config space (4 KiB) whose extended list holds AER at 100h, then the DSN (ID 0003h) at 140h.
    const config = gpuConfig(TURING_CAPS, { device: 0x1eb8, size: 4096 });
    config.set([0x01, 0x00, 0x02, 0x14], 0x100); // AER, version 2, next 140h
    config.set([0x03, 0x00, 0x01, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88], 0x140);
    const tar = path.join(tempFolder(), 'host.tar');
    expect(runCaptured(['host', 'capture', tar, '--sysfs', gpuHost(0x1eb8, config)]).code).toBe(0);
    const dir = unpackCapture(tar);
    roots.push(dir);
    const captured = (address: string) => {
      const file = path.join(dir, 'sys', 'bus', 'pci', 'devices', address, 'config');
      return fs.existsSync(file) ? Uint8Array.from(fs.readFileSync(file)) : undefined;
    };
    const expected = Uint8Array.from(config);
    expected.fill(0, 0x144, 0x14c);
    expect(captured('0000:3b:00.0')).toEqual(expected);
    expect(captured('0000:3c:00.0')).toEqual(expected);
    expect(captured('0000:5e:00.0')).toBeUndefined();
  });

  test.each([
    ['no extended capabilities (256 bytes): unchanged', (c: Uint8Array) => c, 256, []],
    ['DSN first in the list', (c: Uint8Array) => c.set([0x03, 0x00, 0x01, 0x00, 1, 2, 3, 4, 5, 6, 7, 8], 0x100), 4096, [[0x104, 0x10c]]],
    ['a list that points back at itself ends', (c: Uint8Array) => c.set([0x01, 0x00, 0x02, 0x10], 0x100), 4096, []],
    ['an all-ones list (no such device) is left alone', (c: Uint8Array) => c.fill(0xff, 0x100), 4096, []],
  ] as const)('withoutSerialNumber: %s', (_name, edit, size, zeroed) => {
    const config = gpuConfig(TURING_CAPS, { size });
    edit(config);
    const expected = Uint8Array.from(config);
    for (const [from, to] of zeroed) expected.fill(0, from, to);
    expect(withoutSerialNumber(config)).toEqual(expected);
  });

  test('a capture without config files (made before host capture copied them) still plans, keeping the spec\'s offset', () => {
    const tar = path.join(tempFolder(), 'old.tar');
    expect(runCaptured(['host', 'capture', tar, '--sysfs', gpuHost(0x1eb8, undefined)]).code).toBe(0);
    const r = runCaptured(['host', 'plan', '--gpus', 'all', '--qemu', '8.2.0', '--sysfs', tar]);
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as Plan).hostdevs.map((h) => h.gpudirect)).toEqual([{ clique: 0 }, { clique: 0 }]);
    expect(r.stderr).toMatch(/0000:3b:00.0: no config space in the snapshot \(older host captures did not copy it\)/);
  });

  test('a capture made without root (64-byte config) warns that it cannot predict the offset', () => {
    const tar = path.join(tempFolder(), 'user.tar');
    const r = runCaptured(['host', 'capture', tar, '--sysfs', gpuHost(0x1eb8, T4.subarray(0, 64))]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/warning: only the 64-byte header of 0000:3b:00.0, 0000:3c:00.0's config space could be read \(not root\?\)/);
  });
});

describe('host plan targets a QEMU: --qemu, else the live host\'s own, never this machine\'s for a capture', () => {
  const QEMU = (version: string) => ({ 'qemu-system-x86_64 --version': `QEMU emulator version ${version} (Debian)\nCopyright (c) 2003-2023 Fabrice Bellard and the QEMU Project developers\n` });
  test.each<[string, Record<string, unknown>, 'live' | 'capture', Record<string, string>, string, string | undefined, (string | undefined)[] | 'no clique', string[]]>([
    ['live host, QEMU 8.2.2 found', {}, 'live', QEMU('8.2.2'), 'target: QEMU 8.2.2 (from qemu-system-x86_64 --version)', '8.2.2', ['0xd4', '0xd4'], ['qemu-system-x86_64 --version']],
    ['live host, QEMU 7.2.22 found: the T4-like card gets no clique', {}, 'live', QEMU('7.2.22'), 'target: QEMU 7.2.22 (from qemu-system-x86_64 --version)', '7.2.22', 'no clique', ['qemu-system-x86_64 --version']],
    ['live host, --qemu wins and nothing runs', { qemu: '10.0.0' }, 'live', QEMU('7.2.22'), 'target: QEMU 10.0.0 (from --qemu)', '10.0.0', ['0xd4', '0xd4'], []],
    ['live host, --no-detect', { 'no-detect': true }, 'live', QEMU('8.2.2'), 'target: QEMU unknown (--no-detect; give --qemu VERSION)', undefined, [undefined, undefined], []],
    ['live host, no QEMU installed', {}, 'live', {}, 'target: QEMU unknown (qemu-system-x86_64 not found here; give --qemu VERSION)', undefined, [undefined, undefined], ['qemu-system-x86_64 --version']],
    ['a capture: this machine\'s QEMU is not asked', {}, 'capture', QEMU('8.2.2'), "target: QEMU unknown (not read from this machine: the capture's host may run another QEMU; give --qemu VERSION, its qemu-system-x86_64 --version)", undefined, [undefined, undefined], []],
    ['a capture with --qemu', { qemu: '8.2' }, 'capture', QEMU('7.2.22'), 'target: QEMU 8.2 (from --qemu)', '8.2.0', ['0xd4', '0xd4'], []],
  ])('%s', (_name, flags, source, tools, said, target, offsets, ran) => {
    const root = gpuHost(0x1eb8, T4);
    const { io, out } = cliIo(tools);
    const values = { gpus: 'all', ...flags, ...(source === 'capture' ? { sysfs: root } : {}) };
    expect(runHost(values, ['plan'], io, root)).toBe(0);
    const plan = JSON.parse(out.stdout) as Plan;
    expect(out.stderr.split('\n')[0]).toBe(said);
    expect(plan.target?.qemu).toBe(target);
    expect(plan.hostdevs.map((h) => h.gpudirect?.offset)).toEqual(offsets === 'no clique' ? [undefined, undefined] : offsets);
    if (offsets === 'no clique') expect(plan.hostdevs.map((h) => h.gpudirect)).toEqual([undefined, undefined]);
    expect(out.ran).toEqual(ran);
  });

  test('cliques from nvidia-smi topo -m replace only the topology reasons: the offset and MMIO reasons stay', () => {
    const root = gpuHost(0x1eb8, T4);
    const topo = path.join(tempFolder(), 'topo.txt');
    fs.writeFileSync(topo, '\tGPU0\tGPU1\nGPU0\t X \tPIX\nGPU1\tPIX\t X \n');
    const { io, out } = cliIo();
    expect(runHost({ gpus: 'all', qemu: '8.2.0', topo }, ['plan'], io, root)).toBe(0);
    expect(out.stderr).toMatch(/QEMU 8\.2\.0 puts the GPUDirect capability at 0xd4/);
    expect(out.stderr).toMatch(/64-bit|MMIO|window/i);
  });

  test('accelerators only: no QEMU is asked for, none recorded', () => {
    const root = host({ devices: [{ path: ['pci0000:00', '0000:00:01.0', '0000:1b:00.0'], vendor: 0x1eff, device: 0x1220, classCode: NPU, numa: 0 }] });
    const { io, out } = cliIo(QEMU('8.2.2'));
    expect(runHost({ npus: 'all' }, ['plan'], io, root)).toBe(0);
    expect(JSON.parse(out.stdout).target).toBeUndefined();
    expect(out.stderr).not.toMatch(/target:/);
    expect(out.ran).toEqual([]);
  });

  test('--no-detect is an option of host plan, and a bad --qemu is refused before anything is said', () => {
    const tar = path.join(tempFolder(), 'host.tar');
    expect(runCaptured(['host', 'capture', tar, '--sysfs', gpuHost(0x1eb8, T4)]).code).toBe(0);
    expect(runCaptured(['host', 'plan', '--gpus', 'all', '--sysfs', tar, '--no-detect']).code).toBe(0);
    const bad = runCaptured(['host', 'plan', '--gpus', 'all', '--sysfs', tar, '--qemu', 'seven']);
    expect(bad.code).toBe(2); // a malformed flag value is a usage error, as for transform --qemu (__tests__/versions.test.ts)
    expect(bad.stderr).toMatch(/^libvirt-passthrough host: --qemu: "seven" is not a QEMU version[^\n]*\n\nUsage:/);
  });

  test('transform checks against the QEMU the plan was made for, not the one where it runs', () => {
    const root = gpuHost(0x1e93, CONSUMER_TURING);
    const planned = cliIo(QEMU('7.2.22'));
    expect(runHost({ gpus: 'all' }, ['plan'], planned.io, root)).toBe(0);
    const planFile = path.join(tempFolder(), 'plan.json');
    fs.writeFileSync(planFile, planned.out.stdout);
    expect(JSON.parse(planned.out.stdout).hostdevs[0].gpudirect).toEqual({ clique: 0, offset: '0xc8' });
    const r = runCaptured(['transform', '--plan', planFile, path.join(REPO, 'examples', 'domain.xml')], { ...QEMU('10.0.0'), 'virsh --version': '9.0.0\n' });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^target: libvirt 9.0.0 \(from virsh --version\), QEMU 7.2.22 \(from the plan\)\n/);
    expect(r.stdout).toMatch(/x-nv-gpudirect-clique/);
  });
});

describe('host plan --layout and --nics', () => {
  const k80s = (numa: number[]) => dualSocket().filter((d) => numa.includes(d.numa ?? -1));
  const withNic = (): FakeDevice[] => [
    ...dualSocket(),
    { path: ['pci0000:80', '0000:80:01.0', '0000:81:00.0'], vendor: 0x15b3, device: 0x1017, classCode: NIC, numa: 1 },
    { path: ['pci0000:80', '0000:80:01.0', '0000:81:00.1'], vendor: 0x15b3, device: 0x1017, classCode: NIC, numa: 1 },
  ];

  test('--layout flat prints the plan of before, byte for byte', () => {
    const r = runCaptured(['host', 'plan', '--gpus', 'all', '--layout', 'flat', '--sysfs', host({ devices: dualSocket() })]);
    expect(r.code).toBe(0);
    const gpus = ['04', '05', '08', '09', '84', '85', '88', '89'].map((bus, i) => ({ address: `0000:${bus}:00.0`, alias: `gpu${i}`, device: '10de:102d', gpudirect: { clique: i < 4 ? 0 : 1 } }));
    expect(r.stdout).toBe(JSON.stringify({ hostdevs: gpus }, null, 2) + '\n');
    expect(r.stderr).toMatch(/^layout: flat \(--layout flat\)$/m);
  });

  test.each([
    ['two NUMA nodes: mirror by default', k80s([0, 1]), [], /^layout: mirror, as the devices span 2 NUMA nodes and 0 host switches/m, 'mirror'],
    ['one node, no switch: flat by default', k80s([0]), [], /^layout: flat, as the devices span 1 NUMA node and 0 host switches/m, undefined],
    ['--layout numa on one node', k80s([0]), ['--layout', 'numa'], /^layout: 1 expander bus and 4 ports \(host node 0 → guest cell 0\), guest buses 251-255$/m, 'numa'],
  ] as const)('%s', (_, devices, extra, reason, kind) => {
    const r = runCaptured(['host', 'plan', '--gpus', 'all', ...extra, '--sysfs', host({ devices: [...devices] })]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(reason);
    expect((JSON.parse(r.stdout) as Plan).layout?.kind).toBe(kind);
  });

  test('--nics with an address takes both ports of the card, aliased nic0 and nic1, in one guest slot', () => {
    const r = runCaptured(['host', 'plan', '--gpus', 'all', '--nics', '81:00.1', '--sysfs', host({ devices: withNic() })]);
    expect(r.code).toBe(0);
    const plan = JSON.parse(r.stdout) as Plan;
    const nics = plan.hostdevs.filter((h) => String(h.alias).startsWith('nic'));
    expect(nics.map((h) => [h.alias, h.address, h.device])).toEqual([['nic0', '0000:81:00.0', '15b3:1017'], ['nic1', '0000:81:00.1', '15b3:1017']]);
    const [a, b] = nics.map((h) => h.guestAddress as { bus: number; slot: number; function: number });
    expect([a.bus === b.bus, a.slot, b.slot, a.function, b.function]).toEqual([true, 0, 0, 0, 1]);
  });

  test.each([
    ['an unknown layout', ['--gpus', 'all', '--layout', 'tree'], 2, /unknown --layout 'tree': use flat, numa or mirror/],
    ['a NIC that is not on the host', ['--nics', '0000:99:00.0'], 1, /--nics: 0000:99:00.0 is not on this host/],
    ['a malformed NIC address', ['--nics', 'eth0'], 2, /--nics: 'eth0' is not a PCI address/],
  ] as const)('%s is refused in one line', (_, args, code, message) => {
    const r = runCaptured(['host', 'plan', ...args, '--sysfs', host({ devices: withNic() })]);
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
  });

  test('--nics all on a host without NICs says so; NICs alone make a plan', () => {
    const none = runCaptured(['host', 'plan', '--gpus', 'all', '--nics', 'all', '--sysfs', host({ devices: dualSocket() })]);
    expect(none.stderr).toMatch(/--nics all: no network functions found on this host/);
    const only = runCaptured(['host', 'plan', '--nics', 'all', '--sysfs', host({ devices: withNic() })]);
    expect(only.code).toBe(0);
    expect((JSON.parse(only.stdout) as Plan).hostdevs.map((h) => h.alias)).toEqual(['nic0', 'nic1']);
  });
});
