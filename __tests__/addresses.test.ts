import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  checkHost,
  cliquesFromTopology,
  parsePciAddress,
  formatPciAddress,
  planFromHost,
  readConfigSpace,
  readHostSnapshot,
  removePassthrough,
  transformDomain,
} from '../lib';
import { runCli } from '../lib/cli/main';
import { CliIo } from '../lib/cli/io';
import { parseBusIds } from '../lib/host/topology';
import { PCI_ADDRESS_PATTERN, pciAddressKey } from '../lib/pci/address';
import { normalizePlan } from '../lib/plan/normalize';
import { REPO } from './helpers/paths';
import { GPU, makeSysfs } from './helpers/sysfs';
import { VOLTA_CAPS, gpuConfig, lspciText } from './helpers/config-space';

// One grammar for the PCI addresses people type and paste (lib/pci/address.ts, docs/plan.md "Addresses"): every
// reader and command accepts the same spellings of 0000:3b:00.0 and refuses the same others.

const CANONICAL = '0000:3b:00.0';
const SPELLINGS: [string, 'same' | 'refused' | 'an item of a list'][] = [
  ['0000:3b:00.0', 'same'], // lspci -D, sysfs, libvirt's nodedev XML
  ['3b:00.0', 'same'], // lspci
  ['0000:3B:00.0', 'same'],
  ['3B:00.0', 'same'],
  ['00000000:3B:00.0', 'same'], // nvidia-smi --query-gpu=pci.bus_id
  ['00000000:3b:00.0', 'same'],
  ['0:3b:00.0', 'same'],
  ['000:3b:0.0', 'same'],
  ['3b:0.0', 'same'],
  // No surrounding space in an address; comma lists (--gpus, --devices, nvidia-smi's CSV) trim around their items.
  [' 3b:00.0', 'an item of a list'],
  ['3b:00.0\n', 'an item of a list'],
  ['0x3b:00.0', 'refused'],
  ['3b:00', 'refused'],
  ['3b.00.0', 'refused'],
  ['pci_0000_3b_00_0', 'refused'], // a libvirt node-device name, not an address
  ['000000000:3b:00.0', 'refused'], // nine domain digits
  ['00010000:3b:00.0', 'refused'], // domain out of range (0 to ffff)
  ['3b:20.0', 'refused'], // slot out of range (0 to 1f)
  ['3b:00.8', 'refused'],
  ['', 'refused'],
];

const roots: string[] = [];
afterAll(() => roots.forEach((r) => fs.rmSync(r, { recursive: true, force: true })));
const sysfs = (() => {
  const root = makeSysfs({
    devices: [
      { path: ['pci0000:00', '0000:00:02.0', '0000:3b:00.0'], vendor: 0x10de, device: 0x1db4, classCode: GPU, numa: 0, config: gpuConfig(VOLTA_CAPS) },
      { path: ['pci0000:00', '0000:00:02.0', '0000:3c:00.0'], vendor: 0x10de, device: 0x1db4, classCode: GPU, numa: 0, config: gpuConfig(VOLTA_CAPS) },
    ],
  });
  roots.push(root);
  return root;
})();
const snapshot = readHostSnapshot(sysfs);
const domain = fs.readFileSync(path.join(REPO, 'examples', 'domain.xml'), 'utf8');
const transformed = transformDomain(domain, { hostdevs: [{ address: CANONICAL, alias: 'gpu0' }] });
const capture =
  lspciText('3b:00.0', '3D controller: NVIDIA Corporation GV100GL [Tesla V100 PCIe 16GB] (rev a1)', gpuConfig(VOLTA_CAPS)) +
  '\n' +
  lspciText('3c:00.0', '3D controller: NVIDIA Corporation GV100GL [Tesla V100 PCIe 16GB] (rev a1)', gpuConfig(VOLTA_CAPS));

function cli(args: string[]): { code: number; stdout: string } {
  let stdout = '';
  const io: CliIo = {
    stdout: (t) => void (stdout += t),
    stderr: () => undefined,
    readStdin: () => undefined,
    readFile: (f) => (f === 'gpus.txt' ? new TextEncoder().encode(capture) : f === 'vm.xml' ? new TextEncoder().encode(transformed) : fs.readFileSync(f)),
    runTool: () => undefined,
  };
  return { code: runCli(args, io), stdout };
}

/** What each entry point makes of a spelling: the canonical address it found, or 'refused'. */
const refusedOr = (read: () => string | undefined): string => {
  try {
    return read() ?? 'refused';
  } catch {
    return 'refused';
  }
};
/** [entry point, what it makes of a spelling, whether it reads a comma list] */
const ENTRY_POINTS: [string, (s: string) => string, boolean?][] = [
  ['parsePciAddress', (s) => refusedOr(() => { const p = parsePciAddress(s); return typeof p === 'string' ? undefined : formatPciAddress(p); })],
  ['pciAddressKey', (s) => refusedOr(() => pciAddressKey(s))],
  ['the plan schema pattern', (s) => (new RegExp(PCI_ADDRESS_PATTERN, 'u').test(s) && pciAddressKey(s) !== undefined ? CANONICAL : 'refused')],
  ['a plan\'s hostdevs[].address', (s) => refusedOr(() => normalizePlan({ hostdevs: [{ address: s }] }, [])[0].addressKey)],
  ['a plan\'s hostdevs[].guestAddress', (s) => refusedOr(() => { const g = normalizePlan({ hostdevs: [{ address: '01:00.0', guestAddress: s }] }, [])[0].guestAddress; return g && formatPciAddress(g); })],
  ['removePassthrough addresses', (s) => refusedOr(() => (removePassthrough(transformed, { addresses: [s] }) === domain ? CANONICAL : 'kept'))],
  ['checkHost', (s) => refusedOr(() => (checkHost(snapshot, [s]).some((f) => f.what === `${CANONICAL} is bound to vfio-pci` || f.what.startsWith(`${CANONICAL} is not bound`)) ? CANONICAL : 'missed'))],
  ['planFromHost gpus', (s) => refusedOr(() => planFromHost(snapshot, { gpus: [s] }).hostdevs.map((h) => String(h.address)).join())],
  ['cliquesFromTopology gpus', (s) => refusedOr(() => Object.keys(cliquesFromTopology({ sysfs: snapshot, gpus: [s] }).cliques).join())],
  ['readConfigSpace address', (s) => refusedOr(() => pciAddressKey(readConfigSpace(capture, { address: s }).address!))],
  ['nvidia-smi bus ID list', (s) => refusedOr(() => parseBusIds(`index, pci.bus_id\n0, ${s}\n`).get('GPU0')), true],
  ['hostdev ADDRESS', (s) => { const r = cli(['hostdev', s]); return r.code === 0 && /bus='0x3b' slot='0x00'/.test(r.stdout) ? CANONICAL : 'refused'; }],
  ['host check --devices', (s) => (cli(['host', 'check', '--devices', s, '--sysfs', sysfs, '--json']).stdout.includes(`${CANONICAL} is alone`) ? CANONICAL : 'refused'), true],
  ['host plan --gpus', (s) => { const r = cli(['host', 'plan', '--gpus', s, '--sysfs', sysfs]); return r.code === 0 ? JSON.parse(r.stdout).hostdevs.map((h: { address: string }) => h.address).join() : 'refused'; }, true],
  ['remove --address', (s) => (cli(['remove', 'vm.xml', '--address', s]).stdout === domain ? CANONICAL : 'refused')],
  ['predict --address', (s) => { const r = cli(['predict', '--config', 'gpus.txt', '--qemu', '8.2.0', '--address', s, '--json']); return r.code === 0 ? pciAddressKey(JSON.parse(r.stdout).address) ?? 'odd' : 'refused'; }],
];

describe.each(ENTRY_POINTS)('%s', (_entry, read, list = false) => {
  test.each(SPELLINGS)('%j → %s', (spelling, want) => {
    expect(read(spelling)).toBe(want === 'same' || (want === 'an item of a list' && list) ? CANONICAL : 'refused');
  });
});

test('the plan schema\'s address pattern is the grammar itself', () => {
  const schema = JSON.parse(fs.readFileSync(path.join(REPO, 'schemas', 'plan.schema.json'), 'utf8'));
  expect(schema.$defs.pciAddress.oneOf[0].pattern).toBe(PCI_ADDRESS_PATTERN);
});
