import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassthroughError, checkHost, cliquesFromTopology, explainPlanFromHost, planFromHost, readHostCapture, readHostSnapshot, transformDomain } from '../lib';
import { REPO } from './helpers/paths';
import { BRIDGE, FakeDevice, GPU, GUIDE_CMDLINE, NIC, NPU, makeSysfs } from './helpers/sysfs';

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
