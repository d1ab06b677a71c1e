import { hex } from './capability';
import { walkCapabilities } from './config-space';
import { applySpecLength, capabilityName, ConfigSpaceReading, msiLength, ReadCapability, sizeUnknownToNext } from './read-config-reading';

// Config-space bytes: a sysfs `config` file, or the hex rows of `lspci -x`/`-xxx`/`-xxxx`.

/** A sysfs config file holds NUL bytes (reserved registers); lspci text never does. */
export function isBinary(bytes: Uint8Array): boolean {
  return bytes.subarray(0, 256).includes(0);
}

export function decodeText(bytes: Uint8Array): string {
  return new TextDecoder('utf-8').decode(bytes);
}

/** A reading of a binary `config` file (sysfs). */
export function fromBytes(address: string, bytes: Uint8Array): ConfigSpaceReading {
  const config = Uint8Array.from(bytes);
  const reading: ConfigSpaceReading = { address, description: '', source: 'bytes', config, capabilities: [], extended: [], complete: true, notes: [] };
  if (config.length >= 0x0c) Object.assign(reading, idsFromBytes(config));
  reading.capabilities = capabilitiesFromBytes(config, reading.notes) ?? [];
  return reading;
}

/** Bytes up to the first missing row (a truncated dump is shorter, never zero-filled). */
export function bytesFromRows(rows: Map<number, number[]>): Uint8Array {
  const bytes: number[] = [];
  for (let offset = 0; rows.has(offset); offset += 16) {
    const row = rows.get(offset)!;
    bytes.push(...row);
    if (row.length < 16) break;
  }
  return Uint8Array.from(bytes);
}

/** Vendor, device and class from the first 12 bytes. */
export function idsFromBytes(config: Uint8Array): Pick<ConfigSpaceReading, 'vendor' | 'device' | 'classCode'> {
  return { vendor: config[0] | (config[1] << 8), device: config[2] | (config[3] << 8), classCode: (config[0x0b] << 8) | config[0x0a] };
}

/** The standard capability list walked in the bytes; undefined when the bytes hold no list. */
export function capabilitiesFromBytes(config: Uint8Array, notes: string[]): ReadCapability[] | undefined {
  const walk = walkCapabilities(config);
  notes.push(...walk.problems);
  if (config.length < 0x40 || !(config[0x06] & 0x10)) return undefined;
  const caps = walk.capabilities.map((w): ReadCapability => {
    const cap: ReadCapability = { offset: w.offset, id: w.id, name: capabilityName(w.id), length: 0, lengthSource: 'assumed' };
    if (w.id === 0x05 && w.offset + 3 < config.length) {
      const control = config[w.offset + 2] | (config[w.offset + 3] << 8);
      cap.msi = { is64: (control & 0x80) !== 0, maskable: (control & 0x100) !== 0 };
      cap.length = msiLength(cap.msi);
      cap.lengthSource = 'bytes';
    } else if (w.id === 0x09 && w.offset + 2 < config.length && config[w.offset + 2] >= 3) {
      cap.length = config[w.offset + 2];
      cap.lengthSource = 'bytes';
    } else {
      applySpecLength(cap);
    }
    return cap;
  });
  sizeUnknownToNext(caps);
  return caps;
}

/** A note when the text and the bytes of one device list different capabilities. */
export function compareLists(text: ReadCapability[], bytes: ReadCapability[], notes: string[]): void {
  const show = (caps: ReadCapability[]) => caps.map((c) => hex(c.offset)).join(' ');
  if (show(text) !== show(bytes)) notes.push(`the text lists capabilities at ${show(text)}, the bytes at ${show(bytes)}; using the bytes`);
}
