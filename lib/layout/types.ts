/**
 * The guest's PCI layout: what `host plan --layout` writes into a plan's `layout` section, what transformDomain
 * turns into controllers, addresses and NUMA cells, and what `nccl-topo`/`verify-guest` read back.
 * The contract between the host planner, the transform and the NCCL view; every field is in schemas/plan.schema.json.
 */

/** flat: today's output (each device on its own root port of pcie.0, no node); numa: one pcie-expander-bus per host
 * NUMA node, a root port per device; mirror: one pcie-expander-bus per host root complex, host switches mirrored. */
export type LayoutKind = 'flat' | 'numa' | 'mirror';

export type LayoutControllerModel =
  | 'pcie-expander-bus'
  | 'pcie-root-port'
  | 'pcie-switch-upstream-port'
  | 'pcie-switch-downstream-port';

/** A PCIe link as the host reports it (sysfs current_link_speed / current_link_width), e.g. "16.0 GT/s PCIe", 16. */
export interface LayoutLink {
  speed: string;
  width: number;
}

/** One controller the transform creates, with its explicit place. `index` is libvirt's controller index: other
 * addresses name it as their `bus`. `bus`/`slot`/`function` say where the controller itself sits (bus 0 = pcie.0). */
export interface LayoutController {
  index: number;
  model: LayoutControllerModel;
  bus: number;
  slot: number;
  function: number;
  multifunction?: boolean;
  /** pcie-expander-bus only: the first guest bus number below it, and the guest NUMA cell it belongs to. */
  busNr?: number;
  node?: number;
  /** root and downstream ports: libvirt's <target chassis port>. */
  chassis?: number;
  port?: number;
  /** The host bridge or port this one mirrors (a BDF or `pci0000:3a`), for people and for nccl-topo. */
  mirrors?: string;
  /** The host's link at the port this controller mirrors; nccl-topo reports it instead of QEMU's emulated link. */
  link?: LayoutLink;
}

/** Where a guest NUMA cell comes from: cell `cell` of the guest serves host node `hostNode`. */
export interface LayoutCell {
  cell: number;
  hostNode: number;
}

export interface PlanLayout {
  kind: LayoutKind;
  /** Guest NUMA cells used by the layout. When the domain has <cpu><numa> cells, `cell` names one of them;
   * when it has none the transform creates them (vCPUs and memory split evenly). */
  cells: LayoutCell[];
  controllers: LayoutController[];
}

/** What a device is to NCCL: its role decides what the NCCL topology file and the path-type report say of it. */
export type DeviceRole = 'gpu' | 'nic' | 'npu' | 'other';

/** One node of a PCI tree, host or guest: a bridge/port or an endpoint, with its children below it. */
export interface PciTreeNode {
  /** BDF, e.g. "0000:81:00.0". */
  bdf: string;
  /** 24-bit class code as "0x060400". */
  classCode: string;
  vendor?: string;
  device?: string;
  /** sysfs subsystem_vendor / subsystem_device ("0x10de"): NCCL writes them into its topology and recognises
   * Broadcom PEX switches by them (src/graph/topo.cc getBcmGen). */
  subsystemVendor?: string;
  subsystemDevice?: string;
  link?: LayoutLink;
  /** The alias of a placed device (gpu0, nic1…) or of a controller (pci.3). */
  alias?: string;
  role?: DeviceRole;
  /** In a guest tree predicted from a domain: the host function a placed device passes through (its
   * <hostdev><source><address>), so a guest pair can be set next to the same pair on the host. */
  hostBdf?: string;
  children: PciTreeNode[];
}

/** A whole PCI tree grouped as NCCL groups it: under the CPU (NUMA node) of each root bus. */
export interface PciTree {
  cpus: { numaNode: number; roots: PciTreeNode[] }[];
}
