import { refuseArgument, requireBytes, requireOptionalString, requireOptions, requireString } from '../arguments';
import type { PciFunctionDump } from './config-space';
import { bytesFromRows, capabilitiesFromBytes, compareLists, decodeText, fromBytes, idsFromBytes, isBinary } from './read-config-bytes';
import { dropBareRepeats, requireList, select } from './read-config-choose';
import { ConfigSpaceReading, ReadOptions } from './read-config-reading';
import { Block, cleanLines, idsFromHeader, splitBlocks, textCapabilities } from './read-config-text';

export type { ConfigSpaceReading, ExtentSource, ReadCapability, ReadOptions } from './read-config-reading';

// The reader's entry points. Each input form has its module: lspci text (read-config-text), hex rows and bytes
// (read-config-bytes), choosing a device and refusing (read-config-choose); what a reading is: read-config-reading.

/**
 * Reads the host config space of one PCI function from anything a user has: `lspci -v`/`-vv`/`-vvv` text
 * (with or without `-nn`), `lspci -x`/`-xxx`/`-xxxx` hex, both merged, or the binary sysfs `config` file;
 * text as published (CRLF, tabs, no-break spaces, e-mail quoting, wrapped lines, prompts, trailing junk).
 * Refuses with CONFIG_SPACE_UNREADABLE when no capability list can be read, and with INPUT_INVALID when a
 * capture holds several devices and none was chosen.
 */
export function readConfigSpace(input: string | Uint8Array, options: ReadOptions = {}): ConfigSpaceReading {
  if (typeof input !== 'string' && !(input instanceof Uint8Array)) refuseArgument('readConfigSpace', 'lspci text or config-space bytes', input);
  requireOptions(options, 'readConfigSpace');
  requireOptionalString(options.address, 'readConfigSpace', 'options.address as a PCI address string');
  requireOptionalString(options.name, 'readConfigSpace', 'options.name as a string');
  const name = options.name ?? 'the input';
  if (input instanceof Uint8Array && isBinary(input)) return requireList(fromBytes(options.address ?? name, input), name);
  const text = typeof input === 'string' ? input : decodeText(input);
  const readings = readConfigSpaces(text);
  const chosen = select(readings, options.address, name, text);
  return requireList(chosen, name, options.address === undefined ? readings : [chosen]);
}

/** Every PCI function a capture holds, read as far as it goes (no refusal for missing lists). */
export function readConfigSpaces(input: string | Uint8Array): ConfigSpaceReading[] {
  if (typeof input !== 'string' && !(input instanceof Uint8Array)) refuseArgument('readConfigSpaces', 'lspci text or config-space bytes', input);
  if (input instanceof Uint8Array && isBinary(input)) return [fromBytes('config', input)];
  const text = typeof input === 'string' ? input : decodeText(input);
  return dropBareRepeats(splitBlocks(cleanLines(text)).map(readBlock));
}

/** One block of a capture: its text, merged with its hex rows when it has them (the bytes win). */
function readBlock(block: Block): ConfigSpaceReading {
  const ids = idsFromHeader(block.header);
  const bytes = bytesFromRows(block.rows);
  const text = textCapabilities(block);
  const reading: ConfigSpaceReading = {
    address: block.address,
    description: block.header,
    ...ids,
    source: 'text',
    capabilities: text.capabilities,
    extended: text.extended,
    complete: text.noList || ((block.ended || text.sawEnd) && !text.elided),
    notes: [...text.notes],
  };
  if (bytes.length >= 0x0c) {
    Object.assign(reading, idsFromBytes(bytes));
    delete reading.otherVendor; // the bytes name the vendor by its ID
  }
  if (bytes.length > 0) reading.config = bytes;
  if (bytes.length >= 0x100 || (bytes.length >= 0x40 && text.capabilities.length === 0 && !text.accessDenied)) {
    const fromBytes = capabilitiesFromBytes(bytes, reading.notes);
    if (fromBytes) {
      if (text.capabilities.length) compareLists(text.capabilities, fromBytes, reading.notes);
      reading.capabilities = fromBytes;
      reading.source = text.capabilities.length ? 'text+bytes' : 'bytes';
      reading.complete = !reading.notes.some((n) => /the dump ends at/.test(n));
    }
  }
  if (text.accessDenied && reading.capabilities.length === 0) reading.notes.push('lspci printed "Capabilities: <access denied>": it was not run as root');
  if (text.noList && reading.capabilities.length === 0) reading.notes.push('lspci printed "Status: Cap-": the device has no capability list');
  return reading;
}

/**
 * Parses `lspci -xxx` / `-xxxx` output, one or several functions; rows missing from a dump shorten it. Reads
 * text as published (quoted, CRLF, wrapped), like readConfigSpace; a function without hex rows has no bytes.
 */
export function parseLspciDump(text: string): PciFunctionDump[] {
  requireString(text, 'parseLspciDump', 'the lspci -xxx output as a string');
  return readConfigSpaces(text).map((r) => {
    const dump: PciFunctionDump = { address: r.address ?? '', description: r.description, config: r.config ?? new Uint8Array(0) };
    if (r.vendor !== undefined) dump.vendor = r.vendor;
    if (r.device !== undefined) dump.device = r.device;
    if (r.classCode !== undefined) dump.classCode = r.classCode;
    return dump;
  });
}

/** The raw `/sys/bus/pci/devices/ADDR/config` file (64, 256 or 4096 bytes). */
export function parseSysfsConfig(address: string, bytes: Uint8Array, description = ''): PciFunctionDump {
  requireString(address, 'parseSysfsConfig', 'the PCI address as a string first');
  requireBytes(bytes, 'parseSysfsConfig', 'the config file\'s bytes as a Uint8Array second');
  requireString(description, 'parseSysfsConfig', 'a description string third (or nothing)');
  return withIds(address, description, Uint8Array.from(bytes));
}

function withIds(address: string, description: string, config: Uint8Array): PciFunctionDump {
  const dump: PciFunctionDump = { address, description, config };
  if (config.length >= 0x0c) {
    dump.vendor = config[0] | (config[1] << 8);
    dump.device = config[2] | (config[3] << 8);
    dump.classCode = (config[0x0b] << 8) | config[0x0a];
  }
  return dump;
}

