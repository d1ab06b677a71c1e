/** Every way the library can refuse its input. Stable: callers switch on these. */
export type ErrorCode =
  | 'INPUT_INVALID'
  | 'XML_MALFORMED'
  | 'XML_FORBIDDEN'
  | 'XML_TOO_LARGE'
  | 'NOT_A_DOMAIN'
  | 'MACHINE_NOT_Q35'
  | 'PLAN_INVALID'
  | 'HOSTDEV_CONFLICT'
  | 'OVERRIDE_CONFLICT'
  | 'GPUDIRECT_UNSUPPORTED_DEVICE'
  | 'GPU_ARCHITECTURE_UNKNOWN'
  | 'QEMU_TOO_OLD'
  | 'LIBVIRT_TOO_OLD'
  | 'TOPOLOGY_INVALID'
  | 'MMIO_CONFLICT'
  | 'LIBVIRT_REFUSED'
  | 'LIBVIRT_DROPPED'
  | 'HOSTDEV_MISSING'
  | 'REMOVE_NOT_FOUND'
  | 'CONFIG_SPACE_UNREADABLE'
  | 'LAYOUT_INVALID'
  | 'LAYOUT_NEEDS_ACPI'
  | 'LAYOUT_CELL_MISSING'
  | 'LAYOUT_CONTROLLER_CONFLICT'
  | 'LAYOUT_TOO_FEW_VCPUS'
  | 'CONCURRENT_CHANGE'
  | 'DOMAIN_MISMATCH'
  | 'LIBVIRT_TIMEOUT'
  | 'VM_LOCKED'
  | 'TARGET_MISMATCH';

export const ERROR_CODES: readonly ErrorCode[] = [
  'INPUT_INVALID',
  'XML_MALFORMED',
  'XML_FORBIDDEN',
  'XML_TOO_LARGE',
  'NOT_A_DOMAIN',
  'MACHINE_NOT_Q35',
  'PLAN_INVALID',
  'HOSTDEV_CONFLICT',
  'OVERRIDE_CONFLICT',
  'GPUDIRECT_UNSUPPORTED_DEVICE',
  'GPU_ARCHITECTURE_UNKNOWN',
  'QEMU_TOO_OLD',
  'LIBVIRT_TOO_OLD',
  'TOPOLOGY_INVALID',
  'MMIO_CONFLICT',
  'LIBVIRT_REFUSED',
  'LIBVIRT_DROPPED',
  'HOSTDEV_MISSING',
  'REMOVE_NOT_FOUND',
  'CONFIG_SPACE_UNREADABLE',
  'LAYOUT_INVALID',
  'LAYOUT_NEEDS_ACPI',
  'LAYOUT_CELL_MISSING',
  'LAYOUT_CONTROLLER_CONFLICT',
  'LAYOUT_TOO_FEW_VCPUS',
  'CONCURRENT_CHANGE',
  'DOMAIN_MISMATCH',
  'LIBVIRT_TIMEOUT',
  'VM_LOCKED',
  'TARGET_MISMATCH',
];

export interface ErrorDetails {
  /** 1-based line in the XML input. */
  line?: number;
  /** 1-based column (UTF-16 code units) in the XML input. */
  column?: number;
  /** Where in the plan, e.g. `hostdevs[1].gpudirect.clique`. */
  path?: string;
}

export class PassthroughError extends Error {
  override readonly name = 'PassthroughError';
  readonly code: ErrorCode;
  readonly line?: number;
  readonly column?: number;
  readonly path?: string;
  /** The message without the location that `message` ends with: for callers that print the location their own way. */
  readonly reason: string;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(withLocation(message, details));
    this.code = code;
    this.reason = message;
    if (details.line !== undefined) this.line = details.line;
    if (details.column !== undefined) this.column = details.column;
    if (details.path !== undefined) this.path = details.path;
  }
}

function withLocation(message: string, { line, column, path }: ErrorDetails): string {
  if (line !== undefined) return `${message} (line ${line}, column ${column ?? 1})`;
  if (path !== undefined) return `${message} (at plan ${path})`;
  return message;
}

/** Works across copies of the library (ESM and CJS builds loaded together), unlike instanceof. */
export function isPassthroughError(value: unknown): value is PassthroughError {
  return (
    value instanceof Error &&
    value.name === 'PassthroughError' &&
    typeof (value as { code?: unknown }).code === 'string'
  );
}

/**
 * Every value a message quotes goes through here (the library's, the CLI's and the hook's): cut to `max`
 * characters so megabytes never reach a log line, on one line (any run of white space, newlines included,
 * is one space) so a value cannot forge a log line of its own, and printable (control characters, and the
 * bidirectional overrides that reorder what a terminal shows, become U+FFFD) so binary input never sends
 * escape sequences to a terminal.
 */
export function excerpt(text: string, max = 60): string {
  const flat = text.replace(/\s+/g, ' ').replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, '\ufffd').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** Names and labels: 40 characters and an ellipsis, through excerpt like every other quoted value. */
export function clip(text: string): string {
  return excerpt(text, 41);
}

/**
 * Messages written by Node, not by us (parseArgs' "Unknown option '--…'", a system error naming a path), quote
 * what was typed between single quotes: each quoted part goes through excerpt.
 */
export function excerptQuoted(message: string): string {
  // parseArgs leaves its last quote open: `… as in '-- "--name"`.
  return message.replace(/'([^']*)('|$)/g, (_, quoted: string, close: string) => `'${excerpt(quoted)}${close}`);
}
