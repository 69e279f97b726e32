/**
 * The test/control API: the same operations as methods on the `control` object returned by
 * `startEmulator` and as HTTP routes under `/__control/...` (no OAuth, never faulted or rate limited).
 * Emit events, move time, schedule conversations, inject socket and REST faults, revoke tokens and read
 * the ground truth and the delivery log.
 */
import { z } from 'zod';
import type { ConversationKind, ConversationScript, ScriptedEvent } from '../model.ts';
import { apiError, type ApiRequest, type ApiResponse, type Routes, type SimClock } from './context.ts';
import type { TokenStore } from './auth.ts';
import type { ActiveFault, FaultInjector, FaultSpec, RateLimiter } from './rate-limit.ts';
import type { ChannelRegistry, DeliveryKind, DeliveryRecord } from './notifications-channels.ts';
import type { SocketHub, SocketRecord } from './notifications-socket.ts';
import type { EventBridgeOutput } from './eventbridge.ts';

/** Every conversation kind, checked against the model's union at compile time. */
export const CONVERSATION_KINDS = [
  'inbound-acd-webrtc',
  'outbound-webrtc',
  'blind-transfer',
  'consult-transfer',
  'same-agent-multiple-legs',
  'persistent-connection',
  'sip-desk-phone',
  'unrecorded',
  'hour-boundary',
] as const satisfies readonly ConversationKind[];
type MissingKind = Exclude<ConversationKind, (typeof CONVERSATION_KINDS)[number]>;
const _allKinds: MissingKind extends never ? true : never = true;
void _allKinds;

export interface ChannelSummary {
  readonly id: string;
  readonly clientId: string;
  readonly createdAt: number;
  readonly lastUsed: number;
  readonly expiresAt: number;
  readonly connected: boolean;
  readonly topics: readonly string[];
}

export interface DeliveryFilter {
  readonly channelId?: string;
  readonly topicName?: string;
  readonly kind?: DeliveryKind;
  /** Only records that reached a socket (true) or were lost (false). */
  readonly delivered?: boolean;
}

export interface EmulatorControl {
  /** Simulated now (epoch ms). */
  now(): number;
  /** Publishes an arbitrary event to every subscribed channel; returns the number of sockets reached. */
  emit(event: Pick<ScriptedEvent, 'topicName' | 'eventBody'>): number;
  /** Jumps simulated time forward, firing every due timer in order. */
  advance(ms: number): Promise<void>;
  /** Builds a conversation of `kind` starting now (or at `startTime`) and schedules its events. */
  scheduleConversation(
    kind: ConversationKind,
    opts?: { durationSeconds?: number; startTime?: number; userId?: string },
  ): ConversationScript;
  /** Publishes the station events of a user (re)associating with a station now (logout when omitted). */
  changeStation(userId: string, stationId?: string): void;
  /** Closes a channel's socket without a close frame. */
  dropSocket(channelId: string): boolean;
  pauseHeartbeats(channelId?: string): void;
  /** The socket stays open but receives nothing (no events, heartbeats or pongs) until un-stalled. */
  stallSocket(channelId: string, stalled?: boolean): void;
  resumeHeartbeats(channelId?: string): void;
  /**
   * Sends `v2.system.socket_closing`; the socket is closed after the grace period unless replaced. With
   * `refuseReconnect` the channel's connectUri refuses new sockets (503), so the client must open a new channel.
   */
  sendSocketClosing(channelId: string, opts?: { refuseReconnect?: boolean }): boolean;
  /** Expires a channel now (its socket gets the 404 message and is closed). */
  expireChannel(channelId: string): boolean;
  /** Evicts a channel as the 21st-channel quota would. */
  evictChannel(channelId: string): boolean;
  /** Drops topics (all when omitted) server-side and sends `v2.system.no_longer_subscribed.{channelId}`. */
  noLongerSubscribed(channelId: string, topics?: readonly string[]): readonly string[] | undefined;
  /** Forces a status on matching REST requests (count and/or simulated duration). */
  failRest(spec: FaultSpec): ActiveFault;
  clearFaults(id?: string): void;
  faults(): readonly ActiveFault[];
  /** Revokes every token (of one client); channels owned by them get `token_revoked` then 404. */
  revokeTokens(clientId?: string): number;
  resetRateLimits(): void;
  /** Every conversation script scheduled so far (started or not). */
  groundTruth(): readonly ConversationScript[];
  deliveries(filter?: DeliveryFilter): readonly DeliveryRecord[];
  channels(): readonly ChannelSummary[];
  sockets(): readonly SocketRecord[];
  /**
   * Calls `listener` as each socket is attached to its channel, before anything is sent on it (a test acts at that
   * moment, e.g. publishes while a replaced socket is still open); returns a function that removes it.
   */
  onSocketConnected(listener: (socket: SocketRecord) => void): () => void;
}

export interface ControlDeps {
  readonly clock: SimClock;
  readonly registry: ChannelRegistry;
  readonly hub: SocketHub;
  readonly tokens: TokenStore;
  readonly faults: FaultInjector;
  readonly rateLimiter?: RateLimiter;
  readonly scripts: () => readonly ConversationScript[];
  readonly scheduleConversation: EmulatorControl['scheduleConversation'];
  readonly changeStation: EmulatorControl['changeStation'];
}

/** Creates the control object. */
export function createControl(deps: ControlDeps): EmulatorControl {
  const { registry, hub } = deps;
  return {
    now: () => deps.clock.now(),
    emit: (event) => registry.publish(event),
    advance: (ms) => deps.clock.advance(ms),
    scheduleConversation: deps.scheduleConversation,
    changeStation: deps.changeStation,
    dropSocket: (id) => hub.dropSocket(id),
    pauseHeartbeats: (id) => hub.setHeartbeats(false, id),
    stallSocket: (id, stalled = true) => hub.setStalled(id, stalled),
    resumeHeartbeats: (id) => hub.setHeartbeats(true, id),
    sendSocketClosing: (id, opts) => hub.sendSocketClosing(id, opts),
    expireChannel: (id) => registry.remove(id, 'expired'),
    evictChannel: (id) => registry.remove(id, 'evicted'),
    noLongerSubscribed: (id, topics) => hub.noLongerSubscribed(id, topics),
    failRest: (spec) => deps.faults.add(spec),
    clearFaults: (id) => deps.faults.clear(id),
    faults: () => deps.faults.list(),
    revokeTokens: (clientId) => deps.tokens.revoke(clientId),
    resetRateLimits: () => deps.rateLimiter?.reset(),
    groundTruth: () => deps.scripts(),
    deliveries: (f = {}) =>
      registry
        .deliveries()
        .filter(
          (d) =>
            (f.channelId === undefined || d.channelId === f.channelId) &&
            (f.topicName === undefined || d.topicName === f.topicName) &&
            (f.kind === undefined || d.kind === f.kind) &&
            (f.delivered === undefined || d.delivered === f.delivered),
        ),
    channels: () =>
      registry.all().map((c) => ({
        id: c.id,
        clientId: c.clientId,
        createdAt: c.createdAt,
        lastUsed: c.lastUsed,
        expiresAt: c.expiresAt,
        connected: c.socket !== undefined,
        topics: [...c.subscriptions.keys()],
      })),
    sockets: () => hub.sockets(),
    onSocketConnected: (listener) => hub.onConnected(listener),
  };
}

const emitBody = z.object({
  topicName: z.string().min(1).max(500),
  eventBody: z.record(z.string(), z.unknown()),
});
const advanceBody = z.object({ ms: z.number().finite().min(0) });
const conversationBody = z.object({
  kind: z.enum(CONVERSATION_KINDS),
  durationSeconds: z.number().positive().optional(),
  startTime: z.number().finite().optional(),
  userId: z.string().min(1).max(100).optional(),
});
const stationBody = z.object({
  userId: z.string().min(1).max(100),
  stationId: z.string().min(1).max(100).optional(),
});
const channelBody = z.object({ channelId: z.string().min(1).max(100).optional() }).optional();
const topicsBody = z.object({ topics: z.array(z.string()).optional() }).optional();
const socketClosingBody = z.object({ refuseReconnect: z.boolean().optional() }).optional();
const faultBody = z.object({
  pathPrefix: z.string().startsWith('/'),
  method: z.string().optional(),
  status: z.number().int().min(400).max(599),
  count: z.number().int().positive().optional(),
  durationMs: z.number().positive().optional(),
  retryAfterSeconds: z.number().int().positive().optional(),
});
const revokeBody = z.object({ clientId: z.string().optional() }).optional();
const deliveryKinds = ['event', 'system', 'channel-gone'] as const satisfies readonly DeliveryKind[];

const ok = (body: unknown = { ok: true }): ApiResponse => ({ status: 200, body });
const invalid = (err: z.ZodError): ApiResponse => apiError(400, 'bad.request', z.prettifyError(err));
const found = (done: boolean, what: string): ApiResponse =>
  done ? ok() : apiError(404, 'not.found', `${what} not found`);

/** Registers the `/__control` routes (public: no OAuth). */
export function registerControlRoutes(
  routes: Routes,
  control: EmulatorControl,
  eventBridge?: EventBridgeOutput,
): void {
  const C = '/__control';
  const channelId = (req: ApiRequest) => req.params['channelId'] ?? '';
  const body = <T>(
    schema: z.ZodType<T>,
    req: ApiRequest,
    then: (v: T) => ApiResponse | Promise<ApiResponse>,
  ) => {
    const parsed = schema.safeParse(req.body);
    return parsed.success ? then(parsed.data) : invalid(parsed.error);
  };
  const add = (
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    h: (req: ApiRequest) => ApiResponse | Promise<ApiResponse>,
  ) => routes.add(method, `${C}${path}`, h, { public: true });

  if (eventBridge) {
    // EventBridge output (platform/eventbridge.ts): a malformed event, and an at-least-once redelivery.
    add('POST', '/eventbridge/raw', (req) =>
      body(z.object({ value: z.string() }), req, async (b) => {
        eventBridge.sendRaw(b.value);
        await eventBridge.flush();
        return ok({ sent: eventBridge.sent() });
      }),
    );
    add('POST', '/eventbridge/redeliver', (req) =>
      body(z.object({ count: z.number().int().min(1).max(1_000) }), req, async (b) => {
        const redelivered = eventBridge.redeliver(b.count);
        await eventBridge.flush();
        return ok({ redelivered });
      }),
    );
    add(
      'POST',
      '/eventbridge/flush',
      async () => (await eventBridge.flush(), ok({ sent: eventBridge.sent() })),
    );
  }
  add('GET', '/clock', () => ok({ now: control.now(), iso: new Date(control.now()).toISOString() }));
  add('POST', '/advance', (req) =>
    body(advanceBody, req, async (b) => (await control.advance(b.ms), ok({ now: control.now() }))),
  );
  add('POST', '/emit', (req) => body(emitBody, req, (b) => ok({ delivered: control.emit(b) })));
  add('POST', '/conversations', (req) =>
    body(conversationBody, req, (b) => {
      let s: ConversationScript;
      try {
        s = control.scheduleConversation(b.kind, b);
      } catch (err) {
        // The simulation rejects options that do not fit the kind (e.g. a user without the right station).
        return apiError(400, 'bad.request', err instanceof Error ? err.message : String(err));
      }
      return ok({
        conversationId: s.conversationId,
        kind: s.kind,
        startTime: s.startTime,
        endTime: s.endTime,
      });
    }),
  );
  add('POST', '/station-changes', (req) =>
    body(stationBody, req, (b) => (control.changeStation(b.userId, b.stationId), ok())),
  );
  add('POST', '/channels/:channelId/drop-socket', (req) =>
    found(control.dropSocket(channelId(req)), 'connected channel'),
  );
  add('POST', '/channels/:channelId/socket-closing', (req) =>
    body(socketClosingBody, req, (b) =>
      found(
        control.sendSocketClosing(channelId(req), { refuseReconnect: b?.refuseReconnect }),
        'connected channel',
      ),
    ),
  );
  add('POST', '/channels/:channelId/expire', (req) =>
    found(control.expireChannel(channelId(req)), 'channel'),
  );
  add('POST', '/channels/:channelId/evict', (req) => found(control.evictChannel(channelId(req)), 'channel'));
  add('POST', '/channels/:channelId/no-longer-subscribed', (req) =>
    body(topicsBody, req, (b) => {
      const removed = control.noLongerSubscribed(channelId(req), b?.topics);
      return removed ? ok({ removed }) : apiError(404, 'not.found', 'channel not found');
    }),
  );
  add('POST', '/heartbeats/pause', (req) =>
    body(channelBody, req, (b) => (control.pauseHeartbeats(b?.channelId), ok())),
  );
  add('POST', '/heartbeats/resume', (req) =>
    body(channelBody, req, (b) => (control.resumeHeartbeats(b?.channelId), ok())),
  );
  add('POST', '/faults', (req) => body(faultBody, req, (b) => ok(control.failRest(b))));
  add('GET', '/faults', () => ok({ entities: control.faults() }));
  add('DELETE', '/faults', () => (control.clearFaults(), ok()));
  add('POST', '/tokens/revoke', (req) =>
    body(revokeBody, req, (b) => ok({ revoked: control.revokeTokens(b?.clientId) })),
  );
  add('POST', '/rate-limits/reset', () => (control.resetRateLimits(), ok()));
  add('GET', '/ground-truth', () => ok({ entities: control.groundTruth() }));
  add('GET', '/channels', () => ok({ entities: control.channels() }));
  add('GET', '/sockets', () => ok({ entities: control.sockets() }));
  add('GET', '/deliveries', (req) => {
    const kind = req.query.get('kind');
    if (kind !== null && !deliveryKinds.some((k) => k === kind))
      return apiError(400, 'bad.request', 'unknown kind');
    const delivered = req.query.get('delivered');
    return ok({
      entities: control.deliveries({
        channelId: req.query.get('channelId') ?? undefined,
        topicName: req.query.get('topicName') ?? undefined,
        kind: deliveryKinds.find((k) => k === kind),
        delivered: delivered === null ? undefined : delivered === 'true',
      }),
    });
  });
}
