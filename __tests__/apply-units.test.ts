import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describeChange, foreignLines } from '../lib/libvirt/changes';
import { describeTarget, targetFromConnection } from '../lib/libvirt/connection';
import { requireRequestedDomain } from '../lib/libvirt/identity';
import { lockDomain } from '../lib/libvirt/lock';
import { addedRootPorts, recordRootPorts } from '../lib/libvirt/root-ports';
import { removePassthrough } from '../lib/remove';
import { transformDomain } from '../lib/transform';

// The pure parts of apply's safety checks: no virsh, no libvirt.

const xml = (name: string, uuid: string, extra = '') => `<domain type='kvm'>\n  <name>${name}</name>\n  <uuid>${uuid}</uuid>\n${extra}</domain>\n`;
const UUID = '6f2a8e4c-1b3d-4c8e-9a41-000000000001';

describe('requireRequestedDomain: the dump is the domain asked for', () => {
  test.each([
    ['by name', 'vm1', xml('vm1', UUID), true],
    ['by UUID', UUID, xml('vm1', UUID), true],
    ['by UUID in capitals without dashes', UUID.replace(/-/g, '').toUpperCase(), xml('vm1', UUID), true],
    ['by numeric ID (name unknown)', '7', xml('vm1', UUID), true],
    ['another name', 'vm1', xml('vm2', UUID), false],
    ['another UUID', 'vm1', xml('vm1', UUID.replace(/1$/, '2')), false],
    ['no UUID', 'vm1', "<domain type='kvm'><name>vm1</name></domain>", false],
  ])('%s', (_n, vm, dumped, ok) => {
    const run = () => requireRequestedDomain(dumped, vm, UUID);
    if (ok) expect(run).not.toThrow();
    else expect(run).toThrow(expect.objectContaining({ code: 'DOMAIN_MISMATCH' }));
  });
});

describe('describeChange: what moved between two dumps, without secrets', () => {
  test.each([
    ['one line', 'a\nb\nc\n', 'a\nB\nc\n', '1 line(s) differ; first at line 2: `b` is now `B`'],
    ['a line added at the end', 'a\n', 'a\nb\n', '1 line(s) differ; first at line 2: `` is now `b`'],
    ['a password changed', "<graphics passwd='old1'/>\n", "<graphics passwd='new2'/>\n", "1 line(s) differ; first at line 1: `<graphics passwd='…'/>` is now `<graphics passwd='…'/>`"],
  ])('%s', (_n, a, b, said) => {
    expect(describeChange(a, b)).toBe(said);
  });
});

describe('foreignLines: is the read-back ours, as libvirt stored it?', () => {
  const before = "<domain>\n  <vcpu>16</vcpu>\n  <devices>\n  </devices>\n</domain>\n";
  const ours = "<domain>\n  <vcpu>16</vcpu>\n  <metadata><p:x a='1'/></metadata>\n  <devices>\n    <hostdev/>\n  </devices>\n</domain>\n";
  test.each([
    ['exactly ours', ours, []],
    ['libvirt re-quotes metadata and adds a root port and an address', ours.replace("a='1'", 'a="1"').replace('<hostdev/>', "<hostdev/>\n    <controller type='pci' index='9' model='pcie-root-port'>\n      <model name='pcie-root-port'/>\n      <target chassis='9' port='0x10'/>\n      <address type='pci'/>\n    </controller>"), []],
    ['libvirt dropped something of ours', ours.replace("  <metadata><p:x a='1'/></metadata>\n", ''), []],
    ['someone changed a line', ours.replace('16', '12'), ['+<vcpu>12</vcpu>', '-<vcpu>16</vcpu>']],
    ['someone defined the old definition with a change', before.replace('16', '12'), ['+<vcpu>12</vcpu>', '-<vcpu>16</vcpu>']],
  ])('%s', (_n, readBack, foreign) => {
    expect(foreignLines(before, ours, readBack)).toEqual(foreign);
  });
});

describe('targetFromConnection: the connection is believed', () => {
  const gpuPlan = (target?: object) => ({ ...(target && { target }), hostdevs: [{ address: '04:00.0', gpudirect: { clique: 0 } }] });
  const conn = { uri: 'qemu:///system', libvirt: '9.0.0', qemu: '7.2.22' };
  test.each([
    ['no target: the connection\'s', gpuPlan(), false, { libvirt: '9.0.0', qemu: '7.2.22' }],
    ['a target that agrees (as many components as it names)', gpuPlan({ libvirt: '9.0', qemu: '7.2.22' }), false, { libvirt: '9.0.0', qemu: '7.2.22' }],
    ['other target fields stay', gpuPlan({ qemuAlternateOffset: true }), false, { qemuAlternateOffset: true, libvirt: '9.0.0', qemu: '7.2.22' }],
    ['a disagreeing target with --trust-plan-target: the plan wins', gpuPlan({ qemu: '8.2.0' }), true, { libvirt: '9.0.0', qemu: '8.2.0' }],
  ])('%s', (_n, plan, trust, target) => {
    expect(targetFromConnection(plan, conn, trust).target).toEqual(target);
  });

  test('a disagreeing target is refused, naming both versions', () => {
    expect(() => targetFromConnection(gpuPlan({ qemu: '8.2' }), conn)).toThrow(
      expect.objectContaining({ code: 'TARGET_MISMATCH', message: expect.stringMatching(/^The plan's target says QEMU 8\.2, but qemu:\/\/\/system runs QEMU 7\.2\.22 \(virsh version\); nothing was defined\. .*--trust-plan-target/) }),
    );
  });

  test('the target line says where each version came from', () => {
    expect(describeTarget(gpuPlan(), conn, false)).toBe('target: libvirt 9.0.0 (from virsh version on qemu:///system), QEMU 7.2.22 (from virsh version on qemu:///system)');
    expect(describeTarget(gpuPlan({ qemu: '8.2' }), conn, true)).toBe('target: libvirt 9.0.0 (from virsh version on qemu:///system), QEMU 8.2 (from the plan, --trust-plan-target)');
    expect(describeTarget(gpuPlan(), { uri: 'x:///' }, false)).toBe('target: libvirt unknown (virsh version did not say), QEMU unknown (virsh version did not say)');
  });
});

describe('lockDomain: one run per domain on this machine', () => {
  let folder: string;
  beforeEach(() => {
    folder = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'lp-lock-')), 'locks');
  });
  afterEach(() => fs.rmSync(path.dirname(folder), { recursive: true, force: true }));

  test('a second lock on the same domain waits, then refuses with VM_LOCKED; another domain is free', () => {
    const held = lockDomain('qemu:///system', UUID, { folder, waitSeconds: 1 });
    expect(() => lockDomain('qemu:///system', UUID, { folder, waitSeconds: 0.3 })).toThrow(expect.objectContaining({ code: 'VM_LOCKED' }));
    lockDomain('qemu:///system', UUID.replace(/1$/, '2'), { folder, waitSeconds: 0 }).release();
    lockDomain('qemu:///session', UUID, { folder, waitSeconds: 0 }).release();
    held.release();
    lockDomain('qemu:///system', UUID, { folder, waitSeconds: 0 }).release();
    expect(fs.readdirSync(folder)).toEqual([]);
  });

  test('a lock whose owner was killed is taken over', () => {
    // A process that takes the lock and is killed before it can release it.
    const script = `require(${JSON.stringify(path.join(__dirname, '..', 'dist', 'libvirt', 'lock.js'))}).lockDomain('qemu:///system', '${UUID}', { folder: ${JSON.stringify(folder)}, waitSeconds: 0 }); process.kill(process.pid, 'SIGKILL');`;
    spawnSync(process.execPath, ['-e', script]);
    expect(fs.readdirSync(folder)).toHaveLength(1);
    lockDomain('qemu:///system', UUID, { folder, waitSeconds: 0 }).release();
    expect(fs.readdirSync(folder)).toEqual([]);
  });

  test('a lock folder that is a link, or writable by others, is refused', () => {
    fs.mkdirSync(path.dirname(folder), { recursive: true });
    const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), 'lp-lock-target-'));
    fs.symlinkSync(elsewhere, folder);
    expect(() => lockDomain('qemu:///system', UUID, { folder, waitSeconds: 0 })).toThrow(expect.objectContaining({ code: 'VM_LOCKED' }));
    fs.rmSync(folder);
    fs.mkdirSync(folder, { mode: 0o777 });
    fs.chmodSync(folder, 0o777);
    expect(() => lockDomain('qemu:///system', UUID, { folder, waitSeconds: 0 })).toThrow(expect.objectContaining({ code: 'VM_LOCKED' }));
    expect(fs.readdirSync(elsewhere)).toEqual([]);
    fs.rmSync(elsewhere, { recursive: true });
  });
});

describe('root ports libvirt added: recorded by apply, taken back by removal only when unused', () => {
  const original = fs.readFileSync(path.join(__dirname, '..', 'examples', 'domain.xml'), 'utf8');
  const plan = { hostdevs: [{ address: '1b:00.0' }] };
  const port = (index: number) =>
    `    <controller type='pci' index='${index}' model='pcie-root-port'>\n      <model name='pcie-root-port'/>\n      <target chassis='${index}' port='0x1${index}'/>\n      <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x${index}'/>\n    </controller>\n`;
  /** What libvirt does on define: a root port at index 6 and the new hostdev's guest address on its bus. */
  const asLibvirtStores = (xml: string) =>
    xml.replace('</source>\n    </hostdev>', "</source>\n      <address type='pci' domain='0x0000' bus='0x06' slot='0x00' function='0x0'/>\n    </hostdev>").replace('  </devices>', `${port(6)}  </devices>`);
  const stored = asLibvirtStores(transformDomain(original, plan));

  test('found by comparing what was defined with the read-back, and recorded (a record created when there is none)', () => {
    expect(addedRootPorts(transformDomain(original, plan), stored)).toEqual([6]);
    expect(recordRootPorts(stored, [6])).toContain("<passthrough:gpudirect xmlns:passthrough='urn:libvirt-passthrough:metadata:1' created='metadata pcie-root-port:6' added='hostdev:1b:00.0'/>");
    // A domain whose record an older release did not write (or none at all) gets one.
    expect(recordRootPorts(original.replace('  </devices>', `${port(6)}  </devices>`), [6])).toContain(
      "<metadata>\n    <passthrough:gpudirect xmlns:passthrough='urn:libvirt-passthrough:metadata:1' created='pcie-root-port:6 metadata'/>\n  </metadata>",
    );
  });

  test.each([
    ['empty and recorded: removed, the original comes back byte for byte', (x: string) => x, true],
    ['a device that stays sits on its bus: kept', (x: string) => x.replace('  </devices>', "    <watchdog model='i6300esb'>\n      <address type='pci' domain='0x0000' bus='0x06' slot='0x00' function='0x0'/>\n    </watchdog>\n  </devices>"), false],
    ['a controller with a higher index stays (libvirt would refill the gap): kept', (x: string) => x.replace('  </devices>', `${port(7)}  </devices>`), false],
  ])('%s', (_n, change, gone) => {
    const recorded = change(recordRootPorts(stored, [6]));
    const removed = removePassthrough(recorded, plan);
    expect(removed.includes("index='6' model='pcie-root-port'")).toBe(!gone);
    if (gone) expect(removed).toBe(original);
  });

  test('a root port nobody recorded is never removed', () => {
    expect(removePassthrough(stored, plan)).toContain("index='6' model='pcie-root-port'");
  });
});
