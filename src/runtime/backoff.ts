/**
 * Capped exponential backoff with jitter, and the one retry loop every role uses while a dependency is not there
 * yet or answers with a retriable error. The loop logs when the state changes (waiting, recovered), never once per
 * attempt, and reports the wait as a readiness condition so /readyz says what the role is waiting for.
 */
import type { Logger } from '../observability/logger.ts';
import { describeError, isRetriable, ShutdownError } from './errors.ts';
import type { Conditions } from './conditions.ts';

export type BackoffPolicy = Readonly<{ initialMs: number; maxMs: number }>;

/** A dependency that comes back is noticed within 10 s: waits longer than that only delay recovery. */
export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 250, maxMs: 10_000 };

/**
 * The delay before retry number `attempt` (0-based): half of the capped exponential step plus a random half
 * ("equal jitter"), so instances restarted together do not retry in lockstep yet never retry at once.
 */
export function backoffDelay(
  attempt: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  const step = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(step / 2 + random() * (step / 2));
}

/** Resolves after `ms`, or rejects with ShutdownError as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal, what = 'wait'): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new ShutdownError(what));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(new ShutdownError(what));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export type RetryOptions = Readonly<{
  log: Logger;
  /** Aborting ends the wait with ShutdownError. */
  signal?: AbortSignal;
  policy?: BackoffPolicy;
  /** Which errors are worth waiting out (default: isRetriable). Others are rethrown at once. */
  retriable?: (e: unknown) => boolean;
  /** Readiness conditions: while waiting, `what` is a not-ready reason. */
  conditions?: Conditions;
  random?: () => number;
  /** A server-given wait (e.g. Retry-After) that overrides the backoff step when longer. */
  retryAfterMs?: (e: unknown) => number | undefined;
}>;

/**
 * Runs `fn` until it succeeds, waiting out retriable errors with capped exponential backoff. Logs one line when it
 * starts waiting (and when the reason changes) and one when it recovers.
 */
export async function retryUntilDone<T>(what: string, fn: () => Promise<T>, opts: RetryOptions): Promise<T> {
  const policy = opts.policy ?? DEFAULT_BACKOFF;
  const retriable = opts.retriable ?? isRetriable;
  let attempt = 0;
  let lastReason: string | undefined;
  for (;;) {
    if (opts.signal?.aborted) throw new ShutdownError(what);
    try {
      const result = await fn();
      if (attempt > 0) {
        opts.log.info({ what, attempts: attempt + 1 }, `${what}: recovered`);
        opts.conditions?.clear(what);
      }
      return result;
    } catch (e) {
      if (e instanceof ShutdownError || !retriable(e)) {
        opts.conditions?.clear(what);
        throw e;
      }
      const reason = describeError(e);
      if (reason !== lastReason) {
        opts.log.warn({ what, reason, attempt: attempt + 1 }, `${what}: waiting (retrying with backoff)`);
        lastReason = reason;
      }
      opts.conditions?.set(what, `waiting for ${what}: ${reason}`);
      const hinted = opts.retryAfterMs?.(e) ?? 0;
      await sleep(Math.max(hinted, backoffDelay(attempt, policy, opts.random)), opts.signal, what);
      attempt += 1;
    }
  }
}
