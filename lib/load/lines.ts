/**
 * Offset -> line/column for one text: a line break is `\r\n`, `\r` or `\n`; columns are 1-based
 * UTF-16 code units. The table of line starts is built once, O(log n) per lookup.
 */
export class LineTable {
  private lineStarts: number[] | undefined;

  constructor(readonly text: string) {}

  /** Built on the first lookup: most documents are loaded and transformed without one. */
  private get starts(): number[] {
    if (this.lineStarts) return this.lineStarts;
    const starts = [0];
    const lineBreak = /\r\n?|\n/g;
    for (let m = lineBreak.exec(this.text); m; m = lineBreak.exec(this.text)) starts.push(m.index + m[0].length);
    return (this.lineStarts = starts);
  }

  positionOf(offset: number): { line: number; column: number } {
    const starts = this.starts;
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - starts[lo] + 1 };
  }
}

/** The spaces and tabs the line holding `offset` starts with: how the element on it is indented. */
export function indentAt(text: string, offset: number): string {
  const lineStart = Math.max(text.lastIndexOf('\n', offset - 1), text.lastIndexOf('\r', offset - 1)) + 1;
  let end = lineStart;
  while (end < offset && (text.charCodeAt(end) === 0x20 || text.charCodeAt(end) === 0x09)) end++;
  return text.slice(lineStart, end);
}
