/**
 * One notification channel shard: a Genesys channel with its subscriptions and the WebSocket that reads
 * it, kept alive for as long as ingest runs.
 *
 * Genesys notifications are not durable: an event sent while no socket is connected is gone. So this class
 * (1) avoids gaps where the platform allows — on `v2.system.socket_closing` it opens a replacement channel
 * with the same topics and only then lets the old socket go, so the two overlap (duplicates are removed
 * downstream); it resubscribes before the channel's 24 h expiry — and (2) records every interval in which
 * it may have missed events (socket dropped, evicted, channel expired, heartbeats stopped, consumption
 * paused for backpressure), so gap repair can reconcile those conversations from REST/analytics.
 *
 * A channel is a Genesys resource that outlives its socket, and an OAuth client may hold only 20 of them. So a
 * lost socket is reconnected to the same channel while Genesys still has it (HEAD answers 200); a channel custody
 * gives up (expired, evicted, gone silent) has its subscriptions deleted before a new one is created — the
 * platform has no call that deletes a channel, and a channel without subscriptions or socket is the first one
 * Genesys removes. On `socket_closing` the replacement socket connects to the same `connectUri`, as Genesys
 * documents; only when that fails is a new channel created.
 *
 * Failures to create, subscribe or connect are retried with backoff for as long as ingest runs, the shard
 * counting as not connected meanwhile; only a refusal retrying cannot fix (credentials, a missing permission)
 * ends the retries, through `events.failed`.
 */
import type { EventBridgeOrigin } from '../enrich/eventbridge-event.ts';
import WebSocket from 'ws';
import { backoffDelay } from '../runtime/backoff.ts';
import { describeError, isRetriable } from '../runtime/errors.ts';
import type { FatalError } from '../runtime/errors.ts';
import type { GenesysApi } from './genesys-api.ts';
import { genesysFatal, genesysRetryAfterMs } from './genesys-errors.ts';
import { isGenesysEnum } from '../enrich/genesys-enum.ts';

/** How ingest classifies a frame for the channel's own bookkeeping (the full parse happens downstream). */
export type ControlKind =
  | 'heartbeat'
  | 'pong'
  | 'socket-closing'
  | 'channel-gone'
  | 'token-revoked'
  | 'no-longer-subscribed'
  | 'data';

export interface ReceivedFrame {
  readonly text: string;
  /** custody's receive clock, epoch ms, taken when the frame arrived. */
  readonly receivedAt: number;
  readonly channelId: string;
  /**
   * Set when the notification came through the EventBridge bridge topic (eventbridge-source.ts): then `text` is
   * the event's `detail` (the notification frame) and `channelId` its source, and this keeps the event as read.
   */
  readonly eventBridge?: EventBridgeReceipt;
}

/** An EventBridge event as read from the bridge topic, and where it was read. */
export interface EventBridgeReceipt {
  /** The event's text exactly as read (the evidence). */
  readonly event: string;
  readonly origin: EventBridgeOrigin;
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

export interface Gap {
  readonly shard: number;
  readonly userIds: readonly string[];
  /** Last moment we know we were receiving (last frame), epoch ms. */
  readonly from: number;
  /** First moment we are receiving again; undefined while the gap is open. */
  readonly to?: number;
  readonly reason: string;
  /** Conversations known to be affected (e.g. a frame about them could not be kept); repaired by id too. */
  readonly conversationIds?: readonly string[];
}

export interface ChannelOptions {
  /** No frame for this long → send `{"message":"ping"}` (Genesys heartbeats every ~30 s). */
  readonly idleBeforePingMs: number;
  /** No answer this long after a ping → the socket is dead: reconnect. */
  readonly pongTimeoutMs: number;
  /** Resubscribe this long before the channel's `expires` (bounded below by 10 % of the remaining life). */
  readonly resubscribeMarginMs: number;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  /**
   * Largest WebSocket message accepted, in bytes. A larger one makes the socket close (1009) before it is
   * buffered, which is recorded as a gap and repaired; the `ws` default (100 MiB) would let a single frame take
   * that much memory, and no such frame fits a Kafka record anyway.
   */
  readonly maxPayloadBytes: number;
}

export const DEFAULT_CHANNEL_OPTIONS: ChannelOptions = {
  idleBeforePingMs: 35_000,
  pongTimeoutMs: 10_000,
  resubscribeMarginMs: 60 * 60_000,
  backoffBaseMs: 500,
  backoffMaxMs: 60_000,
  maxPayloadBytes: 8 * 1024 * 1024,
};

/** How a shard starts: with a gap already open (ingest was not running since `gapFrom`), or without. */
export interface ChannelStart {
  /** The last moment the users of this shard are known to have been captured (epoch ms, ingest's clock). */
  readonly gapFrom?: number;
  readonly gapReason?: string;
}

export interface ChannelEvents {
  frame(frame: ReceivedFrame, kind: ControlKind): void;
  gapOpened(gap: Gap): void;
  gapClosed(gap: Gap): void;
  reconnect(reason: string): void;
  /**
   * Channel `channelId` is about to carry `topics`: a subscription request is about to be sent, or a replacement
   * socket went live while the one it replaces is still open. If another channel's open socket carries any of them
   * (a rotation onto a new channel after socket_closing), the two overlap: see {@link carriesAny}.
   */
  willCarry(channelId: string, topics: readonly string[]): void;
  /** The channel cannot be kept up for a reason retrying cannot fix (credentials, permission): it stopped trying. */
  failed(err: FatalError): void;
  log(level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>): void;
}

interface Socket {
  readonly ws: WebSocket;
  readonly channelId: string;
  readonly connectUri: string;
}

/** The Genesys channel this shard owns; it may exist while no socket is connected to it. */
interface OwnedChannel {
  readonly id: string;
  readonly connectUri: string;
  /** False once the channel itself is suspect or gone (silent, expired, evicted, token revoked). */
  reusable: boolean;
}

export class NotificationChannel {
  readonly shard: number;
  readonly #api: GenesysApi;
  readonly #classify: (text: string) => ControlKind;
  readonly #events: ChannelEvents;
  readonly #opts: ChannelOptions;
  readonly #now: () => number;
  readonly #scheduleAt: (at: number, fn: () => void) => () => void;
  #cancelResubscribe: (() => void) | undefined;
  #topics: readonly string[] = [];
  #userIds: readonly string[] = [];
  #channel: OwnedChannel | undefined;
  #current: Socket | undefined;
  /** The socket being replaced after socket_closing; kept until the replacement is live. */
  #retiring: Socket | undefined;
  #lastFrameAt = 0;
  #pingSentAt: number | undefined;
  #openGap: Gap | undefined;
  #stopped = false;
  #paused = false;
  #rotating = false;
  #timers = new Set<NodeJS.Timeout>();
  #reconnecting: Promise<void> | undefined;
  #attempt = 0;
  #expiresAt = 0;

  constructor(args: {
    shard: number;
    api: GenesysApi;
    classify: (text: string) => ControlKind;
    events: ChannelEvents;
    options?: Partial<ChannelOptions>;
    now?: () => number;
    /**
     * Runs `fn` when the clock behind `now` reaches `at`. Channel expiry is a time on that clock (the
     * platform's), so resubscription is scheduled on it; the default assumes `now` is the wall clock.
     */
    scheduleAt?: (at: number, fn: () => void) => () => void;
  }) {
    this.shard = args.shard;
    this.#api = args.api;
    this.#classify = args.classify;
    this.#events = args.events;
    this.#opts = { ...DEFAULT_CHANNEL_OPTIONS, ...args.options };
    this.#now = args.now ?? (() => Date.now());
    this.#scheduleAt =
      args.scheduleAt ??
      ((at, fn) => {
        const t = setTimeout(fn, Math.max(0, at - this.#now()));
        t.unref?.();
        return () => clearTimeout(t);
      });
  }

  get channelId(): string | undefined {
    return this.#current?.channelId;
  }

  get connected(): boolean {
    return this.#current?.ws.readyState === WebSocket.OPEN;
  }

  get topics(): readonly string[] {
    return this.#topics;
  }

  /**
   * Whether an open socket of this shard on a channel other than `channelId` carries any of `topics`, so that a
   * frame may arrive on both: the replaced socket during a rotation onto a new channel, or another shard's socket
   * if a topic were ever planned onto two shards (the plan keeps users in their shard). Repeats on one channel are
   * not overlaps (they stay in the evidence log).
   */
  carriesAny(channelId: string, topics: readonly string[]): boolean {
    const other = (s: Socket | undefined) => s !== undefined && s.channelId !== channelId && isLive(s.ws);
    if (!other(this.#current) && !other(this.#retiring)) return false;
    const mine = new Set(this.#topics);
    return topics.some((t) => mine.has(t));
  }

  /**
   * Creates the channel, subscribes and connects. Resolves once the socket is open, or once the first attempt
   * failed for a reason worth retrying: the shard then keeps retrying with backoff in the background (not
   * connected meanwhile, and a gap is open from `start.gapFrom` or from now). Rejects only with a FatalError
   * (credentials, permission), after which the shard does not retry.
   */
  async start(
    userIds: readonly string[],
    topics: readonly string[],
    start: ChannelStart = {},
  ): Promise<void> {
    this.#userIds = userIds;
    this.#topics = topics;
    if (start.gapFrom !== undefined) this.#gapFrom(start.gapFrom, start.gapReason ?? 'not subscribed');
    this.#schedule(
      () => this.#watchdog(),
      Math.min(this.#opts.idleBeforePingMs, this.#opts.pongTimeoutMs) / 2,
      true,
    );
    try {
      const socket = await this.#establish();
      if (this.#stopped) {
        await closeSocket(socket.ws);
        return;
      }
      this.#current = socket;
      this.#lastFrameAt = this.#now();
      if (!this.#paused) this.#closeGap();
    } catch (e) {
      const fatal = genesysFatal(e);
      if (fatal) {
        this.#stopped = true;
        for (const t of this.#timers) clearTimeout(t);
        throw fatal;
      }
      this.#events.log('warn', 'channel could not be started; retrying with backoff', {
        shard: this.shard,
        err: describeError(e),
      });
      this.#openGapIfNone('channel not started');
      void this.#reconnect('start-failed');
    }
  }

  /** Replaces the subscriptions (users joined or left this shard). */
  async updateTopics(userIds: readonly string[], topics: readonly string[]): Promise<void> {
    this.#userIds = userIds;
    this.#topics = topics;
    // Without a channel the next (re)build subscribes the new topics.
    const c = this.#channel;
    if (c) await this.#subscribe(c.id);
  }

  /** Resubscribes now (after a token renewal: the channel lives as long as the token that subscribed it). */
  async resubscribe(): Promise<void> {
    const c = this.#channel;
    if (!c || this.#stopped) return;
    await this.#subscribe(c.id);
    this.#expiresAt = Math.max(this.#expiresAt, this.#now() + 60_000);
  }

  /** Stops reading from the socket (Kafka backpressure). Events may be lost meanwhile: that is a gap. */
  pause(): void {
    if (this.#paused) return;
    this.#paused = true;
    this.#current?.ws.pause();
    this.#openGapIfNone('paused for backpressure');
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#current?.ws.resume();
    if (this.connected) this.#closeGap();
  }

  /**
   * Closes the sockets and waits until they are closed: frames that arrive during the close handshake are
   * still delivered to `frame`, and none arrives after this resolves. The channel itself is left to Genesys
   * (a restart may create its own; the idle one is the first Genesys removes).
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#cancelResubscribe?.();
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    const sockets = [this.#current, this.#retiring].filter((s): s is Socket => s !== undefined);
    this.#current = undefined;
    this.#retiring = undefined;
    await Promise.all(sockets.map((s) => closeSocket(s.ws)));
  }

  // --- channel creation and subscription -------------------------------------------------------

  /**
   * A connected socket: on the channel this shard already owns while Genesys still has it and it is not suspect,
   * else on a new channel, created only after the old one's subscriptions are deleted.
   */
  async #establish(): Promise<Socket> {
    const owned = this.#channel;
    if (owned?.reusable) {
      if (await this.#api.channelExists(owned.id)) {
        let socket: Socket;
        try {
          socket = await this.#connect(owned.id, owned.connectUri);
        } catch (e) {
          // Genesys lists the channel but will not connect it: the next attempt gives it up for a new one.
          owned.reusable = false;
          throw e;
        }
        try {
          // Re-asserts the topics (a server-side drop may have removed some) and extends the channel's life.
          await this.#subscribe(owned.id);
          this.#expiresAt = this.#now() + 24 * 3_600_000;
          this.#scheduleResubscribe();
        } catch (e) {
          const fatal = genesysFatal(e);
          if (fatal) {
            terminate(socket.ws);
            throw fatal;
          }
          this.#events.log(
            'warn',
            'resubscribing a reused channel failed; its subscriptions stay as they were',
            {
              shard: this.shard,
              channelId: owned.id,
              err: describeError(e),
            },
          );
        }
        this.#events.log('info', 'reconnected to the same channel', {
          shard: this.shard,
          channelId: owned.id,
        });
        return socket;
      }
      this.#channel = undefined;
    } else if (owned) {
      await this.#release(owned);
    }
    return this.#openNewChannel();
  }

  /** Deletes the subscriptions of a channel this shard gives up, before another is created (20-channel limit). */
  async #release(owned: OwnedChannel): Promise<void> {
    try {
      await this.#api.deleteSubscriptions(owned.id);
      this.#events.log('info', 'released channel (subscriptions deleted)', {
        shard: this.shard,
        channelId: owned.id,
      });
    } catch (e) {
      // Retriable and fatal failures are the caller's (retried with backoff, or ended); any other answer means
      // Genesys will not take this channel's subscriptions away: go on without it rather than stop capturing.
      if (genesysFatal(e) || isRetriable(e)) throw e;
      this.#events.log('warn', 'could not release the old channel; creating a new one anyway', {
        shard: this.shard,
        channelId: owned.id,
        err: describeError(e),
      });
    }
    if (this.#channel === owned) this.#channel = undefined;
  }

  async #openNewChannel(): Promise<Socket> {
    const channel = await this.#api.createChannel();
    if (!channel.id || !channel.connectUri)
      throw new Error('Genesys returned a channel without id or connectUri');
    // Owned from here on: if subscribing or connecting fails, the retry reuses it instead of creating another.
    this.#channel = { id: channel.id, connectUri: channel.connectUri, reusable: true };
    await this.#subscribe(channel.id);
    this.#expiresAt = channel.expires ? Date.parse(channel.expires) : this.#now() + 24 * 3_600_000;
    this.#scheduleResubscribe();
    return this.#connect(channel.id, channel.connectUri);
  }

  async #subscribe(channelId: string): Promise<void> {
    this.#events.willCarry(channelId, this.#topics);
    const listing = await this.#api.putSubscriptions(channelId, this.#topics);
    const rejected = (listing.entities ?? []).filter((t) => t.state && !isGenesysEnum(t.state, 'Permitted'));
    for (const t of rejected) {
      // A rejected topic means a user's calls would be missed entirely: loud, but the other topics go on.
      this.#events.log('error', 'notification topic rejected', {
        shard: this.shard,
        topic: t.id,
        state: t.state,
        reason: t.rejectionReason,
      });
    }
  }

  #scheduleResubscribe(): void {
    this.#cancelResubscribe?.();
    const remaining = this.#expiresAt - this.#now();
    const margin = Math.min(this.#opts.resubscribeMarginMs, remaining * 0.1);
    this.#cancelResubscribe = this.#scheduleAt(this.#expiresAt - margin, () => {
      void (async () => {
        const c = this.#channel;
        if (!c || this.#stopped) return;
        try {
          await this.#subscribe(c.id);
          // Resubscribing restarts the channel's life (24 h on Genesys).
          this.#expiresAt = this.#now() + Math.max(remaining, 60_000);
          this.#events.log('info', 'resubscribed before channel expiry', {
            shard: this.shard,
            channelId: c.id,
          });
        } catch (e) {
          const fatal = genesysFatal(e);
          if (fatal) {
            this.#events.failed(fatal);
            return;
          }
          this.#events.log('warn', 'resubscribe failed; the channel will be rebuilt if it expires', {
            shard: this.shard,
            err: describeError(e),
          });
        }
        if (!this.#stopped) this.#scheduleResubscribe();
      })();
    });
  }

  #connect(channelId: string, connectUri: string): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(connectUri, {
        handshakeTimeout: 15_000,
        maxPayload: this.#opts.maxPayloadBytes,
      });
      const socket: Socket = { ws, channelId, connectUri };
      let opened = false;
      ws.on('open', () => {
        opened = true;
        // A fresh socket starts healthy: a ping sent on the socket it replaces must not count against it.
        this.#pingSentAt = undefined;
        this.#lastFrameAt = this.#now();
        if (this.#paused) ws.pause();
        resolve(socket);
      });
      ws.on('message', (data, isBinary) => {
        if (isBinary) return;
        this.#onMessage(socket, data.toString());
      });
      ws.on('close', (code) => {
        if (!opened) reject(new Error(`WebSocket closed before opening (code ${code})`));
        else this.#onClose(socket, code);
      });
      ws.on('error', (err) => {
        if (!opened) reject(err);
        else if ((err as { code?: string }).code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH')
          this.#events.log(
            'error',
            'a frame exceeded the largest accepted size; the socket is reconnected and the gap repaired',
            {
              shard: this.shard,
              channelId,
              maxPayloadBytes: this.#opts.maxPayloadBytes,
            },
          );
        else this.#events.log('warn', 'WebSocket error', { shard: this.shard, channelId, err: err.message });
      });
    });
  }

  // --- frames ------------------------------------------------------------------------------------

  #onMessage(socket: Socket, text: string): void {
    const receivedAt = this.#now();
    this.#lastFrameAt = receivedAt;
    this.#pingSentAt = undefined;
    const kind = this.#classify(text);
    this.#events.frame({ text, receivedAt, channelId: socket.channelId }, kind);
    switch (kind) {
      case 'socket-closing':
        if (socket === this.#current) void this.#rotate();
        break;
      case 'channel-gone':
      case 'token-revoked':
        if (this.#channel?.id === socket.channelId) this.#channel.reusable = false;
        socket.ws.close(4000, kind);
        break;
      default:
        break;
    }
  }

  #onClose(socket: Socket, code: number): void {
    if (socket === this.#retiring) {
      this.#retiring = undefined;
      // During a rotation the replacement is on its way: no gap unless the rotation fails.
      if (this.#current === socket && !this.#rotating) this.#lost(socket, code);
      return;
    }
    if (socket !== this.#current || this.#stopped) return;
    this.#lost(socket, code);
  }

  #lost(socket: Socket, code: number): void {
    if (this.#current === socket) this.#current = undefined;
    this.#openGapIfNone(`socket closed (code ${code})`);
    void this.#reconnect(`closed-${code}`);
  }

  // --- health ------------------------------------------------------------------------------------

  #watchdog(): void {
    const s = this.#current;
    if (!s || this.#stopped || this.#paused || s.ws.readyState !== WebSocket.OPEN) return;
    const now = this.#now();
    if (this.#pingSentAt !== undefined && now - this.#pingSentAt > this.#opts.pongTimeoutMs) {
      // Heartbeats stopped and the ping went unanswered: an open-but-dead socket (genesys.md §2.7). The channel
      // itself may be what went silent, so it is released and a new one created.
      this.#events.log('warn', 'no heartbeat or pong: reconnecting on a new channel', {
        shard: this.shard,
        channelId: s.channelId,
      });
      if (this.#channel?.id === s.channelId) this.#channel.reusable = false;
      this.#gapFrom(this.#lastFrameAt, 'heartbeats stopped');
      this.#current = undefined;
      s.ws.terminate();
      void this.#reconnect('heartbeat-timeout');
      return;
    }
    if (this.#pingSentAt === undefined && now - this.#lastFrameAt > this.#opts.idleBeforePingMs) {
      this.#pingSentAt = now;
      s.ws.send(JSON.stringify({ message: 'ping' }));
    }
  }

  // --- replacement and rebuild -----------------------------------------------------------------

  /**
   * socket_closing: a new socket on the same connectUri (Genesys then closes the old one), else on a new channel
   * with the old one's subscriptions deleted once the new one is live. No gap either way.
   */
  async #rotate(): Promise<void> {
    const old = this.#current;
    if (!old || this.#reconnecting || this.#rotating) return;
    this.#events.reconnect('socket-closing');
    this.#rotating = true;
    this.#retiring = old;
    try {
      let next: Socket;
      try {
        next = await this.#connect(old.channelId, old.connectUri);
      } catch (e) {
        this.#events.log('warn', 'could not reconnect to the closing channel; creating a new one', {
          shard: this.shard,
          err: describeError(e),
        });
        const previous = this.#channel;
        next = await this.#openNewChannel();
        if (previous && previous.id !== next.channelId) void this.#releaseQuietly(previous);
      }
      if (this.#stopped) {
        await closeSocket(next.ws);
        return;
      }
      this.#current = next;
      if (isLive(old.ws)) {
        // However long the replacement took, the two overlap until the old one's close completes.
        this.#events.willCarry(next.channelId, this.#topics);
        old.ws.close(1000, 'replaced after socket_closing');
      } else this.#retiring = undefined;
      this.#events.log('info', 'rotated socket after socket_closing', {
        shard: this.shard,
        from: old.channelId,
        to: next.channelId,
      });
    } catch (e) {
      const fatal = genesysFatal(e);
      if (fatal) this.#events.failed(fatal);
      // No replacement: the old socket closes within a minute and a rebuild follows (now, if it already closed).
      this.#events.log('warn', 'could not open a replacement socket; will reconnect after close', {
        shard: this.shard,
        err: describeError(e),
      });
      if (this.#current === old && old.ws.readyState !== WebSocket.OPEN && !this.#stopped) {
        this.#retiring = undefined;
        this.#rotating = false;
        this.#lost(old, 1001);
      } else if (this.#retiring === old) this.#retiring = undefined;
    } finally {
      this.#rotating = false;
    }
  }

  async #releaseQuietly(owned: OwnedChannel): Promise<void> {
    try {
      await this.#api.deleteSubscriptions(owned.id);
    } catch (e) {
      this.#events.log('warn', "could not delete the replaced channel's subscriptions", {
        shard: this.shard,
        channelId: owned.id,
        err: describeError(e),
      });
    }
  }

  #reconnect(reason: string): Promise<void> {
    this.#reconnecting ??= (async () => {
      this.#events.reconnect(reason);
      let lastReason: string | undefined;
      while (!this.#stopped && !this.#current) {
        try {
          const socket = await this.#establish();
          if (this.#stopped) {
            await closeSocket(socket.ws);
            return;
          }
          this.#current = socket;
          this.#lastFrameAt = this.#now();
          this.#attempt = 0;
          if (!this.#paused) this.#closeGap();
          this.#events.log('info', 'channel rebuilt', {
            shard: this.shard,
            channelId: socket.channelId,
            reason,
          });
        } catch (e) {
          const fatal = genesysFatal(e);
          if (fatal) {
            this.#events.failed(fatal);
            return;
          }
          const backoff = backoffDelay(this.#attempt++, {
            initialMs: this.#opts.backoffBaseMs,
            maxMs: this.#opts.backoffMaxMs,
          });
          const wait = Math.max(genesysRetryAfterMs(e) ?? 0, backoff);
          const why = describeError(e);
          // One line per change of cause, not one per attempt.
          if (why !== lastReason)
            this.#events.log('warn', 'channel rebuild failed; backing off', {
              shard: this.shard,
              waitMs: Math.round(wait),
              err: why,
            });
          lastReason = why;
          await new Promise<void>((r) => this.#schedule(r, wait));
        }
      }
    })().finally(() => {
      this.#reconnecting = undefined;
    });
    return this.#reconnecting;
  }

  // --- gaps ----------------------------------------------------------------------------------------

  #openGapIfNone(reason: string): void {
    this.#gapFrom(this.#lastFrameAt || this.#now(), reason);
  }

  #gapFrom(from: number, reason: string): void {
    if (this.#openGap) return;
    this.#openGap = { shard: this.shard, userIds: this.#userIds, from, reason };
    this.#events.gapOpened(this.#openGap);
  }

  #closeGap(): void {
    const g = this.#openGap;
    if (!g) return;
    this.#openGap = undefined;
    this.#events.gapClosed({ ...g, to: this.#now() });
  }

  #schedule(fn: () => void | Promise<void>, ms: number, repeat = false): void {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      if (this.#stopped) return;
      void fn();
      if (repeat) this.#schedule(fn, ms, true);
    }, ms);
    t.unref?.();
    this.#timers.add(t);
  }
}

/** Open, or still opening: a socket that may yet deliver frames. */
function isLive(ws: WebSocket): boolean {
  return ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING;
}

function terminate(ws: WebSocket): void {
  if (isLive(ws)) ws.terminate();
}

/** Closes a socket politely, then forcefully after 2 s; resolves when it is closed. */
function closeSocket(ws: WebSocket): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => ws.terminate(), 2_000);
    ws.once('close', () => {
      clearTimeout(force);
      resolve();
    });
    if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
    else ws.close(1000, 'custody ingest stopping');
  });
}
