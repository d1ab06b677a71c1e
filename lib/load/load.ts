import { DOMParser } from '@xmldom/xmldom';
import type { Document, Element } from '@xmldom/xmldom';
import { PassthroughError, excerpt } from '../errors';
import { LineTable } from './lines';

export const DEFAULT_MAX_BYTES = 16 * 1024 * 1024;
/** libvirt domains nest about 8 deep; anything near this is not a domain. */
export const DEFAULT_MAX_DEPTH = 256;

export interface LoadOptions {
  /** Refuse documents larger than this many UTF-8 bytes (default 16 MiB). */
  maxBytes?: number;
  /** Refuse documents whose elements nest deeper than this (default 256). */
  maxDepth?: number;
}

/** The parsed document together with everything needed to map nodes back to the original text. */
export interface LocatedDocument {
  /** A UTF-8 byte order mark the input started with, kept out of `body` and put back on output. */
  bom: string;
  /** The input without its BOM; every offset in the pipeline refers to this string. */
  body: string;
  lines: LineTable;
  root: Element;
}

const BOM = '\uFEFF';

export function loadDomainXml(xml: unknown, options: LoadOptions = {}): LocatedDocument {
  if (typeof xml !== 'string') {
    throw new PassthroughError('INPUT_INVALID', `Expected the domain XML as a string, got ${describe(xml)}.`);
  }
  checkSize(xml, options.maxBytes ?? DEFAULT_MAX_BYTES);
  const bom = xml.startsWith(BOM) ? BOM : '';
  const body = bom ? xml.slice(1) : xml;
  const lines = new LineTable(body);
  rejectUnreadableText(body, lines);
  rejectDoctype(body, lines);
  rejectDeepNesting(body, lines, options.maxDepth ?? DEFAULT_MAX_DEPTH);
  const root = parseStrictly(body, lines);
  if (root.localName !== 'domain' || root.namespaceURI) {
    const at = lines.positionOf(elementOffset(root, lines));
    throw new PassthroughError(
      'NOT_A_DOMAIN',
      `The root element is <${root.tagName}>, not <domain>: pass the output of \`virsh dumpxml DOMAIN\`.`,
      at,
    );
  }
  return { bom, body, lines, root };
}

/** Offset of the `<` that starts an element, from the positions xmldom recorded while parsing. */
export function elementOffset(element: Element, lines: LineTable): number {
  const located = element as Element & { lineNumber?: number; columnNumber?: number };
  return lines.offsetOf(located.lineNumber ?? 1, located.columnNumber ?? 1);
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
  // NUL never occurs in XML; U+FFFD is what a failed UTF-8 decode leaves behind.
  const bad = body.search(/[\u0000\uFFFD]/);
  if (bad >= 0) {
    const what = body.charCodeAt(bad) === 0 ? 'a NUL character' : 'U+FFFD (bytes that were not valid UTF-8)';
    throw new PassthroughError(
      'XML_MALFORMED',
      `The document contains ${what}; pass UTF-8 text.`,
      lines.positionOf(bad),
    );
  }
}

/** A DOCTYPE is where entity definitions live: refuse it before the parser sees it. */
function rejectDoctype(body: string, lines: LineTable): void {
  const at = body.search(/<!DOCTYPE/i);
  if (at < 0) return;
  const firstElement = body.search(/<[A-Za-z_]/);
  // Inside the root the parser judges it; inside a comment it is only text.
  if ((firstElement >= 0 && at > firstElement) || insideComment(body, at)) return;
  throwDoctype(lines.positionOf(at));
}

function throwDoctype(position: { line: number; column: number }): never {
  throw new PassthroughError(
    'XML_FORBIDDEN',
    'Document type declarations (<!DOCTYPE>) are not allowed: libvirt never writes one, and it is how entity expansion attacks start. Remove it.',
    position,
  );
}

/** Counts element depth with a cheap scan, before the parser spends time (and stack) on a hostile document. */
function rejectDeepNesting(body: string, lines: LineTable, maxDepth: number): void {
  let depth = 0;
  for (let lt = body.indexOf('<'); lt >= 0; lt = body.indexOf('<', lt + 1)) {
    const next = body.charCodeAt(lt + 1);
    if (next === 0x2f /* / */) {
      depth--;
    } else if (next === 0x21 /* ! */) {
      const close = body.startsWith('<!--', lt) ? body.indexOf('-->', lt + 4) : body.startsWith('<![CDATA[', lt) ? body.indexOf(']]>', lt + 9) : lt;
      if (close < 0) return; // the parser will report it
      lt = close;
    } else if (next !== 0x3f /* ? */) {
      const gt = body.indexOf('>', lt);
      if (gt < 0) return;
      if (body.charCodeAt(gt - 1) !== 0x2f && ++depth > maxDepth) {
        throw new PassthroughError('XML_MALFORMED', `Elements nest more than ${maxDepth} deep; a libvirt domain never does (raise the maxDepth option if this is really one).`, lines.positionOf(lt));
      }
    }
  }
}

function insideComment(body: string, at: number): boolean {
  const before = body.slice(0, at);
  return before.lastIndexOf('<!--') > before.lastIndexOf('-->');
}

function parseStrictly(body: string, lines: LineTable): Element {
  let position = { line: 1, column: 1 };
  // xmldom wraps what onError throws in its own ParseError, without the cause: keep ours here.
  let reported: PassthroughError | undefined;
  const parser = new DOMParser({
    // Keep `\r\n` so that recorded positions are positions in the original text.
    normalizeLineEndings: (s: string) => s,
    onError: (level: string, message: string, context?: { locator?: { lineNumber?: number; columnNumber?: number } }) => {
      const loc = context?.locator;
      if (loc?.lineNumber) position = { line: loc.lineNumber, column: loc.columnNumber ?? 1 };
      reported = new PassthroughError('XML_MALFORMED', `The domain XML is not well-formed: ${cleanMessage(message)}.`, position);
      throw reported;
    },
  });
  let doc: Document;
  try {
    doc = parser.parseFromString(body, 'text/xml') as unknown as Document;
  } catch (err) {
    throw reported ?? asLoadError(err, position);
  }
  if (doc.doctype) throwDoctype(position);
  const root = doc.documentElement;
  if (!root) throw new PassthroughError('XML_MALFORMED', 'The input has no root element; pass a domain XML document.', { line: 1, column: 1 });
  return root as unknown as Element;
}

function asLoadError(err: unknown, position: { line: number; column: number }): PassthroughError {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof RangeError) {
    return new PassthroughError('XML_MALFORMED', 'The document is nested too deeply to be a libvirt domain.', position);
  }
  return new PassthroughError('XML_MALFORMED', `The domain XML is not well-formed: ${cleanMessage(message)}.`, position);
}

function cleanMessage(message: string): string {
  return excerpt(message.replace(/\n@#\[line:.*$/s, '').replace(/\.$/, ''), 160);
}
