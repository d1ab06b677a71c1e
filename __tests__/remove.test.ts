import * as fs from 'node:fs';
import * as path from 'node:path';
import { inspectDomain, removePassthrough, transformDomain } from '../lib';
import type { Plan } from '../lib';
import { REPO, corpusEntries } from './helpers/paths';
import { standardPlans } from '../lib/conformance/cases';

const read = (f: string) => fs.readFileSync(path.join(REPO, f), 'utf8');
const plans: Record<string, Plan> = standardPlans();
const q35 = corpusEntries().filter((e) => /^(q35|pc-q35-)/.test(e.machine));

describe.each(q35.map((e) => [e.file, e.path]))('corpus %s', (_f, file) => {
  const xml = fs.readFileSync(file, 'utf8');
  test.each(Object.keys(plans))('removePassthrough(transformDomain(x, %s), plan) === x', (name) => {
    let out: string;
    try {
      out = transformDomain(xml, plans[name]);
    } catch {
      return; // refused (covered by the corpus suite)
    }
    expect(removePassthrough(out, plans[name])).toBe(xml);
  });
});

const domain = read('examples/domain.xml');

test('removing one GPU keeps the other, its override and its metadata', () => {
  const out = transformDomain(domain, JSON.parse(read('examples/2gpu-k80.plan.json')));
  const one = removePassthrough(out, { aliases: ['gpu1'] });
  const info = inspectDomain(one);
  expect(info.hostdevs.map((h) => h.alias)).toEqual(['ua-gpu0']);
  expect(Object.keys(info.gpudirect)).toEqual(['ua-gpu0']);
  expect(one).toContain("xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'");
  expect(removePassthrough(one, { addresses: ['0000:04:00.0'] })).toBe(domain);
});

test('without a selection, every GPU in the metadata goes; the NPU stays', () => {
  const plan: Plan = { hostdevs: [{ address: '1b:00.0' }, { address: '3b:00.0', alias: 'gpu0', gpudirect: { clique: 0, architecture: 'hopper' } }] };
  const out = transformDomain(domain, plan);
  expect(removePassthrough(out)).toBe(transformDomain(domain, { hostdevs: [plan.hostdevs[0]] }));
});

test('the old-stack -set arguments are removed too', () => {
  const plan: Plan = { target: { libvirt: '7.0.0' }, hostdevs: [{ address: '3b:00.0', alias: 'gpu0', gpudirect: { clique: 4, architecture: 'volta' } }] };
  const out = transformDomain(domain, plan);
  expect(out).toContain('device.ua-gpu0.x-nv-gpudirect-clique=4');
  expect(removePassthrough(out, plan)).toBe(domain);
});

test('a user override beside ours survives, and the namespace the user declared stays', () => {
  const user = domain
    .replace("<domain type='kvm'>", "<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>")
    .replace('</devices>', "</devices>\n  <qemu:override>\n    <qemu:device alias='ua-disk0'>\n      <qemu:frontend>\n        <qemu:property name='rotation_rate' type='unsigned' value='1'/>\n      </qemu:frontend>\n    </qemu:device>\n  </qemu:override>");
  const plan: Plan = { hostdevs: [{ address: '3b:00.0', alias: 'gpu0', gpudirect: { clique: 0, architecture: 'ampere' } }] };
  const out = transformDomain(user, plan);
  expect(removePassthrough(out, plan)).toBe(user);
});

test('nothing selected: the input comes back unchanged', () => {
  expect(removePassthrough(domain, { addresses: ['99:00.0'] })).toBe(domain);
});

test.each(['mmio-ovmf-h100', 'mmio-seabios-existing-root'])('the MMIO window of case %s is removed with its plan', (name) => {
  const dir = path.join(REPO, '__tests__', 'cases', name);
  const original = fs.readFileSync(path.join(dir, 'domain.xml'), 'utf8');
  const plan = JSON.parse(fs.readFileSync(path.join(dir, 'plan.json'), 'utf8'));
  expect(removePassthrough(fs.readFileSync(path.join(dir, 'expected.xml'), 'utf8'), plan)).toBe(original);
});

test.each([
  ['a self-closing pcie-root is opened, then closed again', domain],
  ['a pcie-root the transform created goes with the window', read('__tests__/cases/npu-guide/domain.xml')],
])('%s', (_name, xml) => {
  const plan: Plan = { mmio: { window64GiB: 64 }, hostdevs: [{ address: '3b:00.0' }] };
  const out = transformDomain(xml, plan);
  expect(out).toContain("<controller type='pci' index='0' model='pcie-root'>\n      <pcihole64 unit='KiB'>67108864</pcihole64>");
  expect(removePassthrough(out, plan)).toBe(xml);
});

test('old-stack -set cliques and the OVMF MMIO window share one <qemu:commandline>, and both come out again', () => {
  const ovmf = read('__tests__/cases/mmio-ovmf-h100/domain.xml');
  const plan: Plan = { target: { libvirt: '7.0.0' }, mmio: { window64GiB: 64 }, hostdevs: [{ address: '3b:00.0', alias: 'gpu0', gpudirect: { clique: 0, architecture: 'volta' } }] };
  const out = transformDomain(ovmf, plan);
  expect(out.match(/<qemu:commandline>/g)).toHaveLength(1);
  expect(out).toContain("<qemu:arg value='device.ua-gpu0.x-nv-gpudirect-clique=0'/>\n    <qemu:arg value='-fw_cfg'/>");
  expect(transformDomain(out, plan)).toBe(out);
  expect(removePassthrough(out, plan)).toBe(ovmf);
});
