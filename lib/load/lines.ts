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

  /** The whitespace a line starts with: how the element on it is indented. */
  indentAt(offset: number): string {
    const lineStart = this.starts[this.positionOf(offset).line - 1];
    const m = /^[ \t]*/.exec(this.text.slice(lineStart, offset));
    return m ? m[0] : '';
  }
}
