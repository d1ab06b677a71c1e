import { excerpt } from '../errors';

export type JsonResult = { ok: true; value: unknown } | { ok: false; reason: string; offset: number };

/**
 * JSON.parse with its syntax error located: the reason without V8's echo of the text (unclipped, and it may hold
 * control characters), and the offset of the first character that cannot continue JSON. V8 gives the offset for
 * most errors but not for "Unexpected token 'x', "…" is not valid JSON"; then the shortest prefix that fails for a
 * reason other than its end is searched for (a prefix fails from the bad character on, so the search halves).
 */
export function parseJson(text: string): JsonResult {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    const message = (err as Error).message;
    const reason = message
      .replace(/\s*\(line \d+ column \d+\)/, '')
      .replace(/\s*(?:in JSON )?at position \d+/, '')
      .replace(/^(Unexpected token '.*?'), (?:\.\.\.)?".*$/s, '$1')
      .replace(/^Unexpected end of JSON input$/, 'the text ends before the JSON does');
    const offset = positionIn(message) ?? firstBadOffset(text);
    return { ok: false, reason: excerpt(trailingComma(text, offset) ? `${reason} (JSON allows no comma before ${text[offset]})` : reason, 120), offset };
  }
}

/** The commonest hand-edit mistake, named: a `]` or `}` right after a comma. */
function trailingComma(text: string, offset: number): boolean {
  return /^[\]}]$/.test(text[offset] ?? '') && /,\s*$/.test(text.slice(Math.max(0, offset - 200), offset));
}

function positionIn(message: string): number | undefined {
  const position = /at position (\d+)/.exec(message);
  return position ? Number(position[1]) : undefined;
}

/** Does the prefix of `length` characters fail before its end (a bad character), not merely because it ends? */
function failsInside(text: string, length: number): boolean {
  try {
    JSON.parse(text.slice(0, length));
    return false;
  } catch (err) {
    const message = (err as Error).message;
    if (/Unexpected end of JSON input|Unterminated string/.test(message)) return false;
    const at = positionIn(message);
    return at === undefined || at < length;
  }
}

function firstBadOffset(text: string): number {
  let [lo, hi] = [0, text.length]; // failsInside(hi) holds (the whole text fails); find the least such length
  if (!failsInside(text, hi)) return text.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (failsInside(text, mid)) hi = mid;
    else lo = mid + 1;
  }
  return Math.max(0, lo - 1);
}
