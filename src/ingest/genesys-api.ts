/**
 * The Genesys Cloud Platform API calls custody makes, through the official SDK
 * (purecloud-platform-client-v2): only these, never the whole SDK surface.
 *
 * - Auth: client-credentials grant; the token is renewed before it expires (at 80 % of its life) and
 *   once more on a 401.
 * - 429: waits for `Retry-After` (or back-off with jitter when absent) and retries; 5xx and network errors
 *   are retried with exponential back-off and jitter; other errors fail at once.
 * - Errors are rebuilt as `GenesysApiError` with status, Genesys error code and message only: the SDK's
 *   own errors carry request headers (the bearer token, the Basic credentials) and must never be logged.
 */
import platformClient from 'purecloud-platform-client-v2';
import type { Models } from 'purecloud-platform-client-v2';
import type { Secret } from '../config.ts';

type SdkClient = typeof platformClient.ApiClient;

export class GenesysApiError extends Error {
  readonly status: number | undefined;
  readonly code: string | undefined;
  readonly retryAfterMs: number | undefined;
  constructor(
    operation: string,
    status: number | undefined,
    code: string | undefined,
    message: string,
    retryAfterMs?: number,
  ) {
    super(`${operation}: ${status ?? 'network error'}${code ? ` ${code}` : ''}: ${message}`);
    this.name = 'GenesysApiError';
    this.status = status;
    this.code = code;
    this.retryAfterMs = retryAfterMs;
  }
  get retriable(): boolean {
    return this.status === undefined || this.status === 429 || this.status >= 500;
  }
}

/** The calls ingest needs. A port, so tests of the pipeline logic can substitute a recording fake. */
export interface GenesysApi {
  /**
   * Called after each token renewal. Genesys ends a channel when the token that last subscribed it expires,
   * so ingest resubscribes every channel with the new token.
   */
  onTokenRenewed(listener: () => void): void;
  listUsers(): AsyncIterable<Models.User>;
  getUserStations(userId: string): Promise<Models.UserStations>;
  getStation(stationId: string): Promise<Models.Station | undefined>;
  createChannel(): Promise<Models.Channel>;
  /** Replaces the channel's subscriptions (also extends the channel's life by 24 h). */
  putSubscriptions(channelId: string, topics: readonly string[]): Promise<Models.ChannelTopicEntityListing>;
  channelExists(channelId: string): Promise<boolean>;
  getCallConversation(conversationId: string): Promise<Models.CallConversation | undefined>;
  /** Conversations overlapping `interval` (ISO `start/end`) in which any of `userIds` took part. */
  queryConversationDetails(
    interval: string,
    userIds: readonly string[],
  ): Promise<Models.AnalyticsConversationWithoutAttributes[]>;
}

export interface SdkGenesysApiOptions {
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

export class SdkGenesysApi implements GenesysApi {
  readonly #client: SdkClient;
  readonly #opts: Required<Omit<SdkGenesysApiOptions, 'clientSecret'>> & { clientSecret: Secret };
  #tokenExpiresAt = 0;
  #tokenIssuedAt = 0;
  #login: Promise<void> | undefined;
  #renewalListeners: Array<() => void> = [];
  #cancelRenewal: (() => void) | undefined;
  #closed = false;

  constructor(opts: SdkGenesysApiOptions) {
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
    this.#client = new Ctor();
    const url = new URL(opts.apiUrl);
    const region = /^api\.(.+)$/.exec(url.hostname);
    if (url.protocol === 'https:' && region?.[1] && !url.port && url.pathname === '/')
      this.#client.setEnvironment(region[1]);
    else this.#client.setGateway(gatewayFor(opts.apiUrl));
    this.#client.setReturnExtendedResponses(true);
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
        const auth = await this.#client.loginClientCredentialsGrant(
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

  onTokenRenewed(listener: () => void): void {
    this.#renewalListeners.push(listener);
  }

  /** Stops the renewal timer. */
  close(): void {
    this.#closed = true;
    this.#cancelRenewal?.();
  }

  /** One API call with auth, renewal on 401, and retries for 429/5xx/network errors. */
  async #call<T>(operation: string, fn: () => Promise<unknown>): Promise<T> {
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

  async *listUsers(): AsyncIterable<Models.User> {
    const api = new platformClient.UsersApi(this.#client);
    for (let pageNumber = 1; ; pageNumber++) {
      const page = await this.#call<Models.UserEntityListing>('GET /api/v2/users', () =>
        api.getUsers({ pageSize: 500, pageNumber, state: 'active' }),
      );
      for (const u of page.entities ?? []) yield u;
      if (!page.pageCount || pageNumber >= page.pageCount || (page.entities ?? []).length === 0) return;
    }
  }

  getUserStations(userId: string): Promise<Models.UserStations> {
    const api = new platformClient.UsersApi(this.#client);
    return this.#call('GET /api/v2/users/{id}/station', () => api.getUserStation(userId));
  }

  async getStation(stationId: string): Promise<Models.Station | undefined> {
    const api = new platformClient.StationsApi(this.#client);
    try {
      return await this.#call<Models.Station>('GET /api/v2/stations/{id}', () => api.getStation(stationId));
    } catch (e) {
      if (e instanceof GenesysApiError && e.status === 404) return undefined;
      throw e;
    }
  }

  createChannel(): Promise<Models.Channel> {
    const api = new platformClient.NotificationsApi(this.#client);
    return this.#call('POST /api/v2/notifications/channels', () => api.postNotificationsChannels());
  }

  putSubscriptions(channelId: string, topics: readonly string[]): Promise<Models.ChannelTopicEntityListing> {
    const api = new platformClient.NotificationsApi(this.#client);
    return this.#call('PUT /api/v2/notifications/channels/{id}/subscriptions', () =>
      api.putNotificationsChannelSubscriptions(
        channelId,
        topics.map((id) => ({ id })),
        { ignoreErrors: true },
      ),
    );
  }

  async channelExists(channelId: string): Promise<boolean> {
    const api = new platformClient.NotificationsApi(this.#client);
    try {
      await this.#call('HEAD /api/v2/notifications/channels/{id}', () =>
        api.headNotificationsChannel(channelId),
      );
      return true;
    } catch (e) {
      if (e instanceof GenesysApiError && e.status === 404) return false;
      throw e;
    }
  }

  async getCallConversation(conversationId: string): Promise<Models.CallConversation | undefined> {
    const api = new platformClient.ConversationsApi(this.#client);
    try {
      return await this.#call<Models.CallConversation>('GET /api/v2/conversations/calls/{id}', () =>
        api.getConversationsCall(conversationId),
      );
    } catch (e) {
      if (e instanceof GenesysApiError && e.status === 404) return undefined;
      throw e;
    }
  }

  async queryConversationDetails(
    interval: string,
    userIds: readonly string[],
  ): Promise<Models.AnalyticsConversationWithoutAttributes[]> {
    const api = new platformClient.AnalyticsApi(this.#client);
    const out: Models.AnalyticsConversationWithoutAttributes[] = [];
    for (let pageNumber = 1; ; pageNumber++) {
      const body: Models.ConversationQuery = {
        interval,
        order: 'asc',
        orderBy: 'conversationStart',
        paging: { pageSize: 100, pageNumber },
        segmentFilters: [
          {
            type: 'or',
            predicates: userIds.map((id) => ({
              type: 'dimension',
              dimension: 'userId',
              operator: 'matches',
              value: id,
            })),
          },
        ],
      };
      const res = await this.#call<Models.AnalyticsConversationQueryResponse>(
        'POST /api/v2/analytics/conversations/details/query',
        () => api.postAnalyticsConversationsDetailsQuery(body),
      );
      const page = res.conversations ?? [];
      out.push(...page);
      if (page.length < 100 || out.length >= (res.totalHits ?? 0)) return out;
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
