/**
 * The notification WebSocket at `connectUri` (`/channels/{id}`, no auth header, as the real service). Per
 * socket: `channel.metadata` heartbeats every `heartbeatIntervalMs` of simulated time, `{"message":"ping"}`
 * → pong, subscribe/unsubscribe over the socket, `v2.system.socket_closing` followed by a close after the
 * grace period. A second socket on a channel closes the first; a socket for an unknown or expired channel
 * gets `{"result":"404"}` and is closed.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Models } from 'purecloud-platform-client-v2';
import type { SimClock } from './context.ts';
import {
  CHANNEL_GONE_MESSAGE,
  type ChannelRegistry,
  type ChannelState,
  type SocketLink,
} from './notifications-channels.ts';

export interface SocketHubOptions {
  readonly clock: SimClock;
  readonly registry: ChannelRegistry;
  readonly orgId: string;
  readonly heartbeatIntervalMs: number;
  readonly socketClosingGraceMs: number;
  readonly log?: (line: string) => void;
}

/** What the control API and tests can see about one socket. */
export interface SocketRecord {
  readonly id: string;
  readonly channelId: string;
  readonly connectedAt: number;
  closedAt?: number;
  closeCode?: number;
  heartbeatsSent: number;
  pongsSent: number;
}

const HEARTBEAT = JSON.stringify({
  topicName: 'channel.metadata',
  eventBody: { message: 'WebSocket Heartbeat' },
});
const PONG = JSON.stringify({ topicName: 'channel.metadata', eventBody: { message: 'pong' } });

export type SocketHub = ReturnType<typeof createSocketHub>;

/** Creates the hub; wire `handleUpgrade` to the HTTP server's `upgrade` event. */
export function createSocketHub(opts: SocketHubOptions) {
  const { clock, registry } = opts;
  const log = opts.log ?? (() => undefined);
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024 });
  const links = new Map<string, { link: SocketLink; ws: WebSocket; record: SocketRecord }>();
  const records: SocketRecord[] = [];
  let heartbeatsPaused = false;
  const pausedChannels = new Set<string>();
  /** Channels whose socket stays open but receives nothing at all: the "open but silent" failure. */
  const stalledChannels = new Set<string>();
  /** Channels whose connectUri refuses new sockets (503 on the upgrade): a failed reconnect after socket_closing. */
  const refusedChannels = new Set<string>();
  const connectedListeners = new Set<(record: SocketRecord) => void>();

  const systemMessage = (
    ch: ChannelState,
    type: string,
    reason: string,
    message: string,
    data?: Record<string, object>,
  ): {
    topicName: string;
    version: string;
    eventBody: Models.SystemMessageSystemMessage;
    metadata: object;
  } => {
    const correlationId = randomUUID();
    return {
      topicName: type === 'socket_closing' ? 'v2.system.socket_closing' : `v2.system.${type}.${ch.id}`,
      version: '2',
      eventBody: {
        channelId: ch.id,
        systemTopicType: type,
        correlationId,
        organizationId: opts.orgId,
        oauthClientId: ch.clientId,
        reason,
        message,
        ...(data ? { data } : {}),
      },
      metadata: { CorrelationId: correlationId },
    };
  };

  const onMessage = (
    ch: () => ChannelState | undefined,
    link: SocketLink,
    record: SocketRecord,
    raw: string,
  ) => {
    let msg: unknown;
    try {
      msg = JSON.parse(raw);
    } catch {
      msg = undefined;
    }
    const obj =
      typeof msg === 'object' && msg !== null && !Array.isArray(msg) ? (msg as Record<string, unknown>) : {};
    const correlationId = typeof obj['correlationId'] === 'string' ? obj['correlationId'] : undefined;
    const reply = (result: string, status: string, message?: string) =>
      link.send(
        JSON.stringify({
          result,
          status,
          ...(message ? { message } : {}),
          ...(correlationId ? { correlationId } : {}),
        }),
      );
    const kind = obj['message'];
    if (kind === 'ping') {
      record.pongsSent++;
      link.send(PONG);
      return;
    }
    if (kind !== 'subscribe' && kind !== 'unsubscribe') {
      reply('400', 'failed', 'Unsupported message.');
      return;
    }
    const topics = obj['topics'];
    if (
      !Array.isArray(topics) ||
      topics.length === 0 ||
      !topics.every((t): t is string => typeof t === 'string')
    ) {
      reply('400', 'failed', `Required data missing from ${kind} request.`);
      return;
    }
    const channel = ch();
    if (!channel) {
      link.send(JSON.stringify(CHANNEL_GONE_MESSAGE));
      return;
    }
    if (kind === 'unsubscribe') {
      registry.unsubscribe(channel, topics);
      reply('200', 'unsubscribed');
      return;
    }
    const result = registry.subscribe(channel, 'add', topics, false);
    if (result.ok) reply('200', 'subscribed');
    else reply('400', 'failed', result.message);
  };

  const connect = (ws: WebSocket, channelId: string): void => {
    const id = randomUUID();
    const record: SocketRecord = { id, channelId, connectedAt: clock.now(), heartbeatsSent: 0, pongsSent: 0 };
    records.push(record);
    const link: SocketLink = {
      id,
      send: (text) => {
        if (ws.readyState === ws.OPEN && !stalledChannels.has(channelId)) ws.send(text);
      },
      close: (code, reason) => {
        if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close(code, reason);
      },
      terminate: () => ws.terminate(),
    };
    const channel = registry.attach(channelId, link);
    if (!channel) {
      link.send(JSON.stringify(CHANNEL_GONE_MESSAGE));
      record.closedAt = clock.now();
      record.closeCode = 1000;
      ws.close(1000, 'channel not found');
      return;
    }
    links.set(id, { link, ws, record });
    for (const listener of connectedListeners) listener(record);
    const stopHeartbeat = clock.every(opts.heartbeatIntervalMs, () => {
      if (heartbeatsPaused || pausedChannels.has(channelId)) return;
      record.heartbeatsSent++;
      link.send(HEARTBEAT);
    });
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      onMessage(() => registry.get(channelId), link, record, data.toString());
    });
    ws.on('close', (code) => {
      stopHeartbeat();
      record.closedAt ??= clock.now();
      record.closeCode ??= code;
      links.delete(id);
      registry.detach(link);
    });
    ws.on('error', (err) => log(`socket ${id} error: ${err.message}`));
  };

  return {
    /** Handles an HTTP upgrade; only `/channels/{id}` is a WebSocket endpoint. */
    handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
      const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
      const m = /^\/channels\/([A-Za-z0-9_-]{1,100})$/.exec(path);
      if (!m?.[1]) {
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      const channelId = m[1];
      if (refusedChannels.has(channelId)) {
        socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => connect(ws, channelId));
    },

    /**
     * Sends `v2.system.socket_closing`, then closes the socket after the grace period unless it was replaced. With
     * `refuseReconnect` the channel's connectUri refuses new sockets from now on, so a client must move to a new
     * channel, and the old socket keeps delivering until the grace period ends: the two channels overlap.
     */
    sendSocketClosing(channelId: string, how: { refuseReconnect?: boolean } = {}): boolean {
      const ch = registry.get(channelId);
      const socket = ch?.socket;
      if (!ch || !socket) return false;
      if (how.refuseReconnect) refusedChannels.add(channelId);
      const msg = systemMessage(
        ch,
        'socket_closing',
        'maintenance',
        'The WebSocket will be closed for maintenance. Reconnect to the same connectUri.',
      );
      registry.sendTo(ch, 'system', msg, msg.topicName, msg.eventBody.correlationId);
      clock.at(clock.now() + opts.socketClosingGraceMs, () => socket.close(1001, 'socket closing'));
      return true;
    },

    /** Sends `v2.system.no_longer_subscribed.{channelId}` and drops the given topics (all when omitted). */
    noLongerSubscribed(channelId: string, topics?: readonly string[]): string[] | undefined {
      const ch = registry.get(channelId);
      if (!ch) return undefined;
      const removed = registry.unsubscribe(ch, topics);
      const msg = systemMessage(
        ch,
        'no_longer_subscribed',
        'subscription removed',
        'The channel is no longer subscribed to some topics.',
        {
          topics: removed,
        },
      );
      registry.sendTo(ch, 'system', msg, msg.topicName, msg.eventBody.correlationId);
      return removed;
    },

    /** Sends `v2.system.token_revoked.{channelId}` (before the channel is removed with its token). */
    tokenRevoked(ch: ChannelState): void {
      const msg = systemMessage(
        ch,
        'token_revoked',
        'token revoked',
        'The OAuth token used by this channel was revoked.',
      );
      registry.sendTo(ch, 'system', msg, msg.topicName, msg.eventBody.correlationId);
    },

    /** Closes a channel's socket without a close frame (a network drop). */
    dropSocket(channelId: string): boolean {
      const socket = registry.get(channelId)?.socket;
      if (!socket) return false;
      socket.terminate();
      return true;
    },

    /** Stops or resumes heartbeats for one channel or for all. */
    setHeartbeats(enabled: boolean, channelId?: string): void {
      if (channelId === undefined) {
        heartbeatsPaused = !enabled;
        if (enabled) pausedChannels.clear();
      } else if (enabled) pausedChannels.delete(channelId);
      else pausedChannels.add(channelId);
    },

    /**
     * Stalls or un-stalls a channel's socket: while stalled it stays open but the server sends nothing
     * (no events, heartbeats or pongs); events published meanwhile are lost, as with a dead connection.
     */
    setStalled(channelId: string, stalled: boolean): void {
      if (stalled) stalledChannels.add(channelId);
      else stalledChannels.delete(channelId);
    },

    sockets: (): readonly SocketRecord[] => records,

    /** Calls `listener` as each socket is attached to its channel, before anything is sent on it; returns an unsubscribe. */
    onConnected(listener: (record: SocketRecord) => void): () => void {
      connectedListeners.add(listener);
      return () => connectedListeners.delete(listener);
    },

    /** Closes every socket (shutdown). */
    close(): Promise<void> {
      for (const { ws } of links.values()) ws.terminate();
      return new Promise((resolve) => wss.close(() => resolve()));
    },
  };
}
