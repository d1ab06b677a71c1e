import { isObject, refuseArgument, requireString } from '../arguments';
import { excerpt, PassthroughError } from '../errors';
import { readLibvirtUInt } from '../domain/libvirt-number';

/** A PCI address: domain:bus:slot.function, as lspci, sysfs and libvirt name a device. */
export interface PciAddress {
  domain: number;
  bus: number;
  slot: number;
  function: number;
}

export const PCI_LIMITS = { domain: 0xffff, bus: 0xff, slot: 0x1f, function: 0x7 } as const;

/**
 * The one grammar for a PCI address a person types or pastes (CLI arguments, plans, selections, captures):
 * `DDDD:BB:SS.F` or `BB:SS.F` (domain 0), hex in either case, bus and slot of one or two digits, a domain of
 * one to eight digits (nvidia-smi prints eight: `00000000:3B:00.0`), range-checked after. Nothing else: no
 * surrounding space, no `0x`, no libvirt node-device name (`pci_0000_3b_00_0`). docs/plan.md lists the decision;
 * schemas/plan.schema.json uses this very pattern. (XML attributes are read as libvirt reads them instead:
 * pciAddressFromAttributes.)
 */
export const PCI_ADDRESS_PATTERN = '^(?:([0-9a-fA-F]{1,8}):)?([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})\\.([0-7])$';
const BDF = new RegExp(PCI_ADDRESS_PATTERN);

/** How an address is written, for messages that refuse one. */
export const PCI_ADDRESS_FORMS = 'as lspci prints it, e.g. 0000:1b:00.0 or 1b:00.0 (or nvidia-smi\'s 00000000:1B:00.0)';

/**
 * `DDDD:BB:SS.F` or `BB:SS.F` (domain 0), either case, as lspci, sysfs and nvidia-smi (`00000000:3B:00.0`) print it:
 * the one grammar every command and plan reads addresses with (PCI_ADDRESS_PATTERN). Returns a reason instead of throwing.
 */
export function parsePciAddress(text: string): PciAddress | string {
  requireString(text, 'parsePciAddress', 'the address as a string like 0000:1b:00.0');
  const m = BDF.exec(text);
  if (!m) return `"${excerpt(text, 40)}" is not a PCI address; write it ${PCI_ADDRESS_FORMS}`;
  return checkPciRanges({
    domain: m[1] ? parseInt(m[1], 16) : 0,
    bus: parseInt(m[2], 16),
    slot: parseInt(m[3], 16),
    function: parseInt(m[4], 16),
  });
}

/** The canonical key (`0000:1b:00.0`) of an address in any accepted spelling; undefined when it is not one. */
export function pciAddressKey(text: string): string | undefined {
  const parsed = parsePciAddress(text);
  return typeof parsed === 'string' ? undefined : formatPciAddress(parsed);
}

/** Each address's canonical key, for an exported function given addresses; one that is not an address is refused. */
export function requirePciAddressKeys(addresses: readonly string[], fn: string, what: string): string[] {
  return addresses.map((address, i) => {
    const parsed = parsePciAddress(address);
    if (typeof parsed === 'string') throw new PassthroughError('INPUT_INVALID', `${fn}: ${what}[${i}]: ${parsed}.`);
    return formatPciAddress(parsed);
  });
}

export function checkPciRanges(address: PciAddress): PciAddress | string {
  for (const part of ['domain', 'bus', 'slot', 'function'] as const) {
    const value = address[part];
    if (!Number.isInteger(value) || value < 0 || value > PCI_LIMITS[part]) {
      return `PCI ${part} ${value} is out of range (0 to 0x${PCI_LIMITS[part].toString(16)})`;
    }
  }
  return address;
}

/** Canonical text form, `0000:1b:00.0`: used as the key wherever addresses are compared. */
export function formatPciAddress(a: PciAddress): string {
  if (!isObject(a) || !(['domain', 'bus', 'slot', 'function'] as const).every((part) => typeof a[part] === 'number')) {
    refuseArgument('formatPciAddress', 'an address object { domain, bus, slot, function } of numbers (parsePciAddress gives one)', a);
  }
  return `${hex(a.domain, 4)}:${hex(a.bus, 2)}:${hex(a.slot, 2)}.${a.function.toString(16)}`;
}

/** The attributes libvirt writes for an address, in libvirt's own format (`0x%04x`, `0x%02x`, `0x%02x`, `0x%x`). */
export function pciAddressAttributes(a: PciAddress): [string, string][] {
  return [
    ['domain', `0x${hex(a.domain, 4)}`],
    ['bus', `0x${hex(a.bus, 2)}`],
    ['slot', `0x${hex(a.slot, 2)}`],
    ['function', `0x${a.function.toString(16)}`],
  ];
}

/**
 * Reads an address from XML attribute values the way libvirt does (readLibvirtUInt: strtoul with base 0,
 * `0x1b` hex, `033` octal, `+27` decimal). Missing parts are 0. Returns undefined when a part is unreadable.
 */
export function pciAddressFromAttributes(get: (name: string) => string | null): PciAddress | undefined {
  const parts = ['domain', 'bus', 'slot', 'function'].map((name) => readCNumber(get(name)));
  if (parts.some((p) => p === undefined)) return undefined;
  const [domain, bus, slot, fn] = parts as number[];
  return { domain, bus, slot, function: fn };
}

function readCNumber(value: string | null): number | undefined {
  return value === null ? 0 : readLibvirtUInt(value);
}

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

/** `10de:2330` → vendor and device IDs. */
export interface PciDeviceId {
  vendor: number;
  device: number;
}

export function parseDeviceId(text: string): PciDeviceId | undefined {
  const m = /^([0-9a-fA-F]{4}):([0-9a-fA-F]{4})$/.exec(text.trim());
  return m ? { vendor: parseInt(m[1], 16), device: parseInt(m[2], 16) } : undefined;
}

export function formatDeviceId(id: PciDeviceId): string {
  return `${hex(id.vendor, 4)}:${hex(id.device, 4)}`;
}

export const PCI_VENDOR_NVIDIA = 0x10de;

/** An NVIDIA display function (class 03xx, `classCode` as config space's 16-bit base class + subclass): a GPU. */
export function isNvidiaDisplay(d: { vendor?: number; classCode?: number }): boolean {
  return d.vendor === PCI_VENDOR_NVIDIA && d.classCode !== undefined && d.classCode >> 8 === 0x03;
}
