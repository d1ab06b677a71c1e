import { declaredEncodingProblem } from './decode';
import { clip } from '../errors';
import { NO_CHILDREN, PREDEFINED_ENTITIES, XmlElement, decodeReferences } from './element';

/**
 * A strict, single-pass XML 1.0 + Namespaces parser for documents without a DTD, which is what
 * libvirt writes. It checks well-formedness as libxml2 (libvirt's parser) does, with libxml2's
 * size limits, plus the namespace errors that change what a name means (an undeclared or empty
 * prefix, a QName whose local part is not a name), which libxml2 reports without failing (see
 * docs/design.md, "Namespace errors"). It keeps nothing but elements, their attributes and their
 * offsets in the text: the splice needs positions, not a DOM.
 *
 * Every scan moves forward through the text, and searches for the next `&` or `]]>` are
 * remembered between calls, so time is linear in the size of the document whatever its shape.
 */

const XML_NS = 'http://www.w3.org/XML/1998/namespace';
const XMLNS_NS = 'http://www.w3.org/2000/xmlns/';

export type XmlErrorKind = 'malformed' | 'doctype' | 'depth' | 'limit';

export class XmlSyntaxError extends Error {
  constructor(
    message: string,
    /** Offset in the text where the problem is. */
    readonly offset: number,
    readonly kind: XmlErrorKind = 'malformed',
  ) {
    super(message);
    this.name = 'XmlSyntaxError';
  }
}

/** `afterUtf8Bom`: the text came after a UTF-8 byte order mark (which is not part of it). */
export function parseXml(text: string, maxDepth: number, afterUtf8Bom = false): XmlElement {
  return new XmlParser(text, maxDepth, afterUtf8Bom).parseDocument();
}

/** Namespace bindings in scope, as a prototype chain: `''` is the default namespace. */
type Scope = Record<string, string>;

const NO_PAIRS: readonly string[] = Object.freeze([]);
const INVALID_CHARACTER = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uD800-\uDFFF\uFFFE\uFFFF]/g;
const XML_DECLARATION =
  /<\?xml[ \t\r\n]+version[ \t\r\n]*=[ \t\r\n]*(?:"1\.[0-9]+"|'1\.[0-9]+')(?:[ \t\r\n]+encoding[ \t\r\n]*=[ \t\r\n]*(?:"([A-Za-z][A-Za-z0-9._-]*)"|'([A-Za-z][A-Za-z0-9._-]*)'))?(?:[ \t\r\n]+standalone[ \t\r\n]*=[ \t\r\n]*(?:"(?:yes|no)"|'(?:yes|no)'))?[ \t\r\n]*\?>/y;

/** libxml2's limits without XML_PARSE_HUGE, which libvirt does not set; in UTF-8 bytes, as libxml2 counts. */
export const MAX_NAME_BYTES = 50_000; // XML_MAX_NAME_LENGTH
export const MAX_TEXT_BYTES = 10_000_000; // XML_MAX_TEXT_LENGTH

const CH_TAB = 0x09;
const CH_LF = 0x0a;
const CH_CR = 0x0d;
const CH_SPACE = 0x20;
const CH_QUOTE = 0x22;
const CH_HASH = 0x23;
const CH_AMP = 0x26;
const CH_APOS = 0x27;
const CH_SLASH = 0x2f;
const CH_COLON = 0x3a;
const CH_SEMI = 0x3b;
const CH_LT = 0x3c;
const CH_EQ = 0x3d;
const CH_GT = 0x3e;
const CH_QUESTION = 0x3f;
const CH_BANG = 0x21;

class XmlParser {
  private readonly stack: XmlElement[] = [];
  private readonly scopes: Scope[] = [];
  private root: XmlElement | undefined;
  /** Names repeat thousands of times in a domain: keep one copy of each. */
  private readonly names = new Map<string, string>();
  /** Attributes of the start tag being read, reused from tag to tag. */
  private readonly pairs: string[] = [];
  private readonly manyAttributes = new Set<string>();
  private nextAmpersand = -1;
  private nextCdataEnd = -1;

  constructor(
    private readonly s: string,
    private readonly maxDepth: number,
    private readonly afterUtf8Bom: boolean,
  ) {
    const top: Scope = Object.create(null);
    top.xml = XML_NS;
    this.scopes.push(top);
  }

  parseDocument(): XmlElement {
    this.checkCharacters();
    let i = this.xmlDeclaration();
    for (;;) {
      const lt = this.s.indexOf('<', i);
      const textEnd = lt < 0 ? this.s.length : lt;
      if (textEnd > i) this.text(i, textEnd);
      if (lt < 0) break;
      i = this.markup(lt);
    }
    const open = this.stack[this.stack.length - 1];
    if (open) throw this.error(`<${clip(open.tagName)}> is never closed: add </${clip(open.tagName)}>`, open.start);
    if (!this.root) throw this.error('there is no root element', 0);
    return this.root;
  }

  private error(message: string, offset: number, kind: XmlErrorKind = 'malformed'): XmlSyntaxError {
    return new XmlSyntaxError(message, offset, kind);
  }

  private checkCharacters(): void {
    const s = this.s;
    INVALID_CHARACTER.lastIndex = 0;
    for (let m = INVALID_CHARACTER.exec(s); m; m = INVALID_CHARACTER.exec(s)) {
      const code = s.charCodeAt(m.index);
      const pairs = code >= 0xd800 && code <= 0xdbff && isLowSurrogate(s.charCodeAt(m.index + 1));
      if (!pairs) throw this.error(`the character U+${hex4(code)} is not allowed in XML`, m.index);
      INVALID_CHARACTER.lastIndex = m.index + 2;
    }
  }

  private xmlDeclaration(): number {
    if (!this.s.startsWith('<?xml') || isNameCode(this.s.charCodeAt(5))) return 0;
    XML_DECLARATION.lastIndex = 0;
    const declaration = XML_DECLARATION.exec(this.s);
    if (!declaration) throw this.error(`the XML declaration is malformed; libvirt writes none, or <?xml version='1.0' encoding='UTF-8'?>`, 0);
    const label = declaration[1] ?? declaration[2];
    const problem = label === undefined ? undefined : declaredEncodingProblem(label, this.s, this.afterUtf8Bom);
    if (problem) throw this.error(problem.message, problem.offset ?? declaration[0].indexOf(label!));
    return XML_DECLARATION.lastIndex;
  }

  /** Character data between two pieces of markup (or outside the root element). */
  private text(from: number, to: number): void {
    if (this.stack.length === 0) {
      const at = this.firstNonWhitespace(from, to);
      if (at < to) throw this.error(`text ${this.root ? 'after' : 'before'} the root element: a document holds one element and only comments around it`, at);
      return;
    }
    this.checkReferences(from, to);
    if (this.nextCdataEnd < from) this.nextCdataEnd = indexOrEnd(this.s, ']]>', from);
    if (this.nextCdataEnd < to) throw this.error('"]]>" is not allowed in text: write "]]&gt;"', this.nextCdataEnd);
    // libxml2 counts a text node after references are decoded and line ends normalised.
    if (to - from > MAX_TEXT_BYTES / 3 && utf8Length(decodeReferences(this.s.slice(from, to).replace(/\r\n?/g, '\n'))) > MAX_TEXT_BYTES) {
      throw this.tooLong('a text', from);
    }
  }

  private tooLong(what: string, offset: number): XmlSyntaxError {
    return this.error(`${what} of more than ${MAX_TEXT_BYTES.toLocaleString('en')} bytes: libvirt's XML parser (libxml2, without XML_PARSE_HUGE) refuses it`, offset, 'limit');
  }

  /** `name`, when given, is appended to `what` only on failure: no string is built per attribute on the hot path. */
  private checkTextLength(from: number, to: number, what: string, offset: number, name?: string): void {
    if (to - from > MAX_TEXT_BYTES / 3 && utf8Length(this.s.slice(from, to)) > MAX_TEXT_BYTES) {
      throw this.tooLong(name === undefined ? what : `${what} ${clip(name)}`, offset);
    }
  }

  private firstNonWhitespace(from: number, to: number): number {
    let i = from;
    while (i < to && isWhitespace(this.s.charCodeAt(i))) i++;
    return i;
  }

  private checkReferences(from: number, to: number): void {
    for (;;) {
      if (this.nextAmpersand < from) this.nextAmpersand = indexOrEnd(this.s, '&', from);
      if (this.nextAmpersand >= to) return;
      from = this.reference(this.nextAmpersand);
    }
  }

  /** Checks the reference at `&` and returns the offset after its `;`. */
  private reference(amp: number): number {
    const s = this.s;
    if (s.charCodeAt(amp + 1) === CH_HASH) return this.characterReference(amp);
    const nameEnd = this.scanName(amp + 1);
    if (nameEnd === amp + 1 || s.charCodeAt(nameEnd) !== CH_SEMI) throw this.error('a bare "&": write "&amp;"', amp);
    const name = s.slice(amp + 1, nameEnd);
    if (!Object.hasOwn(PREDEFINED_ENTITIES, name)) {
      throw this.error(`the entity &${clip(name)}; is not defined: without a DTD only &lt; &gt; &amp; &apos; &quot; and character references exist`, amp);
    }
    return nameEnd + 1;
  }

  private characterReference(amp: number): number {
    const s = this.s;
    const hex = s.charCodeAt(amp + 2) === 0x78; /* x */
    const digitsStart = amp + (hex ? 3 : 2);
    let i = digitsStart;
    while (hex ? isHexDigit(s.charCodeAt(i)) : isDigit(s.charCodeAt(i))) i++;
    if (i === digitsStart || s.charCodeAt(i) !== CH_SEMI) throw this.error('a malformed character reference: write &#NNN; or &#xHHH;', amp);
    if (!isXmlCharacter(parseInt(s.slice(digitsStart, i), hex ? 16 : 10))) throw this.error(`the character reference ${clip(s.slice(amp, i + 1))} is not an XML character`, amp);
    return i + 1;
  }

  private markup(lt: number): number {
    const s = this.s;
    const next = s.charCodeAt(lt + 1);
    if (next === CH_SLASH) return this.endTag(lt);
    if (next === CH_QUESTION) return this.processingInstruction(lt);
    if (next === CH_BANG) {
      if (s.startsWith('<!--', lt)) return this.comment(lt);
      if (s.startsWith('<![CDATA[', lt)) return this.cdata(lt);
      if (s.startsWith('<!DOCTYPE', lt)) {
        throw this.error('Document type declarations (<!DOCTYPE>) are not allowed: libvirt never writes one, and it is how entity expansion attacks start. Remove it.', lt, 'doctype');
      }
      throw this.error('"<!" starts neither a comment nor a CDATA section', lt);
    }
    return this.startTag(lt);
  }

  private comment(lt: number): number {
    const dashes = this.s.indexOf('--', lt + 4);
    if (dashes < 0) throw this.error('the comment is never closed with "-->"', lt);
    if (this.s.charCodeAt(dashes + 2) !== CH_GT) throw this.error('"--" is not allowed inside a comment', dashes);
    this.checkTextLength(lt + 4, dashes, 'a comment', lt);
    return dashes + 3;
  }

  private cdata(lt: number): number {
    if (this.stack.length === 0) throw this.error('a CDATA section outside the root element', lt);
    const end = this.s.indexOf(']]>', lt + 9);
    if (end < 0) throw this.error('the CDATA section is never closed with "]]>"', lt);
    this.checkTextLength(lt + 9, end, 'a CDATA section', lt);
    return end + 3;
  }

  private processingInstruction(lt: number): number {
    const s = this.s;
    const targetEnd = this.scanName(lt + 2);
    const target = s.slice(lt + 2, targetEnd);
    if (targetEnd === lt + 2 || target.includes(':')) throw this.error('a processing instruction needs a target name without ":"', lt);
    this.checkNameLength(lt + 2, targetEnd);
    if (target.toLowerCase() === 'xml') throw this.error('the XML declaration is only allowed at the very start of the document', lt);
    if (s.startsWith('?>', targetEnd)) return targetEnd + 2;
    if (!isWhitespace(s.charCodeAt(targetEnd))) throw this.error(`the processing instruction <?${clip(target)} needs a space after its target`, targetEnd);
    const end = s.indexOf('?>', targetEnd);
    if (end < 0) throw this.error('the processing instruction is never closed with "?>"', lt);
    this.checkTextLength(this.skipWhitespace(targetEnd), end, 'a processing instruction', lt);
    return end + 2;
  }

  private endTag(lt: number): number {
    const s = this.s;
    const nameEnd = this.qualifiedName(lt + 2, 'an end tag');
    const gt = this.skipWhitespace(nameEnd);
    const name = s.slice(lt + 2, nameEnd);
    if (s.charCodeAt(gt) !== CH_GT) throw this.error(`the end tag </${clip(name)}> must end with ">"`, gt);
    const open = this.stack.pop();
    if (!open) throw this.error(`the end tag </${clip(name)}> closes nothing`, lt);
    if (open.tagName !== name) throw this.error(`the end tag </${clip(name)}> does not match <${clip(open.tagName)}>: close <${clip(open.tagName)}> first`, lt);
    open.contentEnd = lt;
    if (open.children.length > 1) open.children = open.children.slice(); // drop the spare capacity pushes left
    open.elementEnd = gt + 1;
    this.scopes.pop();
    return gt + 1;
  }

  private startTag(lt: number): number {
    const s = this.s;
    const nameEnd = this.qualifiedName(lt + 1, 'an element');
    const tagName = this.intern(s.slice(lt + 1, nameEnd));
    const pairs = this.pairs;
    pairs.length = 0;
    let i = nameEnd;
    let selfClosing: boolean;
    for (;;) {
      const at = this.skipWhitespace(i);
      const c = s.charCodeAt(at);
      if (c === CH_GT) {
        i = at + 1;
        selfClosing = false;
        break;
      }
      if (c === CH_SLASH && s.charCodeAt(at + 1) === CH_GT) {
        i = at + 2;
        selfClosing = true;
        break;
      }
      if (Number.isNaN(c)) throw this.error(`the start tag <${clip(tagName)}> is never closed with ">"`, lt);
      if (at === i) throw this.error(`expected a space, ">" or "/>" in the start tag <${clip(tagName)}>`, at);
      i = this.attribute(at, tagName, pairs);
    }
    const parentScope = this.scopes[this.scopes.length - 1];
    const scope = pairs.length ? this.declareNamespaces(pairs, parentScope, lt) : parentScope;
    // A copy of exactly the right length: a grown array would keep its spare capacity for the document's life.
    const element = new XmlElement(tagName, this.elementNamespace(tagName, scope, lt), pairs.length ? pairs.slice() : NO_PAIRS, this.stack[this.stack.length - 1], lt);
    if (pairs.length) this.checkAttributeNamespaces(pairs, scope, lt);
    element.end = i;
    this.attach(element);
    if (selfClosing) {
      element.contentEnd = element.elementEnd = i;
    } else {
      if (this.stack.length >= this.maxDepth) {
        throw this.error(`Elements nest more than ${this.maxDepth} deep; a libvirt domain never does (raise the maxDepth option if this is really one).`, lt, 'depth');
      }
      this.stack.push(element);
      this.scopes.push(scope);
    }
    return i;
  }

  private attach(element: XmlElement): void {
    const parent = element.parent;
    if (!parent) {
      if (this.root) throw this.error(`a second root element <${clip(element.tagName)}>: a document has exactly one`, element.start);
      this.root = element;
    } else if (parent.children === NO_CHILDREN) {
      parent.children = [element];
    } else {
      (parent.children as XmlElement[]).push(element);
    }
  }

  /** Reads `name = 'value'` at `at` into `pairs`; returns the offset after the closing quote. */
  private attribute(at: number, tagName: string, pairs: string[]): number {
    const s = this.s;
    const nameEnd = this.qualifiedName(at, 'an attribute', tagName);
    const name = this.intern(s.slice(at, nameEnd));
    const eq = this.skipWhitespace(nameEnd);
    if (s.charCodeAt(eq) !== CH_EQ) throw this.error(`the attribute ${clip(name)} of <${clip(tagName)}> has no value: write ${clip(name)}='…'`, nameEnd);
    const open = this.skipWhitespace(eq + 1);
    const quote = s.charCodeAt(open);
    if (quote !== CH_APOS && quote !== CH_QUOTE) throw this.error(`the value of ${clip(name)} on <${clip(tagName)}> must be in quotes`, open);
    const close = this.attributeValueEnd(open + 1, quote, name);
    this.checkTextLength(open + 1, close, 'the value of', open, name);
    if (this.seenBefore(pairs, name)) throw this.error(`the attribute ${clip(name)} appears twice on <${clip(tagName)}>`, at);
    pairs.push(name, attributeValue(s.slice(open + 1, close)));
    return close + 1;
  }

  /** A scan of the names so far, or a set once a tag has many attributes (a hostile tag may have thousands). */
  private seenBefore(pairs: string[], name: string): boolean {
    const count = pairs.length / 2;
    if (count < 16) {
      for (let k = 0; k < pairs.length; k += 2) if (pairs[k] === name) return true;
      return false;
    }
    if (count === 16) {
      this.manyAttributes.clear();
      for (let k = 0; k < pairs.length; k += 2) this.manyAttributes.add(pairs[k]);
    }
    if (this.manyAttributes.has(name)) return true;
    this.manyAttributes.add(name);
    return false;
  }

  private attributeValueEnd(from: number, quote: number, name: string): number {
    const s = this.s;
    for (let i = from; ; i++) {
      const c = s.charCodeAt(i);
      if (c === quote) return i;
      if (c === CH_LT) throw this.error(`"<" is not allowed in the value of ${clip(name)}: write "&lt;"`, i);
      if (c === CH_AMP) i = this.reference(i) - 1;
      else if (Number.isNaN(c)) throw this.error(`the value of ${clip(name)} is never closed with its quote`, from - 1);
    }
  }

  private declareNamespaces(pairs: string[], parent: Scope, lt: number): Scope {
    let scope = parent;
    for (let k = 0; k < pairs.length; k += 2) {
      const name = pairs[k];
      const prefix = name === 'xmlns' ? '' : name.startsWith('xmlns:') ? name.slice(6) : undefined;
      if (prefix === undefined) continue;
      const uri = pairs[k + 1];
      const problem = namespaceDeclarationProblem(prefix, uri);
      if (problem) throw this.error(problem, lt);
      if (scope === parent) scope = Object.create(parent) as Scope;
      scope[prefix] = uri;
    }
    return scope;
  }

  private elementNamespace(tagName: string, scope: Scope, lt: number): string | null {
    const colon = tagName.indexOf(':');
    if (colon < 0) return scope[''] || null;
    const prefix = tagName.slice(0, colon);
    const uri = scope[prefix];
    if (!uri) throw this.error(`the prefix ${clip(prefix)} of <${clip(tagName)}> is not declared: add xmlns:${clip(prefix)}='…' to it or to the root element`, lt);
    return uri;
  }

  /** Prefixed attributes need a declared prefix, and two may not share a namespace and local name. */
  private checkAttributeNamespaces(pairs: string[], scope: Scope, lt: number): void {
    let expanded: Set<string> | undefined;
    for (let k = 0; k < pairs.length; k += 2) {
      const name = pairs[k];
      const colon = name.indexOf(':');
      if (colon < 0) continue;
      const prefix = name.slice(0, colon);
      if (prefix === 'xmlns') continue;
      const uri = scope[prefix];
      if (!uri) throw this.error(`the prefix ${clip(prefix)} of the attribute ${clip(name)} is not declared`, lt);
      const key = `${uri} ${name.slice(colon + 1)}`;
      expanded ??= new Set();
      if (expanded.has(key)) throw this.error(`two attributes named ${clip(name.slice(colon + 1))} in the namespace ${clip(uri)}`, lt);
      expanded.add(key);
    }
  }

  private skipWhitespace(i: number): number {
    while (isWhitespace(this.s.charCodeAt(i))) i++;
    return i;
  }

  /** A Name per XML 1.0 that is also a QName (at most one colon, not at either end). */
  private qualifiedName(at: number, what: string, owner?: string): number {
    const end = this.scanName(at);
    if (end === at) throw this.error(`expected the name of ${what}${owner === undefined ? '' : ` of <${clip(owner)}>`}`, at);
    let colons = 0;
    let first = -1;
    for (let k = at; k < end; k++) {
      if (this.s.charCodeAt(k) === CH_COLON && colons++ === 0) first = k;
    }
    if (colons > 1 || first === at || (colons === 1 && first === end - 1)) {
      throw this.error(`the name ${clip(this.s.slice(at, end))} is not a valid qualified name (one ":" at most, between two names)`, at);
    }
    // libxml2 reads `p:1b` as an unprefixed name "p:1b" in no namespace ("Failed to parse QName").
    if (colons === 1 && !isNameStartCode(this.s.codePointAt(first + 1)!)) {
      throw this.error(`the name ${clip(this.s.slice(at, end))} is not a valid qualified name: the part after ":" must start with a letter or "_"`, at);
    }
    if (end - at > MAX_NAME_BYTES / 3) {
      if (colons === 1) {
        this.checkNameLength(at, first);
        this.checkNameLength(first + 1, end);
      } else {
        this.checkNameLength(at, end);
      }
    }
    return end;
  }

  private checkNameLength(from: number, to: number): void {
    if (to - from > MAX_NAME_BYTES / 3 && utf8Length(this.s.slice(from, to)) > MAX_NAME_BYTES) {
      throw this.error(`a name of more than ${MAX_NAME_BYTES.toLocaleString('en')} bytes (${clip(this.s.slice(from, to))}): libvirt's XML parser (libxml2, without XML_PARSE_HUGE) refuses it`, from, 'limit');
    }
  }

  /** The end of the XML Name starting at `at` (`at` itself when there is none). */
  private scanName(at: number): number {
    const s = this.s;
    let i = at;
    for (;;) {
      let code = s.charCodeAt(i);
      let width = 1;
      if (code >= 0xd800 && code <= 0xdbff && isLowSurrogate(s.charCodeAt(i + 1))) {
        code = s.codePointAt(i)!;
        width = 2;
      }
      if (i === at ? !isNameStartCode(code) : !isNameCode(code)) return i;
      i += width;
    }
  }

  private intern(name: string): string {
    const known = this.names.get(name);
    if (known !== undefined) return known;
    this.names.set(name, name);
    return name;
  }
}

function namespaceDeclarationProblem(prefix: string, uri: string): string | undefined {
  if (prefix === 'xmlns') return 'the prefix xmlns cannot be declared';
  if (prefix === 'xml' && uri !== XML_NS) return `the prefix xml is bound to ${XML_NS} and nothing else`;
  if (prefix !== 'xml' && uri === XML_NS) return `only the prefix xml may be bound to ${XML_NS}`;
  if (uri === XMLNS_NS) return `no prefix may be bound to ${XMLNS_NS}`;
  if (prefix !== '' && uri === '') return `xmlns:${clip(prefix)}='' cannot undeclare a prefix in XML 1.0`;
  return undefined;
}

/** Attribute-value normalisation for CDATA attributes (all of them, without a DTD), then references. */
function attributeValue(raw: string): string {
  if (!/[\t\n\r&]/.test(raw)) return raw;
  return decodeReferences(raw.replace(/\r\n|[\t\n\r]/g, ' '));
}

function utf8Length(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

function indexOrEnd(s: string, token: string, from: number): number {
  const at = s.indexOf(token, from);
  return at < 0 ? s.length : at;
}

function isWhitespace(c: number): boolean {
  return c === CH_SPACE || c === CH_LF || c === CH_TAB || c === CH_CR;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isHexDigit(c: number): boolean {
  return isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

function isXmlCharacter(cp: number): boolean {
  return cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
}

/** NameStartChar of XML 1.0 (fifth edition). */
function isNameStartCode(c: number): boolean {
  if (c < 0x80) return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f || c === CH_COLON;
  return (
    (c >= 0xc0 && c <= 0xd6) ||
    (c >= 0xd8 && c <= 0xf6) ||
    (c >= 0xf8 && c <= 0x2ff) ||
    (c >= 0x370 && c <= 0x37d) ||
    (c >= 0x37f && c <= 0x1fff) ||
    (c >= 0x200c && c <= 0x200d) ||
    (c >= 0x2070 && c <= 0x218f) ||
    (c >= 0x2c00 && c <= 0x2fef) ||
    (c >= 0x3001 && c <= 0xd7ff) ||
    (c >= 0xf900 && c <= 0xfdcf) ||
    (c >= 0xfdf0 && c <= 0xfffd) ||
    (c >= 0x10000 && c <= 0xeffff)
  );
}

/** NameChar of XML 1.0 (fifth edition). */
function isNameCode(c: number): boolean {
  if (c < 0x80) return isNameStartCode(c) || isDigit(c) || c === 0x2d || c === 0x2e;
  return isNameStartCode(c) || c === 0xb7 || (c >= 0x300 && c <= 0x36f) || (c >= 0x203f && c <= 0x2040);
}

function hex4(code: number): string {
  return code.toString(16).toUpperCase().padStart(4, '0');
}
