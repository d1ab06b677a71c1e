import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { transformDomain } from '../lib';
import { runCli } from '../lib/cli/main';
import { CliIo } from '../lib/cli/io';
import { explainPlanFromNvidiaSmi } from '../lib/host/smi-plan';
import { Plan } from '../lib/plan/types';
import { REPO } from './helpers/paths';
import { GPU, NIC, makeSysfs } from './helpers/sysfs';

// host plan --topo/--bus-ids away from the GPU host (issue 22): nvidia-smi's two outputs, copied off the GPU host,
// are enough for a plan; nvidia-smi's own bus ID form (00000000:04:00.0) is an address like any other.

const fixture = (f: string) => path.join(REPO, '__tests__', 'host-fixtures', f);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lp-away-'));
const noGpus = makeSysfs({ devices: [{ path: ['pci0000:00', '0000:00:1f.6'], vendor: 0x8086, device: 0x15b8, classCode: NIC, numa: 0 }] });
const withGpus = makeSysfs({ devices: [{ path: ['pci0000:00', '0000:00:02.0', '0000:04:00.0'], vendor: 0x10de, device: 0x1db4, classCode: GPU, numa: 0 }] });
afterAll(() => [dir, noGpus, withGpus].forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
// The fixture's bus IDs with a pci.device_id column (Tesla V100 PCIe 16GB, 10de:1db4, as NVML combines them)
const withIds = path.join(dir, 'busids-ids.csv');
fs.writeFileSync(
  withIds,
  fs.readFileSync(fixture('k8s-8gpu-2socket.busids.csv'), 'utf8').replace('index, pci.bus_id', 'index, pci.bus_id, pci.device_id').replace(/^(\d, \S+)$/gm, '$1, 0x1DB410DE'),
);

function host(args: string[]): { code: number; stdout: string; stderr: string } {
  const out = { stdout: '', stderr: '' };
  const io: CliIo = { stdout: (t) => void (out.stdout += t), stderr: (t) => void (out.stderr += t), readStdin: () => undefined, readFile: (f) => fs.readFileSync(f), runTool: () => undefined };
  return { code: runCli(['host', 'plan', ...args], io), ...out };
}
const TOPO = ['--topo', fixture('k8s-8gpu-2socket.topo.txt')];

test('from nvidia-smi\'s files alone on a machine without the GPUs: every GPU, cliques by socket, the spec\'s offsets', () => {
  const r = host(['--gpus', 'all', ...TOPO, '--bus-ids', withIds, '--sysfs', noGpus]);
  expect(r.code).toBe(0);
  const plan = JSON.parse(r.stdout) as Plan;
  expect(plan.hostdevs.map((h) => [h.address, h.device, h.gpudirect?.clique])).toEqual(
    ['04', '05', '08', '09', '84', '85', '88', '89'].map((bus, i) => [`0000:${bus}:00.0`, '10de:1db4', i < 4 ? 0 : 1]),
  );
  expect(r.stderr).toMatch(/^target: QEMU unknown \(not read from this machine: the GPUs are on another host/);
  expect(r.stderr).toMatch(/planned away from the GPU host: this capture has none of the GPUs nvidia-smi lists/);
  expect(r.stderr).toMatch(/offsets: nvidia-smi shows no config space/);
  const domain = fs.readFileSync(path.join(REPO, 'examples', 'domain.xml'), 'utf8');
  expect(transformDomain(domain, plan)).toMatch(/x-nv-gpudirect-clique/);
});

test('nvidia-smi\'s own bus ID form names GPUs in --gpus, and --qemu is recorded as the target', () => {
  const r = host(['--gpus', '00000000:84:00.0,00000000:85:00.0', ...TOPO, '--bus-ids', withIds, '--sysfs', noGpus, '--qemu', '8.2.0']);
  expect(r.code).toBe(0);
  const plan = JSON.parse(r.stdout) as Plan;
  expect(plan.target).toEqual({ qemu: '8.2.0' });
  expect(plan.hostdevs.map((h) => [h.address, h.gpudirect?.clique])).toEqual([['0000:84:00.0', 1], ['0000:85:00.0', 1]]);
});

test.each([
  ['a GPU the list lacks', 1, ['--gpus', '3b:00.0', ...TOPO, '--bus-ids', withIds, '--sysfs', noGpus], /--gpus: 0000:3b:00\.0 is not in nvidia-smi's bus ID list/],
  ['--npus away from the host', 2, ['--gpus', 'all', '--npus', 'all', ...TOPO, '--bus-ids', withIds, '--sysfs', noGpus], /--npus needs the host itself/],
  ['--nics away from the host', 2, ['--gpus', 'all', '--nics', 'all', ...TOPO, '--bus-ids', withIds, '--sysfs', noGpus], /--nics needs the host itself/],
  ['--layout mirror away from the host', 2, ['--gpus', 'all', '--layout', 'mirror', ...TOPO, '--bus-ids', withIds, '--sysfs', noGpus], /--layout mirror needs the host's PCI tree/],
] as const)('%s → exit %d', (_name, code, args, message) => {
  const r = host([...args]);
  expect(r.code).toBe(code);
  expect(r.stderr).toMatch(message);
});

test('without the pci.device_id column the plan names what to add', () => {
  const r = host(['--gpus', 'all', ...TOPO, '--bus-ids', fixture('k8s-8gpu-2socket.busids.csv'), '--sysfs', noGpus]);
  expect(r.code).toBe(0);
  expect((JSON.parse(r.stdout) as Plan).hostdevs[0]).toEqual({ address: '0000:04:00.0', alias: 'gpu0', gpudirect: { clique: 0 } });
  expect(r.stderr).toMatch(/0000:04:00\.0: no device ID in the bus ID list \(ask nvidia-smi for pci\.device_id too/);
});

test('on the GPU host the snapshot still decides (the files only give the cliques)', () => {
  const busIds = path.join(dir, 'one.csv');
  fs.writeFileSync(busIds, 'index, pci.bus_id\n0, 00000000:04:00.0\n');
  const topo = path.join(dir, 'one.topo.txt');
  fs.writeFileSync(topo, '\tGPU0\nGPU0\t X \n');
  const r = host(['--gpus', 'all', '--topo', topo, '--bus-ids', busIds, '--sysfs', withGpus]);
  expect(r.code).toBe(0);
  expect(r.stderr).not.toMatch(/away/);
  expect((JSON.parse(r.stdout) as Plan).hostdevs[0]).toMatchObject({ address: '0000:04:00.0', device: '10de:1db4' });
});

test('a value of pci.device_id whose vendor half is not NVIDIA\'s is not taken as a device ID', () => {
  const csv = 'index, pci.bus_id, pci.device_id\n0, 00000000:04:00.0, 0x10DE1DB4\n';
  const { plan, reasons } = explainPlanFromNvidiaSmi('\tGPU0\nGPU0\t X \n', csv, { gpus: 'all' });
  expect(plan.hostdevs[0].device).toBeUndefined();
  expect(reasons.join('\n')).toMatch(/no device ID/);
});
