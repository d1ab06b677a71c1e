import { refuseArgument, requireOptionalString, requireOptions } from '../arguments';
import { excerpt, PassthroughError } from '../errors';
import { NVIDIA_DEVICES } from '../pci/nvidia-devices.generated';
import { isNvidiaDisplay, PCI_VENDOR_NVIDIA } from '../pci/address';
import { hex } from './capability';
import { walkCapabilities } from './config-space';

/**
 * Where a capability's length comes from: the device's own bytes, a length lspci printed (`Len=`, MSI flags),
 * the PCI spec's fixed size for that ID, or assumed (it reaches the next capability, the way QEMU's vfio
 * sizes capabilities it does not model).
 */
export type ExtentSource = 'bytes' | 'text' | 'spec' | 'assumed';

export interface ReadCapability {
  offset: number;
  id: number;
  name: string;
  length: number;
  lengthSource: ExtentSource;
  /** MSI only: QEMU sizes MSI from these two flags. */
  msi?: { is64: boolean; maskable: boolean };
}

/** One PCI function's config space as far as a capture shows it. */
export interface ConfigSpaceReading {
  /** As the capture names it (`3b:00.0`, `0000:3b:00.0`), or the file name for a sysfs `config`. */
  address?: string;
  description: string;
  vendor?: number;
  device?: number;
  /** Base class and subclass, e.g. 0x0302 for a 3D controller. */
  classCode?: number;
  /** What the standard capability list was read from. */
  source: 'bytes' | 'text' | 'text+bytes';
  /** The raw bytes when the capture held them (hex rows or a sysfs file). */
  config?: Uint8Array;
  /** The standard capability list (offsets 40h-FFh), in list order. */
  capabilities: ReadCapability[];
  /** Extended capabilities (100h and up) a text capture named. */
  extended: { offset: number; name: string }[];
  /** False when a text capture may stop before the device's capability list does. */
  complete: boolean;
  /** What the reader noticed: disagreements between text and bytes, a walk that stopped early. */
  notes: string[];
}

export interface ReadOptions {
  /** Which device of a capture holding several (`3b:00.0` or `0000:3b:00.0`), or `#N`: its Nth block (for blocks without a header). */
  address?: string;
  /** Names the input in messages (a file name). */
  name?: string;
}

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

/** `lspci | grep nvidia` pasted above `lspci -vvv -s` names one function twice; the bare header adds nothing. */
function dropBareRepeats(readings: ConfigSpaceReading[]): ConfigSpaceReading[] {
  const key = (r: ConfigSpaceReading) => (r.address === undefined ? undefined : normalAddress(r.address));
  const bare = (r: ConfigSpaceReading) => r.capabilities.length === 0 && r.config === undefined && r.notes.length === 0;
  return readings.filter((r) => !(bare(r) && key(r) !== undefined && readings.some((o) => o !== r && !bare(o) && key(o) === key(r))));
}

// ---------------------------------------------------------------- text clean-up

/** A sysfs config file holds NUL bytes (reserved registers); lspci text never does. */
function isBinary(bytes: Uint8Array): boolean {
  return bytes.subarray(0, 256).includes(0);
}

function decodeText(bytes: Uint8Array): string {
  return new TextDecoder('utf-8').decode(bytes);
}

const HEADER = /^\s*((?:[0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7])\s+(\S.*:.*)$/;
const HEX_ROW = /^\s*([0-9a-fA-F]{2,3}):((?:\s+[0-9a-fA-F]{2}){1,16})\s*$/;
const HEX_BYTES_ONLY = /^\s*(?:[0-9a-fA-F]{2}\s+)*[0-9a-fA-F]{2}\s*$/;
const CAPABILITY = /^\s*Capabilities:\s*(?:\[([0-9a-fA-F]{1,3})(?:\s+v\d+)?\]\s*(.*)|(<access denied>.*))$/;

/** Lines as lspci printed them: quoting, no-break spaces and line ends undone, wrapped lines rejoined. */
export function cleanLines(text: string): string[] {
  const lines = text
    .replace(/^\uFEFF/, '')
    .split(/\r\n|\r|\n/)
    .map((l) => l.replace(/[\u00a0\u2000-\u200b\u202f\u205f\u3000]/g, ' ').replace(/^[ \t]*(?:>[ \t]?)+/, '').replace(/\s+$/, ''));
  const joined: string[] = [];
  for (const line of lines) {
    const last = joined.length ? joined[joined.length - 1] : undefined;
    if (last !== undefined && continues(last, line)) joined[joined.length - 1] = `${last}${/\[[^\]]*$/.test(last) ? '' : ' '}${line.trim()}`;
    else joined.push(line);
  }
  return joined;
}

/** A mail client wrapped `last`: an open `[` in a header, a short hex row, or an unindented tail without a colon. */
function continues(last: string, line: string): boolean {
  if (line.trim() === '' || HEADER.test(line) || HEX_ROW.test(line)) return false;
  const row = HEX_ROW.exec(last);
  if (row) return row[2].trim().split(/\s+/).length < 16 && HEX_BYTES_ONLY.test(line);
  if (HEADER.test(last) && /\[[^\]]*$/.test(last)) return true;
  return (HEADER.test(last) || CAPABILITY.test(last)) && /^\S/.test(line) && !line.includes(':');
}

// ---------------------------------------------------------------- blocks

interface Block {
  address?: string;
  header: string;
  lines: string[];
  rows: Map<number, number[]>;
  /** Something after the capability list: an extended capability, a Kernel driver line, the next device. */
  ended: boolean;
}

function splitBlocks(lines: string[]): Block[] {
  const blocks: Block[] = [];
  let current: Block | undefined;
  const open = (address: string | undefined, header: string) => {
    if (current) current.ended = true;
    current = { address, header, lines: [], rows: new Map(), ended: false };
    blocks.push(current);
  };
  for (const line of lines) {
    const header = HEADER.exec(line);
    if (header) {
      open(header[1].toLowerCase(), header[2].trim());
      continue;
    }
    const row = HEX_ROW.exec(line);
    if (row) {
      if (!current) open(undefined, '');
      const offset = parseInt(row[1], 16);
      if (!current!.rows.has(offset)) current!.rows.set(offset, row[2].trim().split(/\s+/).map((b) => parseInt(b, 16)));
      continue;
    }
    if (CAPABILITY.test(line) && !current) open(undefined, '');
    if (current) current.lines.push(line);
  }
  return blocks;
}

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
  if (bytes.length >= 0x0c) Object.assign(reading, idsFromBytes(bytes));
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
  return reading;
}

function fromBytes(address: string, bytes: Uint8Array): ConfigSpaceReading {
  const config = Uint8Array.from(bytes);
  const reading: ConfigSpaceReading = { address, description: '', source: 'bytes', config, capabilities: [], extended: [], complete: true, notes: [] };
  if (config.length >= 0x0c) Object.assign(reading, idsFromBytes(config));
  reading.capabilities = capabilitiesFromBytes(config, reading.notes) ?? [];
  return reading;
}

/** Bytes up to the first missing row (a truncated dump is shorter, never zero-filled). */
function bytesFromRows(rows: Map<number, number[]>): Uint8Array {
  const bytes: number[] = [];
  for (let offset = 0; rows.has(offset); offset += 16) {
    const row = rows.get(offset)!;
    bytes.push(...row);
    if (row.length < 16) break;
  }
  return Uint8Array.from(bytes);
}

// ---------------------------------------------------------------- IDs

const CLASS_NAMES: Record<string, number> = {
  'VGA compatible controller': 0x0300,
  '3D controller': 0x0302,
  'Display controller': 0x0380,
  'Non-Volatile memory controller': 0x0108,
  'Ethernet controller': 0x0200,
  'Network controller': 0x0280,
  'Audio device': 0x0403,
  'PCI bridge': 0x0604,
};

function idsFromHeader(header: string): Pick<ConfigSpaceReading, 'vendor' | 'device' | 'classCode'> {
  const numeric = /^([0-9a-fA-F]{4}):\s+([0-9a-fA-F]{4}):([0-9a-fA-F]{4})/.exec(header); // lspci -n
  if (numeric) return { classCode: parseInt(numeric[1], 16), vendor: parseInt(numeric[2], 16), device: parseInt(numeric[3], 16) };
  const ids: Pick<ConfigSpaceReading, 'vendor' | 'device' | 'classCode'> = {};
  const cls = /^(.+?)(?:\s+\[([0-9a-fA-F]{4})\])?:\s/.exec(header);
  if (cls) {
    const code = cls[2] !== undefined ? parseInt(cls[2], 16) : CLASS_NAMES[cls[1].trim()];
    if (code !== undefined) ids.classCode = code;
  }
  const nn = /\[([0-9a-fA-F]{4}):([0-9a-fA-F]{4})\]/.exec(header);
  if (nn) return { ...ids, vendor: parseInt(nn[1], 16), device: parseInt(nn[2], 16) };
  if (/NVIDIA Corporation/.test(header)) {
    ids.vendor = PCI_VENDOR_NVIDIA;
    const device = /NVIDIA Corporation Device ([0-9a-fA-F]{4})\b/.exec(header);
    if (device) ids.device = parseInt(device[1], 16);
    else {
      const byName = deviceFromName(header.replace(/^.*?NVIDIA Corporation\s+/, '').replace(/\s*\(rev [0-9a-f]+\).*$/i, '').replace(/\s*\(prog-if.*$/, ''));
      if (byName !== undefined) ids.device = byName;
    }
  }
  return ids;
}

/** lspci without -nn prints the pci.ids name: find the device ID by that name when it is unique. */
function deviceFromName(name: string): number | undefined {
  const matches = NVIDIA_DEVICES.filter(([, , , n]) => n === name.trim());
  return matches.length === 1 ? parseInt(matches[0][0], 16) : undefined;
}

function idsFromBytes(config: Uint8Array): Pick<ConfigSpaceReading, 'vendor' | 'device' | 'classCode'> {
  return { vendor: config[0] | (config[1] << 8), device: config[2] | (config[3] << 8), classCode: (config[0x0b] << 8) | config[0x0a] };
}

// ---------------------------------------------------------------- capabilities from text

const TEXT_CAPABILITIES: [RegExp, number, string][] = [
  [/^Power Management/, 0x01, 'Power Management'],
  [/^AGP version 3/, 0x0e, 'AGP3'],
  [/^AGP/, 0x02, 'AGP'],
  [/^Vital Product Data/, 0x03, 'Vital Product Data'],
  [/^Slot ID/, 0x04, 'Slot ID'],
  [/^MSI-X/, 0x11, 'MSI-X'],
  [/^MSI:/, 0x05, 'MSI'],
  [/^CompactPCI hot-swap/, 0x06, 'CompactPCI hot-swap'],
  [/^PCI-X/, 0x07, 'PCI-X'],
  [/^HyperTransport/, 0x08, 'HyperTransport'],
  [/^Vendor Specific Information/, 0x09, 'Vendor Specific'],
  [/^Debug port/, 0x0a, 'Debug port'],
  [/^CompactPCI central resource control/, 0x0b, 'CompactPCI central resource control'],
  [/^PCI Hot-plug/, 0x0c, 'PCI Hot-plug'],
  [/^Subsystem:/, 0x0d, 'Bridge subsystem vendor ID'],
  [/^Secure device/, 0x0f, 'Secure device'],
  [/^Express/, 0x10, 'PCI Express'],
  [/^SATA HBA/, 0x12, 'SATA HBA'],
  [/^PCI Advanced Features/, 0x13, 'PCI Advanced Features'],
  [/^Enhanced Allocation/, 0x14, 'Enhanced Allocation'],
  [/^Null/, 0x00, 'Null'],
];

/** A line that only marks text left out of a paste: `[...snip...]`, `[snip]`, `<snip>`, `...`, `…`. */
const ELISION = /^\s*(?:\[\s*(?:\.{3}|…)?\s*(?:snip(?:ped)?|cut|trimmed|truncated|omitted)?\s*(?:\.{3}|…)?\s*\]|<\s*snip(?:ped)?\s*>|\.{3,}|…)\s*$/i;

function textCapabilities(block: Block) {
  const found = {
    capabilities: [] as ReadCapability[],
    extended: [] as { offset: number; name: string }[],
    notes: [] as string[],
    sawEnd: false,
    accessDenied: false,
    noList: false,
    elided: false,
  };
  for (const line of block.lines) {
    if (ELISION.test(line) && found.extended.length === 0) {
      found.elided = true;
      const last = found.capabilities.length ? `0x${hex(Math.max(...found.capabilities.map((c) => c.offset)))}` : 'the header';
      found.notes.push(`the capture leaves lines out ("${excerpt(line.trim(), 20)}") after ${last}: capabilities there are not shown`);
    }
    if (/^\s*Kernel (driver in use|modules):/.test(line)) found.sawEnd = true;
    if (/^\s*Status:\s*Cap-/.test(line)) found.noList = true;
    const m = CAPABILITY.exec(line);
    if (!m) continue;
    if (m[3] !== undefined) {
      found.accessDenied = true;
      continue;
    }
    const offset = parseInt(m[1], 16);
    const rest = m[2].trim();
    if (offset >= 0x100) {
      found.extended.push({ offset, name: rest });
      found.sawEnd = true;
      continue;
    }
    if (found.capabilities.some((c) => c.offset === offset)) continue;
    found.capabilities.push(textCapability(offset, rest));
  }
  sizeUnknownToNext(found.capabilities);
  return found;
}

function textCapability(offset: number, rest: string): ReadCapability {
  const unknown = /^#([0-9a-fA-F]{2})\b/.exec(rest);
  const known = TEXT_CAPABILITIES.find(([re]) => re.test(rest));
  const id = unknown ? parseInt(unknown[1], 16) : known ? known[1] : -1;
  const cap: ReadCapability = { offset, id, name: known ? known[2] : unknown ? `ID ${unknown[1]}` : excerpt(rest, 40), length: 0, lengthSource: 'assumed' };
  if (id === 0x05) {
    cap.msi = { is64: /64bit\+/.test(rest), maskable: /Maskable\+/.test(rest) };
    cap.length = msiLength(cap.msi);
    cap.lengthSource = 'text';
  } else if (id === 0x09 && /Len=([0-9a-fA-F]+)/.test(rest)) {
    cap.length = parseInt(/Len=([0-9a-fA-F]+)/.exec(rest)![1], 16);
    cap.lengthSource = 'text';
  } else {
    applySpecLength(cap);
  }
  return cap;
}

// ---------------------------------------------------------------- capabilities from bytes

const CAP_NAMES = new Map(TEXT_CAPABILITIES.map(([, id, name]) => [id, name]));

function capabilitiesFromBytes(config: Uint8Array, notes: string[]): ReadCapability[] | undefined {
  const walk = walkCapabilities(config);
  notes.push(...walk.problems);
  if (config.length < 0x40 || !(config[0x06] & 0x10)) return undefined;
  const caps = walk.capabilities.map((w): ReadCapability => {
    const cap: ReadCapability = { offset: w.offset, id: w.id, name: CAP_NAMES.get(w.id) ?? `ID ${hex(w.id)}`, length: 0, lengthSource: 'assumed' };
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

/** QEMU's msi_cap_sizeof: 10 bytes, 14 with 64-bit addresses, plus 10 with per-vector masking. */
function msiLength(msi: { is64: boolean; maskable: boolean }): number {
  return (msi.is64 ? 0x0e : 0x0a) + (msi.maskable ? 0x0a : 0);
}

/** Sizes the PCI spec fixes for an ID: power management 8, bridge subsystem ID 8, MSI-X 12, advanced features 6. */
function applySpecLength(cap: ReadCapability): void {
  const size = ({ 0x01: 8, 0x0d: 8, 0x11: 12, 0x13: 6 } as Record<number, number>)[cap.id];
  if (size !== undefined) {
    cap.length = size;
    cap.lengthSource = 'spec';
  }
}

/** A capability of unknown size reaches the next one's start (or the end of the 256 bytes), as QEMU's vfio assumes. */
function sizeUnknownToNext(caps: ReadCapability[]): void {
  const starts = caps.map((c) => c.offset).sort((a, b) => a - b);
  for (const cap of caps) {
    if (cap.lengthSource !== 'assumed') continue;
    cap.length = (starts.find((s) => s > cap.offset) ?? 0x100) - cap.offset;
  }
}

function compareLists(text: ReadCapability[], bytes: ReadCapability[], notes: string[]): void {
  const show = (caps: ReadCapability[]) => caps.map((c) => hex(c.offset)).join(' ');
  if (show(text) !== show(bytes)) notes.push(`the text lists capabilities at ${show(text)}, the bytes at ${show(bytes)}; using the bytes`);
}

// ---------------------------------------------------------------- choosing one device

function normalAddress(address: string): string {
  return address.toLowerCase().replace(/^0000:/, '');
}

function select(readings: ConfigSpaceReading[], address: string | undefined, name: string, text: string): ConfigSpaceReading {
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
    const wanted = normalAddress(address);
    const hit = readings.find((r) => r.address !== undefined && normalAddress(r.address) === wanted);
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
function requireList(reading: ConfigSpaceReading, name: string, capture: ConfigSpaceReading[] = [reading]): ConfigSpaceReading {
  if (reading.capabilities.length > 0) return reading;
  const who = `${reading.address ?? name}${reading.vendor !== undefined && reading.device !== undefined ? ` (${hex(reading.vendor, 4)}:${hex(reading.device, 4)})` : ''}`;
  const size = reading.config?.length ?? 0;
  const found = reading.notes.some((n) => /access denied/.test(n))
    ? 'lspci printed "Capabilities: <access denied>" (it was not run as root)'
    : size > 0 && size < 0x40
      ? `only ${size} bytes of config space, less than the 64-byte header`
      : size >= 0x40 && !(reading.config![0x06] & 0x10)
        ? 'a status register whose capability-list bit is clear'
        : size === 0x40
          ? 'only the 64-byte header (lspci -x); the capabilities start after it'
          : reading.description
            ? 'a device header but no "Capabilities:" lines (lspci -v or more prints them) and no hex rows'
            : 'no capability list';
  throw new PassthroughError(
    'CONFIG_SPACE_UNREADABLE',
    `Cannot read the capability list of ${excerpt(who, 60)}: found ${found}. Capture it as root with ` +
      '`sudo lspci -vvv -nn -s ADDR` or `sudo lspci -xxx -s ADDR`, or copy /sys/bus/pci/devices/ADDR/config.' +
      (capture.some((r) => r !== reading && r.capabilities.length > 0)
        ? ` The capture holds ${listDevices(capture)}: choose another with --address (\`#N\` for a block without an address).`
        : ''),
  );
}

