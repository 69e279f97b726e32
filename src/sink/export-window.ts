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
