import { PassthroughError } from '../errors';
import { XmlElement } from './element';
import { LineTable } from './lines';
import { XmlSyntaxError, parseXml } from './parse';

export const DEFAULT_MAX_BYTES = 16 * 1024 * 1024;
/** libvirt domains nest about 8 deep; anything near this is not a domain. */
export const DEFAULT_MAX_DEPTH = 256;

export interface LoadOptions {
  /** Refuse documents larger than this many UTF-8 bytes (default 16 MiB). */
  maxBytes?: number;
  /** Refuse documents whose elements nest deeper than this (default 256). */
  maxDepth?: number;
}

/** The parsed document together with everything needed to map elements back to the original text. */
export interface LocatedDocument {
  /** A UTF-8 byte order mark the input started with, kept out of `body` and put back on output. */
  bom: string;
  /** The input without its BOM; every offset in the pipeline refers to this string. */
  body: string;
  /** Line and column of offsets, built on first use (only errors and change reports need it). */
  readonly lines: LineTable;
  root: XmlElement;
}

const BOM = '\uFEFF';

export function loadDomainXml(xml: unknown, options: LoadOptions = {}): LocatedDocument {
  if (typeof xml !== 'string') {
    throw new PassthroughError('INPUT_INVALID', `Expected the domain XML as a string, got ${describe(xml)}.`);
  }
  checkSize(xml, options.maxBytes ?? DEFAULT_MAX_BYTES);
  const bom = xml.startsWith(BOM) ? BOM : '';
  const body = bom ? xml.slice(1) : xml;
  const doc = locatedDocument(bom, body);
  rejectUnreadableText(doc);
  doc.root = parseStrictly(doc, options.maxDepth ?? DEFAULT_MAX_DEPTH);
  if (doc.root.localName !== 'domain' || doc.root.namespaceURI) {
    throw new PassthroughError(
      'NOT_A_DOMAIN',
      `The root element is <${doc.root.tagName}>, not <domain>: pass the output of \`virsh dumpxml DOMAIN\`.`,
      doc.lines.positionOf(doc.root.start),
    );
  }
  return doc;
}

function locatedDocument(bom: string, body: string): LocatedDocument {
  let lines: LineTable | undefined;
  return {
    bom,
    body,
    get lines() {
      return (lines ??= new LineTable(body));
    },
    root: undefined as unknown as XmlElement,
  };
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

function rejectUnreadableText(doc: LocatedDocument): void {
  const body = doc.body;
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
    throw new PassthroughError('XML_MALFORMED', `The document contains ${what}; pass UTF-8 text.`, doc.lines.positionOf(bad));
  }
}

function parseStrictly(doc: LocatedDocument, maxDepth: number): XmlElement {
  try {
    return parseXml(doc.body, maxDepth);
  } catch (err) {
    if (!(err instanceof XmlSyntaxError)) throw err;
    const at = doc.lines.positionOf(err.offset);
    if (err.kind === 'doctype') throw new PassthroughError('XML_FORBIDDEN', err.message, at);
    if (err.kind === 'depth') throw new PassthroughError('XML_MALFORMED', err.message, at);
    throw new PassthroughError('XML_MALFORMED', `The domain XML is not well-formed: ${err.message}.`, at);
  }
}
