/**
 * One element of a parsed domain, with where it sits in the original text. Only elements are kept:
 * whitespace, comments and processing instructions stay in the text, where the splice leaves them
 * untouched, so a document costs a few small objects per element instead of a full DOM.
 */
export class XmlElement {
  /** Child elements in document order (one shared empty array for leaves). */
  children: readonly XmlElement[] = NO_CHILDREN;
  /** Offset just after the start tag's `>`. */
  end = 0;
  /** Offset of the end tag's `</` (equals `end` when self-closing). */
  contentEnd = 0;
  /** Offset just after the element. */
  elementEnd = 0;

  constructor(
    readonly tagName: string,
    readonly namespaceURI: string | null,
    /** Attribute names and (decoded) values, alternating: `[name, value, name, value, …]`. */
    readonly attributePairs: readonly string[],
    readonly parent: XmlElement | undefined,
    /** Offset of the start tag's `<`. */
    readonly start: number,
  ) {}

  get localName(): string {
    const colon = this.tagName.indexOf(':');
    return colon < 0 ? this.tagName : this.tagName.slice(colon + 1);
  }

  get prefix(): string | null {
    const colon = this.tagName.indexOf(':');
    return colon < 0 ? null : this.tagName.slice(0, colon);
  }

  get selfClosing(): boolean {
    return this.elementEnd === this.end;
  }

  get attributeCount(): number {
    return this.attributePairs.length / 2;
  }

  getAttribute(name: string): string | null {
    const pairs = this.attributePairs;
    for (let i = 0; i < pairs.length; i += 2) if (pairs[i] === name) return pairs[i + 1];
    return null;
  }

  hasAttribute(name: string): boolean {
    return this.getAttribute(name) !== null;
  }
}

export const NO_CHILDREN: readonly XmlElement[] = Object.freeze([]);

/**
 * The text an element holds, as a DOM's textContent would give it: character data and CDATA of it and its
 * descendants, references decoded, line ends normalised. The text was checked when it was parsed.
 */
export function textContent(source: string, element: XmlElement): string {
  // A walk with an explicit stack: a caller may raise maxDepth far beyond what recursion survives.
  let out = '';
  let at = element.end;
  const open: XmlElement[] = [element];
  const nextChild: number[] = [0];
  while (open.length > 0) {
    const top = open.length - 1;
    const el = open[top];
    const child = el.children[nextChild[top]++];
    if (child) {
      out += characterData(source.slice(at, child.start));
      at = child.end;
      open.push(child);
      nextChild.push(0);
    } else {
      out += characterData(source.slice(at, el.contentEnd));
      at = el.elementEnd;
      open.pop();
      nextChild.pop();
    }
  }
  return out;
}

/** Text between tags: it may still hold comments, processing instructions and CDATA sections. */
function characterData(raw: string): string {
  const text = raw.replace(/\r\n?/g, '\n');
  if (!/[<&]/.test(text)) return text;
  let out = '';
  const markup = /<!\[CDATA\[([\s\S]*?)\]\]>|<!--[\s\S]*?-->|<\?[\s\S]*?\?>/g;
  let last = 0;
  for (let m = markup.exec(text); m; m = markup.exec(text)) {
    out += decodeReferences(text.slice(last, m.index)) + (m[1] ?? '');
    last = m.index + m[0].length;
  }
  return out + decodeReferences(text.slice(last));
}

/** The five entities XML predefines; without a DTD there are no others. */
export const PREDEFINED_ENTITIES: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', apos: "'", quot: '"' };

/** Decodes the five predefined entities and character references of already-checked text. */
export function decodeReferences(text: string): string {
  if (text.indexOf('&') < 0) return text;
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (_, ref: string) => {
    if (ref[0] !== '#') return PREDEFINED_ENTITIES[ref];
    return String.fromCodePoint(ref[1] === 'x' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10));
  });
}
