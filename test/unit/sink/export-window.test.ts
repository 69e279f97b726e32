import { describe, expect, it } from 'vitest';
import { HOUR_MS } from '../../../src/sink/export-checkpoint.ts';
import { hourFolders, rangeRequest, takeRangeHours, windowHours } from '../../../src/sink/export-window.ts';

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
