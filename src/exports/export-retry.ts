/**
 * Waiting out a dependency of the exports watch (the export bucket, the checkpoint bucket, Kafka) that is not
 * there yet or answers with a retriable error: every S3 and Kafka call of the watch goes through one
 * {@link DependencyWaits}, which retries it with the runtime's capped exponential backoff and jitter.
 *
 * Why not `retryUntilDone` per call: a pass makes many calls at once (listings, HEADs with `s3Concurrency`), and
 * an outage would then log one "waiting" line and one "recovered" line per call in flight. Here the state is per
 * dependency (`what`), shared by every call: one line when the first call starts waiting, one when a call
 * succeeds again, and one readiness condition (`waiting for <what>: <reason>`) in between. The wording is the
 * runtime's (`<what>: waiting (retrying with backoff)`, `<what>: recovered`), so operators read one format.
 *
 * Non-retriable errors (a fatal AccessDenied, a RecordTooLargeError, a bad checkpoint) are rethrown at once;
 * aborting the signal ends a wait (one in progress, or the next one) with ShutdownError, while calls that
 * succeed still go through, so a pass that meets no failure finishes.
 */
import type { Logger } from '../observability/logger.ts';
import type { BackoffPolicy } from '../runtime/backoff.ts';
import { backoffDelay, DEFAULT_BACKOFF, sleep } from '../runtime/backoff.ts';
import type { Conditions } from '../runtime/conditions.ts';
import { describeError, isRetriable, ShutdownError } from '../runtime/errors.ts';

/** Runs `fn`, waiting out retriable errors of the dependency `what`. `onRetry` runs before every new attempt. */
export type Retrier = <T>(what: string, fn: () => Promise<T>, onRetry?: () => Promise<void>) => Promise<T>;

/** Calls `fn` once (no waiting): for callers that handle errors themselves. */
export const NO_RETRY: Retrier = (_what, fn) => fn();

/** The name of an S3 bucket as a dependency (log lines, /readyz). */
export function s3Dependency(bucket: string): string {
  return `S3 bucket ${bucket}`;
}

/** Kafka as a dependency of the exports watch (producing records, consuming S3 events). */
export const KAFKA_DEPENDENCY = 'Kafka';

export type DependencyWaitsOptions = Readonly<{
  log: Logger;
  /** While a dependency is waited for, it is a not-ready reason here. */
  conditions?: Conditions;
  /** Aborting ends every wait with ShutdownError. */
  signal?: AbortSignal;
  policy?: BackoffPolicy;
  random?: () => number;
}>;

type Waiting = { sinceMs: number; attempts: number };

/** The waits of one role, per dependency. */
export class DependencyWaits {
  readonly #o: DependencyWaitsOptions;
  readonly #waiting = new Map<string, Waiting>();

  constructor(options: DependencyWaitsOptions) {
    this.#o = options;
  }

  /** The dependencies waited for right now (for diagnostics and tests). */
  waitingFor(): string[] {
    return [...this.#waiting.keys()];
  }

  /** {@link Retrier} bound to this instance. */
  readonly run: Retrier = async (what, fn, onRetry) => {
    const policy = this.#o.policy ?? DEFAULT_BACKOFF;
    let attempt = 0;
    for (;;) {
      // An aborted signal ends waits, not calls: a healthy pass still finishes after a stop was asked for.
      try {
        const result = await fn();
        this.#recovered(what);
        return result;
      } catch (e) {
        if (e instanceof ShutdownError || !isRetriable(e)) throw e;
        this.#wait(what, e);
        await sleep(backoffDelay(attempt, policy, this.#o.random), this.#o.signal, what);
        attempt += 1;
        await onRetry?.();
      }
    }
  };

  #wait(what: string, e: unknown): void {
    const reason = describeError(e);
    const state = this.#waiting.get(what);
    if (state === undefined) {
      this.#waiting.set(what, { sinceMs: Date.now(), attempts: 1 });
      this.#o.log.warn({ what, reason }, `${what}: waiting (retrying with backoff)`);
    } else state.attempts += 1;
    // The condition's reason follows the latest error, without another log line.
    this.#o.conditions?.set(what, `waiting for ${what}: ${reason}`);
  }

  #recovered(what: string): void {
    const state = this.#waiting.get(what);
    if (state === undefined) return;
    this.#waiting.delete(what);
    this.#o.log.info(
      { what, failedAttempts: state.attempts, waitedMs: Date.now() - state.sinceMs },
      `${what}: recovered`,
    );
    this.#o.conditions?.clear(what);
  }
}
