/**
 * Notification channels: creation with the 20-per-client quota and eviction, subscriptions (replace / add,
 * 1,000 topics, combined topics counting as one), expiry `channelTtlMs` after the last (re)subscribe, the
 * channel's single WebSocket, and fan-out of published events with no durability: an event for a channel
 * without a connected socket is lost (and recorded as lost in the delivery log).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Models } from 'purecloud-platform-client-v2';
import type { ScriptedEvent } from '../model.ts';
import type { SimClock } from './context.ts';
import { checkTopic, type TopicRules } from './notifications-topics.ts';

/** What the registry needs from a connected WebSocket. */
export interface SocketLink {
  readonly id: string;
  send(text: string): void;
  /** Closes with a close frame. */
  close(code: number, reason: string): void;
  /** Drops the connection without a close frame. */
  terminate(): void;
}

export interface ChannelState {
  readonly id: string;
  readonly clientId: string;
  /** Token (key) that created the channel: `includechannels=token` lists by it. */
  readonly createdByToken: string;
  /** Token (key) of the last subscribe; the channel dies with it (see README). */
  ownerToken: string;
  readonly createdAt: number;
  lastUsed: number;
  expiresAt: number;
  /** Requested topic (possibly combined) → the concrete topics it expands to. */
  readonly subscriptions: Map<string, readonly string[]>;
  socket?: SocketLink;
  cancelExpiry: () => void;
}

export type DeliveryKind = 'event' | 'system' | 'channel-gone';

/** One message the platform sent (or would have sent) to a channel: the test's view of "what was seen". */
export interface DeliveryRecord {
  readonly seq: number;
  /** Simulated time of sending. */
  readonly at: number;
  readonly channelId: string;
  /** The socket it went to; undefined when no socket was connected (then `delivered` is false). */
  readonly socketId?: string;
  readonly delivered: boolean;
  readonly kind: DeliveryKind;
  readonly topicName?: string;
  readonly correlationId?: string;
  /** The message object that was serialised and sent (event bodies are shared, do not mutate). */
  readonly message: unknown;
}

export type RemovalReason = 'expired' | 'evicted' | 'token';

export interface ChannelRegistryOptions {
  readonly clock: SimClock;
  readonly baseWsUrl: () => string;
  readonly channelTtlMs: number;
  readonly maxChannelsPerClient: number;
  readonly maxTopicsPerChannel: number;
  readonly topicRules: TopicRules;
  /** `event`: one CorrelationId per published event (shared by every channel); `delivery`: one per send. */
  readonly correlationIdPer: 'event' | 'delivery';
  /** Most delivery records kept (oldest dropped first). */
  readonly deliveryLogLimit: number;
}

export type SubscribeResult =
  | { readonly ok: true; readonly listing: Models.ChannelTopicEntityListing }
  | { readonly ok: false; readonly status: 400; readonly code: string; readonly message: string };

/** The `{"result":"404"}` message sent to a socket whose channel is gone (form UNCONFIRMED, see README). */
export const CHANNEL_GONE_MESSAGE = { result: '404' } as const;

export type ChannelRegistry = ReturnType<typeof createChannelRegistry>;

/** Creates the channel registry. All times are simulated. */
export function createChannelRegistry(opts: ChannelRegistryOptions) {
  const { clock } = opts;
  const channels = new Map<string, ChannelState>();
  /** Concrete topic → channels subscribed to it (directly or through a combined topic). */
  const byTopic = new Map<string, Set<string>>();
  const log: DeliveryRecord[] = [];
  let seq = 0;
  const removalListeners: Array<(ch: ChannelState, reason: RemovalReason) => void> = [];

  const record = (r: Omit<DeliveryRecord, 'seq' | 'at'>): void => {
    log.push({ seq: seq++, at: clock.now(), ...r });
    // Trimmed in chunks (deliveries() shows the newest deliveryLogLimit): dropping the oldest record on every send
    // once the log was full moved the whole log each time, ~0.8 MB per frame at the default 100,000.
    if (log.length >= 2 * opts.deliveryLogLimit) log.splice(0, log.length - opts.deliveryLogLimit);
  };

  const concreteTopics = (ch: ChannelState): Set<string> => new Set([...ch.subscriptions.values()].flat());

  const reindex = (ch: ChannelState, before: Set<string>): void => {
    const after = concreteTopics(ch);
    for (const t of before) {
      if (after.has(t)) continue;
      const set = byTopic.get(t);
      set?.delete(ch.id);
      if (set?.size === 0) byTopic.delete(t);
    }
    for (const t of after) {
      let set = byTopic.get(t);
      if (!set) byTopic.set(t, (set = new Set()));
      set.add(ch.id);
    }
  };

  const scheduleExpiry = (ch: ChannelState): void => {
    ch.cancelExpiry();
    ch.expiresAt = clock.now() + opts.channelTtlMs;
    ch.cancelExpiry = clock.at(ch.expiresAt, () => remove(ch.id, 'expired'));
  };

  /** Sends a message to the channel's socket and records it. */
  const sendTo = (
    ch: ChannelState,
    kind: DeliveryKind,
    message: object,
    topicName?: string,
    correlationId?: string,
  ) => {
    const socket = ch.socket;
    if (socket) socket.send(JSON.stringify(message));
    record({
      channelId: ch.id,
      socketId: socket?.id,
      delivered: socket !== undefined,
      kind,
      topicName,
      correlationId,
      message,
    });
  };

  /** Removes a channel; its socket gets the 404 message and is closed. */
  const remove = (channelId: string, reason: RemovalReason): boolean => {
    const ch = channels.get(channelId);
    if (!ch) return false;
    ch.cancelExpiry();
    const before = concreteTopics(ch);
    ch.subscriptions.clear();
    reindex(ch, before);
    channels.delete(channelId);
    const socket = ch.socket;
    if (socket) {
      sendTo(ch, 'channel-gone', CHANNEL_GONE_MESSAGE);
      ch.socket = undefined;
      socket.close(1000, `channel ${reason}`);
    }
    for (const l of removalListeners) l(ch, reason);
    return true;
  };

  const toListing = (
    ch: ChannelState,
    extra: Models.ChannelTopic[] = [],
  ): Models.ChannelTopicEntityListing => ({
    entities: [
      ...[...ch.subscriptions.keys()].map((id) => ({
        id,
        state: 'Permitted',
        selfUri: `/api/v2/notifications/channels/${ch.id}/subscriptions`,
      })),
      ...extra,
    ],
  });

  return {
    /** Creates a channel for a client, evicting its least recently used one beyond the quota. */
    create(clientId: string, tokenKey: string): ChannelState {
      const own = [...channels.values()].filter((c) => c.clientId === clientId);
      if (own.length >= opts.maxChannelsPerClient) {
        const byAge = (a: ChannelState, b: ChannelState) => a.lastUsed - b.lastUsed;
        // "Channels without an active connection will be removed first."
        const victim = own.filter((c) => !c.socket).sort(byAge)[0] ?? [...own].sort(byAge)[0];
        if (victim) remove(victim.id, 'evicted');
      }
      const now = clock.now();
      const ch: ChannelState = {
        id: `streaming-0-${randomBytes(16).toString('hex').slice(0, 26)}`,
        clientId,
        createdByToken: tokenKey,
        ownerToken: tokenKey,
        createdAt: now,
        lastUsed: now,
        expiresAt: now,
        subscriptions: new Map(),
        cancelExpiry: () => undefined,
      };
      channels.set(ch.id, ch);
      scheduleExpiry(ch);
      return ch;
    },

    get: (channelId: string): ChannelState | undefined => channels.get(channelId),
    all: (): readonly ChannelState[] => [...channels.values()],

    toChannel(ch: ChannelState): Models.Channel {
      return {
        id: ch.id,
        connectUri: `${opts.baseWsUrl()}/channels/${ch.id}`,
        expires: new Date(ch.expiresAt).toISOString(),
      };
    },

    listing: toListing,

    /**
     * Replaces (`replace`) or extends (`add`) a channel's subscriptions. Invalid topics fail the request
     * with 400 unless `ignoreErrors`, which reports them per topic instead. Over the topic limit is always 400.
     * A successful call extends the channel's life and makes `tokenKey` its owner.
     */
    subscribe(
      ch: ChannelState,
      mode: 'replace' | 'add',
      requested: readonly string[],
      ignoreErrors: boolean,
      tokenKey?: string,
    ): SubscribeResult {
      const accepted = new Map<string, readonly string[]>();
      const rejected: Models.ChannelTopic[] = [];
      for (const id of requested) {
        const check = checkTopic(id, opts.topicRules);
        if (check.ok) accepted.set(id, check.topics);
        else rejected.push({ id, state: 'Rejected', rejectionReason: check.reason });
      }
      if (rejected.length > 0 && !ignoreErrors) {
        const list = rejected.map((r) => `${(r.id ?? '').slice(0, 210)} (${r.rejectionReason})`).join(', ');
        return { ok: false, status: 400, code: 'bad.request', message: `Invalid topics: ${list}` };
      }
      const next = new Map(mode === 'replace' ? [] : ch.subscriptions);
      for (const [id, topics] of accepted) next.set(id, topics);
      if (next.size > opts.maxTopicsPerChannel) {
        return {
          ok: false,
          status: 400,
          code: 'bad.request',
          message: `A channel may subscribe to at most ${opts.maxTopicsPerChannel} topics (requested ${next.size}).`,
        };
      }
      const before = concreteTopics(ch);
      ch.subscriptions.clear();
      for (const [id, topics] of next) ch.subscriptions.set(id, topics);
      reindex(ch, before);
      ch.lastUsed = clock.now();
      if (tokenKey) ch.ownerToken = tokenKey;
      scheduleExpiry(ch);
      return { ok: true, listing: toListing(ch, rejected) };
    },

    /** Removes the given requested topics (or all); returns the ids that were removed. */
    unsubscribe(ch: ChannelState, topics?: readonly string[]): string[] {
      const before = concreteTopics(ch);
      const removed = topics
        ? topics.filter((t) => ch.subscriptions.delete(t))
        : [...ch.subscriptions.keys()];
      if (!topics) ch.subscriptions.clear();
      reindex(ch, before);
      ch.lastUsed = clock.now();
      return removed;
    },

    remove,
    onRemoved(listener: (ch: ChannelState, reason: RemovalReason) => void): void {
      removalListeners.push(listener);
    },

    /** Attaches a socket to a channel; the previous socket (if any) is closed — one socket per channel. */
    attach(channelId: string, socket: SocketLink): ChannelState | undefined {
      const ch = channels.get(channelId);
      if (!ch) return undefined;
      const previous = ch.socket;
      ch.socket = socket;
      ch.lastUsed = clock.now();
      if (previous) previous.close(1000, 'replaced by a new connection to this channel');
      return ch;
    },

    /** Detaches a socket if it is still its channel's socket. */
    detach(socket: SocketLink): void {
      for (const ch of channels.values()) if (ch.socket === socket) ch.socket = undefined;
    },

    sendTo,

    /** Delivers one event to every subscribed channel with a connected socket; others lose it. */
    publish(event: Pick<ScriptedEvent, 'topicName' | 'eventBody'>): number {
      const ids = byTopic.get(event.topicName);
      if (!ids || ids.size === 0) return 0;
      const shared = randomUUID();
      let delivered = 0;
      for (const id of ids) {
        const ch = channels.get(id);
        if (!ch) continue;
        const correlationId = opts.correlationIdPer === 'event' ? shared : randomUUID();
        const envelope = {
          topicName: event.topicName,
          version: '2',
          eventBody: event.eventBody,
          metadata: { CorrelationId: correlationId },
        };
        sendTo(ch, 'event', envelope, event.topicName, correlationId);
        if (ch.socket) delivered++;
      }
      return delivered;
    },

    /** Channels whose owner token just became invalid. */
    ownedByToken: (tokenKey: string): ChannelState[] =>
      [...channels.values()].filter((c) => c.ownerToken === tokenKey),

    deliveries: (): readonly DeliveryRecord[] =>
      log.length > opts.deliveryLogLimit ? log.slice(log.length - opts.deliveryLogLimit) : log,

    /** Cancels every expiry timer (shutdown). */
    stop(): void {
      for (const ch of channels.values()) ch.cancelExpiry();
    },
  };
}
