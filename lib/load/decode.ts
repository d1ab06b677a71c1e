import { PassthroughError } from '../errors';

/** Bytes from a file or stdin → text, refusing what libvirt would not read as UTF-8. */
export function decodeXmlBytes(bytes: Uint8Array, name = 'input'): string {
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
    throw new PassthroughError('XML_MALFORMED', `${name} is not valid UTF-8; libvirt reads domain XML as UTF-8.`, { line, column });
  }
}
