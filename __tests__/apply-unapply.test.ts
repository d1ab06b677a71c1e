import * as fs from 'node:fs';
import { Embedded, Stack, cli, defineVm, dump, example, startEmbedded, virsh, writePlan } from './helpers/embedded-apply';
import { Gate, KVM, LIBVIRT, TRIXIE, needs } from './helpers/needs';

// apply then unapply gives back libvirt's definition byte for byte, on libvirt 9.0 (this host) and 11.3 (the
// Debian 13 chroot, scripts/in-trixie.sh), both through the embedded driver (helpers/embedded-apply.ts).
const STACKS: [Stack, Gate][] = [
  ['host', needs(LIBVIRT, KVM)],
  ['trixie', needs(LIBVIRT, KVM, TRIXIE)],
];
jest.setTimeout(240_000);

const VNC = "  <graphics type='vnc' port='-1' passwd='pw123456'/>\n  </devices>";
const withVnc = fs.readFileSync(example('domain.xml'), 'utf8').replace('  </devices>', VNC);
/** The 8-GPU example for any QEMU: without target (the connection's versions) and with the C8h offset QEMU < 8.1 needs. */
const eightGpus = () => {
  const plan = JSON.parse(fs.readFileSync(example('8x-h100.plan.json'), 'utf8'));
  delete plan.target;
  for (const h of plan.hostdevs) h.gpudirect.offset = '0xc8';
  return plan;
};

for (const [stack, gate] of STACKS) gate.describe(`on the ${stack} stack`, () => {
  let e: Embedded;
  beforeAll(() => {
    e = startEmbedded(`lp-unapply-${stack}-`, stack);
  });
  afterAll(() => e && fs.rmSync(e.dir, { recursive: true, force: true }));

  test.each([
    ['8 GPUs in one clique (libvirt adds 7 root ports), a VNC password', 'lp-eight', () => eightGpus(), /, the root ports libvirt added \(6, 7, 8, 9, 10, 11, 12\)$/],
    ['2 GPUs', 'lp-two', () => JSON.parse(fs.readFileSync(example('2gpu-k80.plan.json'), 'utf8')), /^removed hostdev 0000:04:00\.0, hostdev 0000:05:00\.0, 2 clique settings, 2 metadata entries/],
    ['an NPU without GPUDirect (no record but the root ports)', 'lp-npu', () => JSON.parse(fs.readFileSync(example('npu.plan.json'), 'utf8')), /^removed hostdev 0000:1b:00\.0/],
  ])('%s: apply + unapply give back the original dumpxml byte for byte', (_name, vm, plan, said) => {
    const original = defineVm(e, vm, withVnc);
    const file = writePlan(e, vm, plan());
    const applied = cli(e, ['apply', vm, '--plan', file, '--timeout', '120']);
    expect([applied.code, applied.stderr.replace(/^target: .*\n/, '')]).toEqual([0, '']);
    const dry = cli(e, ['unapply', vm, '--plan', file, '--dry-run', '--timeout', '120']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(new RegExp(`^--- ${vm} \\(libvirt\\)\\n`));
    const result = cli(e, ['unapply', vm, '--plan', file, '--json', '--timeout', '120']);
    expect(result.code).toBe(0);
    const [json] = JSON.parse(result.stdout);
    expect(json).toMatchObject({ vm, code: 'OK', message: expect.stringMatching(said) });
    expect(dump(e, vm)).toBe(original);
  });

  const portsOf = (xml: string) => [...xml.matchAll(/<controller type='pci' index='(\d+)' model='pcie-root-port'>/g)].map((m) => Number(m[1]));
  const RECORDED = [6, 7, 8, 9, 10, 11, 12];

  test('unapply of some GPUs removes the recorded ports left empty, from the top (libvirt refills a gap below a used index)', () => {
    defineVm(e, 'lp-half', withVnc);
    const plan = eightGpus();
    expect(cli(e, ['apply', 'lp-half', '--plan', writePlan(e, 'lp-half', plan), '--timeout', '120']).code).toBe(0);
    const before = dump(e, 'lp-half');
    const busOf = (alias: string) => Number(new RegExp(`<alias name='${alias}'/>\\s*<address type='pci' domain='0x0000' bus='(0x[0-9a-f]+)'`).exec(before)![1]);
    const r = cli(e, ['unapply', 'lp-half', '--plan', writePlan(e, 'half', { hostdevs: plan.hostdevs.slice(0, 4) }), '--timeout', '120']);
    expect([r.code, r.stderr]).toEqual([0, '']);
    const highest = Math.max(...['ua-gpu4', 'ua-gpu5', 'ua-gpu6', 'ua-gpu7'].map(busOf));
    expect(portsOf(dump(e, 'lp-half')).filter((i) => i >= 6)).toEqual(RECORDED.filter((i) => i <= highest));
    expect(dump(e, 'lp-half')).toMatch(/created="[^"]*pcie-root-port:6/); // the ports that stay stay recorded
  });

  test('a root port libvirt added for another tool\'s device is never removed', () => {
    defineVm(e, 'lp-nic', withVnc);
    const plan = writePlan(e, 'lp-nic', eightGpus());
    expect(cli(e, ['apply', 'lp-nic', '--plan', plan, '--timeout', '120']).code).toBe(0);
    // Another tool adds a NIC: no port is free, so libvirt adds one for it, which apply did not cause.
    const nic = "    <interface type='network'>\n      <source network='theirs'/>\n      <model type='e1000e'/>\n    </interface>\n  </devices>";
    fs.writeFileSync(`${e.dir}/theirs.xml`, dump(e, 'lp-nic').replace('  </devices>', nic));
    virsh(e, 'define', '--file', `${e.dir}/theirs.xml`);
    const nicPort = Number(/<source network='theirs'\/>\s*<model type='e1000e'\/>\s*<address type='pci' domain='0x0000' bus='(0x[0-9a-f]+)'/.exec(dump(e, 'lp-nic'))![1]);
    expect(nicPort).toBe(13);
    const r = cli(e, ['unapply', 'lp-nic', '--plan', plan, '--timeout', '120']);
    expect([r.code, r.stderr]).toEqual([0, '']);
    const after = dump(e, 'lp-nic');
    expect(after).not.toContain('ua-gpu');
    expect(portsOf(after).filter((i) => i >= 6)).toEqual([...RECORDED, 13]); // 13 holds the NIC, and below it libvirt would refill any gap
    expect(after).toContain("<source network='theirs'/>");
  });

  test('unapply without a plan takes back the GPUs the metadata records; with nothing recorded it refuses', () => {
    const original = defineVm(e, 'lp-noplan', withVnc);
    expect(cli(e, ['unapply', 'lp-noplan']).stderr).toMatch(/^lp-noplan: REMOVE_NOT_FOUND: Nothing to remove/);
    expect(cli(e, ['apply', 'lp-noplan', '--plan', example('2gpu-k80.plan.json'), '--timeout', '120']).code).toBe(0);
    expect(cli(e, ['unapply', 'lp-noplan', '--timeout', '120']).code).toBe(0);
    expect(dump(e, 'lp-noplan')).toBe(original);
  });
});
