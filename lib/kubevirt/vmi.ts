import { isObject } from '../arguments';
import { PassthroughError, excerpt } from '../errors';
import { parseJson } from '../load/json';
import { LineTable } from '../load/lines';

/** A device the VMI's spec lists under spec.domain.devices.gpus or hostDevices. */
export interface VmiDevice {
  name: string;
  /** The device plugin's resource name (`nvidia.com/GH100_H100_SXM5_80GB`); absent for a DRA claim. */
  deviceName?: string;
  list: 'gpus' | 'hostDevices';
}

/** What the hook reads of the VMI, which KubeVirt hands it as JSON: its annotations and the devices its spec lists. */
export interface VmiView {
  annotations: Record<string, unknown>;
  devices: VmiDevice[];
}

export function readVmi(vmiJson: string): VmiView {
  const parsed = parseJson(vmiJson);
  if (!parsed.ok) {
    const { line, column } = new LineTable(vmiJson).positionOf(parsed.offset);
    throw new PassthroughError('INPUT_INVALID', `--vmi is not JSON: ${parsed.reason} at line ${line}, column ${column}; the sidecar shim passes the VMI as JSON.`);
  }
  const vmi = isObject(parsed.value) ? parsed.value : {};
  const metadata = isObject(vmi.metadata) ? vmi.metadata : {};
  const spec = isObject(vmi.spec) && isObject(vmi.spec.domain) && isObject(vmi.spec.domain.devices) ? vmi.spec.domain.devices : {};
  return {
    annotations: isObject(metadata.annotations) ? metadata.annotations : {},
    devices: [...devicesOf(spec.gpus, 'gpus'), ...devicesOf(spec.hostDevices, 'hostDevices')],
  };
}

function devicesOf(list: unknown, name: VmiDevice['list']): VmiDevice[] {
  if (!Array.isArray(list)) return [];
  return list
    .filter((d): d is Record<string, unknown> => isObject(d) && typeof d.name === 'string')
    .map((d) => ({ name: d.name as string, ...(typeof d.deviceName === 'string' ? { deviceName: d.deviceName } : {}), list: name }));
}

/**
 * Is the device a GPU that can carry a clique, by the VMI's own spec? NVIDIA's KubeVirt GPU device plugin offers
 * every NVIDIA function bound to vfio-pci as `nvidia.com/` + its pci.ids name in capitals, so the other functions of
 * its boards are `nvidia.com/` resources too (`GH100_H100_NVSWITCH`, `TU116_HIGH_DEFINITION_AUDIO_CONTROLLER`,
 * `TU116_USB_3_1_HOST_CONTROLLER`, `TU116_USB_TYPEC_UCSI_CONTROLLER`), and VMIs list NVSwitches under gpus. A DRA
 * claim (no deviceName) counts only under gpus.
 */
export function isGpuBySpec(device: VmiDevice): boolean {
  if (device.deviceName === undefined) return device.list === 'gpus';
  return /^nvidia\.com\//i.test(device.deviceName) && !NOT_A_GPU.test(device.deviceName);
}

const NOT_A_GPU = /NVSWITCH|AUDIO|USB|UCSI/i;

/** `spec.domain.devices.hostDevices (mellanox.com/MT28908_CONNECTX6)`, for messages. */
export function describeDevice(device: VmiDevice): string {
  return `spec.domain.devices.${device.list}${device.deviceName === undefined ? ' (a DRA claim)' : ` as ${excerpt(device.deviceName, 60)}`}`;
}
