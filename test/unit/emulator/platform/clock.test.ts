import { describe, expect, it } from 'vitest';
import { createSimClock } from '../../../../dev/emulator/platform/clock.ts';

const START = Date.UTC(2026, 0, 5, 9, 0, 0);

describe('createSimClock', () => {
  it('runs at speed × real time from startTime', () => {
    let real = 1_000;
    const clock = createSimClock({ startTime: START, speed: 60, realNow: () => real });
    expect(clock.now()).toBe(START);
    real += 1_000;
    expect(clock.now()).toBe(START + 60_000);
    clock.stop();
  });

  it('advance fires due timers in time order, reading each timer time while it runs', async () => {
    const real = 0;
    const clock = createSimClock({ startTime: START, speed: 1, realNow: () => real });
    const seen: Array<[string, number]> = [];
    clock.at(START + 300, () => seen.push(['c', clock.now()]));
    clock.at(START + 100, () => seen.push(['a', clock.now()]));
    clock.at(START + 100, () => seen.push(['b', clock.now()]));
    clock.at(START + 5_000, () => seen.push(['late', clock.now()]));
    await clock.advance(1_000);
    expect(seen).toEqual([
      ['a', START + 100],
      ['b', START + 100],
      ['c', START + 300],
    ]);
    expect(clock.now()).toBe(START + 1_000);
    expect(clock.pending()).toBe(1);
    clock.stop();
  });

  it('replays every tick of `every` across a jump and stops when cancelled', async () => {
    const clock = createSimClock({ startTime: START, speed: 1, realNow: () => 0 });
    const ticks: number[] = [];
    const cancel = clock.every(30_000, () => ticks.push(clock.now() - START));
    await clock.advance(95_000);
    expect(ticks).toEqual([30_000, 60_000, 90_000]);
    cancel();
    await clock.advance(60_000);
    expect(ticks).toHaveLength(3);
    clock.stop();
  });

  it('timers scheduled inside a callback during advance also fire if due', async () => {
    const clock = createSimClock({ startTime: START, speed: 1, realNow: () => 0 });
    const seen: number[] = [];
    clock.at(START + 10, () => {
      seen.push(1);
      clock.at(START + 20, () => seen.push(2));
      clock.at(START + 5, () => seen.push(3)); // already past: runs next, not synchronously
    });
    await clock.advance(100);
    expect(seen).toEqual([1, 3, 2]);
    clock.stop();
  });

  it('cancelled timers never fire', async () => {
    const clock = createSimClock({ startTime: START, speed: 1, realNow: () => 0 });
    let fired = false;
    const cancel = clock.at(START + 10, () => (fired = true));
    cancel();
    await clock.advance(100);
    expect(fired).toBe(false);
    clock.stop();
  });

  it('fires timers with the real passage of time, scaled by speed', async () => {
    const clock = createSimClock({ startTime: START, speed: 1_000 });
    const firedAt = await new Promise<number>((resolve) =>
      clock.at(START + 20_000, () => resolve(clock.now())),
    );
    // 20 simulated seconds at speed 1000 take ~20 real ms.
    expect(firedAt).toBeGreaterThanOrEqual(START + 20_000);
    expect(firedAt).toBeLessThan(START + 20_000 + 1_000_000);
    clock.stop();
  });

  it('a timer in the past runs on the next turn, not inside at()', async () => {
    const clock = createSimClock({ startTime: START, speed: 1 });
    let fired = false;
    const done = new Promise<void>((resolve) =>
      clock.at(START - 1_000, () => {
        fired = true;
        resolve();
      }),
    );
    expect(fired).toBe(false);
    await done;
    expect(fired).toBe(true);
    clock.stop();
  });

  it('keeps running when a timer throws', async () => {
    const errors: unknown[] = [];
    const clock = createSimClock({
      startTime: START,
      speed: 1,
      realNow: () => 0,
      onError: (e) => errors.push(e),
    });
    let after = false;
    clock.at(START + 1, () => {
      throw new Error('boom');
    });
    clock.at(START + 2, () => (after = true));
    await clock.advance(10);
    expect(errors).toHaveLength(1);
    expect(after).toBe(true);
    clock.stop();
  });

  it('rejects a non-positive speed and negative advance', async () => {
    expect(() => createSimClock({ startTime: START, speed: 0 })).toThrow(RangeError);
    const clock = createSimClock({ startTime: START, speed: 1 });
    await expect(clock.advance(-1)).rejects.toThrow(RangeError);
    clock.stop();
  });
});
