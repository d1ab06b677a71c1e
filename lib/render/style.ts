/** How the document writes XML, so that inserted text looks like it was always there. */
export interface XmlStyle {
  quote: "'" | '"';
  newline: string;
  /** One level of indentation. */
  unit: string;
}

export const GUIDE_STYLE: XmlStyle = { quote: "'", newline: '\n', unit: '  ' };

/** A fragment as lines, each with its depth relative to the fragment's first line. */
export type Lines = [depth: number, text: string][];

export function escapeAttribute(value: string, quote: "'" | '"'): string {
  const escaped = value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return quote === "'" ? escaped.replace(/'/g, '&apos;') : escaped.replace(/"/g, '&quot;');
}

export function attributes(pairs: [string, string | number][], quote: "'" | '"'): string {
  return pairs.map(([name, value]) => ` ${name}=${quote}${escapeAttribute(String(value), quote)}${quote}`).join('');
}

/** Lines placed at `indent`, each starting on a new line: ready to insert after a sibling. */
export function placeLines(lines: Lines, indent: string, style: XmlStyle): string {
  return lines.map(([depth, text]) => style.newline + indent + style.unit.repeat(depth) + text).join('');
}

export function nest(lines: Lines, by = 1): Lines {
  return lines.map(([depth, text]) => [depth + by, text]);
}
