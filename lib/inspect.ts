import { readDomainFacts } from './domain/facts';
import { child } from './domain/xml';
import { isQ35 } from './domain/machine';
import { textContent } from './load/element';
import { LoadOptions, loadDomainXml } from './load/load';
import { formatPciAddress } from './pci/address';

export interface HostdevInfo {
  /** Host PCI address, `0000:1b:00.0`. */
  source: string;
  alias?: string;
  managed: boolean;
  /** Guest PCI address when the domain fixes one. */
  guestAddress?: string;
  /** `hostdev`, or `interface` for `<interface type='hostdev'>` (SR-IOV network functions). */
  kind: 'hostdev' | 'interface';
}

export interface GpudirectInfo {
  clique: number | string;
  /** How the domain sets it: `<qemu:override>`, `-set` on the QEMU command line, or only recorded in metadata. */
  via: 'override' | 'commandline' | 'metadata';
  architecture?: string;
  /** Expected capability offset, from the library's metadata: `0xc8` or `0xd4`. */
  capabilityOffset?: string;
  address?: string;
}

export interface DomainInfo {
  name?: string;
  domainType?: string;
  machine?: string;
  arch?: string;
  isQ35: boolean;
  hostdevs: HostdevInfo[];
  /** GPUDirect cliques per device alias. */
  gpudirect: Record<string, GpudirectInfo>;
  /** The domain hides KVM from the guest, so the NVIDIA driver ignores the clique capability. */
  hidesKvm: boolean;
}

export function inspectDomain(xml: string, options: LoadOptions = {}): DomainInfo {
  const facts = readDomainFacts(loadDomainXml(xml, options));
  const nameElement = child(facts.root, 'name');
  const gpudirect: Record<string, GpudirectInfo> = {};
  for (const g of facts.metadataGpus) {
    gpudirect[g.alias] = {
      clique: g.clique,
      via: 'metadata',
      architecture: g.architecture,
      capabilityOffset: g.offset === undefined ? undefined : `0x${g.offset.toString(16)}`,
      address: g.address,
    };
  }
  for (const [alias, setting] of facts.cliques) {
    const n = Number(setting.clique);
    gpudirect[alias] = { ...gpudirect[alias], clique: Number.isInteger(n) && setting.clique.trim() !== '' ? n : setting.clique, via: setting.via };
  }
  return {
    name: nameElement ? textContent(facts.doc.body, nameElement) : undefined,
    domainType: facts.domainType,
    machine: facts.machine,
    arch: facts.arch,
    isQ35: isQ35(facts.machine, facts.arch),
    hostdevs: facts.hostdevs.map((h) => ({
      source: h.sourceKey,
      alias: h.alias,
      managed: h.managed,
      guestAddress: h.guestAddress && formatPciAddress(h.guestAddress),
      kind: h.kind,
    })),
    gpudirect,
    hidesKvm: facts.hidesKvm,
  };
}
