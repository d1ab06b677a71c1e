import { PassthroughError, clip, excerpt } from '../errors';
import { XmlElement } from './element';
import { LineTable } from './lines';
import { XmlSyntaxError, parseXml } from './parse';

export const DEFAULT_MAX_BYTES = 16 * 1024 * 1024;
/** libvirt domains nest about 8 deep; anything near this is not a domain. */
export const DEFAULT_MAX_DEPTH = 256;

export interface LoadOptions {
  /** Refuse documents larger than this many UTF-8 bytes (default 16 MiB). A positive whole number, or `INPUT_INVALID`. */
  maxBytes?: number;
  /** Refuse documents whose elements nest deeper than this (default 256). A positive whole number, or `INPUT_INVALID`. */
  maxDepth?: number;
}

/** The parsed document together with everything needed to map elements back to the original text. */
export interface LocatedDocument {
  /** A UTF-8 byte order mark the input started with, kept out of `body` and put back on output. */
  bom: string;
  /** The input without its BOM; every offset in the pipeline refers to this string. */
  body: string;
  lines: LineTable;
  root: XmlElement;
}

const BOM = '\uFEFF';

export function loadDomainXml(xml: unknown, options: LoadOptions | undefined = {}): LocatedDocument {
  if (typeof xml !== 'string') {
    throw new PassthroughError('INPUT_INVALID', `Expected the domain XML as a string, got ${describe(xml)}.`);
  }
  const { maxBytes, maxDepth } = readLoadOptions(options);
  checkSize(xml, maxBytes);
  const bom = xml.startsWith(BOM) ? BOM : '';
  const body = bom ? xml.slice(1) : xml;
  const lines = new LineTable(body);
  rejectUnreadableText(body, lines);
  const root = parseStrictly(body, lines, maxDepth, bom !== '');
  if (root.localName !== 'domain' || root.namespaceURI) {
    throw new PassthroughError(
      'NOT_A_DOMAIN',
      `The root element is <${excerpt(root.tagName)}>, not <domain>: pass the output of \`virsh dumpxml DOMAIN\`.`,
      lines.positionOf(root.start),
    );
  }
  return { bom, body, lines, root };
}

/**
 * The options argument as given by a caller who may not be using TypeScript: `null`, a string or a
 * limit that is not a positive whole number (NaN or Infinity would silently remove it) is refused.
 */
function readLoadOptions(options: unknown): Required<LoadOptions> {
  if (options === undefined) return { maxBytes: DEFAULT_MAX_BYTES, maxDepth: DEFAULT_MAX_DEPTH };
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new PassthroughError('INPUT_INVALID', `Expected the options as an object (or nothing), got ${Array.isArray(options) ? 'an array' : describe(options)}.`);
  }
  const given = options as Record<string, unknown>;
  return { maxBytes: limit(given, 'maxBytes', DEFAULT_MAX_BYTES), maxDepth: limit(given, 'maxDepth', DEFAULT_MAX_DEPTH) };
}

function limit(options: Record<string, unknown>, name: keyof LoadOptions, fallback: number): number {
  const value = options[name];
  if (value === undefined) return fallback;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value > 0) return value;
  const shown = typeof value === 'number' ? String(value) : typeof value === 'string' ? JSON.stringify(clip(value)) : describe(value);
  throw new PassthroughError('INPUT_INVALID', `The ${name} option must be a positive whole number (default ${fallback}), got ${shown}; leave it out for the default.`);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value instanceof Uint8Array) return 'bytes (decode them as UTF-8 first)';
  return typeof value;
}

function checkSize(xml: string, maxBytes: number): void {
  // A UTF-16 code unit is at most 3 UTF-8 bytes: only count bytes when it could matter.
  const tooLong = xml.length > maxBytes || (xml.length * 3 > maxBytes && Buffer.byteLength(xml) > maxBytes);
  if (tooLong) {
    throw new PassthroughError(
      'XML_TOO_LARGE',
      `The domain XML is larger than ${maxBytes} bytes; raise the maxBytes option if this is really a domain.`,
    );
  }
}

function rejectUnreadableText(body: string, lines: LineTable): void {
  if (body.startsWith('\uFFFE') || body.startsWith('\u00FF\u00FE') || body.startsWith('\u00FE\u00FF')) {
    throw new PassthroughError('XML_MALFORMED', 'The input looks like UTF-16 text; convert it to UTF-8 first.', {
      line: 1,
      column: 1,
    });
  }
  // U+FFFD is valid XML but is what a failed UTF-8 decode leaves behind (the parser refuses NUL and other non-characters).
  const bad = body.indexOf('\uFFFD');
  if (bad >= 0) {
    throw new PassthroughError('XML_MALFORMED', 'The document contains U+FFFD (bytes that were not valid UTF-8); pass UTF-8 text.', lines.positionOf(bad));
  }
}

function parseStrictly(body: string, lines: LineTable, maxDepth: number, afterUtf8Bom: boolean): XmlElement {
  try {
    return parseXml(body, maxDepth, afterUtf8Bom);
  } catch (err) {
    if (!(err instanceof XmlSyntaxError)) throw err;
    const at = lines.positionOf(err.offset);
    if (err.kind === 'doctype') throw new PassthroughError('XML_FORBIDDEN', err.message, at);
    if (err.kind === 'depth') throw new PassthroughError('XML_MALFORMED', err.message, at);
    if (err.kind === 'limit') throw new PassthroughError('XML_TOO_LARGE', `The domain XML holds ${err.message}.`, at);
    throw new PassthroughError('XML_MALFORMED', `The domain XML is not well-formed: ${err.message}.`, at);
  }
}
