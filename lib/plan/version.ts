import { excerpt } from '../errors';

/** MAJOR, MINOR, MICRO: what the version rules compare. */
export type Version = [number, number, number];

/**
 * The one grammar for a libvirt or QEMU version, wherever one comes from (the `--libvirt`/`--qemu` flags, a plan's
 * `target`, `predict`/`host plan --qemu`, what the local tools print): MAJOR.MINOR or MAJOR.MINOR.MICRO, optionally
 * after a Debian epoch (`1:`) and before a distribution suffix that starts with `-`, `+` or `~` (`7.2+dfsg-7+deb12u6`,
 * `8.0.0-22.el8`, `10.0.2-rc1`). A lone MAJOR is refused: `8` could be 8.0 or 8.2, and QEMU 8.1 changed the
 * GPUDirect offset. No surrounding space, no `v`. schemas/plan.schema.json uses this very pattern.
 */
export const VERSION_PATTERN = '^(?:[0-9]+:)?([0-9]+)\\.([0-9]+)(?:\\.([0-9]+))?(?:[-+~][0-9A-Za-z.+~-]*)?$';
const VERSION = new RegExp(VERSION_PATTERN);

/** How a version is written, for messages that refuse one. */
export const VERSION_FORMS = 'a version like 8.2.0 or 7.2 (a distribution suffix such as 1:7.2+dfsg-7 is fine)';

/** The numbers of a version in the grammar above; undefined when the text is not one. */
export function readVersion(text: unknown): Version | undefined {
  const m = typeof text === 'string' ? VERSION.exec(text) : null;
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : undefined;
}

/** Why `text` is not a version of `what` (`QEMU`, `libvirt`), or undefined when it is one. */
export function versionProblem(text: unknown, what: string): string | undefined {
  if (readVersion(text) !== undefined) return undefined;
  return `"${excerpt(String(text), 30)}" is not a ${what} version: give ${VERSION_FORMS}`;
}

/**
 * The version a tool printed after `lead` (a regular expression source, e.g. `QEMU emulator version `): the
 * token there when it is in the grammar, else undefined. `2.11.1(Debian …)`, as old QEMU prints it, gives 2.11.1.
 */
export function versionAfter(output: string, lead: string): string | undefined {
  const token = new RegExp(`${lead}([0-9][0-9A-Za-z.:+~-]*)`, 'm').exec(output)?.[1];
  return token !== undefined && readVersion(token) !== undefined ? token : undefined;
}
