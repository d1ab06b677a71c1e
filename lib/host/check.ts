import { requirePciAddressKeys } from '../pci/address';
import { isString, requireArrayOf, requireString } from '../arguments';
import { HostPciDevice, HostSnapshot, isBridge, requireSnapshot } from './snapshot';

export interface Finding {
  level: 'error' | 'warning' | 'info';
  what: string;
  why: string;
  fix?: string;
}

/** The NPU guide's recommended kernel parameters (Intel; AMD uses amd_iommu=on). */
export const RECOMMENDED_PARAMETERS = [
  'transparent_hugepage=madvise',
  'pcie_aspm=force',
  'pci=pcie_bus_perf',
  'pci=bfsort',
  'pci=noats',
  'iommu=pt',
  'intel_iommu=on',
  'iommu.strict=1',
];

/** RECOMMENDED_PARAMETERS for this CPU: amd_iommu=on instead of intel_iommu=on on AMD (`vendor_id` AuthenticAMD). */
export function recommendedParameters(cpuVendor: string | undefined): string[] {
  return RECOMMENDED_PARAMETERS.map((p) => (p === 'intel_iommu=on' && cpuVendor === 'AuthenticAMD' ? 'amd_iommu=on' : p));
}

/**
 * The kernel command line as parameter → values. Documentation/admin-guide/kernel-parameters.txt gives
 * `pci=option[,option...]`, `iommu=[<size>][,noagp][,off]...`, and `intel_iommu=` / `amd_iommu=` as
 * comma lists too, so `pci=pcie_bus_perf,bfsort,noats` sets three options; every occurrence counts.
 */
export function kernelParameters(cmdline: string): Map<string, Set<string>> {
  requireString(cmdline, 'kernelParameters', 'the kernel command line as a string');
  const params = new Map<string, Set<string>>();
  for (const word of cmdline.split(/\s+/).filter(Boolean)) {
    const eq = word.indexOf('=');
    const key = eq < 0 ? word : word.slice(0, eq);
    const values = eq < 0 ? [''] : word.slice(eq + 1).split(',');
    const set = params.get(key) ?? new Set<string>();
    for (const v of values) set.add(v);
    params.set(key, set);
  }
  return params;
}

function hasParameter(params: Map<string, Set<string>>, wanted: string): boolean {
  const eq = wanted.indexOf('=');
  return params.get(wanted.slice(0, eq))?.has(wanted.slice(eq + 1)) ?? false;
}

/** intel_iommu= on an AMD CPU, or amd_iommu= on an Intel one: the other vendor's driver ignores it. */
function wrongVendorFindings(params: Map<string, Set<string>>, cpuVendor: string | undefined): Finding[] {
  const wrong = cpuVendor === 'AuthenticAMD' ? ['intel_iommu', 'amd_iommu'] : cpuVendor === 'GenuineIntel' ? ['amd_iommu', 'intel_iommu'] : undefined;
  if (!wrong || !params.has(wrong[0])) return [];
  const cpu = cpuVendor === 'AuthenticAMD' ? 'AMD' : 'Intel';
  return [
    {
      level: 'warning',
      what: `kernel parameter ${wrong[0]}= is set, but the CPU is ${cpu}`,
      why: `${wrong[0]}= configures the other vendor's IOMMU driver; this host's IOMMU reads ${wrong[1]}= and ignores it`,
      fix: `replace ${wrong[0]}=${[...params.get(wrong[0])!].join(',')} with ${wrong[1]}=on in GRUB_CMDLINE_LINUX (/etc/default/grub), run update-grub and reboot`,
    },
  ];
}

const GRUB = (params: string[]) => `add "${params.join(' ')}" to GRUB_CMDLINE_LINUX in /etc/default/grub, run update-grub and reboot`;

/**
 * Checks the host against the NPU guide: IOMMU active, the recommended kernel parameters, and for each
 * planned device: present, alone in its IOMMU group (bridges aside), and which driver holds it.
 */
export function checkHost(snapshot: HostSnapshot, planned: string[] = []): Finding[] {
  requireSnapshot(snapshot, 'checkHost');
  requireArrayOf(planned, isString, 'checkHost', 'the planned PCI addresses second, as an array of strings (or nothing)');
  const findings: Finding[] = [];
  const params = kernelParameters(snapshot.cmdline);
  const recommended = recommendedParameters(snapshot.cpuVendor);
  const missing = recommended.filter((p) => !hasParameter(params, p));
  const iommuOn = [...snapshot.iommuGroups.values()].some((members) => members.length > 0);
  if (!iommuOn) {
    const iommuParams = recommended.filter((p) => /iommu/.test(p));
    findings.push({
      level: 'error',
      what: 'the IOMMU is not active (/sys/kernel/iommu_groups is empty)',
      why: 'PCI pass-through uses the IOMMU to confine the device\'s DMA to the VM\'s memory; without it vfio refuses the device',
      fix: `enable VT-d / AMD-Vi in the BIOS and ${GRUB(iommuParams)}`,
    });
  }
  for (const p of missing) {
    findings.push({
      level: 'warning',
      what: `kernel parameter ${p} is missing`,
      why: 'the NPU pass-through guide recommends it for pass-through hosts',
      fix: GRUB(missing),
    });
  }
  findings.push(...wrongVendorFindings(params, snapshot.cpuVendor));
  const byAddress = new Map(snapshot.devices.map((d) => [d.address, d]));
  const plannedSet = new Set(requirePciAddressKeys(planned, 'checkHost', 'planned'));
  for (const address of plannedSet) {
    const device = byAddress.get(address);
    if (!device) {
      findings.push({ level: 'error', what: `${address} is not on this host`, why: 'the plan names a PCI address that sysfs does not list', fix: 'check the address with lspci -nn' });
      continue;
    }
    findings.push(...groupFindings(snapshot, device, plannedSet, byAddress), driverFinding(device));
  }
  if (findings.length === 0) findings.push({ level: 'info', what: 'the host matches the NPU guide', why: 'IOMMU on and every recommended kernel parameter set' });
  return findings;
}

function groupFindings(snapshot: HostSnapshot, device: HostPciDevice, planned: Set<string>, byAddress: Map<string, HostPciDevice>): Finding[] {
  if (device.iommuGroup === undefined) return [];
  const members = snapshot.iommuGroups.get(device.iommuGroup) ?? [];
  const others = members.filter((m) => m !== device.address && !planned.has(m) && !(byAddress.get(m) && isBridge(byAddress.get(m)!)));
  if (others.length === 0) {
    return [{ level: 'info', what: `${device.address} is alone in IOMMU group ${device.iommuGroup}${members.length > 1 ? ' (with bridges or planned devices only)' : ''}`, why: 'a group is the unit vfio assigns' }];
  }
  return [
    {
      level: 'error',
      what: `${device.address} shares IOMMU group ${device.iommuGroup} with ${others.join(', ')}`,
      why: 'vfio can only give a VM a whole IOMMU group; the other devices would be taken from the host (or the VM refused)',
      fix: `pass ${others.join(', ')} through too, move the card to another slot, or check the BIOS ACS setting`,
    },
  ];
}

function driverFinding(device: HostPciDevice): Finding {
  if (device.driver === 'vfio-pci') return { level: 'info', what: `${device.address} is bound to vfio-pci`, why: 'ready for pass-through' };
  return {
    level: 'info',
    what: `${device.address} is ${device.driver ? `bound to ${device.driver}` : 'not bound to a driver'}`,
    why: "with managed='yes' (the default) libvirt rebinds it to vfio-pci when the VM starts",
    fix: device.driver ? `stop whatever uses ${device.driver} on the host first, or plan managed: false and bind vfio-pci yourself` : undefined,
  };
}
