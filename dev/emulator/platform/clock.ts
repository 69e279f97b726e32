/**
 * The emulator's simulated clock. Simulated time runs at `speed` × real time from `startTime`, and tests can
 * jump it forward with `advance(ms)`. Timers are kept in one queue ordered by (due time, insertion order), so
 * they fire in the same order whether time passes for real or by jumps.
 */
import type { SimClock } from './context.ts';

export interface SimClockOptions {
  /** Simulated epoch ms at creation. */
  readonly startTime: number;
  /** Simulated ms per real ms (1 = real time, 60 = one simulated minute per real second). */
  readonly speed: number;
  /** Real time source (epoch ms); injectable for tests. */
  readonly realNow?: () => number;
  /** Called when a timer callback throws; the clock keeps running. */
  readonly onError?: (err: unknown) => void;
}

export interface ControllableClock extends SimClock {
  /** Stops the real-time driver and drops every pending timer. */
  stop(): void;
  /** Number of pending timers (for tests and diagnostics). */
  pending(): number;
}

interface Timer {
  at: number;
  readonly seq: number;
  readonly fn: () => void;
  cancelled: boolean;
}

/** Longest real delay handed to setTimeout (its limit is 2^31-1 ms); longer waits re-arm. */
const MAX_REAL_DELAY_MS = 2 ** 30;

/**
 * Creates a simulated clock. Callbacks of `at` whose time has already passed run on the next turn of the
 * event loop (never synchronously inside `at`), so scheduling from inside a callback is safe.
 */
export function createSimClock(opts: SimClockOptions): ControllableClock {
  if (!(opts.speed > 0) || !Number.isFinite(opts.speed))
    throw new RangeError('speed must be a positive number');
  const realNow = opts.realNow ?? Date.now;
  const onError =
    opts.onError ??
    ((err: unknown) => process.stderr.write(`[emulator clock] timer failed: ${String(err)}\n`));
  // Simulated now = base + (real now - anchor) * speed; advance() and firing move base/anchor.
  let base = opts.startTime;
  let anchor = realNow();
  let seq = 0;
  let queue: Timer[] = [];
  let realTimer: NodeJS.Timeout | undefined;
  let draining = false;
  let stopped = false;

  const now = (): number => Math.floor(base + (realNow() - anchor) * opts.speed);

  /** Pins simulated time to `t` (never backwards). */
  const setNow = (t: number): void => {
    const current = base + (realNow() - anchor) * opts.speed;
    if (t > current) {
      base = t;
      anchor = realNow();
    }
  };

  const insert = (timer: Timer): void => {
    // Binary search for the first timer that is due later (same `at` keeps insertion order).
    let lo = 0;
    let hi = queue.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const m = queue[mid];
      if (m !== undefined && (m.at < timer.at || (m.at === timer.at && m.seq < timer.seq))) lo = mid + 1;
      else hi = mid;
    }
    queue.splice(lo, 0, timer);
  };

  const runTimer = (t: Timer): void => {
    if (t.cancelled) return;
    t.cancelled = true;
    try {
      t.fn();
    } catch (err) {
      onError(err);
    }
  };

  /** Fires every timer due by the current simulated time, then re-arms the real-time driver. */
  const drain = (): void => {
    if (draining || stopped) return;
    draining = true;
    try {
      for (;;) {
        const next = queue[0];
        if (next === undefined || next.at > now()) break;
        queue.shift();
        runTimer(next);
      }
    } finally {
      draining = false;
    }
    arm();
  };

  const arm = (): void => {
    if (realTimer) clearTimeout(realTimer);
    realTimer = undefined;
    if (stopped) return;
    queue = queue.filter((t) => !t.cancelled);
    const next = queue[0];
    if (next === undefined) return;
    const delay = Math.min(MAX_REAL_DELAY_MS, Math.max(0, Math.ceil((next.at - now()) / opts.speed)));
    realTimer = setTimeout(drain, delay);
    // The clock alone must not keep a process alive (the HTTP server does that).
    realTimer.unref();
  };

  const at = (when: number, fn: () => void): (() => void) => {
    const timer: Timer = { at: when, seq: seq++, fn, cancelled: false };
    if (stopped) return () => undefined;
    insert(timer);
    if (!draining && queue[0] === timer) arm();
    return () => {
      timer.cancelled = true;
    };
  };

  const every = (everyMs: number, fn: () => void): (() => void) => {
    if (!(everyMs > 0)) throw new RangeError('everyMs must be positive');
    let cancelNext: () => void = () => undefined;
    let cancelled = false;
    let due = now() + everyMs;
    const tick = (): void => {
      if (cancelled) return;
      // Schedule the next tick first, relative to the planned time, so jumps replay every tick in order.
      due += everyMs;
      cancelNext = at(due, tick);
      fn();
    };
    cancelNext = at(due, tick);
    return () => {
      cancelled = true;
      cancelNext();
    };
  };

  const advance = async (ms: number): Promise<void> => {
    if (!(ms >= 0) || !Number.isFinite(ms)) throw new RangeError('advance(ms) needs a finite ms >= 0');
    const target = now() + ms;
    for (;;) {
      if (stopped) return;
      const next = queue[0];
      if (next === undefined || next.at > target) break;
      queue.shift();
      if (next.cancelled) continue;
      // Time reads `next.at` while its callback runs, as it would have in real time.
      setNow(next.at);
      runTimer(next);
      // Let I/O triggered by the callback (socket writes, promise chains) proceed in order.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    setNow(target);
    arm();
  };

  return {
    now,
    get speed() {
      return opts.speed;
    },
    advance,
    at,
    every,
    stop() {
      stopped = true;
      if (realTimer) clearTimeout(realTimer);
      realTimer = undefined;
      queue = [];
    },
    pending: () => queue.filter((t) => !t.cancelled).length,
  };
}
