/**
 * A unified diff (`diff -u` format, 3 lines of context) of two texts, line by line, from a shortest edit
 * script (Myers' O(ND) algorithm). Domain XML changes are small, so D stays small. Empty string when equal.
 */
export function unifiedDiff(before: string, after: string, fromName: string, toName: string, context = 3): string {
  if (before === after) return '';
  const a = splitLines(before);
  const b = splitLines(after);
  const ops = editScript(a.map((l) => l.text), b.map((l) => l.text));
  const hunks = groupHunks(ops, context);
  let out = `--- ${fromName}\n+++ ${toName}\n`;
  for (const hunk of hunks) out += renderHunk(hunk, a, b);
  return out;
}

interface Line {
  text: string;
  /** The line had no line end (last line of a file without a final newline). */
  unterminated: boolean;
}

function splitLines(text: string): Line[] {
  if (text === '') return [];
  const parts = text.split('\n');
  const last = parts.pop()!;
  const lines = parts.map((t) => ({ text: t + '\n', unterminated: false }));
  if (last !== '') lines.push({ text: last, unterminated: true });
  return lines;
}

/** One step of the edit script: keep a[i] (= b[j]), delete a[i], or insert b[j]. */
interface Op {
  kind: ' ' | '-' | '+';
  i: number;
  j: number;
}

function editScript(a: string[], b: string[]): Op[] {
  const n = a.length;
  const m = b.length;
  const max = n + m;
  const offset = max + 1;
  const v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  let found = false;
  for (let d = 0; d <= max && !found; d++) {
    trace.push(v.slice());
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[offset + k - 1] < v[offset + k + 1]) ? v[offset + k + 1] : v[offset + k - 1] + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[offset + k] = x;
      if (x >= n && y >= m) {
        found = true;
        break;
      }
    }
  }
  return backtrack(trace, n, m, offset);
}

/** Walks the saved frontiers (`trace[d]`: furthest x per diagonal before round d) back from the end. */
function backtrack(trace: Int32Array[], n: number, m: number, offset: number): Op[] {
  const ops: Op[] = [];
  let x = n;
  let y = m;
  for (let d = trace.length - 1; d >= 0; d--) {
    if (d === 0) {
      while (x > 0 && y > 0) ops.push({ kind: ' ', i: --x, j: --y });
      break;
    }
    const v = trace[d];
    const k = x - y;
    const down = k === -d || (k !== d && v[offset + k - 1] < v[offset + k + 1]);
    const prevK = down ? k + 1 : k - 1;
    const prevX = v[offset + prevK];
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) ops.push({ kind: ' ', i: --x, j: --y });
    if (down) ops.push({ kind: '+', i: x, j: --y });
    else ops.push({ kind: '-', i: --x, j: y });
  }
  return ops.reverse();
}

function groupHunks(ops: Op[], context: number): Op[][] {
  const hunks: Op[][] = [];
  let start = -1;
  let end = -1;
  for (let t = 0; t < ops.length; t++) {
    if (ops[t].kind === ' ') continue;
    const from = Math.max(0, t - context);
    if (start >= 0 && from <= end + 1) end = Math.min(ops.length - 1, t + context);
    else {
      if (start >= 0) hunks.push(ops.slice(start, end + 1));
      start = from;
      end = Math.min(ops.length - 1, t + context);
    }
  }
  if (start >= 0) hunks.push(ops.slice(start, end + 1));
  return hunks;
}

function renderHunk(hunk: Op[], a: Line[], b: Line[]): string {
  const oldCount = hunk.filter((o) => o.kind !== '+').length;
  const newCount = hunk.filter((o) => o.kind !== '-').length;
  const oldStart = oldCount === 0 ? hunk[0].i : hunk[0].i + 1;
  const newStart = newCount === 0 ? hunk[0].j : hunk[0].j + 1;
  let out = `@@ -${range(oldStart, oldCount)} +${range(newStart, newCount)} @@\n`;
  for (const op of hunk) {
    const line = op.kind === '+' ? b[op.j] : a[op.i];
    out += op.kind + line.text;
    if (line.unterminated) out += '\n\\ No newline at end of file\n';
  }
  return out;
}

function range(start: number, count: number): string {
  return count === 1 ? String(start) : `${start},${count}`;
}
