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
 */
import WebSocket from 'ws';
import type { GenesysApi } from './genesys-api.ts';
import { GenesysApiError } from './genesys-api.ts';

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
}

export interface Gap {
  readonly shard: number;
  readonly userIds: readonly string[];
  /** Last moment we know we were receiving (last frame), epoch ms. */
  readonly from: number;
  /** First moment we are receiving again; undefined while the gap is open. */
  readonly to?: number;
  readonly reason: string;
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
}

export const DEFAULT_CHANNEL_OPTIONS: ChannelOptions = {
  idleBeforePingMs: 35_000,
  pongTimeoutMs: 10_000,
  resubscribeMarginMs: 60 * 60_000,
  backoffBaseMs: 500,
  backoffMaxMs: 60_000,
};

export interface ChannelEvents {
  frame(frame: ReceivedFrame, kind: ControlKind): void;
  gapOpened(gap: Gap): void;
  gapClosed(gap: Gap): void;
  reconnect(reason: string): void;
  log(level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>): void;
}

interface Socket {
  readonly ws: WebSocket;
  readonly channelId: string;
  readonly connectUri: string;
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
  #current: Socket | undefined;
  /** The socket being replaced after socket_closing; kept until the replacement is live. */
  #retiring: Socket | undefined;
  #lastFrameAt = 0;
  #pingSentAt: number | undefined;
  #openGap: Gap | undefined;
  #stopped = false;
  #paused = false;
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

  /** Creates the channel, subscribes and connects. Resolves once the socket is open. */
  async start(userIds: readonly string[], topics: readonly string[]): Promise<void> {
    this.#userIds = userIds;
    this.#topics = topics;
    this.#current = await this.#openNewChannel();
    this.#lastFrameAt = this.#now();
    this.#schedule(
      () => this.#watchdog(),
      Math.min(this.#opts.idleBeforePingMs, this.#opts.pongTimeoutMs) / 2,
      true,
    );
  }

  /** Replaces the subscriptions (users joined or left this shard). */
  async updateTopics(userIds: readonly string[], topics: readonly string[]): Promise<void> {
    this.#userIds = userIds;
    this.#topics = topics;
    const s = this.#current;
    if (s) await this.#subscribe(s.channelId);
  }

  /** Resubscribes now (after a token renewal: the channel lives as long as the token that subscribed it). */
  async resubscribe(): Promise<void> {
    const s = this.#current;
    if (!s || this.#stopped) return;
    await this.#subscribe(s.channelId);
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
   * still delivered to `frame`, and none arrives after this resolves.
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

  async #openNewChannel(): Promise<Socket> {
    const channel = await this.#api.createChannel();
    if (!channel.id || !channel.connectUri)
      throw new Error('Genesys returned a channel without id or connectUri');
    await this.#subscribe(channel.id);
    this.#expiresAt = channel.expires ? Date.parse(channel.expires) : this.#now() + 24 * 3_600_000;
    this.#scheduleResubscribe();
    return this.#connect(channel.id, channel.connectUri);
  }

  async #subscribe(channelId: string): Promise<void> {
    const listing = await this.#api.putSubscriptions(channelId, this.#topics);
    const rejected = (listing.entities ?? []).filter((t) => t.state && t.state !== 'Permitted');
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
        const s = this.#current;
        if (!s || this.#stopped) return;
        try {
          await this.#subscribe(s.channelId);
          // Resubscribing restarts the channel's life (24 h on Genesys).
          this.#expiresAt = this.#now() + Math.max(remaining, 60_000);
          this.#events.log('info', 'resubscribed before channel expiry', {
            shard: this.shard,
            channelId: s.channelId,
          });
        } catch (e) {
          this.#events.log('warn', 'resubscribe failed; the channel will be rebuilt if it expires', {
            shard: this.shard,
            err: String(e),
          });
        }
        if (!this.#stopped) this.#scheduleResubscribe();
      })();
    });
  }

  #connect(channelId: string, connectUri: string): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(connectUri, { handshakeTimeout: 15_000 });
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
        socket.ws.close(4000, kind);
        break;
      default:
        break;
    }
  }

  #onClose(socket: Socket, code: number): void {
    if (socket === this.#retiring) {
      this.#retiring = undefined;
      return;
    }
    if (socket !== this.#current || this.#stopped) return;
    this.#current = undefined;
    this.#openGapIfNone(`socket closed (code ${code})`);
    void this.#reconnect(`closed-${code}`);
  }

  // --- health ------------------------------------------------------------------------------------

  #watchdog(): void {
    const s = this.#current;
    if (!s || this.#stopped || this.#paused || s.ws.readyState !== WebSocket.OPEN) return;
    const now = this.#now();
    if (this.#pingSentAt !== undefined && now - this.#pingSentAt > this.#opts.pongTimeoutMs) {
      // Heartbeats stopped and the ping went unanswered: an open-but-dead socket (genesys.md §2.7).
      this.#events.log('warn', 'no heartbeat or pong: reconnecting', {
        shard: this.shard,
        channelId: s.channelId,
      });
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

  /** socket_closing: bring up a replacement channel first, then let the old socket go (no gap). */
  async #rotate(): Promise<void> {
    const old = this.#current;
    if (!old || this.#reconnecting) return;
    this.#events.reconnect('socket-closing');
    try {
      const next = await this.#openNewChannel();
      this.#retiring = old;
      this.#current = next;
      old.ws.close(1000, 'replaced after socket_closing');
      this.#events.log('info', 'rotated channel after socket_closing', {
        shard: this.shard,
        from: old.channelId,
        to: next.channelId,
      });
    } catch (e) {
      // No replacement (e.g. channel quota): the old socket closes within a minute and #onClose rebuilds.
      this.#events.log('warn', 'could not open a replacement channel; will reconnect after close', {
        shard: this.shard,
        err: String(e),
      });
    }
  }

  #reconnect(reason: string): Promise<void> {
    this.#reconnecting ??= (async () => {
      this.#events.reconnect(reason);
      while (!this.#stopped && !this.#current) {
        try {
          this.#current = await this.#openNewChannel();
          this.#lastFrameAt = this.#now();
          this.#attempt = 0;
          if (!this.#paused) this.#closeGap();
          this.#events.log('info', 'channel rebuilt', {
            shard: this.shard,
            channelId: this.#current.channelId,
            reason,
          });
        } catch (e) {
          const retryAfter = e instanceof GenesysApiError ? (e.retryAfterMs ?? 0) : 0;
          const backoff = Math.min(this.#opts.backoffMaxMs, this.#opts.backoffBaseMs * 2 ** this.#attempt++);
          const wait = Math.max(retryAfter, backoff / 2 + (Math.random() * backoff) / 2);
          this.#events.log('warn', 'channel rebuild failed; backing off', {
            shard: this.shard,
            waitMs: Math.round(wait),
            err: String(e),
          });
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
