import * as fs from 'node:fs';
import * as path from 'node:path';
import * as os from 'node:os';
import { PassthroughError } from '../lib';
import { captureHost, readHostCapture } from '../lib/host/capture';
import { explainPlanFromHost, planFromHost } from '../lib/host/plan';
import { HostPciDevice, HostSnapshot, readHostSnapshot, sysfsLink } from '../lib/host/snapshot';
import { guestBusNumbers, guestPath } from '../lib/layout/bus-numbers';
import { hostPciTree } from '../lib/layout/host-tree';
import { LayoutKind, PciTreeNode, PlanLayout } from '../lib/layout/types';
import { normalizePlan } from '../lib/plan/normalize';
import { Plan } from '../lib/plan/types';
import { asusEsc8000aE12, hgxA100, nvidiaDgx2h, rccl8gpu2switch } from './helpers/host-topologies';
import { REPO } from './helpers/paths';
import { BRIDGE, FakeDevice, GPU, makeSysfs } from './helpers/sysfs';

const roots: string[] = [];
afterAll(() => roots.forEach((r) => fs.rmSync(r, { recursive: true, force: true })));
const snapshotOf = (devices: FakeDevice[]): HostSnapshot => {
  const root = makeSysfs({ devices });
  roots.push(root);
  return readHostSnapshot(root);
};

/** The spec's 4+4 example: two K80 boards per socket, each GPU pair behind a root port (no switch in between). */
const dualSocketK80 = (): FakeDevice[] => {
  const gpu = (p: string[], numa: number): FakeDevice => ({ path: p, vendor: 0x10de, device: 0x102d, classCode: GPU, numa });
  return [
    ...['02', '03'].map((p) => ({ path: ['pci0000:00', `0000:00:${p}.0`], vendor: 0x8086, device: 0x6f08, classCode: BRIDGE, numa: 0 })),
    ...['02', '03'].map((p) => ({ path: ['pci0000:80', `0000:80:${p}.0`], vendor: 0x8086, device: 0x6f08, classCode: BRIDGE, numa: 1 })),
    gpu(['pci0000:00', '0000:00:02.0', '0000:04:00.0'], 0),
    gpu(['pci0000:00', '0000:00:03.0', '0000:08:00.0'], 0),
    gpu(['pci0000:80', '0000:80:02.0', '0000:84:00.0'], 1),
    gpu(['pci0000:80', '0000:80:03.0', '0000:88:00.0'], 1),
  ];
};

/** The spec's 4+4 example as host.test.ts fakes it: each K80's two GPUs side by side below one root port (sysfs without the board's bridge). */
const k80Boards = (): FakeDevice[] => {
  const ports = dualSocketK80().filter((d) => d.classCode === BRIDGE);
  const gpu = (port: string, bus: string, numa: number): FakeDevice => ({ path: [`pci0000:${port.slice(5, 7)}`, port, `0000:${bus}:00.0`], vendor: 0x10de, device: 0x102d, classCode: GPU, numa });
  return [...ports, gpu('0000:00:02.0', '04', 0), gpu('0000:00:02.0', '05', 0), gpu('0000:00:03.0', '08', 0), gpu('0000:00:03.0', '09', 0),
    gpu('0000:80:02.0', '84', 1), gpu('0000:80:02.0', '85', 1), gpu('0000:80:03.0', '88', 1), gpu('0000:80:03.0', '89', 1)];
};

const HOSTS: Record<string, () => FakeDevice[]> = {
  'hgx-a100-8gpu': hgxA100,
  'k80-boards': k80Boards,
  'asus-esc8000a-e12': asusEsc8000aE12,
  'nvidia-dgx2h': nvidiaDgx2h,
  'rccl-8gpu-2switch': rccl8gpu2switch,
  'dual-socket-k80': dualSocketK80,
};

/** --gpus: all NVIDIA GPUs, or on the RCCL host its accelerators by address (`--gpus all` picks NVIDIA's only). */
const gpusOf = (host: string, s: HostSnapshot): 'all' | string[] =>
  host === 'rccl-8gpu-2switch' ? s.devices.filter((d) => d.classCode === 0x038000).map((d) => d.address) : 'all';

const hex2 = (n: number) => n.toString(16).padStart(2, '0');

/** The layout as a tree a person can check against the host listing: controllers, then each device's guest bus ID. */
function renderLayout(plan: Plan): string {
  const layout = plan.layout!;
  const numbers = guestBusNumbers(layout);
  const lines: string[] = [`${layout.kind}; cells ${layout.cells.map((c) => `${c.cell}←host ${c.hostNode}`).join(', ') || 'none'}`];
  const walk = (bus: number, depth: number) => {
    for (const c of layout.controllers.filter((x) => x.bus === bus)) {
      const extra = [c.busNr !== undefined && `busNr ${c.busNr}`, c.node !== undefined && `cell ${c.node}`, c.link && `${c.link.speed} x${c.link.width}`].filter(Boolean).join(', ');
      lines.push(`${'  '.repeat(depth)}${c.index} ${c.model} @${hex2(c.slot)}.${c.function} bus ${hex2(numbers.get(c.index)!)} = ${c.mirrors ?? '-'}${extra ? ` (${extra})` : ''}`);
      for (const h of plan.hostdevs.filter((x) => typeof x.guestAddress === 'object' && x.guestAddress.bus === c.index)) {
        const g = h.guestAddress as { bus: number; slot: number; function: number };
        lines.push(`${'  '.repeat(depth + 1)}${h.alias} ${h.address} → ${guestPath(layout, g).at(-1)}`);
      }
      walk(c.index, depth + 1);
    }
  };
  walk(0, 0);
  return lines.join('\n');
}

describe('layouts of real host topologies', () => {
  test.each([
    ['hgx-a100-8gpu', 'mirror'],
    ['hgx-a100-8gpu', 'numa'],
    ['asus-esc8000a-e12', 'mirror'],
    ['asus-esc8000a-e12', 'numa'],
    ['nvidia-dgx2h', 'mirror'],
    ['nvidia-dgx2h', 'numa'],
    ['rccl-8gpu-2switch', 'mirror'],
    ['rccl-8gpu-2switch', 'numa'],
    ['dual-socket-k80', 'mirror'],
    ['k80-boards', 'mirror'],
  ] as const)('%s --gpus all --nics all --layout %s', (host, kind) => {
    const snapshot = snapshotOf(HOSTS[host]());
    const plan = planFromHost(snapshot, { gpus: gpusOf(host, snapshot), nics: 'all', layout: kind });
    expect(renderLayout(plan)).toMatchSnapshot();
    expect(() => normalizePlan(plan, [])).not.toThrow();
  });

  // NCCL's path type (PIX, PXB, PHB, NODE/SYS) is a function of the sysfs paths and NUMA nodes: with mirror, every
  // pair of placed devices must have in the guest the type it has on the host.
  test.each(Object.keys(HOSTS))('%s: mirror keeps every pair\'s path type; numa makes pairs on one node PHB', (host) => {
    const snapshot = snapshotOf(HOSTS[host]());
    for (const kind of ['mirror', 'numa'] as const) {
      const plan = planFromHost(snapshot, { gpus: gpusOf(host, snapshot), nics: 'all', layout: kind });
      const placed = plan.hostdevs.map((h) => snapshot.devices.find((d) => d.address === h.address)!);
      const hostType = pairTypes(placed);
      const guestType = pairTypes(plan.hostdevs.map((h, i) => guestDevice(plan, h.guestAddress as never, placed[i])));
      // numa: one root bus per node, so pairs on one node meet at it (PHB), but the functions of one card stay together.
      const sameCard = (pair: string) => new Set(pair.split('-').map((i) => placed[Number(i)].address.slice(0, -2))).size === 1;
      const expected = kind === 'mirror' ? hostType : hostType.map(([pair, t]) => [pair, t === 'SYS' || sameCard(pair) ? t : 'PHB']);
      expect(guestType).toEqual(expected);
      expect(hostType.length).toBe((placed.length * (placed.length - 1)) / 2);
    }
  });
});

/** The placed device as the guest kernel will show it: its guest path, on the NUMA node of its expander bus's cell. */
function guestDevice(plan: Plan, place: { bus: number; slot: number; function: number }, host: HostPciDevice): HostPciDevice {
  const layout = plan.layout!;
  const p = guestPath(layout, place);
  const pxb = layout.controllers.find((c) => c.model === 'pcie-expander-bus' && p[0] === `pci0000:${hex2(c.busNr!)}`);
  return { ...host, address: p[p.length - 1], path: p, numaNode: pxb?.node ?? -1 };
}

/** Every pair's type, named by position (the host and guest lists are in the same order). */
function pairTypes(devices: HostPciDevice[]): [string, string][] {
  const link = sysfsLink({ devices, cmdline: '', iommuGroups: new Map() });
  const out: [string, string][] = [];
  devices.forEach((a, i) => devices.slice(i + 1).forEach((b, j) => out.push([`${i}-${i + 1 + j}`, link(a, b)])));
  return out;
}

describe('host plan chooses and writes the layout', () => {
  test.each([
    ['two NUMA nodes', dualSocketK80(), undefined, 'mirror'],
    ['two NUMA nodes, --layout flat', dualSocketK80(), 'flat', 'flat'],
    ['one node, no switch', dualSocketK80().filter((d) => d.numa === 0), undefined, 'flat'],
    ['one node, two switches (DGX-2H socket 0)', nvidiaDgx2h().filter((d) => d.numa === 0), undefined, 'mirror'],
    ['one node, --layout numa', dualSocketK80().filter((d) => d.numa === 0), 'numa', 'numa'],
  ] as const)('%s → %s', (_, devices, layout, kind) => {
    const { plan, reasons } = explainPlanFromHost(snapshotOf([...devices]), { gpus: 'all', layout: layout as LayoutKind | undefined });
    expect(plan.layout?.kind ?? 'flat').toBe(kind);
    expect(reasons.join('\n')).toMatch(new RegExp(`^layout: ${kind}`, 'm'));
    if (kind === 'flat') expect(plan.hostdevs.every((h) => h.guestAddress === undefined)).toBe(true);
    else expect(plan.hostdevs.every((h) => typeof h.guestAddress === 'object')).toBe(true);
  });

  test('flat is the plan of before: no layout, no guest addresses, nothing else changed', () => {
    const snapshot = snapshotOf(dualSocketK80());
    const flat = planFromHost(snapshot, { gpus: 'all', layout: 'flat' });
    const mirror = planFromHost(snapshot, { gpus: 'all' });
    expect(Object.keys(flat)).toEqual(['hostdevs']);
    expect(flat.hostdevs.map(({ guestAddress, ...rest }) => rest)).toEqual(mirror.hostdevs.map(({ guestAddress, ...rest }) => rest));
  });

  test('--nics: a named port brings the other port of its card; aliases count per kind', () => {
    const snapshot = snapshotOf(asusEsc8000aE12());
    const plan = planFromHost(snapshot, { gpus: ['0000:01:00.0'], nics: ['0000:21:00.1'], layout: 'mirror' });
    expect(plan.hostdevs.map((h) => [h.alias, h.address, h.guestAddress])).toEqual([
      ['gpu0', '0000:01:00.0', { bus: 2, slot: 0, function: 0 }],
      ['nic0', '0000:21:00.0', { bus: 4, slot: 0, function: 0 }],
      ['nic1', '0000:21:00.1', { bus: 4, slot: 0, function: 1 }],
    ]);
  });

  test('a card of which only function 1 is placed becomes function 0 in the guest (a slot needs function 0)', () => {
    const snapshot = snapshotOf(asusEsc8000aE12());
    const plan = planFromHost(snapshot, { gpus: ['0000:01:00.1'], layout: 'mirror' });
    expect(plan.hostdevs[0].guestAddress).toEqual({ bus: 2, slot: 0, function: 0 });
  });

  test.each([
    ['33 GPUs behind one switch', switchWith(33), /needs 33 ports on one guest bus|would need 33 ports/],
    ['more buses than a segment has', manySwitches(8), /needs 280 guest buses .* 255/],
  ])('%s is refused with LAYOUT_INVALID naming the fix', (_, devices, message) => {
    const snapshot = snapshotOf(devices);
    const error = catchError(() => planFromHost(snapshot, { gpus: 'all', layout: 'mirror' }));
    expect(error).toMatchObject({ code: 'LAYOUT_INVALID' });
    expect(error.message).toMatch(message);
    expect(error.message).toMatch(/fewer devices|--layout numa/);
  });

  test('nothing selected: no layout section, whatever --layout says', () => {
    expect(planFromHost(snapshotOf(dualSocketK80()), { npus: 'all', layout: 'mirror' })).toEqual({ hostdevs: [] });
  });

  test('the API refuses an unknown layout kind', () => {
    const snapshot = snapshotOf(dualSocketK80());
    expect(() => planFromHost(snapshot, { gpus: 'all', layout: 'tree' as never })).toThrow(/selection.layout as one of flat, numa, mirror/);
  });
});

/** `n` GPUs, each on a downstream port of one switch below one root port. */
function switchWith(n: number): FakeDevice[] {
  const up = ['pci0000:00', '0000:00:01.0', '0000:01:00.0'];
  const devices: FakeDevice[] = [
    { path: up.slice(0, 2), vendor: 0x8086, device: 0x2030, classCode: BRIDGE, numa: 0 },
    { path: up, vendor: 0x10b5, device: 0x9797, classCode: BRIDGE, numa: 0 },
  ];
  for (let i = 0; i < n; i++) {
    const down = `0000:02:${hex2(i % 32)}.${Math.floor(i / 32)}`;
    devices.push({ path: [...up, down], vendor: 0x10b5, device: 0x9797, classCode: BRIDGE, numa: 0 });
    devices.push({ path: [...up, down, `0000:${hex2(3 + i)}:00.0`], vendor: 0x10de, device: 0x20b0, classCode: GPU, numa: 0 });
  }
  return devices;
}

/** `n` root complexes (one PCI domain each), each a switch with 32 GPUs below its root port: 35 buses each. */
function manySwitches(n: number): FakeDevice[] {
  const devices: FakeDevice[] = [];
  for (let r = 0; r < n; r++) {
    const domain = r.toString(16).padStart(4, '0');
    const [hb, rp, up] = [`pci${domain}:00`, `${domain}:00:01.0`, `${domain}:01:00.0`];
    devices.push({ path: [hb, rp], vendor: 0x8086, device: 0x2030, classCode: BRIDGE, numa: r % 2 });
    devices.push({ path: [hb, rp, up], vendor: 0x10b5, device: 0x9797, classCode: BRIDGE, numa: r % 2 });
    for (let g = 0; g < 32; g++) {
      const down = `${domain}:02:${hex2(g)}.0`;
      devices.push({ path: [hb, rp, up, down], vendor: 0x10b5, device: 0x9797, classCode: BRIDGE, numa: r % 2 });
      devices.push({ path: [hb, rp, up, down, `${domain}:${hex2(3 + g)}:00.0`], vendor: 0x10de, device: 0x20b0, classCode: GPU, numa: r % 2 });
    }
  }
  return devices;
}

function catchError(fn: () => unknown): PassthroughError {
  try {
    fn();
  } catch (err) {
    return err as PassthroughError;
  }
  throw new Error('expected an error');
}

describe('a hand-written layout is checked', () => {
  const base = (): Plan => JSON.parse(fs.readFileSync(path.join(REPO, 'docs', 'plan.md'), 'utf8').split('```json').pop()!.split('```')[0]);
  const edit = (change: (plan: Plan & { layout: PlanLayout }) => void): Plan => {
    const plan = base() as Plan & { layout: PlanLayout };
    change(plan);
    return plan;
  };

  test('the example in docs/plan.md is valid', () => {
    expect(() => normalizePlan(base(), [])).not.toThrow();
  });

  test.each([
    ['a bus that names no controller', (p) => (p.layout.controllers[1].bus = 9), 'layout.controllers[1].bus', /bus 9 names no controller/],
    ['an index used twice', (p) => (p.layout.controllers[4].index = 4), 'layout.controllers[4].index', /index 4 is used twice/],
    ['an index not above its bus', (p) => ((p.layout.controllers[1].index = 7), (p.layout.controllers[2].bus = 7)), 'layout.controllers[2].index', /index above 7/],
    ['a downstream port on a root port', (p) => (p.layout.controllers[3].bus = 2), 'layout.controllers[3].bus', /cannot sit on a pcie-root-port/],
    ['a root port at slot 1 of a port', (p) => (p.layout.controllers[2].slot = 1), 'layout.controllers[2].slot', /has one slot, 0/],
    ['an expander bus without busNr', (p) => delete p.layout.controllers[0].busNr, 'layout.controllers[0]', /needs a busNr/],
    ['a busNr on a port', (p) => (p.layout.controllers[1].busNr = 200), 'layout.controllers[1].busNr', /busNr belongs to a pcie-expander-bus/],
    ['a bus range past 255', (p) => (p.layout.controllers[0].busNr = 254), 'layout.controllers[0].busNr', /buses 254-258, past 255: lower its busNr to 251/],
    ['a node cells does not list', (p) => (p.layout.controllers[0].node = 3), 'layout.controllers[0].node', /guest cell 3, which layout.cells does not list/],
    ['a cell listed twice', (p) => p.layout.cells.push({ cell: 0, hostNode: 2 }), 'layout.cells[1].cell', /cell 0 is listed twice/],
    ['a device on the upstream port', (p) => (p.hostdevs[0].guestAddress = { bus: 3, slot: 0, function: 0 }), 'hostdevs[0].guestAddress', /sits on a pcie-switch-upstream-port/],
    ['a device at slot 1 of a port', (p) => (p.hostdevs[0].guestAddress = { bus: 4, slot: 1, function: 0 }), 'hostdevs[0].guestAddress', /has one slot, 0/],
    ['a device on a bus the layout lacks', (p) => (p.hostdevs[0].guestAddress = { bus: 12, slot: 0, function: 0 }), 'hostdevs[0].guestAddress', /12 is none/],
    ['two controllers in one place', (p) => (p.layout.controllers[4].slot = 0), 'layout.controllers[4].slot', /controller 5 and controller 4 both sit at bus 3, slot 0/],
    ['function 1 without multifunction', (p) => (p.layout.controllers[4] = { ...p.layout.controllers[4], slot: 0, function: 1 }), 'layout.controllers[4].function', /needs "multifunction": true/],
    ['a flat layout with controllers', (p) => (p.layout.kind = 'flat'), 'layout.kind', /a flat layout adds no controllers/],
    ['overlapping expander buses', (p) => p.layout.controllers.push({ index: 6, model: 'pcie-expander-bus', bus: 0, slot: 17, function: 0, busNr: 252 }), 'layout.controllers[0].busNr', /251-255\) and 6 \(buses 252-252\) overlap/],
  ] as [string, (p: Plan & { layout: PlanLayout }) => void, string, RegExp][])('%s → LAYOUT_INVALID at its path', (_, change, at, message) => {
    const error = catchError(() => normalizePlan(edit(change), []));
    expect(error).toMatchObject({ code: 'LAYOUT_INVALID', path: at });
    expect(error.message).toMatch(message);
  });

  test.each([
    ['busNr 255', (p) => (p.layout.controllers[0].busNr = 255), 'layout.controllers[0].busNr'],
    ['index 0', (p) => (p.layout.controllers[0].index = 0), 'layout.controllers[0].index'],
    ['an unknown model', (p) => ((p.layout.controllers[1] as { model: string }).model = 'pci-bridge'), 'layout.controllers[1].model'],
    ['a misspelt key', (p) => ((p.layout.controllers[0] as unknown as Record<string, unknown>).busnr = 3), 'layout.controllers[0]'],
    ['a mirrors that is no address', (p) => (p.layout.controllers[1].mirrors = '3a:00.0'), 'layout.controllers[1].mirrors'],
  ] as [string, (p: Plan & { layout: PlanLayout }) => void, string][])('%s → PLAN_INVALID from the schema', (_, change, at) => {
    expect(catchError(() => normalizePlan(edit(change), []))).toMatchObject({ code: 'PLAN_INVALID', path: at });
  });
});

describe('the host PCI tree for NCCL', () => {
  const walk = (n: PciTreeNode, depth = 0): string[] => [`${'  '.repeat(depth)}${n.bdf} ${n.classCode}${n.role ? ` ${n.role}` : ''}${n.alias ? ` ${n.alias}` : ''}${n.link ? ` ${n.link.speed} x${n.link.width}` : ''}`, ...n.children.flatMap((c) => walk(c, depth + 1))];

  test('grouped by the NUMA node of each host bridge, pruned to the chosen devices, with aliases and links', () => {
    const snapshot = snapshotOf(asusEsc8000aE12());
    const tree = hostPciTree(snapshot, { devices: ['0000:01:00.0', '0000:c1:00.0', '0000:81:00.0', '0000:81:00.1'], aliases: { '0000:01:00.0': 'gpu0', '0000:81:00.1': 'nic1' } });
    expect(tree.cpus.map((c) => [c.numaNode, c.roots.flatMap((r) => walk(r))])).toEqual([
      [0, ['0000:00:01.1 0x060400 2.5 GT/s PCIe x16', '  0000:01:00.0 0x030000 gpu gpu0 2.5 GT/s PCIe x16']],
      [1, [
        '0000:80:01.1 0x060400 32.0 GT/s PCIe x16',
        '  0000:81:00.0 0x020000 nic 32.0 GT/s PCIe x16',
        '  0000:81:00.1 0x020000 nic nic1 32.0 GT/s PCIe x16',
        '0000:c0:01.1 0x060400 2.5 GT/s PCIe x16',
        '  0000:c1:00.0 0x030000 gpu 2.5 GT/s PCIe x16',
      ]],
    ]);
  });

  test('the whole DGX-2H tree: 4 root complexes with GPUs, two levels of switches', () => {
    const tree = hostPciTree(snapshotOf(nvidiaDgx2h()));
    expect(tree.cpus.map((c) => c.numaNode)).toEqual([0, 1]);
    const gpu0 = tree.cpus[0].roots[0];
    expect(walk(gpu0).slice(0, 6)).toEqual([
      '0000:2b:00.0 0x060400',
      '  0000:2c:00.0 0x060400',
      '    0000:2d:04.0 0x060400',
      '      0000:32:00.0 0x060400',
      '        0000:33:00.0 0x060400',
      '          0000:34:00.0 0x030200 gpu',
    ]);
  });
});

describe('each port\'s current link, from sysfs and from a capture', () => {
  const linked = (link: FakeDevice['link']): FakeDevice[] => [
    { path: ['pci0000:00', '0000:00:01.0'], vendor: 0x8086, device: 0x2030, classCode: BRIDGE, numa: 0, link },
    { path: ['pci0000:00', '0000:00:01.0', '0000:01:00.0'], vendor: 0x10de, device: 0x20b0, classCode: GPU, numa: 0, link },
  ];

  test.each([
    ['a trained link', { speed: '16.0 GT/s PCIe', width: 16 }, { speed: '16.0 GT/s PCIe', width: 16 }],
    ['an older kernel\'s spelling', { speed: '8 GT/s', width: 8 }, { speed: '8 GT/s', width: 8 }],
    ['no link (Unknown, width 0)', { speed: 'Unknown', width: 0 }, undefined],
    ['no files (conventional PCI)', undefined, undefined],
  ] as const)('%s', (_, link, expected) => {
    const root = makeSysfs({ devices: linked(link) });
    roots.push(root);
    const tar = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'lp-link-')), 'host.tar');
    roots.push(path.dirname(tar));
    captureHost(tar, root);
    for (const snapshot of [readHostSnapshot(root), readHostCapture(tar)]) {
      expect(snapshot.devices.map((d) => d.link)).toEqual([expected, expected]);
    }
  });
});
