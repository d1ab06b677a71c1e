import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli } from '../lib/cli/main';
import { CliIo, processIo } from '../lib/cli/io';
import { runVerifyGuest } from '../lib/cli/gpudirect-commands';
import { runNcclTopo } from '../lib/cli/nccl-topo-command';
import type { PciTree } from '../lib/layout/types';
import { treeFromSysfs } from '../lib/nccl/sysfs-tree';
import { VOLTA_CAPS, gpuConfig, lspciText, p2pCap } from './helpers/config-space';
import { oracleFunctions, readFixture, topoElements, treeFromTopoFile } from './helpers/nccl-trees';
import { REPO } from './helpers/paths';
import { BRIDGE, GPU, makeSysfs } from './helpers/sysfs';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lp-nccl-cli-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const write = (name: string, data: string | Uint8Array) => {
  fs.writeFileSync(path.join(dir, name), data);
  return path.join(dir, name);
};

function run(fn: (io: CliIo) => number) {
  let stdout = '';
  let stderr = '';
  const io: CliIo = { ...processIo, stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) };
  return { code: fn(io), stdout, stderr };
}

const domainFile = () => {
  const out = run((io) => runCli(['transform', '--plan', path.join(REPO, 'examples', '2gpu-k80.plan.json'), path.join(REPO, 'examples', 'domain.xml')], io));
  return write('vm.xml', out.stdout);
};
const k80 = (bus: string, clique: number) => lspciText(`${bus}:00.0`, '3D controller: NVIDIA Corporation GK210GL [Tesla K80]', gpuConfig([...VOLTA_CAPS, p2pCap(0xc8, clique)], { device: 0x102d }));

test('verify-guest --json gives capability offsets as "0xc8" strings, as predict --json and the metadata do (issue 22)', () => {
  const r = run((io) => runCli(['verify-guest', '--domain', domainFile(), '--lspci', write('good.txt', k80('06', 0) + k80('07', 0)), '--json'], io));
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout).gpus.map((g: { offset: unknown }) => g.offset)).toEqual(['0xc8', '0xc8']);
});

// The guest of the oracle's fixture (a): today's flat layout, two GPUs on root ports of pcie.0, numa_node -1.
const flatGuest = makeSysfs({
  cpuVendor: 'GenuineIntel',
  devices: [
    { path: ['pci0000:00', '0000:00:02.0'], vendor: 0x1b36, device: 0x000c, classCode: BRIDGE, numa: -1 },
    { path: ['pci0000:00', '0000:00:02.1'], vendor: 0x1b36, device: 0x000c, classCode: BRIDGE, numa: -1 },
    { path: ['pci0000:00', '0000:00:02.0', '0000:01:00.0'], vendor: 0x10de, device: 0x102d, classCode: GPU, numa: -1 },
    { path: ['pci0000:00', '0000:00:02.1', '0000:02:00.0'], vendor: 0x10de, device: 0x102d, classCode: GPU, numa: -1 },
  ],
});
// The host those two GPUs come from: one switch on socket 0 (PIX).
const hostRoot = makeSysfs({
  devices: [
    { path: ['pci0000:3a', '0000:3a:00.0'], vendor: 0x8086, device: 0x2030, classCode: BRIDGE, numa: 0 },
    { path: ['pci0000:3a', '0000:3a:00.0', '0000:3b:00.0'], vendor: 0x10b5, device: 0x9797, classCode: BRIDGE, numa: 0 },
    { path: ['pci0000:3a', '0000:3a:00.0', '0000:3b:00.0', '0000:3c:08.0'], vendor: 0x10b5, device: 0x9797, classCode: BRIDGE, numa: 0 },
    { path: ['pci0000:3a', '0000:3a:00.0', '0000:3b:00.0', '0000:3c:10.0'], vendor: 0x10b5, device: 0x9797, classCode: BRIDGE, numa: 0 },
    { path: ['pci0000:3a', '0000:3a:00.0', '0000:3b:00.0', '0000:3c:08.0', '0000:3d:00.0'], vendor: 0x10de, device: 0x102d, classCode: GPU, numa: 0 },
    { path: ['pci0000:3a', '0000:3a:00.0', '0000:3b:00.0', '0000:3c:10.0', '0000:3e:00.0'], vendor: 0x10de, device: 0x102d, classCode: GPU, numa: 0 },
  ],
});
afterAll(() => [flatGuest, hostRoot].forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** What helper "layout"'s guestTreeFromDomain gives for the flat guest: the guest BDFs with the host functions. */
const flatPrediction = (): PciTree => {
  const t = treeFromSysfs([
    { address: '0000:00:02.0', vendor: 0x1b36, device: 0x000c, classCode: BRIDGE, numaNode: -1, path: ['pci0000:00', '0000:00:02.0'] },
    { address: '0000:00:02.1', vendor: 0x1b36, device: 0x000c, classCode: BRIDGE, numaNode: -1, path: ['pci0000:00', '0000:00:02.1'] },
    { address: '0000:01:00.0', vendor: 0x10de, device: 0x102d, classCode: GPU, numaNode: -1, path: ['pci0000:00', '0000:00:02.0', '0000:01:00.0'], alias: 'ua-gpu0' },
    { address: '0000:02:00.0', vendor: 0x10de, device: 0x102d, classCode: GPU, numaNode: -1, path: ['pci0000:00', '0000:00:02.1', '0000:02:00.0'], alias: 'ua-gpu1' },
  ]);
  t.cpus[0].roots[0].children[0].hostBdf = '0000:3d:00.0';
  t.cpus[0].roots[1].children[0].hostBdf = '0000:3e:00.0';
  return t;
};

describe('verify-guest: NCCL in the guest, next to the host', () => {
  test.each([
    ['Intel: PHB in the flat guest, so no P2P', 'intel', /ua-gpu0–ua-gpu1\s+PHB P2P no\s+planned PHB\s+host PIX \(P2P yes\)/],
    ['AMD with two GPUs: P2P even over PHB', 'amd', /ua-gpu0–ua-gpu1\s+PHB P2P yes\s+planned PHB\s+host PIX \(P2P yes\)/],
  ])('%s', (_, cpu, line) => {
    const lspci = write('guest.txt', k80('01', 0) + k80('02', 0));
    const r = run((io) => runVerifyGuest({ domain: domainFile(), lspci, sysfs: flatGuest, host: hostRoot, cpu }, [], io, flatPrediction));
    expect(r.stdout).toMatch(line);
    expect(r.stdout).toMatch(/problem: ua-gpu0–ua-gpu1: NCCL sees PHB in the guest, PIX on the host/);
    expect(r.stdout).toMatch(/problem: ua-gpu0 \(0000:01:00.0\) has no NUMA node/);
    expect(r.code).toBe(1);
  });

  test('--json: devices with their host function and node, pairs with the host pair', () => {
    const lspci = write('guest.txt', k80('01', 0) + k80('02', 0));
    const r = run((io) => runVerifyGuest({ domain: domainFile(), lspci, sysfs: flatGuest, host: hostRoot, json: true }, [], io, flatPrediction));
    const { topology } = JSON.parse(r.stdout);
    expect(topology.cpuVendor).toBe('GenuineIntel');
    expect(topology.devices).toEqual([
      { bdf: '0000:01:00.0', alias: 'ua-gpu0', role: 'gpu', numaNode: -1, plannedNumaNode: -1, hostBdf: '0000:3d:00.0', hostNumaNode: 0 },
      { bdf: '0000:02:00.0', alias: 'ua-gpu1', role: 'gpu', numaNode: -1, plannedNumaNode: -1, hostBdf: '0000:3e:00.0', hostNumaNode: 0 },
    ]);
    expect(topology.pairs).toEqual([
      { kind: 'gpu-gpu', a: '0000:01:00.0', b: '0000:02:00.0', path: 'PHB', smi: 'PHB', uses: false, planned: 'PHB', host: { a: '0000:3d:00.0', b: '0000:3e:00.0', path: 'PIX', smi: 'PIX', uses: true } },
    ]);
  });

  test.each([
    ['--host without --domain', { expect: 'PLAN', host: 'x' }, /--host needs --domain/],
    ['--host without the layout prediction', { domain: 'DOMAIN', host: 'x', sysfs: 'SYSFS' }, /needs the guest tree predicted from the domain/],
    ['an unknown --cpu', { domain: 'DOMAIN', sysfs: 'SYSFS', cpu: 'arm' }, /unknown --cpu "arm"; one of intel, amd/],
  ])('%s is a usage error', (_, given, message) => {
    const values: Record<string, unknown> = { ...given, lspci: write('guest.txt', k80('01', 0) + k80('02', 0)) };
    if (values.domain) values.domain = domainFile();
    if (values.expect) values.expect = path.join(REPO, 'examples', '2gpu-k80.plan.json');
    if (values.sysfs) values.sysfs = flatGuest;
    expect(() => run((io) => runVerifyGuest(values, [], io))).toThrow(message);
  });

  test('with only --lspci there is no guest tree, and the report is the clique check alone', () => {
    const r = run((io) => runCli(['verify-guest', '--domain', domainFile(), '--lspci', write('good.txt', k80('06', 0) + k80('07', 0))], io));
    expect(r.stdout).not.toMatch(/NCCL/);
  });
});

describe('nccl-topo', () => {
  test('prints the topology file of the predicted guest tree; the p4d tree gives back the AWS file', () => {
    const p4d = readFixture('aws-p4d-24xl-topo.xml');
    const r = run((io) => runNcclTopo({ cpu: 'intel' }, [domainFile()], io, () => treeFromTopoFile(p4d)));
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(topoElements(r.stdout).filter((e) => e.name === 'pci')).toHaveLength(topoElements(p4d).filter((e) => e.name === 'pci').length);
    expect(r.stdout).toMatch(/^<system version="1">\n {2}<cpu numaid="0" arch="x86_64" vendor="GenuineIntel">\n/);
  });

  test('warns on stderr for every switch without a host link (NCCL would read QEMU\'s 2.5 GT/s x1)', () => {
    const report = JSON.parse(readFixture('guest-oracle-expected.json'))['b-numa-pxb-switch.xml'];
    const guest = treeFromSysfs(oracleFunctions(report.devices).map((f) => ({ ...f, link: undefined })));
    const r = run((io) => runNcclTopo({}, [domainFile()], io, () => guest));
    expect(r.stderr).toBe("warning: no host link known for 0000:81:00.0, 0000:c1:00.0: NCCL reads the guest's own (QEMU's 2.5 GT/s x1 on emulated ports)\n");
  });

  test('warns when the predicted guest has devices without a NUMA node (a flat layout)', () => {
    const r = run((io) => runNcclTopo({}, [domainFile()], io, flatPrediction));
    expect(r.stderr).toMatch(/^warning: some devices have no guest NUMA node \(a flat layout\)/);
    expect(r.stdout).toContain('<cpu numaid="-1">');
  });

  test('a domain without GPUs or NICs is refused instead of an empty <system> (nothing for NCCL to read)', () => {
    const r = () => run((io) => runNcclTopo({}, [domainFile()], io, () => ({ cpus: [{ numaNode: -1, roots: [] }] })));
    expect(r).toThrow(/no GPU or NIC the guest tree can place: transform it with a plan that has a layout/);
  });

  test.each([
    [[], /takes one DOMAIN.xml/],
    [['a.xml', 'b.xml'], /takes one DOMAIN.xml/],
  ])('nccl-topo %j is a usage error', (positionals, message) => {
    expect(() => run((io) => runNcclTopo({}, positionals, io, () => ({ cpus: [] })))).toThrow(message);
  });
});
