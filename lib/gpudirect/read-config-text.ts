import { excerpt } from '../errors';
import { NVIDIA_DEVICES } from '../pci/nvidia-devices.generated';
import { PCI_VENDOR_NVIDIA } from '../pci/address';
import { hex } from './capability';
import { applySpecLength, ConfigSpaceReading, msiLength, ReadCapability, sizeUnknownToNext, TEXT_CAPABILITIES } from './read-config-reading';

// lspci text: `-v`/`-vv`/`-vvv` (with or without `-nn`) as people publish it, split into one block per device.

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

/** One device's lines of a capture: its header, the text after it and the hex rows it holds. */
export interface Block {
  address?: string;
  header: string;
  lines: string[];
  rows: Map<number, number[]>;
  /** Something after the capability list: an extended capability, a Kernel driver line, the next device. */
  ended: boolean;
}

export function splitBlocks(lines: string[]): Block[] {
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

/** Vendor, device and class as the header names them (`-nn` IDs, `-n` numbers, or pci.ids names). */
export function idsFromHeader(header: string): Pick<ConfigSpaceReading, 'vendor' | 'device' | 'classCode' | 'otherVendor'> {
  const numeric = /^([0-9a-fA-F]{4}):\s+([0-9a-fA-F]{4}):([0-9a-fA-F]{4})/.exec(header); // lspci -n
  if (numeric) return { classCode: parseInt(numeric[1], 16), vendor: parseInt(numeric[2], 16), device: parseInt(numeric[3], 16) };
  const ids: Pick<ConfigSpaceReading, 'vendor' | 'device' | 'classCode' | 'otherVendor'> = {};
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
    return ids;
  }
  const named = cls ? header.slice(cls[0].length).replace(/\s*\(rev [0-9a-f]+\).*$/i, '').replace(/\s*\(prog-if.*$/, '').trim() : '';
  const unknown = /^Device ([0-9a-fA-F]{4}):([0-9a-fA-F]{4})\b/.exec(named); // lspci without pci.ids: both IDs
  if (unknown) return { ...ids, vendor: parseInt(unknown[1], 16), device: parseInt(unknown[2], 16) };
  if (named !== '') ids.otherVendor = excerpt(named, 80);
  return ids;
}

/** lspci without -nn prints the pci.ids name: find the device ID by that name when it is unique. */
function deviceFromName(name: string): number | undefined {
  const matches = NVIDIA_DEVICES.filter(([, , , n]) => n === name.trim());
  return matches.length === 1 ? parseInt(matches[0][0], 16) : undefined;
}

/** A line that only marks text left out of a paste: `[...snip...]`, `[snip]`, `<snip>`, `...`, `…`. */
const ELISION = /^\s*(?:\[\s*(?:\.{3}|…)?\s*(?:snip(?:ped)?|cut|trimmed|truncated|omitted)?\s*(?:\.{3}|…)?\s*\]|<\s*snip(?:ped)?\s*>|\.{3,}|…)\s*$/i;

/** The capabilities a block's `Capabilities:` lines name, and what the text says about the list's end. */
export function textCapabilities(block: Block) {
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
