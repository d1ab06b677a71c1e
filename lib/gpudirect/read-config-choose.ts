import { excerpt, PassthroughError } from '../errors';
import { isNvidiaDisplay, PCI_VENDOR_NVIDIA, pciAddressKey } from '../pci/address';
import { hex } from './capability';
import { ConfigSpaceReading } from './read-config-reading';

// Choosing one device of a capture, and refusing a capture that cannot answer.

/** `lspci | grep nvidia` pasted above `lspci -vvv -s` names one function twice; the bare header adds nothing. */
export function dropBareRepeats(readings: ConfigSpaceReading[]): ConfigSpaceReading[] {
  const key = (r: ConfigSpaceReading) => (r.address === undefined ? undefined : pciAddressKey(r.address));
  const bare = (r: ConfigSpaceReading) => r.capabilities.length === 0 && r.config === undefined && r.notes.length === 0;
  return readings.filter((r) => !(bare(r) && key(r) !== undefined && readings.some((o) => o !== r && !bare(o) && key(o) === key(r))));
}

/** The device `address` names (any spelling parsePciAddress takes, or `#N`), else the capture's only device or only NVIDIA GPU. */
export function select(readings: ConfigSpaceReading[], address: string | undefined, name: string, text: string): ConfigSpaceReading {
  if (readings.length === 0) {
    throw new PassthroughError(
      'CONFIG_SPACE_UNREADABLE',
      `Found no PCI device in ${name} (${text.split(/\r\n|\r|\n/).length} lines, starting "${excerpt(text, 50)}"). Give the output of ` +
        '`sudo lspci -vvv -nn -s ADDR`, `sudo lspci -xxx -s ADDR`, or a copy of /sys/bus/pci/devices/ADDR/config.',
    );
  }
  const position = address === undefined ? undefined : /^#(\d{1,4})$/.exec(address.trim());
  if (position) {
    const hit = readings[Number(position[1]) - 1];
    if (!hit) throw new PassthroughError('INPUT_INVALID', `${name} has no block ${position[0]}; it holds ${listDevices(readings)}.`);
    return hit;
  }
  if (address !== undefined) {
    const wanted = pciAddressKey(address);
    const hit = wanted === undefined ? undefined : readings.find((r) => r.address !== undefined && pciAddressKey(r.address) === wanted);
    if (!hit) throw new PassthroughError('INPUT_INVALID', `${name} has no device ${excerpt(address, 20)}; it holds ${listDevices(readings)}.`);
    return hit;
  }
  if (readings.length === 1) return readings[0];
  const gpus = readings.filter(isNvidiaDisplay);
  if (gpus.length === 1) return gpus[0];
  throw new PassthroughError('INPUT_INVALID', `${name} holds ${readings.length} devices: ${listDevices(readings)}. Choose one with --address ADDR.`);
}

function listDevices(readings: ConfigSpaceReading[]): string {
  const shown = readings.slice(0, 8).map((r, i) => `${r.address ?? `#${i + 1} (no address)`} ${excerpt(r.description, 50)}`.trim());
  return shown.join('; ') + (readings.length > 8 ? `; and ${readings.length - 8} more` : '');
}

/** `capture`: every block the reading was chosen from, to point at another one that has a list. */
export function requireList(reading: ConfigSpaceReading, name: string, capture: ConfigSpaceReading[] = [reading]): ConfigSpaceReading {
  if (reading.capabilities.length > 0) return reading;
  const who = `${reading.address ?? name}${reading.vendor !== undefined && reading.device !== undefined ? ` (${hex(reading.vendor, 4)}:${hex(reading.device, 4)})` : ''}`;
  const { found, fix } = whyNoList(reading);
  const notGpu = notAnNvidiaGpu(reading);
  throw new PassthroughError(
    'CONFIG_SPACE_UNREADABLE',
    `Cannot read the capability list of ${excerpt(who, 60)}: found ${found}. ` +
      (notGpu ? `${notGpu}: QEMU refuses the GPUDirect clique on it whatever its capabilities; capture the GPU instead.` : fix) +
      (capture.some((r) => r !== reading && r.capabilities.length > 0)
        ? ` The capture holds ${listDevices(capture)}: choose another with --address (\`#N\` for a block without an address).`
        : ''),
  );
}

const AS_ROOT = 'Capture it as root with `sudo lspci -vvv -nn -s ADDR` or `sudo lspci -xxx -s ADDR`, or copy /sys/bus/pci/devices/ADDR/config.';
const NO_LIST = 'The device has no capability list at all (reading it as root changes nothing); every NVIDIA GPU has one, so this is not the GPU.';

/** What the capture shows instead of a list, and what would help: root only where root was missing. */
function whyNoList(reading: ConfigSpaceReading): { found: string; fix: string } {
  const size = reading.config?.length ?? 0;
  if (reading.notes.some((n) => /access denied/.test(n))) return { found: 'lspci printed "Capabilities: <access denied>" (it was not run as root)', fix: AS_ROOT };
  if (size > 0 && size < 0x40) return { found: `only ${size} bytes of config space, less than the 64-byte header`, fix: AS_ROOT };
  if (size >= 0x40 && !(reading.config![0x06] & 0x10)) return { found: 'a status register whose capability-list bit is clear', fix: NO_LIST };
  if (reading.notes.some((n) => /Status: Cap-/.test(n))) return { found: 'lspci\'s "Status: Cap-"', fix: NO_LIST };
  if (size === 0x40) return { found: 'only the 64-byte header (lspci -x); the capabilities start after it', fix: AS_ROOT };
  if (reading.description) return { found: 'a device header but no "Capabilities:" lines (lspci -v or more prints them) and no hex rows', fix: AS_ROOT };
  return { found: 'no capability list', fix: AS_ROOT };
}

/** Why the reading is evidently not an NVIDIA GPU function (QEMU's own checks), or undefined. */
function notAnNvidiaGpu(reading: ConfigSpaceReading): string | undefined {
  if (reading.vendor !== undefined && reading.vendor !== PCI_VENDOR_NVIDIA) return `It is not an NVIDIA device (vendor ${hex(reading.vendor, 4)}, not 10de)`;
  if (reading.vendor === undefined && reading.otherVendor !== undefined) return `The capture names it "${excerpt(reading.otherVendor, 60)}", not an NVIDIA device`;
  if (reading.classCode !== undefined && reading.classCode >> 8 !== 0x03) return `It is not a display function (class ${hex(reading.classCode, 4)}, not 03xx)`;
  return undefined;
}
