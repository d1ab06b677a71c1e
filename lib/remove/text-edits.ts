import type { XmlElement } from '../load/element';
import { Edit } from '../edit/splice';

/** An element and the line break and indentation in front of it: the exact text an insertion adds. */
export function removal(body: string, element: XmlElement): Edit {
  let start = element.start;
  while (start > 0 && (body[start - 1] === ' ' || body[start - 1] === '\t')) start--;
  if (body[start - 1] === '\n') start -= body[start - 2] === '\r' ? 2 : 1;
  else if (body[start - 1] === '\r') start--;
  return { start, end: element.elementEnd, text: '' };
}

/** `<devices …>…</devices>` back to the self-closing `<devices …/>` the transform opened (insertFirst only took the `/`). */
export function reclose(body: string, element: XmlElement): Edit {
  return { start: element.start, end: element.elementEnd, text: body.slice(element.start, element.end - 1) + '/>' };
}

/** The ` NAME='…'` text of one attribute in the element's start tag, found attribute by attribute (never inside a value). */
export function attributeRemoval(body: string, element: XmlElement, name: string): Edit | undefined {
  const tag = body.slice(element.start, element.end);
  const attribute = /\s+([^\s=/>]+)\s*=\s*(?:"[^"]*"|'[^']*')/y;
  attribute.lastIndex = 1 + element.tagName.length;
  for (let m = attribute.exec(tag); m; m = attribute.exec(tag)) {
    if (m[1] === name) return { start: element.start + m.index, end: element.start + m.index + m[0].length, text: '' };
  }
  return undefined;
}
