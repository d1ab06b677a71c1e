/** What a transform added or found already in place, for explainTransform. */
export type ChangeKind =
  | 'hostdev-added'
  | 'hostdev-unchanged'
  | 'alias-added'
  | 'clique-added'
  | 'clique-unchanged'
  | 'namespace-added'
  | 'metadata-written'
  | 'mmio-added'
  | 'controller-added'
  | 'numa-added';

export interface Change {
  kind: ChangeKind;
  alias?: string;
  /** Host PCI address, `0000:3b:00.0`. */
  address?: string;
  clique?: number;
  /** Where the capability is expected in the GPU's config space, `0xc8` or `0xd4`. */
  capabilityOffset?: string;
  architecture?: string;
  /** How the clique reaches QEMU. */
  via?: 'override' | 'commandline';
  /** The 64-bit MMIO window written, in GiB. */
  mmioWindowGiB?: number;
  /** Guest NUMA cells created (the domain had none). */
  cells?: number;
  /** 1-based line in the output where the added or existing element starts. */
  line?: number;
}
