import { isString, refuseArgument, requireObject, requireString } from '../arguments';
import { excerpt, PassthroughError } from '../errors';
import { lookupNvidiaDevice } from '../gpudirect/architecture';
import { parseQemuVersion } from '../gpudirect/placement';
import { formatDeviceId, PCI_VENDOR_NVIDIA, pciAddressKey, requirePciAddressKeys } from '../pci/address';
import { Plan, PlanHostdev } from '../plan/types';
import { CliquePolicy, cliquesFromTopoText, parseBusIds, requirePolicy } from './topology';

/** A plan made from nvidia-smi's view alone; `gpus` as in planFromHost. */
export interface SmiSelection {
  gpus: 'all' | string[];
  policy?: CliquePolicy;
  /** The GPU host's QEMU, recorded as the plan's target (nothing is predicted: nvidia-smi shows no config space). */
  qemu?: string;
}

/**
 * A plan made away from the GPU host, from what nvidia-smi printed there: `nvidia-smi topo -m` for the cliques and
 * `nvidia-smi --query-gpu=index,pci.bus_id,pci.device_id --format=csv` for the addresses and device IDs (without the
 * `pci.device_id` column the plan lacks them, and the reasons say what to add). No config space and no BAR sizes
 * travel in that text: the offsets recorded are the spec's, and the MMIO window is left to a plan on the host.
 */
export function explainPlanFromNvidiaSmi(topo: string, busIds: string, selection: SmiSelection): { plan: Plan; reasons: string[] } {
  const fn = 'explainPlanFromNvidiaSmi';
  requireString(topo, fn, 'the output of nvidia-smi topo -m first');
  requireString(busIds, fn, 'the output of nvidia-smi --query-gpu=index,pci.bus_id,pci.device_id --format=csv second');
  requireObject(selection, fn, 'a selection { gpus, policy, qemu } third');
  if (selection.gpus !== 'all' && !(Array.isArray(selection.gpus) && selection.gpus.every(isString))) refuseArgument(fn, "selection.gpus as 'all' or an array of PCI addresses", selection.gpus);
  if (selection.policy !== undefined) requirePolicy(selection.policy, fn);
  const qemu = selection.qemu === undefined ? undefined : parseQemuVersion(selection.qemu).join('.');
  const listed = [...parseBusIds(busIds).values()].sort();
  if (listed.length === 0) {
    throw new PassthroughError('TOPOLOGY_INVALID', `No GPU in the bus ID list (it starts "${excerpt(busIds, 40)}"): give the output of nvidia-smi --query-gpu=index,pci.bus_id,pci.device_id --format=csv.`);
  }
  const wanted = selection.gpus === 'all' ? listed : requirePciAddressKeys(selection.gpus, fn, 'selection.gpus');
  const missing = wanted.filter((a) => !listed.includes(a));
  if (missing.length) throw new PassthroughError('INPUT_INVALID', `${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not in nvidia-smi's bus ID list (it lists ${listed.join(', ')}).`);
  const { cliques, reasons } = cliquesFromTopoText(topo, busIds, selection.policy);
  const devices = deviceIds(busIds);
  const hostdevs = wanted.map((address, i): PlanHostdev => {
    const entry: PlanHostdev = { address, alias: `gpu${i}` };
    const device = devices.get(address);
    if (device === undefined) {
      reasons.push(`${address}: no device ID in the bus ID list (ask nvidia-smi for pci.device_id too, or add "device" from lspci -nn on the GPU host)`);
    } else {
      entry.device = formatDeviceId({ vendor: PCI_VENDOR_NVIDIA, device });
      if (!lookupNvidiaDevice({ vendor: PCI_VENDOR_NVIDIA, device })?.isGpu) reasons.push(`${address}: ${entry.device} is not in the NVIDIA device table (add gpudirect.architecture by hand)`);
    }
    if (cliques[address] !== undefined) entry.gpudirect = { clique: cliques[address] };
    return entry;
  });
  reasons.push(
    "offsets: nvidia-smi shows no config space, so each offset recorded is the spec's for the GPU's architecture " +
      '(host plan --qemu on the GPU host, or predict with its lspci -vvv, records the one QEMU will use)',
    'mmio: nvidia-smi shows no BAR sizes, so no 64-bit MMIO window is planned (host plan on the GPU host adds one when the BARs need it)',
  );
  return { plan: { ...(qemu !== undefined ? { target: { qemu } } : {}), hostdevs }, reasons };
}

/**
 * The `pci.device_id` column by PCI address, when the list has one: NVML's combined ID, `0xDDDDVVVV` (device in the
 * upper 16 bits, vendor in the lower); a value whose vendor half is not NVIDIA's is left out.
 */
function deviceIds(csv: string): Map<string, number> {
  const lines = csv.split(/\r?\n/).map((l) => l.split(',').map((c) => c.trim()));
  const header = lines.find((cells) => cells.includes('pci.bus_id'));
  const [busColumn, idColumn] = header ? [header.indexOf('pci.bus_id'), header.indexOf('pci.device_id')] : [1, -1];
  const ids = new Map<string, number>();
  if (idColumn < 0) return ids;
  for (const cells of lines) {
    const address = cells[busColumn] === undefined ? undefined : pciAddressKey(cells[busColumn]);
    const id = /^0x([0-9a-fA-F]{4})([0-9a-fA-F]{4})$/.exec(cells[idColumn] ?? '');
    if (address !== undefined && id && parseInt(id[2], 16) === PCI_VENDOR_NVIDIA) ids.set(address, parseInt(id[1], 16));
  }
  return ids;
}
