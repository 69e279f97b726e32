/**
 * The Notification API: REST routes for channels and subscriptions and the topic listing, wired to the
 * channel registry and the WebSocket hub. Paths and shapes follow the SDK's `NotificationsApi`.
 */
import { apiError, type ApiRequest, type ApiResponse, type Routes, type SimClock } from './context.ts';
import { parseBearer, type TokenStore } from './auth.ts';
import { createChannelRegistry, type ChannelRegistry, type ChannelState } from './notifications-channels.ts';
import { createSocketHub, type SocketHub } from './notifications-socket.ts';
import { availableTopics, type TopicRules } from './notifications-topics.ts';

export interface NotificationOptions {
  readonly clock: SimClock;
  readonly routes: Routes;
  readonly tokens: TokenStore;
  readonly orgId: string;
  readonly baseWsUrl: () => string;
  readonly heartbeatIntervalMs: number;
  readonly channelTtlMs: number;
  readonly socketClosingGraceMs: number;
  readonly maxChannelsPerClient: number;
  readonly maxTopicsPerChannel: number;
  readonly topicRules: TopicRules;
  readonly correlationIdPer: 'event' | 'delivery';
  /** A channel is removed when the token that last subscribed it expires or is revoked (see README). */
  readonly channelsDieWithToken: boolean;
  readonly deliveryLogLimit: number;
  readonly log?: (line: string) => void;
}

export interface Notifications {
  readonly registry: ChannelRegistry;
  readonly hub: SocketHub;
  close(): Promise<void>;
}

const BASE = '/api/v2/notifications';

/** Creates the notification service and registers its routes. */
export function createNotifications(opts: NotificationOptions): Notifications {
  const registry = createChannelRegistry({
    clock: opts.clock,
    baseWsUrl: opts.baseWsUrl,
    channelTtlMs: opts.channelTtlMs,
    maxChannelsPerClient: opts.maxChannelsPerClient,
    maxTopicsPerChannel: opts.maxTopicsPerChannel,
    topicRules: opts.topicRules,
    correlationIdPer: opts.correlationIdPer,
    deliveryLogLimit: opts.deliveryLogLimit,
  });
  const hub = createSocketHub({
    clock: opts.clock,
    registry,
    orgId: opts.orgId,
    heartbeatIntervalMs: opts.heartbeatIntervalMs,
    socketClosingGraceMs: opts.socketClosingGraceMs,
    log: opts.log,
  });
  if (opts.channelsDieWithToken) {
    opts.tokens.onInvalidated((tokenKey, reason) => {
      for (const ch of registry.ownedByToken(tokenKey)) {
        if (reason === 'revoked') hub.tokenRevoked(ch);
        registry.remove(ch.id, 'token');
      }
    });
  }
  registerNotificationRoutes(opts.routes, registry, opts.tokens);
  return {
    registry,
    hub,
    async close() {
      registry.stop();
      await hub.close();
    },
  };
}

const notFound = (id: string): ApiResponse =>
  apiError(404, 'not.found', `Channel ${id.slice(0, 100)} was not found.`);

function tokenKey(req: ApiRequest, tokens: TokenStore): string {
  const token = parseBearer(req.headers['authorization']);
  return token === undefined ? 'none' : tokens.keyOf(token);
}

/** Parses `[{ "id": "topic" }, ...]`; undefined when the body has another shape. */
function topicIds(body: unknown): string[] | undefined {
  if (!Array.isArray(body)) return undefined;
  const ids: string[] = [];
  for (const item of body) {
    if (typeof item !== 'object' || item === null) return undefined;
    const id = (item as Record<string, unknown>)['id'];
    if (typeof id !== 'string') return undefined;
    ids.push(id);
  }
  return ids;
}

function booleanParam(query: URLSearchParams, name: string): boolean | 'invalid' {
  const v = query.get(name);
  if (v === null || v === '') return false;
  if (v === 'true') return true;
  if (v === 'false') return false;
  return 'invalid';
}

function registerNotificationRoutes(routes: Routes, registry: ChannelRegistry, tokens: TokenStore): void {
  /** The caller's channel, or undefined (another client's channel is as good as missing). */
  const owned = (req: ApiRequest): ChannelState | undefined => {
    const ch = registry.get(req.params['channelId'] ?? '');
    return ch && ch.clientId === req.clientId ? ch : undefined;
  };

  routes.add('POST', `${BASE}/channels`, (req) => {
    const ch = registry.create(req.clientId ?? '', tokenKey(req, tokens));
    return { status: 200, body: registry.toChannel(ch) };
  });

  routes.add('GET', `${BASE}/channels`, (req) => {
    const include = req.query.get('includechannels') ?? 'token';
    if (include !== 'token' && include !== 'oauthclient') {
      return apiError(400, 'bad.request', 'includechannels must be "token" or "oauthclient".');
    }
    const key = tokenKey(req, tokens);
    const entities = registry
      .all()
      .filter((c) => c.clientId === req.clientId && (include === 'oauthclient' || c.createdByToken === key))
      .map((c) => registry.toChannel(c));
    return { status: 200, body: { entities } };
  });

  routes.add('HEAD', `${BASE}/channels/:channelId`, (req) =>
    owned(req) ? { status: 200 } : { status: 404 },
  );

  routes.add('GET', `${BASE}/channels/:channelId/subscriptions`, (req) => {
    const ch = owned(req);
    return ch ? { status: 200, body: registry.listing(ch) } : notFound(req.params['channelId'] ?? '');
  });

  const subscribe =
    (mode: 'replace' | 'add') =>
    (req: ApiRequest): ApiResponse => {
      const ch = owned(req);
      if (!ch) return notFound(req.params['channelId'] ?? '');
      const ids = topicIds(req.body);
      if (!ids) return apiError(400, 'bad.request', 'The body must be a list of {"id": "<topic>"} objects.');
      const ignoreErrors = booleanParam(req.query, 'ignoreErrors');
      if (ignoreErrors === 'invalid')
        return apiError(400, 'bad.request', 'ignoreErrors must be true or false.');
      const result = registry.subscribe(ch, mode, ids, ignoreErrors, tokenKey(req, tokens));
      return result.ok
        ? { status: 200, body: result.listing }
        : apiError(result.status, result.code, result.message);
    };
  routes.add('PUT', `${BASE}/channels/:channelId/subscriptions`, subscribe('replace'));
  routes.add('POST', `${BASE}/channels/:channelId/subscriptions`, subscribe('add'));

  routes.add('DELETE', `${BASE}/channels/:channelId/subscriptions`, (req) => {
    const ch = owned(req);
    if (!ch) return notFound(req.params['channelId'] ?? '');
    registry.unsubscribe(ch);
    return { status: 204 };
  });

  routes.add('GET', `${BASE}/availabletopics`, () => ({ status: 200, body: availableTopics() }));
}
