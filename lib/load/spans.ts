/**
 * Where elements start and end in the original text. xmldom records only where an element
 * starts; these small scans find the rest. The text has already been parsed strictly, so the
 * scans only need to skip what can hide a `>` or `<`: quoted attribute values, comments,
 * CDATA sections and processing instructions.
 */

export interface StartTag {
  /** Offset of `<`. */
  start: number;
  /** Offset just after `>`. */
  end: number;
  selfClosing: boolean;
}

export interface ElementSpan extends StartTag {
  /** Offset of `</` of the end tag (equals `end` of the start tag when self-closing). */
  contentEnd: number;
  /** Offset just after the element. */
  elementEnd: number;
}

export function scanStartTag(text: string, start: number): StartTag {
  let i = start + 1;
  for (;;) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */ || c === 0x27 /* ' */) {
      i = text.indexOf(String.fromCharCode(c), i + 1) + 1;
      if (i === 0) break;
    } else if (c === 0x3e /* > */) {
      return { start, end: i + 1, selfClosing: text.charCodeAt(i - 1) === 0x2f /* / */ };
    } else if (Number.isNaN(c)) {
      break;
    } else {
      i++;
    }
  }
  throw new Error(`unterminated start tag at offset ${start}`);
}

export function scanElement(text: string, start: number): ElementSpan {
  const tag = scanStartTag(text, start);
  if (tag.selfClosing) return { ...tag, contentEnd: tag.end, elementEnd: tag.end };
  let depth = 1;
  let i = tag.end;
  for (;;) {
    const lt = text.indexOf('<', i);
    if (lt < 0) throw new Error(`unclosed element at offset ${start}`);
    const next = text.charCodeAt(lt + 1);
    if (next === 0x21 /* ! */) {
      i = skipMarkup(text, lt);
    } else if (next === 0x3f /* ? */) {
      i = afterToken(text, '?>', lt);
    } else if (next === 0x2f /* / */) {
      const gt = text.indexOf('>', lt);
      if (--depth === 0) return { ...tag, contentEnd: lt, elementEnd: gt + 1 };
      i = gt + 1;
    } else {
      const inner = scanStartTag(text, lt);
      if (!inner.selfClosing) depth++;
      i = inner.end;
    }
  }
}

function skipMarkup(text: string, lt: number): number {
  if (text.startsWith('<!--', lt)) return afterToken(text, '-->', lt + 4);
  if (text.startsWith('<![CDATA[', lt)) return afterToken(text, ']]>', lt + 9);
  return afterToken(text, '>', lt);
}

function afterToken(text: string, token: string, from: number): number {
  const at = text.indexOf(token, from);
  if (at < 0) throw new Error(`unterminated markup at offset ${from}`);
  return at + token.length;
}
