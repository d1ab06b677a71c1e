import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassthroughError, PciTreeNode, guestTreeFromDomain } from '../lib';
import { CASES_DIR } from './helpers/paths';

// guestTreeFromDomain predicts the guest's bus IDs; `npm run test:libvirt` boots the layout fixtures with the guest
// oracle and compares. The expectations below are what the oracle printed for them (libvirt 9.0 + QEMU 7.2 and
// libvirt 11.3 + QEMU 10.0, Debian 12's 6.1 kernel, SeaBIOS and OVMF alike).

function flatten(tree: ReturnType<typeof guestTreeFromDomain>): Record<string, string> {
  const out: Record<string, string> = {};
  const visit = (n: PciTreeNode, node: number, depth: number) => {
    out[n.alias!] = `${n.bdf} node ${node} depth ${depth}`;
    n.children.forEach((c) => visit(c, node, depth + 1));
  };
  for (const cpu of tree.cpus) cpu.roots.forEach((r) => visit(r, cpu.numaNode, 0));
  return out;
}

const expected = (name: string) => fs.readFileSync(path.join(CASES_DIR, name, 'expected.xml'), 'utf8');

test.each([
  ['ua-gpu0', '0000:e3:00.0 node 0 depth 3'],
  ['ua-gpu1', '0000:e4:00.0 node 0 depth 3'],
  ['ua-nic0p0', '0000:e5:00.0 node 0 depth 3'],
  ['ua-nic0p1', '0000:e5:00.1 node 0 depth 3'],
  ['ua-gpu3', '0000:ec:00.0 node 0 depth 3'],
  ['ua-gpu4', '0000:f3:00.0 node 1 depth 3'],
  ['ua-nic1p1', '0000:f5:00.1 node 1 depth 3'],
  ['ua-gpu7', '0000:fc:00.0 node 1 depth 3'],
  ['pci.2', '0000:e0:00.0 node 0 depth 0'],
  ['pci.3', '0000:e1:00.0 node 0 depth 1'],
  ['pci.6', '0000:e2:02.0 node 0 depth 2'],
  ['pci.19', '0000:f8:00.0 node 1 depth 0'],
])('mirror fixture: %s is at %s, as the guest saw it', (alias, where) => {
  expect(flatten(guestTreeFromDomain(expected('layout-mirror-2s8g')))[alias.replace(/^ua-/, '')]).toBe(where);
});

test('numa fixture: one root port per GPU on each node\'s expander bus', () => {
  expect(flatten(guestTreeFromDomain(expected('layout-numa-4gpu')))).toEqual({
    'pci.2': '0000:f0:00.0 node 0 depth 0',
    gpu0: '0000:f1:00.0 node 0 depth 1',
    'pci.3': '0000:f0:01.0 node 0 depth 0',
    gpu1: '0000:f2:00.0 node 0 depth 1',
    'pci.5': '0000:f8:00.0 node 1 depth 0',
    gpu2: '0000:f9:00.0 node 1 depth 1',
    'pci.6': '0000:f8:01.0 node 1 depth 0',
    gpu3: '0000:fa:00.0 node 1 depth 1',
  });
});

test('roles and classes: GPUs and NICs are named as host plan names them', () => {
  const tree = guestTreeFromDomain(expected('layout-mirror-2s8g'));
  const switchPort = tree.cpus[0].roots[0].children[0].children[2];
  expect(switchPort).toMatchObject({ alias: 'pci.6', classCode: '0x060400', vendor: '0x104c', device: '0x8233' });
  expect(switchPort.children.map((d) => [d.alias, d.role, d.classCode])).toEqual([
    ['nic0p0', 'nic', '0x020000'],
    ['nic0p1', 'nic', '0x020000'],
  ]);
  expect(switchPort.children.map((d) => d.hostBdf)).toEqual(['0000:1c:00.0', '0000:1c:00.1']);
});

const DOMAIN = (devices: string) => `<domain type='kvm'>
  <name>vm</name>
  <memory unit='GiB'>4</memory>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <features><acpi/></features>
  <devices>
${devices}
  </devices>
</domain>`;
const port = (index: number, bus: number, slot: number, fn = 0, model = 'pcie-root-port') =>
  `<controller type='pci' index='${index}' model='${model}'><address type='pci' domain='0x0000' bus='0x${bus.toString(16)}' slot='0x${slot.toString(16)}' function='0x${fn}'/></controller>`;
const pxb = (index: number, slot: number, busNr: number, node: number) =>
  `<controller type='pci' index='${index}' model='pcie-expander-bus'><model name='pxb-pcie'/><target busNr='${busNr}'><node>${node}</node></target><address type='pci' domain='0x0000' bus='0x00' slot='0x${slot.toString(16)}' function='0x0'/></controller>`;
const hostdev = (alias: string, bus: number, host = 0x3b) =>
  `<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x${host.toString(16)}' slot='0x00' function='0x0'/></source><alias name='ua-${alias}'/><address type='pci' domain='0x0000' bus='0x${bus.toString(16)}' slot='0x00' function='0x0'/></hostdev>`;

test.each([
  // guest-boot fixture (a): libvirt's root ports on pcie.0 at 00:02.0-3 take buses 1-4 in slot/function order.
  ['root ports on pcie.0', [port(1, 0, 2, 0), port(2, 0, 2, 1), port(3, 0, 2, 2), port(4, 0, 2, 3), hostdev('gpu0', 1), hostdev('gpu1', 2, 0x3c)], { 'pci.1': '0000:00:02.0 node -1 depth 0', gpu0: '0000:01:00.0 node -1 depth 1', 'pci.2': '0000:00:02.1 node -1 depth 0', gpu1: '0000:02:00.0 node -1 depth 1' }],
  // guest-boot fixture (b): busNr 128 -> root port 80:00.0, upstream 81:00.0, downstream 82:00.0/82:01.0, GPUs 83/84.
  [
    'expander bus, root port, switch',
    [pxb(1, 0x10, 128, 0), port(2, 1, 0), port(3, 2, 0, 0, 'pcie-switch-upstream-port'), port(4, 3, 0, 0, 'pcie-switch-downstream-port'), port(5, 3, 1, 0, 'pcie-switch-downstream-port'), hostdev('gpu0', 4), hostdev('gpu1', 5, 0x3c)],
    { 'pci.2': '0000:80:00.0 node 0 depth 0', 'pci.3': '0000:81:00.0 node 0 depth 1', 'pci.4': '0000:82:00.0 node 0 depth 2', 'pci.5': '0000:82:01.0 node 0 depth 2', gpu0: '0000:83:00.0 node 0 depth 3', gpu1: '0000:84:00.0 node 0 depth 3' },
  ],
  // Bridges without a passthrough device below them are left out: NCCL's topology is made of the others.
  ['empty ports pruned', [pxb(1, 0x10, 200, 1), port(2, 1, 0), port(3, 1, 1), hostdev('nic0', 3)], { 'pci.3': '0000:c8:01.0 node 1 depth 0', nic0: '0000:ca:00.0 node 1 depth 1' }],
])('%s', (_name, devices, want) => {
  expect(flatten(guestTreeFromDomain(DOMAIN(devices.join('\n'))))).toEqual(want);
});

test.each([
  // guest-boot fixture (c): the second expander bus at 130 lies inside the first one's 128-132; the guest lost gpu0 and gpu1.
  ['overlapping expander buses', [pxb(1, 0x10, 128, 0), port(2, 1, 0), port(3, 2, 0, 0, 'pcie-switch-upstream-port'), port(4, 3, 0, 0, 'pcie-switch-downstream-port'), pxb(5, 0x11, 130, 1), port(6, 5, 0), hostdev('gpu0', 4), hostdev('gpu2', 6, 0x3c)], 'LAYOUT_INVALID', /index 1 \(busNr 128\) needs buses 128 to 131.*index 5 starts at busNr 130/],
  ['past bus 255', [pxb(1, 0x10, 254, 0), port(2, 1, 0), port(3, 2, 0, 0, 'pcie-switch-upstream-port'), hostdev('gpu0', 3)], 'LAYOUT_INVALID', /254 to 256, past 255/],
  ['pcie.0 running into an expander bus', [port(1, 0, 2), port(2, 0, 3), pxb(3, 0x10, 2, 0), port(4, 3, 0), hostdev('gpu0', 4)], 'LAYOUT_INVALID', /pcie\.0 needs buses 0 to 2/],
  ['expander bus without busNr', [`<controller type='pci' index='1' model='pcie-expander-bus'><address type='pci' domain='0x0000' bus='0x00' slot='0x10' function='0x0'/></controller>`, port(2, 1, 0), hostdev('gpu0', 2)], 'INPUT_INVALID', /no busNr: libvirt picks one at define/],
  ['passthrough on pcie.0 beside a device libvirt has not placed', [port(1, 0, 2), hostdev('gpu0', 1), `<memballoon model='virtio'/>`], 'INPUT_INVALID', /<memballoon> \(line \d+\) has no address yet/],
])('refused: %s', (_name, devices, code, message) => {
  let caught: unknown;
  try {
    guestTreeFromDomain(DOMAIN(devices.join('\n')));
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(PassthroughError);
  expect((caught as PassthroughError).code).toBe(code);
  expect((caught as PassthroughError).message).toMatch(message);
});
