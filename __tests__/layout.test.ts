import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassthroughError, explainTransform, guestTreeFromDomain, removePassthrough, transformDomain } from '../lib';
import type { Plan } from '../lib/plan/types';
import { checkedTransform } from './helpers/invariants';
import { CASES_DIR } from './helpers/paths';

// The guest layout in the transform (plan.layout): what is written beside the snapshot cases, and that removal
// takes back exactly that, through the one mechanism for created structure (no case for it in remove.ts).

const read = (name: string, file: string) => fs.readFileSync(path.join(CASES_DIR, name, file), 'utf8');
const CASES = ['layout-mirror-2s8g', 'layout-numa-4gpu'];

test.each(CASES)('%s: removal with the plan, and with no selection, gives the input back byte for byte', (name) => {
  const domain = read(name, 'domain.xml');
  const plan = JSON.parse(read(name, 'plan.json'));
  const out = checkedTransform(domain, plan).xml;
  expect(removePassthrough(out, plan)).toBe(domain);
  expect(removePassthrough(out)).toBe(domain);
});

test('mirror: devices removed one by one free their ports, then their switch, expander bus, and the record', () => {
  const domain = read('layout-mirror-2s8g', 'domain.xml');
  const plan = JSON.parse(read('layout-mirror-2s8g', 'plan.json'));
  let xml = transformDomain(domain, plan);
  const first = removePassthrough(xml, { aliases: ['gpu0'] });
  // gpu0's downstream port (index 4) goes with it; the switch above still serves gpu1 and the NIC.
  expect(first).not.toContain("<controller type='pci' index='4'");
  expect(first).toContain("<controller type='pci' index='3' model='pcie-switch-upstream-port'>");
  for (const h of plan.hostdevs) xml = removePassthrough(xml, { aliases: [h.alias] });
  expect(xml).toBe(domain);
});

test('a device the user put on a layout bus since keeps its controller, the controllers above it and the cells', () => {
  const domain = read('layout-numa-4gpu', 'domain.xml');
  const plan = JSON.parse(read('layout-numa-4gpu', 'plan.json'));
  const disk = "    <disk type='file' device='disk'>\n      <source file='/var/lib/libvirt/images/scratch.qcow2'/>\n      <target dev='vdb' bus='virtio'/>\n      <address type='pci' domain='0x0000' bus='0x06' slot='0x00' function='0x0'/>\n    </disk>\n";
  const out = transformDomain(domain, plan).replace('    <memballoon', `${disk}    <memballoon`);
  const removed = removePassthrough(out, plan);
  expect(removed).toContain(disk);
  for (const kept of ["index='4' model='pcie-expander-bus'", "index='6' model='pcie-root-port'", '<numa>']) expect(removed).toContain(kept);
  for (const gone of ["index='1' model", "index='5' model", "index='2' model", '<hostdev']) expect(removed).not.toContain(gone);
  expect(removed).toMatch(/created='cpu-opened numa controller:4 controller:6 pcie-root metadata'|created='[^']*controller:4[^']*controller:6[^']*'/);
});

const NO_CPU = read('layout-numa-4gpu', 'domain.xml').replace("  <cpu mode='host-passthrough'/>\n", '');
const NUMA_PLAN = JSON.parse(read('layout-numa-4gpu', 'plan.json'));

test('a domain without <cpu> gets one after <features>, holding the cells; removal takes both', () => {
  const result = checkedTransform(NO_CPU, NUMA_PLAN);
  expect(result.xml).toContain("  </features>\n  <cpu>\n    <numa>\n      <cell id='0' cpus='0-1' memory='16777216' unit='KiB'/>");
  expect(result.warnings.join(' ')).toMatch(/had no NUMA cells: the layout's 2 were created, vCPUs and memory split evenly \(cell 0: vCPUs 0-1/);
  expect(removePassthrough(result.xml, NUMA_PLAN)).toBe(NO_CPU);
});

test.each([
  // [vCPUs, memory, the cells written]
  [3, "<memory unit='MiB'>4097</memory>", ["cpus='0-1' memory='2098176'", "cpus='2' memory='2097152'"]],
  [2, '<memory>1000000</memory>', ["cpus='0' memory='500288'", "cpus='1' memory='499712'"]],
])('cells split evenly: %s vCPUs, %s', (vcpus, memory, cells) => {
  const domain = NO_CPU.replace('<vcpu>4</vcpu>', `<vcpu>${vcpus}</vcpu>`).replace("<memory unit='GiB'>32</memory>", memory);
  const out = checkedTransform(domain, NUMA_PLAN).xml;
  for (const cell of cells) expect(out).toContain(cell);
});

test('controllers are added after the domain\'s own when every planned device is already there', () => {
  const domain = read('layout-numa-4gpu', 'domain.xml');
  const { layout: _layout, ...withoutLayout } = NUMA_PLAN;
  const devicesFirst = transformDomain(domain, withoutLayout);
  const result = checkedTransform(devicesFirst, NUMA_PLAN);
  expect(result.changes.filter((c) => c.kind === 'controller-added').map((c) => c.alias)).toEqual(['pci.1', 'pci.2', 'pci.3', 'pci.4', 'pci.5', 'pci.6']);
  expect(result.changes.filter((c) => c.kind === 'hostdev-added')).toEqual([]);
  expect(removePassthrough(result.xml, NUMA_PLAN)).toBe(domain);
});

test('a flat layout adds no controllers or cells and needs no ACPI; its record still names the devices', () => {
  const domain = NO_CPU.replace('    <acpi/>\n', '');
  const plan: Plan = { layout: { kind: 'flat', cells: [], controllers: [] }, hostdevs: [{ address: '3b:00.0', alias: 'nic0', device: '15b3:101b' }] };
  const out = checkedTransform(domain, plan).xml;
  expect(out).not.toMatch(/<numa>|<controller type='pci' index='1'/);
  expect(out).toContain("<passthrough:device alias='ua-nic0' role='nic' address='0000:3b:00.0' device='15b3:101b'/>");
  expect(removePassthrough(out, plan)).toBe(domain);
});

test('functions of one card share a slot: function 0 says multifunction', () => {
  const out = transformDomain(read('layout-mirror-2s8g', 'domain.xml'), JSON.parse(read('layout-mirror-2s8g', 'plan.json')));
  expect(out).toContain("<address type='pci' domain='0x0000' bus='0x06' slot='0x00' function='0x0' multifunction='on'/>");
  expect(out).toContain("<address type='pci' domain='0x0000' bus='0x06' slot='0x00' function='0x1'/>");
});

test('the layout record carries the host links nccl-topo reports', () => {
  const out = transformDomain(read('layout-mirror-2s8g', 'domain.xml'), JSON.parse(read('layout-mirror-2s8g', 'plan.json')));
  const port = guestTreeFromDomain(out).cpus[1].roots[0];
  expect(port).toMatchObject({ bdf: '0000:f0:00.0', alias: 'pci.13', link: { speed: '32.0 GT/s PCIe', width: 16 } });
});

test('explainTransform reports each controller and the created cells', () => {
  const { changes } = explainTransform(NO_CPU, NUMA_PLAN);
  expect(changes.find((c) => c.kind === 'numa-added')).toMatchObject({ cells: 2, line: expect.any(Number) });
  expect(changes.filter((c) => c.kind === 'controller-added')).toHaveLength(6);
});

const LAYOUT_DOMAIN = read('layout-numa-4gpu', 'domain.xml');

// The plan's own checks (schema, plan/layout.ts) run first; these are the rows the transform adds or must pass on.
test.each([
  ['kind (the schema)', { kind: 'tree' }, 'PLAN_INVALID', 'layout.kind'],
  ['an expander bus on a cell the layout does not list', { cells: [{ cell: 0, hostNode: 0 }] }, 'LAYOUT_INVALID', 'layout.controllers[3].node'],
  ['a device straight on an expander bus', { hostdevs: [{ address: '17:00.0', alias: 'gpu0', guestAddress: '01:01.0' }] }, 'LAYOUT_INVALID', 'hostdevs[0].guestAddress'],
  ['a device off a numa layout (the transform)', { hostdevs: [{ address: '17:00.0', alias: 'gpu0' }] }, 'LAYOUT_INVALID', 'hostdevs[0].guestAddress'],
  ['cells to create not numbered from 0 (the transform)', { cells: [{ cell: 0, hostNode: 0 }, { cell: 1, hostNode: 1 }, { cell: 3, hostNode: 2 }] }, 'LAYOUT_INVALID', 'layout.cells'],
])("the plan's layout is checked: %s", (_name, change, code, where) => {
  const { hostdevs, ...layoutChange } = change as { hostdevs?: unknown[] };
  const plan = { ...NUMA_PLAN, ...(hostdevs ? { hostdevs } : {}), layout: { ...NUMA_PLAN.layout, ...layoutChange } };
  let caught: unknown;
  try {
    transformDomain(LAYOUT_DOMAIN, plan);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(PassthroughError);
  expect({ code: (caught as PassthroughError).code, path: (caught as PassthroughError).path }).toEqual({ code, path: where });
});

describe('indexes: the plan\'s own, renumbered above the domain\'s controllers', () => {
  const domain = read('layout-renumbered', 'domain.xml');
  const plan = JSON.parse(read('layout-renumbered', 'plan.json'));
  const out = transformDomain(domain, plan);

  test('the domain keeps its root ports 1 and 2; the layout takes 3-6, and its devices follow', () => {
    expect(out).toContain("<controller type='pci' index='4' model='pcie-root-port'>\n      <address type='pci' domain='0x0000' bus='0x03' slot='0x00' function='0x0'/>");
    expect(flattenHosts(out)).toEqual({ 'ua-gpu0': '0000:fb:00.0', 'ua-gpu1': '0000:fd:00.0' });
    expect(removePassthrough(out, plan)).toBe(domain);
  });

  test('a root port libvirt adds at define (index 7, above the layout\'s) does not move the layout on a second transform', () => {
    const defined = out.replace('    <memballoon', "    <controller type='pci' index='7' model='pcie-root-port'>\n      <address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/>\n    </controller>\n    <memballoon");
    expect(transformDomain(defined, plan)).toBe(defined);
  });

  test('a recorded controller changed since is a conflict, not a second layout', () => {
    const changed = out.replace("<controller type='pci' index='4' model='pcie-root-port'>", "<controller type='pci' index='4' model='pci-bridge'>");
    expect(() => transformDomain(changed, plan)).toThrow(/controller 4, which its record gives to this layout's pcie-root-port, is now a pci-bridge/);
  });
});

function flattenHosts(xml: string): Record<string, string> {
  const out: Record<string, string> = {};
  const visit = (n: { alias?: string; role?: string; bdf: string; children: unknown[] }) => {
    if (n.role) out[`ua-${n.alias}`] = n.bdf;
    (n.children as (typeof n)[]).forEach(visit);
  };
  for (const cpu of guestTreeFromDomain(xml).cpus) cpu.roots.forEach(visit);
  return out;
}
