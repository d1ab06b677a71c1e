/**
 * The NCCL topology file (NCCL_TOPO_FILE) for a PCI tree: the XML NCCL reads at start-up in place of sysfs.
 *
 * Form as NCCL writes it (NVIDIA/nccl src/graph/xml.cc ncclTopoDumpXmlRec: two-space indent, `<name a="v">`,
 * `/>` when empty) and as the cloud files use it (aws/aws-ofi-nccl topology/p4d-24xl-topo.xml, kept in
 * __tests__/nccl-fixtures): `<system version="1">`, one `<cpu numaid arch vendor familyid modelid>` per NUMA
 * node, `<pci busid class vendor device subsystem_vendor subsystem_device link_speed link_width>` nested as
 * ncclTopoGetXmlFromSys nests them (lib/nccl/system.ts). <gpu> and <nic> are left out: NCCL fills them from
 * NVML and the network plugin (sjeaugey in NVIDIA/nccl-tests#86: "keep only the <cpu> and <pci> tags").
 *
 * What NCCL does with an attribute that is missing: it reads it itself (ncclTopoGetXmlFromSys,
 * ncclTopoGetXmlFromCpu fill only unset attributes). So the CPU's arch/vendor/family/model are written only when
 * known (else the guest's CPUID is used; aws/aws-ofi-nccl topology/g5.48xl-topo.xml writes bare `<cpu numaid>` and
 * `<pci busid>` and leaves the rest to NCCL), and a link only when known; an unknown link means NCCL reads the
 * guest's sysfs, which for QEMU's switch ports says 2.5 GT/s x1 (`unknownLinks` names those switches).
 */
import type { LayoutLink, PciTreeNode, PciTree } from '../layout/types';
import type { NcclCpu } from './policy';
import { NcclPci, NcclSystem, ncclSystemFromTree } from './system';

/** src/graph/topo.cc kvDictPciGen: the link speeds NCCL knows; any other string counts as 8 GT/s. */
const NCCL_SPEEDS = ['2.5 GT/s', '5 GT/s', '8 GT/s', '16 GT/s', '32 GT/s', '2.5 GT/s PCIe', '5.0 GT/s PCIe', '8.0 GT/s PCIe', '16.0 GT/s PCIe', '32.0 GT/s PCIe', '64.0 GT/s PCIe'];

/** sysfs `current_link_speed` in a spelling NCCL knows ("16.0 GT/s PCIe"), or undefined. */
export function ncclLinkSpeed(speed: string): string | undefined {
  if (NCCL_SPEEDS.includes(speed)) return speed;
  const gts = /^(\d+(?:\.\d+)?) ?GT\/s/.exec(speed)?.[1];
  if (gts === undefined) return undefined;
  const known = `${Number(gts) % 1 === 0 ? Number(gts).toFixed(1) : String(Number(gts))} GT/s PCIe`;
  return NCCL_SPEEDS.includes(known) ? known : undefined;
}

/** src/graph/topo.cc kvDictPciGen, per lane in 100 Mb/s units; NCCL counts an unknown speed as 60. */
const GEN_RATE: Record<string, number> = { '2.5': 15, '5': 30, '8': 60, '16': 120, '32': 240, '64': 480 };

/** The bandwidth (GB/s) NCCL gives a PCI link (ncclTopoAddPci: `bw = width * speed / 80.0`, width 0 counted as 16). */
export function ncclLinkBandwidth(link: LayoutLink | undefined): number {
  const speed = link === undefined ? undefined : ncclLinkSpeed(link.speed);
  const width = link && link.width > 0 ? link.width : 16;
  return (width * (speed ? GEN_RATE[String(parseFloat(speed))] : 60)) / 80;
}

const escape = (v: string) => v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const attrs = (pairs: [string, string | number | undefined][]) =>
  pairs.filter(([, v]) => v !== undefined && v !== '').map(([k, v]) => ` ${k}="${escape(String(v))}"`).join('');

function linkAttrs(link: LayoutLink | undefined): [string, string | number | undefined][] {
  if (!link) return [];
  const speed = ncclLinkSpeed(link.speed);
  return speed && Number.isInteger(link.width) && link.width > 0 ? [['link_speed', speed], ['link_width', link.width]] : [];
}

function pciElement(pci: NcclPci, indent: string): string {
  const d: PciTreeNode = pci.node;
  const head = `${indent}<pci${attrs([
    ['busid', pci.busId],
    ['class', d.classCode.toLowerCase()],
    ['vendor', d.vendor],
    ['device', d.device],
    ['subsystem_vendor', d.subsystemVendor],
    ['subsystem_device', d.subsystemDevice],
    ...linkAttrs(d.link),
  ])}`;
  if (!pci.children.length) return `${head}/>\n`;
  return `${head}>\n${pci.children.map((c) => pciElement(c, indent + '  ')).join('')}${indent}</pci>\n`;
}

/** The NCCL topology file of a system (see renderNcclTopo). */
export function renderNcclSystem(system: NcclSystem, cpu?: NcclCpu): string {
  const cpus = system.cpus.map(({ numaId, children }) => {
    const head = `  <cpu${attrs([
      ['numaid', numaId],
      ['arch', cpu?.arch ?? (cpu?.vendor ? 'x86_64' : undefined)],
      ['vendor', cpu?.vendor],
      ['familyid', cpu?.familyId],
      ['modelid', cpu?.modelId],
    ])}>\n`;
    return `${head}${children.map((c) => pciElement(c, '    ')).join('')}  </cpu>\n`;
  });
  return `<system version="1">\n${cpus.join('')}</system>\n`;
}

/** The NCCL topology file for a PCI tree: GPUs, NICs and the switches NCCL keeps between them and the CPUs. */
export function renderNcclTopo(tree: PciTree, cpu?: NcclCpu): string {
  return renderNcclSystem(ncclSystemFromTree(tree), cpu);
}

/**
 * The switches written without a link (unknown, or a speed NCCL does not know): NCCL reads the guest's sysfs for
 * them, and QEMU's ports say 2.5 GT/s x1. (A GPU's link NCCL takes from NVML, which reads the card itself.)
 */
export function unknownLinks(tree: PciTree): string[] {
  const out: string[] = [];
  const visit = (pci: NcclPci) => {
    if (pci.children.length && !linkAttrs(pci.node.link).length) out.push(pci.busId);
    pci.children.forEach(visit);
  };
  ncclSystemFromTree(tree).cpus.forEach((c) => c.children.forEach(visit));
  return out;
}
