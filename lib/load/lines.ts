/**
 * Offset <-> line/column for one text, the way xmldom's locator counts: a line break is
 * `\r\n`, `\r` or `\n`; columns are 1-based UTF-16 code units. Built once, O(log n) per lookup.
 */
export class LineTable {
  private readonly starts: number[];

  constructor(readonly text: string) {
    const starts = [0];
    const lineBreak = /\r\n?|\n/g;
    for (let m = lineBreak.exec(text); m; m = lineBreak.exec(text)) starts.push(m.index + m[0].length);
    this.starts = starts;
  }

  offsetOf(line: number, column: number): number {
    const start = this.starts[Math.min(Math.max(line, 1), this.starts.length) - 1];
    return start + Math.max(column, 1) - 1;
  }

  positionOf(offset: number): { line: number; column: number } {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - this.starts[lo] + 1 };
  }
}

/** The spaces and tabs the line holding `offset` starts with: how the element on it is indented. */
export function indentAt(text: string, offset: number): string {
  const lineStart = Math.max(text.lastIndexOf('\n', offset - 1), text.lastIndexOf('\r', offset - 1)) + 1;
  let end = lineStart;
  while (end < offset && (text.charCodeAt(end) === 0x20 || text.charCodeAt(end) === 0x09)) end++;
  return text.slice(lineStart, end);
}
