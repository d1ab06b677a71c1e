import { requireBytes, requireString } from '../arguments';
import { PassthroughError, clip } from '../errors';

/** Bytes from a file or stdin → text, refusing what libvirt would not read as UTF-8. */
export function decodeXmlBytes(bytes: Uint8Array, name = 'input'): string {
  requireBytes(bytes, 'decodeXmlBytes', 'the bytes as a Uint8Array (a Buffer is one)');
  requireString(name, 'decodeXmlBytes', 'a name for messages as its second argument (or nothing)');
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
    throw new PassthroughError('XML_MALFORMED', `${name} is UTF-16 (it starts with a UTF-16 byte order mark); convert it to UTF-8, e.g. iconv -f UTF-16 -t UTF-8.`, {
      line: 1,
      column: 1,
    });
  }
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    const text = new TextDecoder('utf-8').decode(bytes);
    const bad = text.indexOf('\uFFFD');
    const before = text.slice(0, Math.max(bad, 0));
    const line = before.split(/\r\n?|\n/).length;
    const column = before.length - Math.max(before.lastIndexOf('\n'), before.lastIndexOf('\r')) ;
    const label = declaredLabel(bytes);
    const message = label && !UTF8_LABEL.test(label)
      ? `${name} declares encoding='${clip(label)}' and is not UTF-8; this tool reads and writes UTF-8 only: convert it (iconv -f ${clip(label)} -t UTF-8) and change the declaration to encoding='UTF-8'.`
      : `${name} is not valid UTF-8; libvirt reads domain XML as UTF-8.`;
    throw new PassthroughError('XML_MALFORMED', message, { line, column });
  }
}

const UTF8_LABEL = /^utf-?8$/i;
/** Encodings whose bytes are not ASCII's for ASCII text: text read as UTF-8 is never in them. */
const WIDE_LABEL = /^(?:utf-?(?:16|32)(?:le|be)?|ucs-?[24]|iso-10646-ucs-[24])$/i;
/** Single-byte encodings that agree with ASCII (and so with UTF-8) on ASCII characters. */
const ASCII_COMPATIBLE_LABEL = /^(?:us-ascii|ascii|iso[-_]?8859-(?:[1-9]|1[0-6])|latin-?(?:[1-9]|10)|(?:windows|cp)-?125[0-8])$/i;

/**
 * What is wrong with an `encoding` label for text that was read as UTF-8 (a JavaScript string), or
 * nothing. The output keeps the declaration it came with and is written as UTF-8, so only a label
 * under which the same text has the same bytes is taken: UTF-8, or an ASCII-compatible single-byte
 * encoding when every character is ASCII. libxml2 would decode ISO-8859-1 bytes as such, but a
 * string carries no bytes to decode, and what this library writes back is UTF-8: it refuses instead
 * of producing a document whose declaration lies (docs/errors.md, XML_MALFORMED).
 */
export function declaredEncodingProblem(label: string, text: string, afterUtf8Bom: boolean): { message: string; offset?: number } | undefined {
  if (UTF8_LABEL.test(label)) return undefined;
  const shown = clip(label);
  if (afterUtf8Bom) return { message: `the text starts with a UTF-8 byte order mark but the XML declaration says encoding='${shown}'; declare encoding='UTF-8'` };
  if (WIDE_LABEL.test(label)) {
    return { message: `the XML declaration says encoding='${shown}' but the text is UTF-8 (libxml2 refuses it: "Document labelled UTF-16 but has UTF-8 content"); declare encoding='UTF-8'` };
  }
  if (ASCII_COMPATIBLE_LABEL.test(label)) {
    const at = text.search(/[^\u0000-\u007F]/);
    if (at < 0) return undefined;
    const code = text.codePointAt(at)!.toString(16).toUpperCase().padStart(4, '0');
    return {
      message: `the XML declaration says encoding='${shown}' but the text holds U+${code}, read as UTF-8; this library reads and writes UTF-8 only: convert the file (iconv -f ${shown} -t UTF-8) and declare encoding='UTF-8'`,
      offset: at,
    };
  }
  return { message: `the encoding '${shown}' is not supported: libvirt domain XML is UTF-8; convert the file (iconv -f ${shown} -t UTF-8) and declare encoding='UTF-8'` };
}

/** The `encoding` label of an XML declaration at the start of raw bytes, if any. */
function declaredLabel(bytes: Uint8Array): string | undefined {
  const head = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, 256)).toString('latin1');
  return /^(?:\u00EF\u00BB\u00BF)?<\?xml[ \t\r\n][^>]*?encoding[ \t\r\n]*=[ \t\r\n]*["']([A-Za-z][A-Za-z0-9._-]*)["']/.exec(head)?.[1];
}
