import type { PciTree, PciTreeNode } from '../layout/types';
import { ncclSystemFromTree } from '../nccl/system';
import { renderNcclTopo, unknownLinks } from '../nccl/topo-file';
import type { Command } from './command';
import { CliFailure, CliIo, UsageError, readText } from './io';
import { cpuOption, GuestTreePredictor } from './nccl-options';

export const NCCL_TOPO_HELP = `Usage: libvirt-passthrough nccl-topo DOMAIN.xml [--cpu intel|amd]

Prints the NCCL topology file (NCCL_TOPO_FILE) for the guest of a domain transformed with a layout: the
PCI switches and NUMA nodes NCCL should see, with the guest bus IDs the layout gives each GPU and NIC and
the host's link speed and width on every emulated port (QEMU's own ports report 2.5 GT/s x1, which NCCL
takes for a 0.2 GB/s bottleneck). Without --cpu the file names no CPU vendor and NCCL reads the guest's.
Put it in the guest and point NCCL at it (docs/gpudirect.md, NCCL in the guest):
  libvirt-passthrough nccl-topo vm1.xml > nccl-topo.xml      # then, in the guest:
  sudo install -m 644 nccl-topo.xml /etc/nccl-topo.xml
  echo NCCL_TOPO_FILE=/etc/nccl-topo.xml | sudo tee -a /etc/nccl.conf
`;

export function runNcclTopo(values: Record<string, unknown>, positionals: string[], io: CliIo, predictGuestTree: GuestTreePredictor): number {
  if (positionals.length !== 1) throw new UsageError('nccl-topo takes one DOMAIN.xml (a domain transformed with a layout)');
  const tree: PciTree = predictGuestTree(readText(io, positionals[0], 'domain XML'));
  // A file with no GPU or NIC would let NCCL fall back silently; say so instead of printing an empty <system>.
  if (!tree.cpus.some((c) => c.roots.some(holdsPlacedDevice))) {
    throw new CliFailure('the domain has no GPU or NIC the guest tree can place: transform it with a plan that has a layout (host plan --layout numa|mirror) first');
  }
  const cpu = cpuOption(values.cpu, undefined);
  io.stdout(renderNcclTopo(tree, cpu));
  if (ncclSystemFromTree(tree).cpus.some((c) => c.numaId < 0)) {
    io.stderr('warning: some devices have no guest NUMA node (a flat layout): NCCL puts them under one CPU and every pair through it is PHB; plan with --layout numa or mirror\n');
  }
  const unknown = unknownLinks(tree);
  if (unknown.length) {
    io.stderr(`warning: no host link known for ${unknown.join(', ')}: NCCL reads the guest's own (QEMU's 2.5 GT/s x1 on emulated ports)\n`);
  }
  return 0;
}

/** A GPU or NIC by role or by class (display 03xxxx, network 02xxxx): what NCCL's topology is made of. */
const holdsPlacedDevice = (node: PciTreeNode): boolean =>
  node.role === 'gpu' || node.role === 'nic' || /^0x0[23]/.test(node.classCode) || node.children.some(holdsPlacedDevice);

/** The command-table entry, given the layout's guest-tree prediction (helper "layout": guestTreeFromDomain). */
export const ncclTopoCommand = (predictGuestTree: () => GuestTreePredictor): Command => ({
  summary: "print the guest's NCCL topology file (NCCL_TOPO_FILE) for a domain transformed with a layout",
  help: NCCL_TOPO_HELP,
  options: { cpu: { type: 'string' } },
  run: ({ values, positionals }, io) => runNcclTopo(values, positionals, io, predictGuestTree()),
});
