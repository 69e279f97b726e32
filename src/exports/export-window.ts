/**
 * Which hour folders a scan pass lists (pure): the sliding window of recent conversation-start hours, hours of
 * backfill requests (a bounded number per pass), and the folder names of an hour in Genesys's layout.
 */
import type { RangeRequest } from './export-checkpoint.ts';
import { HOUR_MS, hourStart } from './export-checkpoint.ts';

/**
 * How day and hour are written in folder names. Month is written unpadded (observed); day/hour padding is
 * UNCONFIRMED, so `both` (default) lists the padded and the unpadded folder when they differ.
 */
export type DayHourPadding = 'unpadded' | 'padded' | 'both';

/** Start hours (epoch ms) of `now - lookbackHours … now + lookaheadHours`, oldest first. */
export function windowHours(nowMs: number, lookbackHours: number, lookaheadHours: number): number[] {
  const first = hourStart(nowMs) - lookbackHours * HOUR_MS;
  const last = hourStart(nowMs) + lookaheadHours * HOUR_MS;
  const hours: number[] = [];
  for (let h = first; h <= last; h += HOUR_MS) hours.push(h);
  return hours;
}

/**
 * The hour folders (ending in `/`) of one org and hour, under the export prefix (normalized, no slashes at the
 * ends; `''` for none).
 */
export function hourFolders(
  prefix: string,
  orgId: string,
  hourMs: number,
  padding: DayHourPadding,
): string[] {
  const d = new Date(hourMs);
  const base = `${prefix === '' ? '' : `${prefix}/`}${orgId}/year=${d.getUTCFullYear()}/month=${d.getUTCMonth() + 1}`;
  const day = d.getUTCDate();
  const hour = d.getUTCHours();
  const unpadded = `${base}/day=${day}/hour=${hour}/`;
  const padded = `${base}/day=${String(day).padStart(2, '0')}/hour=${String(hour).padStart(2, '0')}/`;
  if (padding === 'unpadded') return [unpadded];
  if (padding === 'padded') return [padded];
  return padded === unpadded ? [unpadded] : [unpadded, padded];
}

/**
 * Takes up to `maxHours` hours from the unfinished backfill ranges, in request order.
 * @returns the hours to list this pass and the ranges as they will be once those hours are done.
 */
export function takeRangeHours(
  ranges: readonly RangeRequest[],
  maxHours: number,
): { hours: number[]; after: RangeRequest[] } {
  const hours: number[] = [];
  const after: RangeRequest[] = [];
  for (const r of ranges) {
    let next = r.nextHourMs;
    while (next <= r.toHourMs && hours.length < maxHours) {
      hours.push(next);
      next += HOUR_MS;
    }
    if (next <= r.toHourMs) after.push({ ...r, nextHourMs: next });
  }
  return { hours, after };
}

/** A range request from two instants (any order; truncated to whole hours). */
export function rangeRequest(fromMs: number, toMs: number): RangeRequest {
  const from = hourStart(Math.min(fromMs, toMs));
  const to = hourStart(Math.max(fromMs, toMs));
  return { fromHourMs: from, toHourMs: to, nextHourMs: from };
}

/**
 * The catch-up range of a pass (pure): every hour from the checkpoint's high-water hour (the window start of the
 * latest pass) up to the hour before this pass's window start. Those hours left the window since they were last
 * listed (the watcher was down, or passes were slow), may have received exports meanwhile (late exports land in
 * old folders), and no window lists them again. Undefined when nothing slid out, or before the first pass.
 */
export function catchUpRange(
  highWaterHourMs: number | null | undefined,
  windowStartHourMs: number,
): RangeRequest | undefined {
  if (highWaterHourMs === null || highWaterHourMs === undefined) return undefined;
  if (highWaterHourMs >= windowStartHourMs) return undefined;
  return rangeRequest(highWaterHourMs, windowStartHourMs - HOUR_MS);
}

/**
 * The high-water hour of a checkpoint: its own; for one written before the field existed, the window start of
 * the pass that last wrote it (an earlier hour than the true mark at worst, so nothing is skipped). Null when it
 * was never written.
 */
export function highWaterHour(
  c: Readonly<{ windowFromHourMs?: number | null; writtenAtMs: number | null }>,
  lookbackHours: number,
): number | null {
  if (typeof c.windowFromHourMs === 'number') return c.windowFromHourMs;
  if (c.writtenAtMs === null) return null;
  return hourStart(c.writtenAtMs) - lookbackHours * HOUR_MS;
}

/**
 * Applies a pass's progress to the ranges as they are now (pure): `taken` are the ranges the pass took hours
 * from and `after` the same ranges once those hours are done ({@link takeRangeHours}). Ranges added meanwhile
 * (a request, a merge with another writer's checkpoint) are kept as they are.
 */
export function advanceRanges(
  current: readonly RangeRequest[],
  taken: readonly RangeRequest[],
  after: readonly RangeRequest[],
): RangeRequest[] {
  const id = (r: RangeRequest) => `${r.fromHourMs}-${r.toHourMs}`;
  const progress = new Map<string, number>();
  for (const r of taken) progress.set(id(r), Number.POSITIVE_INFINITY);
  for (const r of after) progress.set(id(r), r.nextHourMs);
  const out: RangeRequest[] = [];
  for (const r of current) {
    const next = Math.max(r.nextHourMs, progress.get(id(r)) ?? r.nextHourMs);
    if (next <= r.toHourMs) out.push({ ...r, nextHourMs: next });
  }
  return out;
}

/** Hours the unfinished ranges still have to list (pure). */
export function rangeHoursLeft(ranges: readonly RangeRequest[]): number {
  return ranges.reduce((n, r) => n + Math.max(0, (r.toHourMs - r.nextHourMs) / HOUR_MS + 1), 0);
}
