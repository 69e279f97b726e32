import { describe, expect, it } from 'vitest';
import { HOUR_MS } from '../../../src/exports/export-checkpoint.ts';
import {
  advanceRanges,
  catchUpRange,
  highWaterHour,
  hourFolders,
  rangeHoursLeft,
  rangeRequest,
  takeRangeHours,
  windowHours,
} from '../../../src/exports/export-window.ts';

const ORG = '0b7e4a4e-3c55-4d8e-9b0a-6f1d2c3b4a59';

describe('windowHours', () => {
  it('covers now - lookback … now + lookahead in whole hours', () => {
    const now = Date.parse('2026-03-01T09:42:13Z');
    const hours = windowHours(now, 48, 1);
    expect(hours).toHaveLength(50);
    expect(new Date(hours[0] ?? 0).toISOString()).toBe('2026-02-27T09:00:00.000Z');
    expect(new Date(hours.at(-1) ?? 0).toISOString()).toBe('2026-03-01T10:00:00.000Z');
  });
});

describe('hourFolders', () => {
  const h = Date.parse('2026-03-05T07:00:00Z');
  it('writes the month unpadded and day/hour as configured', () => {
    expect(hourFolders('', ORG, h, 'unpadded')).toEqual([`${ORG}/year=2026/month=3/day=5/hour=7/`]);
    expect(hourFolders('gen/exp', ORG, h, 'padded')).toEqual([
      `gen/exp/${ORG}/year=2026/month=3/day=05/hour=07/`,
    ]);
    expect(hourFolders('', ORG, h, 'both')).toHaveLength(2);
    expect(hourFolders('', ORG, Date.parse('2026-11-15T13:00:00Z'), 'both')).toEqual([
      `${ORG}/year=2026/month=11/day=15/hour=13/`,
    ]);
  });
});

describe('backfill ranges', () => {
  it('normalizes a request to whole hours in either order', () => {
    const r = rangeRequest(Date.parse('2026-03-01T10:30:00Z'), Date.parse('2026-03-01T08:10:00Z'));
    expect(r).toEqual({
      fromHourMs: Date.parse('2026-03-01T08:00:00Z'),
      toHourMs: Date.parse('2026-03-01T10:00:00Z'),
      nextHourMs: Date.parse('2026-03-01T08:00:00Z'),
    });
  });

  it('takes at most maxHours per pass, in request order, and keeps the rest', () => {
    const a = rangeRequest(0, 2 * HOUR_MS);
    const b = rangeRequest(10 * HOUR_MS, 11 * HOUR_MS);
    const first = takeRangeHours([a, b], 4);
    expect(first.hours).toEqual([0, HOUR_MS, 2 * HOUR_MS, 10 * HOUR_MS]);
    expect(first.after).toEqual([{ ...b, nextHourMs: 11 * HOUR_MS }]);
    const second = takeRangeHours(first.after, 4);
    expect(second).toEqual({ hours: [11 * HOUR_MS], after: [] });
  });
});

describe('catch-up from the high-water hour', () => {
  const H = HOUR_MS;
  const at = (iso: string) => Date.parse(iso);

  it('lists every hour from the high-water hour up to the window start, however far behind', () => {
    // The latest pass's window began at 05:00; this pass's begins at 10:00.
    expect(catchUpRange(at('2026-03-10T05:00:00Z'), at('2026-03-10T10:00:00Z'))).toEqual({
      fromHourMs: at('2026-03-10T05:00:00Z'),
      toHourMs: at('2026-03-10T09:00:00Z'),
      nextHourMs: at('2026-03-10T05:00:00Z'),
    });
    // Down for 30 days with a 48 h lookback: 30 days of hours, not just the window.
    const r = catchUpRange(at('2026-02-08T10:00:00Z'), at('2026-03-10T10:00:00Z'));
    expect(r && (r.toHourMs - r.fromHourMs) / H + 1).toBe(30 * 24);
  });

  it('is nothing before the first pass or while the window has not moved', () => {
    expect(catchUpRange(null, at('2026-03-10T10:00:00Z'))).toBeUndefined();
    expect(catchUpRange(undefined, at('2026-03-10T10:00:00Z'))).toBeUndefined();
    expect(catchUpRange(at('2026-03-10T10:00:00Z'), at('2026-03-10T10:00:00Z'))).toBeUndefined();
  });

  it('takes the high-water hour from the checkpoint, or from its last write for older checkpoints', () => {
    expect(highWaterHour({ windowFromHourMs: at('2026-03-10T05:00:00Z'), writtenAtMs: 1 }, 48)).toBe(
      at('2026-03-10T05:00:00Z'),
    );
    expect(highWaterHour({ writtenAtMs: at('2026-03-10T12:30:00Z') }, 2)).toBe(at('2026-03-10T10:00:00Z'));
    expect(highWaterHour({ windowFromHourMs: null, writtenAtMs: null }, 48)).toBeNull();
  });
});

describe('advanceRanges', () => {
  const r = (from: number, to: number, next = from) => ({
    fromHourMs: from * HOUR_MS,
    toHourMs: to * HOUR_MS,
    nextHourMs: next * HOUR_MS,
  });

  it('applies the hours a pass listed and keeps ranges added meanwhile', () => {
    const taken = [r(0, 1), r(10, 19)];
    const { after } = takeRangeHours(taken, 5);
    // Meanwhile a request (30-31) arrived.
    const current = [...taken, r(30, 31)];
    expect(advanceRanges(current, taken, after)).toEqual([r(10, 19, 13), r(30, 31)]);
    expect(rangeHoursLeft(advanceRanges(current, taken, after))).toBe(7 + 2);
  });
});
