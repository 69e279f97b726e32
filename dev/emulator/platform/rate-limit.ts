/**
 * REST rate limiting and injected REST faults.
 *
 * The budget is per OAuth client per **real** minute (fixed windows that start at a client's first request
 * of the window). It models how fast a client really calls; simulated-time windows would make the budget
 * meaningless at `speed` > 1. `Retry-After` is therefore in real seconds, as a client sleeping on it expects.
 *
 * Faults (control API) force a status on requests whose path starts with a prefix, for a number of
 * requests and/or a span of **simulated** time (so tests end them with `advance`).
 */
import { randomUUID } from 'node:crypto';
import { apiError, type ApiResponse } from './context.ts';

export interface RateLimiter {
  /** Counts one request of `clientId`; a 429 response when the budget is spent, else undefined. */
  take(clientId: string): ApiResponse | undefined;
  /** Forgets every window (control API). */
  reset(): void;
}

/** The Genesys-like 429 body; the code and message text are UNCONFIRMED (see README). */
export function tooManyRequests(retryAfterSeconds: number, limit?: number): ApiResponse {
  const message =
    limit === undefined
      ? 'Rate limit exceeded the maximum. Retry the request later.'
      : `Rate limit exceeded the maximum. [${limit}] requests for [60] seconds`;
  return apiError(429, 'too.many.requests.retry.after', message, {
    'retry-after': String(retryAfterSeconds),
  });
}

/** Creates a limiter allowing `perMinute` requests per client per real minute. */
export function createRateLimiter(perMinute: number, realNow: () => number = Date.now): RateLimiter {
  if (!Number.isInteger(perMinute) || perMinute < 1)
    throw new RangeError('rateLimit.perMinute must be an integer >= 1');
  const windows = new Map<string, { start: number; count: number }>();
  return {
    take(clientId) {
      const now = realNow();
      let w = windows.get(clientId);
      if (!w || now - w.start >= 60_000) {
        w = { start: now, count: 0 };
        windows.set(clientId, w);
      }
      if (w.count >= perMinute) {
        const retryAfter = Math.max(1, Math.ceil((w.start + 60_000 - now) / 1000));
        return tooManyRequests(retryAfter, perMinute);
      }
      w.count++;
      return undefined;
    },
    reset() {
      windows.clear();
    },
  };
}

export interface FaultSpec {
  /** Requests whose path starts with this prefix are affected (e.g. `/api/v2/conversations`). */
  readonly pathPrefix: string;
  /** HTTP method to match; all methods when omitted. */
  readonly method?: string;
  /** Status to answer with: 429 or 5xx (any 4xx/5xx is accepted). */
  readonly status: number;
  /** Affect this many matching requests, then stop. */
  readonly count?: number;
  /** Affect matching requests for this long in simulated ms, then stop. */
  readonly durationMs?: number;
  /** `Retry-After` seconds on a 429 (default 1). */
  readonly retryAfterSeconds?: number;
}

export interface ActiveFault extends FaultSpec {
  readonly id: string;
  readonly until?: number;
  remaining?: number;
  hits: number;
}

export interface FaultInjector {
  add(spec: FaultSpec): ActiveFault;
  clear(id?: string): void;
  list(): readonly ActiveFault[];
  /** The forced response for this request, if an active fault matches (consumes one of its count). */
  match(method: string, path: string): ApiResponse | undefined;
}

const FAULT_CODES: Readonly<Record<number, string>> = {
  500: 'internal.server.error',
  502: 'bad.gateway',
  503: 'service.unavailable',
  504: 'gateway.timeout',
};

/** Creates the fault injector; `simNow` is the simulated clock. */
export function createFaultInjector(simNow: () => number): FaultInjector {
  let faults: ActiveFault[] = [];
  const alive = (f: ActiveFault, now: number): boolean =>
    (f.remaining === undefined || f.remaining > 0) && (f.until === undefined || now < f.until);
  return {
    add(spec) {
      if (!(spec.status >= 400 && spec.status <= 599))
        throw new RangeError('fault status must be 4xx or 5xx');
      if (spec.count !== undefined && !(Number.isInteger(spec.count) && spec.count > 0)) {
        throw new RangeError('fault count must be a positive integer');
      }
      if (spec.durationMs !== undefined && !(spec.durationMs > 0))
        throw new RangeError('fault durationMs must be > 0');
      const fault: ActiveFault = {
        ...spec,
        id: randomUUID(),
        until: spec.durationMs === undefined ? undefined : simNow() + spec.durationMs,
        remaining: spec.count,
        hits: 0,
      };
      faults.push(fault);
      return fault;
    },
    clear(id) {
      faults = id === undefined ? [] : faults.filter((f) => f.id !== id);
    },
    list() {
      const now = simNow();
      faults = faults.filter((f) => alive(f, now));
      return faults;
    },
    match(method, path) {
      const now = simNow();
      faults = faults.filter((f) => alive(f, now));
      const f = faults.find(
        (x) => path.startsWith(x.pathPrefix) && (x.method === undefined || x.method.toUpperCase() === method),
      );
      if (!f) return undefined;
      f.hits++;
      if (f.remaining !== undefined) f.remaining--;
      if (f.status === 429) return tooManyRequests(f.retryAfterSeconds ?? 1);
      return apiError(
        f.status,
        FAULT_CODES[f.status] ?? 'emulator.fault',
        `Injected fault (status ${f.status})`,
      );
    },
  };
}
