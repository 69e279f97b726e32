import { describe, expect, it } from 'vitest';
import type { Checkpoint, HourState } from '../../../src/exports/export-checkpoint.ts';
import {
  emptyCheckpoint,
  HOUR_MS,
  isSameEmitted,
  mergeCheckpoints,
  parseCheckpoint,
  pruneCheckpoint,
  recordEmitted,
} from '../../../src/exports/export-checkpoint.ts';

const H0 = Date.parse('2026-03-01T09:00:00.000Z');
const f = (etag: string, lastModifiedMs = 1, versionId: string | null = 'v1') => ({
  etag,
  versionId,
  lastModifiedMs,
});
const hour = (hourMs: number, over: Partial<HourState> = {}): HourState => ({
  hourMs,
  emitted: {},
  pending: {},
  invalid: [],
  ...over,
});
const cp = (hours: Record<string, HourState>, ranges: Checkpoint['ranges'] = []): Checkpoint => ({
  ...emptyCheckpoint('w'),
  hours,
  ranges,
});

describe('parseCheckpoint', () => {
  it('round-trips a checkpoint through JSON', () => {
    const c = cp(
      {
        'o/year=2026/month=3/day=1/hour=9/': hour(H0, {
          emitted: { 'c/r': { audio: f('a'), metadata: null } },
        }),
      },
      [{ fromHourMs: H0, toHourMs: H0 + HOUR_MS, nextHourMs: H0 }],
    );
    expect(parseCheckpoint(JSON.parse(JSON.stringify(c)))).toEqual({ ok: true, value: c });
  });

  it('rejects other formats, folder keys without a slash and hours not on the hour', () => {
    expect(parseCheckpoint({ ...emptyCheckpoint('w'), format: 'v0' }).ok).toBe(false);
    const noSlash = parseCheckpoint(cp({ 'o/hour=9': hour(H0) }));
    expect(!noSlash.ok && noSlash.error).toContain('hours');
    const offHour = parseCheckpoint(cp({ 'o/hour=9/': hour(H0 + 1) }));
    expect(!offHour.ok && offHour.error).toContain('hourMs');
  });
});

describe('mergeCheckpoints', () => {
  it('keeps everything either writer emitted, the earlier pending time and all invalid keys', () => {
    const ours = cp({
      'a/': hour(H0, {
        emitted: {
          r1: { audio: f('a1', 5), metadata: f('m1', 5) },
          r2: { audio: f('x', 9), metadata: null },
        },
        pending: { r3: 200 },
        invalid: ['k2'],
      }),
      'b/': hour(H0 + HOUR_MS, { emitted: { r9: { audio: f('q'), metadata: f('q') } } }),
    });
    const theirs = cp({
      'a/': hour(H0, {
        emitted: { r2: { audio: f('y', 3), metadata: null }, r4: { audio: f('z'), metadata: f('z') } },
        pending: { r3: 100, r5: 50 },
        invalid: ['k1', 'k2'],
      }),
      'c/': hour(H0, { invalid: ['k3'] }),
    });
    const merged = mergeCheckpoints(ours, theirs);
    expect(Object.keys(merged.hours).sort()).toEqual(['a/', 'b/', 'c/']);
    const a = merged.hours['a/'];
    expect(Object.keys(a?.emitted ?? {}).sort()).toEqual(['r1', 'r2', 'r4']);
    // r2: both emitted; the newer objects (ours, LastModified 9) win.
    expect(a?.emitted['r2']?.audio?.etag).toBe('x');
    expect(a?.pending).toEqual({ r3: 100, r5: 50 });
    expect(a?.invalid).toEqual(['k1', 'k2']);
    // Inputs are not mutated.
    expect(Object.keys(theirs.hours)).toEqual(['a/', 'c/']);
  });

  it('prefers their pair when their objects are newer', () => {
    const ours = cp({ 'a/': hour(H0, { emitted: { r: { audio: f('old', 1), metadata: null } } }) });
    const theirs = cp({ 'a/': hour(H0, { emitted: { r: { audio: f('new', 2), metadata: f('m', 2) } } }) });
    expect(mergeCheckpoints(ours, theirs).hours['a/']?.emitted['r']?.audio?.etag).toBe('new');
  });

  it('merges the same range by the furthest progress and drops finished ones', () => {
    const r = { fromHourMs: H0, toHourMs: H0 + 5 * HOUR_MS };
    const merged = mergeCheckpoints(
      cp({}, [
        { ...r, nextHourMs: H0 + 2 * HOUR_MS },
        { fromHourMs: 0, toHourMs: HOUR_MS, nextHourMs: 0 },
      ]),
      cp({}, [
        { ...r, nextHourMs: H0 + 4 * HOUR_MS },
        { fromHourMs: 7 * HOUR_MS, toHourMs: 7 * HOUR_MS, nextHourMs: 8 * HOUR_MS },
      ]),
    );
    expect(merged.ranges).toEqual([
      { ...r, nextHourMs: H0 + 4 * HOUR_MS },
      { fromHourMs: 0, toHourMs: HOUR_MS, nextHourMs: 0 },
    ]);
  });
});

describe('pruneCheckpoint', () => {
  it('drops hours before the window unless they hold pending objects or an unfinished range covers them', () => {
    const c = cp(
      {
        'old/': hour(H0 - 10 * HOUR_MS, { emitted: { r: { audio: f('a'), metadata: f('m') } } }),
        'old-pending/': hour(H0 - 10 * HOUR_MS, { pending: { r: 1 } }),
        'old-range/': hour(H0 - 20 * HOUR_MS),
        'in-window/': hour(H0),
      },
      [{ fromHourMs: H0 - 30 * HOUR_MS, toHourMs: H0 - 15 * HOUR_MS, nextHourMs: H0 - 25 * HOUR_MS }],
    );
    const { checkpoint, pruned } = pruneCheckpoint(c, H0 - 2 * HOUR_MS);
    expect(pruned).toEqual(['old/']);
    expect(Object.keys(checkpoint.hours).sort()).toEqual(['in-window/', 'old-pending/', 'old-range/']);
    expect(Object.keys(c.hours)).toHaveLength(4);
  });
});

describe('recordEmitted / isSameEmitted', () => {
  it('records a pair, clears pending, and compares on ETag and version id only', () => {
    const h = hour(H0, { pending: { r: 5 } });
    recordEmitted(h, 'r', { audio: f('a', 1), metadata: null });
    expect(h.pending).toEqual({});
    expect(isSameEmitted(h, 'r', { audio: f('a', 99), metadata: null })).toBe(true);
    expect(isSameEmitted(h, 'r', { audio: f('a', 1, 'v2'), metadata: null })).toBe(false);
    expect(isSameEmitted(h, 'r', { audio: f('a'), metadata: f('m') })).toBe(false);
    expect(isSameEmitted(undefined, 'r', { audio: f('a'), metadata: null })).toBe(false);
  });
});

describe('the high-water hour', () => {
  it('reads checkpoints written before it existed, and merges to the later mark', () => {
    const { windowFromHourMs: _, ...old } = cp({});
    const parsed = parseCheckpoint(JSON.parse(JSON.stringify(old)));
    expect(parsed.ok && parsed.value.windowFromHourMs).toBeUndefined();
    const ours = { ...cp({}), windowFromHourMs: H0 };
    const theirs = {
      ...cp({}, [{ fromHourMs: H0, toHourMs: H0 + HOUR_MS, nextHourMs: H0 }]),
      windowFromHourMs: H0 + 2 * HOUR_MS,
    };
    const merged = mergeCheckpoints(ours, theirs);
    expect(merged.windowFromHourMs).toBe(H0 + 2 * HOUR_MS);
    // The catch-up range the other writer added below its mark is kept.
    expect(merged.ranges).toHaveLength(1);
    expect(mergeCheckpoints(old, old).windowFromHourMs).toBeNull();
    expect(parseCheckpoint({ ...cp({}), windowFromHourMs: H0 + 1 }).ok).toBe(false);
  });
});
