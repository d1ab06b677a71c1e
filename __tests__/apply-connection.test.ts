import * as fs from 'node:fs';
import { Embedded, cli, defineVm, dump, example, startEmbedded, writePlan } from './helpers/embedded-apply';
import { KVM, LIBVIRT, needs } from './helpers/needs';

// apply believes the libvirt it is connected to (issue 22 item 2), on real libvirt (the embedded driver).
const gate = needs(LIBVIRT, KVM);
let e: Embedded;
beforeAll(() => {
  if (!gate.met) return;
  e = startEmbedded('lp-apply-conn-');
});
afterAll(() => e && fs.rmSync(e.dir, { recursive: true, force: true }));
jest.setTimeout(60_000);

const k80 = JSON.parse(fs.readFileSync(example('2gpu-k80.plan.json'), 'utf8'));

gate.test('a plan whose target disagrees with the connection is refused, naming both versions; nothing is defined', () => {
  const before = defineVm(e, 'lp-stale');
  const plan = writePlan(e, 'stale', { ...k80, target: { libvirt: '10.0.0', qemu: '8.2.0' } });
  const r = cli(e, ['apply', 'lp-stale', '--plan', plan]);
  expect(r.code).toBe(1);
  const [target, refusal] = r.stderr.split('\n');
  expect(target).toMatch(/^target: libvirt (\d+\.\d+\.\d+) \(from virsh version on qemu:\/\/\/embed\?root=.*\), QEMU (\d+\.\d+\.\d+) \(from virsh version on .*\)$/);
  const [, libvirt] = /libvirt (\S+)/.exec(target)!;
  expect(refusal).toBe(`lp-stale: TARGET_MISMATCH: The plan's target says libvirt 10.0.0, but ${e.uri} runs libvirt ${libvirt} (virsh version); nothing was defined. Remove target.libvirt from the plan (apply uses what the connection reports), or pass --trust-plan-target if the plan is right (a vendor build with backports).`);
  expect(dump(e, 'lp-stale')).toBe(before);
});

gate.test('--trust-plan-target keeps the plan\'s versions, and the target line says so', () => {
  defineVm(e, 'lp-trusted');
  const plan = writePlan(e, 'trusted', { ...k80, target: { libvirt: '10.0.0', qemu: '8.2.0' } });
  const r = cli(e, ['apply', 'lp-trusted', '--plan', plan, '--trust-plan-target', '--dry-run']);
  expect(r.stderr).toBe('target: libvirt 10.0.0 (from the plan, --trust-plan-target), QEMU 8.2.0 (from the plan, --trust-plan-target)\n');
  expect(r.code).toBe(0);
});

gate.test('the dry run asks libvirt: a definition libvirt would refuse is LIBVIRT_REFUSED, not "would define"', () => {
  const before = defineVm(e, 'lp-dry-clash');
  // q35 has its LPC bridge at 00:1f.0: libvirt refuses a second device there.
  const plan = writePlan(e, 'clash', { hostdevs: [{ address: '1b:00.0', guestAddress: '00:1f.0' }] });
  const r = cli(e, ['apply', 'lp-dry-clash', '--plan', plan, '--dry-run']);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/^lp-dry-clash: LIBVIRT_REFUSED: libvirt would refuse the new definition: .*Attempted double use of PCI Address 0000:00:1f\.0; nothing was defined\n$/);
  expect(dump(e, 'lp-dry-clash')).toBe(before);
});

gate.test('--timeout must be a positive number', () => {
  expect(cli(e, ['apply', 'vm', '--plan', example('npu.plan.json'), '--timeout', '0'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/--timeout needs a positive number of seconds/) });
});
