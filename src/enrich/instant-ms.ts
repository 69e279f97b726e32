/**
 * `Date.parse` with a memo. Every update of a conversation repeats the same instants (connect, hold, ACW times),
 * each is parsed when its body is validated and again when tags are extracted, and `Date.parse` costs several times
 * a map lookup. Pure: a memoised result is the same number `Date.parse` gives.
 */
const MAX_ENTRIES = 20_000;
const memo = new Map<string, number>();

/** `Date.parse(s)` (NaN when `s` is no date). */
export function parseInstantMs(s: string): number {
  let ms = memo.get(s);
  if (ms === undefined) {
    ms = Date.parse(s);
    // Bounded: dropped whole when full (instants of current calls come back at once).
    if (memo.size >= MAX_ENTRIES) memo.clear();
    memo.set(s, ms);
  }
  return ms;
}
