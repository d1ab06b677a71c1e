import { argvWords, deviceOptions, vfioDevices } from '../conformance/argv';
import { droppedFacts, keptFacts } from '../conformance/facts';
import { judge } from '../conformance/judge';
import { OracleVerdict } from '../conformance/oracle';
import { tcgTwin, withVfioDrivers } from '../conformance/prepare';

// The pure parts of the real-libvirt harness; `npm run test:libvirt` runs them against libvirt itself.

const argv = `LC_ALL=C PATH=/usr/bin HOME=/tmp/x /usr/bin/qemu-system-x86_64 -name guest=vm1 \\
-device '{"driver":"vfio-pci","host":"0000:3b:00.0","id":"ua-gpu0","bus":"pci.1","addr":"0x0","x-nv-gpudirect-clique":0}' \\
-device '{"driver":"vfio-pci","host":"0000:1b:00.0","id":"hostdev0","bus":"pci.2","addr":"0x0"}' \\
-set device.hostdev0.x-nv-gpudirect-clique=1 -msg timestamp=on`;

test('argv words: libvirt shell quoting is undone', () => {
  const words = argvWords(argv);
  expect(words).toContain('-name');
  expect(words).toContain('{"driver":"vfio-pci","host":"0000:1b:00.0","id":"hostdev0","bus":"pci.2","addr":"0x0"}');
  expect(vfioDevices(words).map((d) => [d.id, d.clique])).toEqual([['ua-gpu0', '0'], ['hostdev0', undefined]]);
  expect(deviceOptions(words)).toEqual(['-set', 'device.hostdev0.x-nv-gpudirect-clique=1']);
});

const domain = (devices: string, tail = '') => `<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>x</name><devices>${devices}</devices>${tail}</domain>`;
const hostdev = (alias: string) =>
  `<hostdev mode='subsystem' type='pci'><source><address domain='0' bus='0x3b' slot='0' function='0'/></source><alias name='${alias}'/><address type='pci' bus='0x01' slot='0x00'/></hostdev>`;
const override = (alias: string) =>
  `<qemu:override><qemu:device alias='${alias}'><qemu:frontend><qemu:property name='x-nv-gpudirect-clique' type='unsigned' value='0'/></qemu:frontend></qemu:device></qemu:override>`;

test('kept facts normalise PCI addresses the way libvirt reads them', () => {
  expect(keptFacts(domain(hostdev('ua-gpu0'), override('ua-gpu0')))).toEqual([
    'hostdev 0000:3b:00.0',
    'alias ua-gpu0',
    'hostdev 0000:3b:00.0 at 0000:01:00.0',
    'override ua-gpu0 x-nv-gpudirect-clique=0 (unsigned)',
  ]);
});

test.each([
  ['nothing dropped', hostdev('ua-gpu0'), hostdev('ua-gpu0'), []],
  ['alias dropped', hostdev('gpu0'), hostdev('x').replace("<alias name='x'/>", ''), ['alias gpu0', 'override gpu0 matches no device alias']],
])('dropped facts: %s', (_name, written, dumped, expected) => {
  const alias = /alias name='([^']*)'/.exec(written)![1];
  expect(droppedFacts(domain(written, override(alias)), domain(dumped, override(alias)))).toEqual(expected);
});

const verdict = (over: Partial<OracleVerdict> = {}): OracleVerdict => ({
  name: 'f',
  rng: 'ok',
  define: 'ok',
  dropped: [],
  argv: 'ok',
  devices: [{ id: 'ua-gpu0', json: '{"driver":"vfio-pci","host":"0000:3b:00.0","id":"ua-gpu0"}', clique: '0' }],
  deviceJson: [],
  globals: [],
  fwCfg: [],
  qemu: 'ok',
  ...over,
});
const expectGpu = { hosts: { '0000:3b:00.0': 0 } };

test.each([
  ['all good', verdict(), undefined, 'pass'],
  ['original refused by libvirt', verdict({ define: 'boom' }), verdict({ define: 'boom' }), 'refused-before'],
  ['schema failure that the original already had', verdict({ rng: 'bad' }), verdict({ rng: 'bad', devices: [] }), 'pass'],
  ['new schema failure', verdict({ rng: 'bad' }), verdict({ devices: [] }), 'fail'],
  ['something dropped', verdict({ dropped: ['alias gpu0'] }), undefined, 'fail'],
  ['dropped already before', verdict({ dropped: ['alias old'] }), verdict({ dropped: ['alias old'] }), 'pass'],
  ['wrong clique', verdict({ devices: [{ id: 'ua-gpu0', json: '{"host":"0000:3b:00.0"}', clique: '1' }] }), undefined, 'fail'],
  ['QEMU refuses', verdict({ qemu: 'valid range 0-15' }), undefined, 'fail'],
])('judge: %s', (_name, v, baseline, status) => {
  expect(judge(v, expectGpu, baseline).status).toBe(status);
});

test('judge: a planned MMIO window must reach QEMU', () => {
  const mmio = { hosts: {}, mmioGiB: 64, ovmf: true };
  expect(judge(verdict(), mmio).reasons.join()).toMatch(/pci-hole64-size=67108864K/);
  const reached = verdict({ globals: ['q35-pcihost.pci-hole64-size=67108864K'], fwCfg: ['name=opt/ovmf/X-PciMmio64Mb,string=65536'] });
  expect(judge(reached, mmio).status).toBe('pass');
});

test('judge: an NPU must carry no clique', () => {
  expect(judge(verdict(), { hosts: { '0000:3b:00.0': null } }).reasons.join()).toMatch(/expected \(none\)/);
});

test('TCG twin and vfio drivers for the offline oracle', () => {
  const xml = "<domain type='kvm'><name>x</name><os><type machine='q35'>hvm</type></os><cpu mode='host-passthrough'/><devices><!-- <hostdev> --><hostdev mode='subsystem' type='pci'><source><address bus='1'/></source></hostdev></devices></domain>";
  expect(tcgTwin(xml)).toContain("type='qemu'");
  expect(tcgTwin(xml)).toContain("mode='maximum'");
  expect(withVfioDrivers(xml)).toContain("<hostdev mode='subsystem' type='pci'><driver name='vfio'/><source>");
  expect(withVfioDrivers(xml)).toContain('<!-- <hostdev> -->');
});
