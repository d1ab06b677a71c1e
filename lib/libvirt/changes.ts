import { excerpt } from '../errors';

/**
 * How two dumps of one definition differ, for a message: the number of changed lines and the first
 * change. Password-like attribute values are masked: a message must never carry a VNC password.
 */
export function describeChange(before: string, after: string): string {
  const a = before.split('\n');
  const b = after.split('\n');
  let first = 0;
  while (first < a.length && first < b.length && a[first] === b[first]) first++;
  const removed = a.filter((l) => !b.includes(l)).length;
  const added = b.filter((l) => !a.includes(l)).length;
  const was = first < a.length ? `\`${shown(a[first])}\`` : 'the end';
  const now = first < b.length ? `\`${shown(b[first])}\`` : 'the end';
  return `${Math.max(removed, added, 1)} line(s) differ; first at line ${first + 1}: ${was} is now ${now}`;
}

const SECRET_ATTRIBUTE = /\b(passwd|password|secret|key)\s*=\s*(['"])[^'"]*\2/gi;

function shown(line: string): string {
  return excerpt(line.replace(SECRET_ATTRIBUTE, '$1=$2…$2'), 100);
}

// What libvirt writes of its own on define: controllers (pcie-root-port for a hostdev without a free
// port) with their model, target and address, and the guest addresses it assigns.
const LIBVIRT_MADE = /^<\/?(controller|model|target|address|alias)\b/;

/**
 * Lines of a read-back that neither the definition we gave libvirt nor the one before it explain, and
 * lines of the definition before that are gone though ours kept them: signs that someone else defined the
 * domain after us. Empty: the read-back is ours, as libvirt stored it.
 */
export function foreignLines(before: string, ours: string, readBack: string): string[] {
  // libvirt writes the metadata of other namespaces back with double quotes.
  const trimmed = (text: string) => text.split('\n').map((l) => l.trim().replace(/"/g, "'"));
  const known = new Set([...trimmed(before), ...trimmed(ours)]);
  const stored = new Set(trimmed(readBack));
  const ourLines = new Set(trimmed(ours));
  const added = trimmed(readBack).filter((l) => !known.has(l) && !LIBVIRT_MADE.test(l));
  const removed = trimmed(before).filter((l) => ourLines.has(l) && !stored.has(l));
  return [...added.map((l) => `+${shown(l)}`), ...removed.map((l) => `-${shown(l)}`)];
}
