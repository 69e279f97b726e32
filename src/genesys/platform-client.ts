/**
 * One authenticated connection to the Genesys Cloud Platform API through the official SDK
 * (purecloud-platform-client-v2), shared by the Genesys adapters of every role (ingest's notification calls,
 * `custody exports run`'s recording bulk jobs). Each adapter builds only the SDK API classes it needs on
 * {@link GenesysPlatformClient.sdk} and sends every call through {@link GenesysPlatformClient.call}.
 *
 * - Auth: client-credentials grant; the token is renewed before it expires (at 80 % of its life) and
 *   once more on a 401.
 * - 429: waits for `Retry-After` (or back-off with jitter when absent) and retries; 5xx and network errors
 *   are retried with exponential back-off and jitter; other errors fail at once.
 * - Errors are rebuilt as `GenesysApiError` with status, Genesys error code and message only: the SDK's
 *   own errors carry request headers (the bearer token, the Basic credentials) and must never be logged.
 *
 * A client of its own (never the SDK's process-wide singleton), so two roles or two tests in one process
 * never share a token.
 */
import { createRequire } from 'node:module';
import type Sdk from 'purecloud-platform-client-v2';
import type { Secret } from '../config.ts';

/**
 * The SDK, loaded with require(), and by every role from here. Imported as an ES module, its 3.9 MB of CommonJS
 * source was held twice (once more for the translation to ESM): 7.4 MiB more heap, 16 MiB more RSS, in every role
 * that talks to Genesys.
 */
export const platformClient: typeof Sdk = createRequire(import.meta.url)('purecloud-platform-client-v2');

/** The SDK's ApiClient type (what the SDK's API classes are constructed with). */
export type SdkClient = typeof platformClient.ApiClient;

export class GenesysApiError extends Error {
  /** `METHOD /path` with placeholders (or `oauth token`): what was called, never ids or bodies. */
  readonly operation: string;
  readonly status: number | undefined;
  readonly code: string | undefined;
  readonly retryAfterMs: number | undefined;
  /** Genesys's own error message (at most 300 characters), without the operation prefix. */
  readonly apiMessage: string;
  constructor(
    operation: string,
    status: number | undefined,
    code: string | undefined,
    message: string,
    retryAfterMs?: number,
  ) {
    super(`${operation}: ${status ?? 'network error'}${code ? ` ${code}` : ''}: ${message}`);
    this.name = 'GenesysApiError';
    this.operation = operation;
    this.status = status;
    this.code = code;
    this.retryAfterMs = retryAfterMs;
    this.apiMessage = message;
  }
  get retriable(): boolean {
    return this.status === undefined || this.status === 429 || this.status >= 500;
  }
}

export interface GenesysPlatformClientOptions {
  apiUrl: string;
  clientId: string;
  clientSecret: Secret;
  /** Retries for retriable failures before giving up (default 6). */
  maxRetries?: number;
  /** First back-off in ms (default 300), doubled per attempt, capped at `maxBackoffMs` (default 30 s). */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  /** Injected for tests; defaults to setTimeout. */
  sleep?: (ms: number) => Promise<void>;
  /** The clock token lifetimes are measured on, and a scheduler on it (defaults: the wall clock). */
  now?: () => number;
  scheduleAt?: (at: number, fn: () => void) => () => void;
}

interface ExtendedResponse<T> {
  status: number;
  headers: Record<string, string | undefined>;
  body: T;
}

interface ExtendedFailure {
  status?: number;
  headers?: Record<string, string | undefined>;
  body?: { code?: string; message?: string; error?: string; error_description?: string } | string;
}

/** Genesys API base URL → SDK gateway settings (the emulator is plain http on localhost). */
function gatewayFor(apiUrl: string) {
  const u = new URL(apiUrl);
  const path = u.pathname.replace(/\/$/, '');
  return {
    host: u.hostname,
    protocol: u.protocol.replace(':', ''),
    port: u.port ? Number(u.port) : undefined,
    path_params_login: path,
    path_params_api: path,
  };
}

export class GenesysPlatformClient {
  /** The SDK ApiClient: construct SDK API classes with it (`new platformClient.RecordingApi(client.sdk)`). */
  readonly sdk: SdkClient;
  readonly #opts: Required<Omit<GenesysPlatformClientOptions, 'clientSecret'>> & { clientSecret: Secret };
  #tokenExpiresAt = 0;
  #tokenIssuedAt = 0;
  #login: Promise<void> | undefined;
  #renewalListeners: Array<() => void> = [];
  #cancelRenewal: (() => void) | undefined;
  #closed = false;

  constructor(opts: GenesysPlatformClientOptions) {
    this.#opts = {
      maxRetries: 6,
      baseBackoffMs: 300,
      maxBackoffMs: 30_000,
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
      now: () => Date.now(),
      scheduleAt: (at, fn) => {
        const t = setTimeout(fn, Math.max(0, at - this.#opts.now()));
        t.unref?.();
        return () => clearTimeout(t);
      },
      ...opts,
    };
    // A client of our own, not the SDK's process-wide singleton.
    const Ctor = platformClient.ApiClient.constructor as new () => SdkClient;
    this.sdk = new Ctor();
    const url = new URL(opts.apiUrl);
    const region = /^api\.(.+)$/.exec(url.hostname);
    if (url.protocol === 'https:' && region?.[1] && !url.port && url.pathname === '/')
      this.sdk.setEnvironment(region[1]);
    else this.sdk.setGateway(gatewayFor(opts.apiUrl));
    this.sdk.setReturnExtendedResponses(true);
  }

  async #ensureToken(force = false): Promise<void> {
    const now = this.#opts.now();
    const renewAt = this.#tokenIssuedAt + (this.#tokenExpiresAt - this.#tokenIssuedAt) * 0.8;
    if (!force && this.#tokenExpiresAt > 0 && now < renewAt) return;
    this.#login ??= (async () => {
      try {
        const renewal = this.#tokenExpiresAt > 0;
        const issuedAt = this.#opts.now();
        const wallBefore = Date.now();
        const auth = await this.sdk.loginClientCredentialsGrant(
          this.#opts.clientId,
          this.#opts.clientSecret.reveal(),
        );
        // The SDK stamps expiry on the wall clock; keep the lifetime and re-base it on our clock.
        const lifetimeMs = auth.tokenExpiryTime
          ? Math.max(1_000, auth.tokenExpiryTime - wallBefore)
          : 3_600_000;
        this.#tokenIssuedAt = issuedAt;
        this.#tokenExpiresAt = issuedAt + lifetimeMs;
        this.#scheduleRenewal(issuedAt + lifetimeMs * 0.8);
        if (renewal) for (const l of this.#renewalListeners) l();
      } catch (e) {
        throw sanitize('oauth token', e);
      } finally {
        this.#login = undefined;
      }
    })();
    return this.#login;
  }

  /** Renews before expiry even when no call is made: an idle client would otherwise lose its channels. */
  #scheduleRenewal(at: number): void {
    this.#cancelRenewal?.();
    if (this.#closed) return;
    this.#cancelRenewal = this.#opts.scheduleAt(at, () => {
      this.#ensureToken(true).catch(() => {
        // The next API call retries the login and reports the error.
        this.#scheduleRenewal(this.#opts.now() + 5_000);
      });
    });
  }

  /** Called after each token renewal (not after the first login). */
  onTokenRenewed(listener: () => void): void {
    this.#renewalListeners.push(listener);
  }

  /** Stops the renewal timer. */
  close(): void {
    this.#closed = true;
    this.#cancelRenewal?.();
  }

  /**
   * One API call with auth, renewal on 401, and retries for 429/5xx/network errors.
   * @param operation `METHOD /path` with placeholders, used in errors (never ids or bodies).
   * @throws {GenesysApiError} the sanitized failure once it is not retriable or retries are used up.
   */
  async call<T>(operation: string, fn: () => Promise<unknown>): Promise<T> {
    let renewedOn401 = false;
    for (let attempt = 0; ; attempt++) {
      await this.#ensureToken();
      try {
        const res = (await fn()) as ExtendedResponse<T>;
        return res.body;
      } catch (e) {
        const err = sanitize(operation, e);
        if (err.status === 401 && !renewedOn401) {
          renewedOn401 = true;
          await this.#ensureToken(true);
          continue;
        }
        if (!err.retriable || attempt >= this.#opts.maxRetries) throw err;
        const backoff = Math.min(this.#opts.maxBackoffMs, this.#opts.baseBackoffMs * 2 ** attempt);
        // Full jitter spreads the retries of many instances; Retry-After is a floor we always honour.
        const wait = Math.max(err.retryAfterMs ?? 0, backoff / 2 + (Math.random() * backoff) / 2);
        await this.#opts.sleep(wait);
      }
    }
  }
}

function header(headers: Record<string, string | undefined> | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name) return v;
  return undefined;
}

/** Turns whatever the SDK rejected with into a GenesysApiError that holds no headers or credentials. */
export function sanitize(operation: string, e: unknown): GenesysApiError {
  if (e instanceof GenesysApiError) return e;
  const f = (typeof e === 'object' && e !== null ? e : {}) as ExtendedFailure & {
    response?: ExtendedFailure & { data?: ExtendedFailure['body'] };
  };
  // Extended responses put status/headers/body on the object; the login call rejects with an axios-style error.
  const status = f.status ?? f.response?.status;
  const headers = f.headers ?? f.response?.headers;
  const body = f.body ?? f.response?.data;
  const retryAfter = header(headers, 'retry-after');
  const retryAfterMs =
    retryAfter !== undefined && /^\d+$/.test(retryAfter) ? Number(retryAfter) * 1000 : undefined;
  let code: string | undefined;
  let message = 'request failed';
  if (typeof body === 'object' && body !== null) {
    code = body.code ?? body.error;
    message = body.message ?? body.error_description ?? message;
  } else if (status === undefined && e instanceof Error) {
    // Network errors: keep the class of failure (ECONNREFUSED, timeout), not the request details.
    message = (e as Error & { code?: string }).code ?? e.name;
  }
  return new GenesysApiError(operation, status, code, message.slice(0, 300), retryAfterMs);
}
