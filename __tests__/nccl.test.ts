import type { PciTree, PciTreeNode } from '../lib/layout/types';
import { NcclCpu, ncclView } from '../lib/nccl/policy';
import { ncclLinkBandwidth, ncclLinkSpeed, renderNcclTopo, unknownLinks } from '../lib/nccl/topo-file';
import { ncclSystemFromTree } from '../lib/nccl/system';
import { treeFromSysfs } from '../lib/nccl/sysfs-tree';
import { isPassthroughError } from '../lib/errors';
import { verifyGuestTopology } from '../lib/gpudirect/verify';
import { oracleTree, readFixture, topoElements, treeFromTopoFile } from './helpers/nccl-trees';

const INTEL: NcclCpu = { vendor: 'GenuineIntel' };
const AMD: NcclCpu = { vendor: 'AuthenticAMD' };

/** `a-b PATH uses` per pair, with aliases where the tree has them, for tables that read like nvidia-smi's. */
function pairs(tree: PciTree, cpu?: NcclCpu): string[] {
  const view = ncclView(tree, cpu);
  const name = (bdf: string) => view.devices.find((d) => d.bdf === bdf)?.alias ?? bdf;
  return view.pairs.map((p) => `${name(p.a)}-${name(p.b)} ${p.path}/${p.smi} ${p.uses ? (p.kind === 'gpu-gpu' ? 'P2P' : 'GDR') : 'no'}`);
}

describe('NCCL path types and P2P/GDR on the trees the guest kernel really showed (guest oracle, __tests__/nccl-fixtures)', () => {
  test.each([
    // (a) today's flat layout: each GPU on its own root port of pcie.0, no NUMA node: every pair through the CPU.
    ['a-flat-root-ports.xml', INTEL, ['ua-gpu0-ua-gpu1 PHB/PHB no'], [-1, -1]],
    // Two GPUs on AMD: NCCL's exception (p2pLevel SYS) makes even the flat layout use P2P.
    ['a-flat-root-ports.xml', AMD, ['ua-gpu0-ua-gpu1 PHB/PHB P2P'], [-1, -1]],
    // (b) two pxb-pcie (nodes 0/1), each root port -> switch -> 2 GPUs: PIX inside a switch, SYS across nodes.
    [
      'b-numa-pxb-switch.xml',
      INTEL,
      ['ua-gpu0-ua-gpu1 PIX/PIX P2P', 'ua-gpu0-ua-gpu2 SYS/SYS no', 'ua-gpu0-ua-gpu3 SYS/SYS no', 'ua-gpu1-ua-gpu2 SYS/SYS no', 'ua-gpu1-ua-gpu3 SYS/SYS no', 'ua-gpu2-ua-gpu3 PIX/PIX P2P'],
      [0, 0, 1, 1],
    ],
    ['b-numa-pxb-switch.xml', AMD, expect.arrayContaining(['ua-gpu0-ua-gpu1 PIX/PIX P2P', 'ua-gpu0-ua-gpu2 SYS/SYS no']), [0, 0, 1, 1]],
    // (d) no <acpi/>: the pxb's node is lost (-1), so NCCL puts the GPU (hostdev0) and the NIC under one CPU.
    ['d-no-acpi-no-address.xml', INTEL, ['hostdev0-ua-nic0 PHB/NODE no'], [-1, -1]],
  ])('%s on %j', (fixture, cpu, expected, nodes) => {
    const tree = oracleTree(fixture as string);
    expect(pairs(tree, cpu as NcclCpu)).toEqual(expected);
    expect(ncclView(tree).devices.map((d) => d.numaNode)).toEqual(nodes);
  });

});

describe('the public cloud topology files, read back as the trees they stand for', () => {
  // aws/aws-ofi-nccl topology/p4d-24xl-topo.xml: "2 groups of PCIe hierarchy under each socket. Each group has
  // 2 GPUs and 1 NIC behind a PCIe switch." Intel Skylake (familyid 6, modelid 85), 8 GPUs.
  const p4d = treeFromTopoFile(readFixture('aws-p4d-24xl-topo.xml'));
  // Azure/azhpc-images topology/ndv4-topo.xml: 4 NUMA nodes (AMD family 23 model 49), each one virtual switch with
  // 2 GPUs and 2 NICs.
  const ndv4 = treeFromTopoFile(readFixture('azure-ndv4-topo.xml'));

  test.each([
    ['p4d GPU 0 and GPU 1, behind switch 0', p4d, INTEL, '0000:10:1c.0', '0000:10:1d.0', 'PIX', true],
    ['p4d GPU 0 and NIC 0, behind switch 0', p4d, INTEL, '0000:10:1c.0', '0000:10:1b.0', 'PIX', true],
    ['p4d GPU 0 and GPU 2, switches 0 and 1 of socket 0', p4d, INTEL, '0000:10:1c.0', '0000:20:1c.0', 'PHB', false],
    ['p4d GPU 0 and NIC 1, switches 0 and 1 of socket 0', p4d, INTEL, '0000:10:1c.0', '0000:20:1b.0', 'PHB', false],
    ['p4d GPU 0 and GPU 4, sockets 0 and 1', p4d, INTEL, '0000:10:1c.0', '0000:90:1c.0', 'SYS', false],
    ['p4d GPU 0 and GPU 4 on AMD: 8 GPUs, so no exception', p4d, AMD, '0000:10:1c.0', '0000:90:1c.0', 'SYS', false],
    ['ndv4 GPU 0003 and GPU 0004, one switch', ndv4, AMD, '0003:00:00.0', '0004:00:00.0', 'PIX', true],
    ['ndv4 GPU 0003 and NIC 0103, one switch', ndv4, AMD, '0003:00:00.0', '0103:00:00.0', 'PIX', true],
    ['ndv4 GPU 0003 and GPU 0001, nodes 0 and 1', ndv4, AMD, '0003:00:00.0', '0001:00:00.0', 'SYS', false],
    ['ndv4 GPU 0003 and NIC 0101, nodes 0 and 1', ndv4, AMD, '0003:00:00.0', '0101:00:00.0', 'SYS', false],
  ])('%s: %s', (_, tree, cpu, a, b, path, uses) => {
    const pair = ncclView(tree as PciTree, cpu as NcclCpu).pairs.find((p) => [p.a, p.b].sort().join() === [a, b].sort().join());
    expect(pair).toMatchObject({ path, uses });
  });

  test.each([
    ['aws-p4d-24xl-topo.xml', { arch: 'x86_64', vendor: 'GenuineIntel', familyId: 6, modelId: 85 } as NcclCpu],
    ['azure-ndv4-topo.xml', { arch: 'x86_64', vendor: 'AuthenticAMD', familyId: 23, modelId: 49 } as NcclCpu],
  ])('renderNcclTopo writes %s back element for element, attribute for attribute (but the CPU affinity)', (file, cpu) => {
    const published = readFixture(file);
    const rendered = renderNcclTopo(treeFromTopoFile(published), cpu);
    const withoutAffinity = topoElements(published).map((e) => ({ ...e, attrs: e.attrs.filter(([k]) => k !== 'affinity') }));
    // NCCL orders <pci> children by bus ID (ncclTopoGetXmlFromSys); the files list the NIC last.
    const byBusId = (els: ReturnType<typeof topoElements>) => els.map((e) => JSON.stringify(e)).sort();
    expect(byBusId(topoElements(rendered))).toEqual(byBusId(withoutAffinity));
    expect(rendered).toMatch(/^<system version="1">\n {2}<cpu numaid="0" arch="x86_64" vendor="[A-Za-z]+" familyid="\d+" modelid="\d+">\n {4}<pci busid="ffff:ff:01.0" class="0x060400"/);
  });
});

/** A sysfs-shaped tree from `path:class[:numa]` lines: the tool for small hand-made cases. */
function tree(spec: string[], numaOf: (bridge: string) => number = () => 0): PciTree {
  return treeFromSysfs(
    spec.map((line) => {
      const [path, cls, vendor = '0x10de', subsystem = ''] = line.split(' ');
      const parts = path.split('/');
      const [sv, sd] = subsystem ? subsystem.split(':').map((v) => parseInt(v, 16)) : [];
      return {
        address: parts[parts.length - 1],
        vendor: parseInt(vendor, 16),
        device: parseInt(vendor === '0x1000' ? '0xc010' : '0x20b0', 16),
        classCode: parseInt(cls, 16),
        numaNode: numaOf(parts[0]),
        path: parts,
        ...(sv === undefined ? {} : { subsystemVendor: sv, subsystemDevice: sd }),
      };
    }),
  );
}

describe('NCCL parent rule and path types, case by case (src/graph/xml.cc ncclTopoGetXmlFromSys, src/graph/paths.cc)', () => {
  const GPU = '0x030200';
  const BR = '0x060400';
  const NIC = '0x020700 0x15b3';
  test.each([
    ['GPU on a root port hangs off the CPU', ['pci0000:00/0000:00:01.0 ' + BR, 'pci0000:00/0000:00:01.0/0000:01:00.0 ' + GPU, 'pci0000:00/0000:00:02.0 ' + BR, 'pci0000:00/0000:00:02.0/0000:02:00.0 ' + GPU], 'PHB/PHB'],
    ['two GPUs under one switch', ['pci0000:00/0000:00:01.0 ' + BR, 'pci0000:00/0000:00:01.0/0000:01:00.0 ' + BR, 'pci0000:00/0000:00:01.0/0000:01:00.0/0000:02:00.0 ' + BR, 'pci0000:00/0000:00:01.0/0000:01:00.0/0000:02:01.0 ' + BR, 'pci0000:00/0000:00:01.0/0000:01:00.0/0000:02:00.0/0000:03:00.0 ' + GPU, 'pci0000:00/0000:00:01.0/0000:01:00.0/0000:02:01.0/0000:04:00.0 ' + GPU], 'PIX/PIX'],
    ['root-complex integrated GPUs (on the root bus)', ['pci0000:00/0000:00:05.0 ' + GPU, 'pci0000:00/0000:00:06.0 ' + GPU], 'PHB/PHB'],
    ['host bridges of one node: NCCL PHB, nvidia-smi NODE', ['pci0000:00/0000:00:05.0 ' + GPU, 'pci0000:40/0000:40:05.0 ' + GPU], 'PHB/NODE'],
    ['host bridges of two nodes', ['pci0000:00/0000:00:05.0 ' + GPU, 'pci0000:80/0000:80:05.0 ' + GPU], 'SYS/SYS'],
  ])('%s', (_, spec, expected) => {
    const t = tree(spec, (bridge) => (bridge === 'pci0000:80' ? 1 : 0));
    expect(ncclView(t).pairs.map((p) => `${p.path}/${p.smi}`)).toEqual([expected]);
  });

  // Nested switches: GPU a behind switch 2 (under switch 1), GPU b and NIC directly behind switch 1.
  const nested = [
    'pci0000:00/0000:00:01.0 ' + BR,
    'pci0000:00/0000:00:01.0/0000:01:00.0 ' + BR,
    'pci0000:00/0000:00:01.0/0000:01:00.0/0000:02:00.0 ' + BR,
    'pci0000:00/0000:00:01.0/0000:01:00.0/0000:02:01.0 ' + BR,
    'pci0000:00/0000:00:01.0/0000:01:00.0/0000:02:02.0 ' + BR,
    'pci0000:00/0000:00:01.0/0000:01:00.0/0000:02:00.0/0000:03:00.0 ' + BR,
    'pci0000:00/0000:00:01.0/0000:01:00.0/0000:02:00.0/0000:03:00.0/0000:04:00.0 ' + BR,
    'pci0000:00/0000:00:01.0/0000:01:00.0/0000:02:00.0/0000:03:00.0/0000:04:00.0/0000:05:00.0 ' + GPU,
    'pci0000:00/0000:00:01.0/0000:01:00.0/0000:02:01.0/0000:06:00.0 ' + GPU,
    'pci0000:00/0000:00:01.0/0000:01:00.0/0000:02:02.0/0000:07:00.0 ' + NIC,
  ];
  test('nested switches: PXB between the levels, PIX within one, GDR up to PXB', () => {
    expect(pairs(tree(nested))).toEqual(['0000:05:00.0-0000:06:00.0 PXB/PXB P2P', '0000:05:00.0-0000:07:00.0 PXB/PXB GDR', '0000:06:00.0-0000:07:00.0 PIX/PIX GDR']);
  });

  test('a Broadcom PEX Gen4 switch seen as two levels is one switch to NCCL (ncclTopoFlattenBcmSwitches), two to nvidia-smi', () => {
    const bcm = nested.map((line, i) => ([1, 5].includes(i) ? `${line} 0x1000 1000:a064` : line));
    expect(pairs(tree(bcm))).toEqual(['0000:05:00.0-0000:06:00.0 PIX/PXB P2P', '0000:05:00.0-0000:07:00.0 PIX/PXB GDR', '0000:06:00.0-0000:07:00.0 PIX/PIX GDR']);
  });

  test('the NCCL system keeps only the switches between CPUs and GPUs/NICs, children in bus-ID order', () => {
    const system = ncclSystemFromTree(tree(nested));
    const show = (p: { busId: string; children: { busId: string }[] }): unknown => ({ [p.busId]: p.children.map((c) => show(c as never)) });
    expect(system.cpus.map((c) => ({ [c.numaId]: c.children.map(show) }))).toEqual([
      { 0: [{ '0000:01:00.0': [{ '0000:03:00.0': [{ '0000:05:00.0': [] }] }, { '0000:06:00.0': [] }, { '0000:07:00.0': [] }] }] },
    ]);
  });

  test('a function whose sysfs path names no root bus (readHostSnapshot behind a VMD) sits on the root bus of its own address', () => {
    const t = treeFromSysfs([
      { address: '10000:e1:00.0', vendor: 0x10de, device: 0x20b0, classCode: 0x030200, numaNode: 1, path: ['10000:e1:00.0'] },
      { address: '10000:e2:00.0', vendor: 0x10de, device: 0x20b0, classCode: 0x030200, numaNode: 1, path: ['10000:e2:00.0'] },
    ]);
    expect(t.cpus.map((c) => [c.numaNode, c.roots.map((r) => r.bdf)])).toEqual([[1, ['10000:e1:00.0', '10000:e2:00.0']]]);
    expect(ncclView(t).pairs.map((p) => `${p.path}/${p.smi}`)).toEqual(['PHB/NODE']);
  });

  test('a sysfs path that does not end at the function itself is refused with TOPOLOGY_INVALID', () => {
    const f = { address: '0000:3b:00.0', vendor: 0x10de, device: 0x20b0, classCode: 0x030200, numaNode: 0, path: ['pci0000:3a', '0000:3a:00.0'] };
    expect(() => treeFromSysfs([f])).toThrow(expect.objectContaining({ code: 'TOPOLOGY_INVALID' }));
  });

  test('a tree whose root is not a PCI address is refused with TOPOLOGY_INVALID', () => {
    const bad: PciTree = { cpus: [{ numaNode: 0, roots: [{ bdf: 'gpu0', classCode: GPU, children: [] } as PciTreeNode] }] };
    expect(() => ncclView(bad)).toThrow(expect.objectContaining({ code: 'TOPOLOGY_INVALID' }));
    try {
      ncclView(bad);
    } catch (e) {
      expect(isPassthroughError(e) && e.message).toMatch(/gpu0 is not a PCI address/);
    }
  });
});

describe('link speeds in the spelling NCCL knows (src/graph/topo.cc kvDictPciGen)', () => {
  test.each([
    ['16.0 GT/s PCIe', '16.0 GT/s PCIe'],
    ['8 GT/s', '8 GT/s'],
    ['8.0 GT/s', '8.0 GT/s PCIe'],
    ['2.5 GT/s PCIe', '2.5 GT/s PCIe'],
    ['64.0 GT/s PCIe', '64.0 GT/s PCIe'],
    ['Unknown', undefined],
    ['128.0 GT/s PCIe', undefined],
  ])('%s -> %s', (speed, expected) => expect(ncclLinkSpeed(speed)).toBe(expected));

  test('the guest oracle (b) has QEMU links on every port; without the host links nothing is known... but they are written', () => {
    const rendered = renderNcclTopo(oracleTree('b-numa-pxb-switch.xml'));
    expect(rendered).toContain('<pci busid="0000:81:00.0" class="0x060400" vendor="0x104c" device="0x8232" link_speed="2.5 GT/s PCIe" link_width="1">');
    expect(unknownLinks(oracleTree('b-numa-pxb-switch.xml'))).toEqual([]);
    expect(rendered).toMatch(/^<system version="1">\n {2}<cpu numaid="0">\n/);
  });
});

describe('the bandwidth NCCL gives a link (src/graph/topo.cc ncclTopoAddPci), against NCCL\'s own log in a KVM guest', () => {
  // nccl-tests#256: NCCL prints `+ PCI[bw] - PCI/… (104c823200000000)` for QEMU's switch upstream port 104c:8232
  // and `+ PCI[48.0]` for the Gen5 x16 GPUs and NICs below it. The guest oracle shows the port's link: 2.5 GT/s x1.
  const log = readFixture('nccl-tests-256-h200-vm.nccl-info.txt');
  const printed = (what: RegExp) => [...log.matchAll(/\+ PCI\[([\d.]+)\] - (\S+)/g)].filter((m) => what.test(m[2])).map((m) => m[1]);
  const oracle = JSON.parse(readFixture('guest-oracle-expected.json'))['b-numa-pxb-switch.xml'].devices['0000:81:00.0'];

  test('QEMU\'s upstream port: 2.5 GT/s x1 is 0.2 GB/s, as NCCL printed it three times', () => {
    expect(oracle).toMatchObject({ vendor: '0x104c', device: '0x8232', linkSpeed: '2.5 GT/s PCIe', linkWidth: 1 });
    const bw = ncclLinkBandwidth({ speed: oracle.linkSpeed, width: oracle.linkWidth });
    expect(printed(/^PCI\//)).toEqual([bw, bw, bw].map((b) => b.toFixed(1)));
  });

  test('a Gen5 x16 GPU or NIC link is 48.0 GB/s, as NCCL printed for each', () => {
    expect(printed(/^(GPU|NIC)\//)).toEqual(Array(6).fill(ncclLinkBandwidth({ speed: '32.0 GT/s PCIe', width: 16 }).toFixed(1)));
  });

  test.each([
    [{ speed: '16.0 GT/s PCIe', width: 16 }, 24],
    [{ speed: '8 GT/s', width: 16 }, 12],
    [{ speed: 'Unknown', width: 0 }, 12],
    [undefined, 12],
  ])('%j -> %d GB/s', (link, bw) => expect(ncclLinkBandwidth(link)).toBe(bw));
});

describe('verifyGuestTopology on the guest oracle\'s trees', () => {
  test('(b) numa + switches: nodes kept, no host given: no problems', () => {
    const report = verifyGuestTopology(oracleTree('b-numa-pxb-switch.xml'), INTEL);
    expect(report).toMatchObject({ ok: true, problems: [], warnings: [] });
  });

  test('(a) flat, nothing to compare with: a device without a NUMA node is a warning, not a failure', () => {
    const report = verifyGuestTopology(oracleTree('a-flat-root-ports.xml'), INTEL);
    expect(report.ok).toBe(true);
    expect(report.warnings).toEqual([expect.stringMatching(/^ua-gpu0 \(0000:01:00.0\) has no NUMA node \(numa_node -1\): NCCL puts it under one CPU/), expect.stringMatching(/^ua-gpu1 \(0000:02:00.0\) has no NUMA node/)]);
  });

  test('a switch slower than the devices behind it is a warning naming NCCL\'s number', () => {
    const tree = oracleTree('b-numa-pxb-switch.xml');
    // The stand-ins report QEMU's 2.5 GT/s x1 too; real GPUs behind the ports report their own (here Gen5 x16).
    const find = (nodes: PciTreeNode[], bdf: string): PciTreeNode | undefined => nodes.map((n) => (n.bdf === bdf ? n : find(n.children, bdf))).find(Boolean);
    for (const bdf of ['0000:83:00.0', '0000:84:00.0']) find(tree.cpus.flatMap((c) => c.roots), bdf)!.link = { speed: '32.0 GT/s PCIe', width: 16 };
    expect(verifyGuestTopology(tree, INTEL).warnings).toEqual([
      "NCCL rates the link above switch 0000:81:00.0 at 0.2 GB/s (2.5 GT/s PCIe x1), less than the 48.0 GB/s below it: give NCCL the host's links with NCCL_TOPO_FILE (libvirt-passthrough nccl-topo)",
    ]);
  });
});

describe('verifyGuestTopology against the tree the layout planned (what the guest oracle booted)', () => {
  const b = oracleTree('b-numa-pxb-switch.xml');
  const c = oracleTree('c-busnr-overlap.xml');
  const d = oracleTree('d-no-acpi-no-address.xml');
  // (c) is (b) with the second pxb's busNr (130) inside the first one's range: the plan put ua-gpu0/1 at
  // 83:00.0/84:00.0 on node 0 (as in (b)), but the guest gave those bus numbers to the second pxb's bridges.
  const plannedC: PciTree = { cpus: [...b.cpus.filter((x) => x.numaNode === 0), ...c.cpus.filter((x) => x.numaNode === 1)] };
  // (d) as its layout meant it: the GPU on node 0, the NIC on node 1 (its two cells); without ACPI both are -1.
  const plannedD: PciTree = { cpus: [0, 1].map((numaNode) => ({ numaNode, roots: d.cpus[0].roots.filter((r) => (numaNode === 0 ? r.bdf === '0000:00:02.1' : r.bdf === '0000:40:00.0')) })) };

  test.each([
    ['(b) booted as planned', b, b, []],
    ['(c) overlapping bus numbers: two planned GPUs are not there', c, plannedC, ['ua-gpu0 is planned at 0000:83:00.0 but the guest has no gpu there', 'ua-gpu1 is planned at 0000:84:00.0 but the guest has no gpu there']],
    [
      '(d) no <acpi/>: both devices off their planned nodes',
      d,
      plannedD,
      ['hostdev0 (0000:02:00.0) is on NUMA node -1, the layout put it on node 0', 'ua-nic0 (0000:41:00.0) is on NUMA node -1, the layout put it on node 1', 'hostdev0–ua-nic0: NCCL sees PHB in the guest, the layout planned SYS'],
    ],
  ])('%s', (_, guest, planned, problems) => {
    expect(verifyGuestTopology(guest as PciTree, INTEL, { planned: planned as PciTree }).problems).toEqual(problems);
  });
});
