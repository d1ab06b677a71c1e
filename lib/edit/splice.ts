/**
 * Edits anchored at offsets of the original text, applied in one pass (magic-string's model):
 * whatever no edit touches is, by construction, byte-identical in the output.
 */
export interface Edit {
  /** Offset in the original text where the edit starts. */
  start: number;
  /** Offset where it ends; equal to start for an insertion. */
  end: number;
  text: string;
}

export interface SpliceResult {
  text: string;
  /** Where each edit's text starts in the output, in the order the edits were given. */
  outputStarts: number[];
}

export function applyEdits(original: string, edits: readonly Edit[]): SpliceResult {
  const order = edits.map((_, i) => i).sort((a, b) => edits[a].start - edits[b].start || a - b);
  const parts: string[] = [];
  const outputStarts = new Array<number>(edits.length);
  let cursor = 0;
  let length = 0;
  for (const i of order) {
    const edit = edits[i];
    if (edit.start < cursor || edit.end < edit.start) throw new Error(`overlapping edits at offset ${edit.start}`);
    parts.push(original.slice(cursor, edit.start));
    length += edit.start - cursor;
    outputStarts[i] = length;
    parts.push(edit.text);
    length += edit.text.length;
    cursor = edit.end;
  }
  parts.push(original.slice(cursor));
  return { text: parts.join(''), outputStarts };
}
