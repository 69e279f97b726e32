/**
 * `custody ingest`: Genesys notification WebSocket → Kafka.
 *
 * For every frame, at the moment it arrives: the frame as received goes to the evidence log
 * (genesys.notifications.v1); if it is about a conversation, the tags it carries are merged into that
 * conversation's snapshot, and a changed snapshot goes to custody.session-tags.v1 (compacted, keyed by
 * conversationId); a frame that cannot be parsed goes to custody.dlq.v1 with the reason — and to the evidence
 * log as `rejected`, so the log stays complete. Gaps recorded by the channels are repaired from REST and
 * analytics with provenance `reconciled`.
 */
import { createHash } from 'node:crypto';
import type { Models } from 'purecloud-platform-client-v2';
import type { Config } from '../config.ts';
import type { NotificationEnvelope } from '../enrich/genesys-envelope.ts';
import { notificationKeys, parseNotificationFrame } from '../enrich/genesys-envelope.ts';
import type {
  SessionTagsSnapshot,
  TagObservation,
  UserContext as TagUserContext,
} from '../enrich/session-tags.ts';
import { extractTagObservations } from '../enrich/session-tags-extract.ts';
import { mergeSessionTags, snapshotChanged } from '../enrich/session-tags-merge.ts';
import { extractFromAnalytics, extractFromCallConversation } from '../enrich/session-tags-reconcile.ts';
import type { NotificationRecord } from '../kafka/avro-codec.ts';
import type { KeyedRecord, RecordProducer } from '../kafka/record-producer.ts';
import type { Encoders } from '../kafka/record-codecs.ts';
import type { Logger } from '../observability/logger.ts';
import type { IngestMetrics } from '../observability/metrics.ts';
import type { Delivery, DeliveryBufferOptions } from './delivery-buffer.ts';
import { DeliveryBuffer } from './delivery-buffer.ts';
import type { GapRepairOptions } from './gap-repair.ts';
import { GapRepair } from './gap-repair.ts';
import type { GenesysApi } from './genesys-api.ts';
import type { ChannelOptions, ControlKind, Gap, ReceivedFrame } from './notification-channel.ts';
import { NotificationChannel } from './notification-channel.ts';
import { OverlapDedupe } from './overlap-dedupe.ts';
import { GENESYS_LIMITS, planChannels } from './subscription-plan.ts';
import type { ChannelPlan, PlanLimits } from './subscription-plan.ts';
import { UserDirectory } from './user-directory.ts';
import { CUSTODY_VERSION } from '../version.ts';

export const INGEST_VERSION = CUSTODY_VERSION;

export interface IngestOptions {
  readonly limits: PlanLimits;
  readonly channel: Partial<ChannelOptions>;
  readonly delivery: Partial<DeliveryBufferOptions>;
  readonly gapRepair: Partial<GapRepairOptions>;
  /** Re-list users and stations this often, to follow joiners, leavers and station moves (ms). */
  readonly userRefreshMs: number;
  /** Forget a conversation's snapshot this long after its last event (the compacted topic keeps it). */
  readonly snapshotIdleMs: number;
}

export const DEFAULT_INGEST_OPTIONS: IngestOptions = {
  limits: GENESYS_LIMITS,
  channel: {},
  delivery: {},
  gapRepair: {},
  userRefreshMs: 10 * 60_000,
  snapshotIdleMs: 6 * 60 * 60_000,
};

export interface IngestDeps {
  readonly api: GenesysApi;
  readonly producer: RecordProducer;
  readonly encoders: Encoders;
  readonly topics: Config['topics'];
  readonly instance: string;
  readonly log: Logger;
  readonly metrics: IngestMetrics;
  readonly now?: () => number;
  /** Runs `fn` when `now()` reaches `at` (defaults to wall-clock timers; see NotificationChannel). */
  readonly scheduleAt?: (at: number, fn: () => void) => () => void;
  /** Called for every acknowledged frame (benchmarks measure exact latency quantiles with it). */
  readonly onAcked?: (receivedAt: number, ackedAt: number) => void;
  /** Snapshots restored from custody.session-tags.v1 at start-up (see restoreSnapshots). */
  readonly restored?: ReadonlyMap<string, SessionTagsSnapshot>;
}

export interface RunningIngest {
  /** Undefined when ready; else why not (for /readyz). */
  notReadyReason(): string | undefined;
  snapshot(conversationId: string): SessionTagsSnapshot | undefined;
  readonly stats: {
    frames: number;
    deadLetters: number;
    duplicates: number;
    gapsOpen: number;
    gapsRepaired: number;
  };
  /** Resolves when every frame received so far is acknowledged by Kafka. */
  flush(): Promise<void>;
  /** Waits for pending gap repairs that are due (tests) — not the later retries. */
  channels(): ReadonlyArray<{ shard: number; channelId: string | undefined; connected: boolean }>;
  stop(): Promise<void>;
}

const CONTROL_KINDS: Partial<Record<NotificationEnvelope['kind'], ControlKind>> = {
  heartbeat: 'heartbeat',
  pong: 'pong',
  'socket-closing': 'socket-closing',
  'channel-gone': 'channel-gone',
  'token-revoked': 'token-revoked',
  'no-longer-subscribed': 'no-longer-subscribed',
};

/**
 * Parses each frame once: the channel classifies a frame and then hands the same text to onFrame, synchronously,
 * so a one-entry memo serves both (parsing and validating is the largest per-frame cost of ingest).
 */
function frameParser(): (text: string) => ReturnType<typeof parseNotificationFrame> {
  let last: { text: string; parsed: ReturnType<typeof parseNotificationFrame> } | undefined;
  return (text) => {
    if (last?.text !== text) last = { text, parsed: parseNotificationFrame(text) };
    return last.parsed;
  };
}

interface ConversationState {
  snapshot: SessionTagsSnapshot;
  lastEventAt: number;
  userIds: Set<string>;
}

export async function startIngest(
  deps: IngestDeps,
  options: Partial<IngestOptions> = {},
): Promise<RunningIngest> {
  const opts: IngestOptions = { ...DEFAULT_INGEST_OPTIONS, ...options };
  const now = deps.now ?? (() => Date.now());
  const { log, metrics, encoders, topics } = deps;
  const directory = new UserDirectory(deps.api, now);
  const dedupe = new OverlapDedupe();
  const conversations = new Map<string, ConversationState>();
  for (const [id, snapshot] of deps.restored ?? [])
    conversations.set(id, { snapshot, lastEventAt: now(), userIds: new Set() });
  const channels: NotificationChannel[] = [];
  const gaps = new Set<Gap>();
  const stats = { frames: 0, deadLetters: 0, duplicates: 0, gapsOpen: 0, gapsRepaired: 0 };
  const sequence = new Map<string, number>();
  const parseFrame = frameParser();
  const classify = (text: string): ControlKind => {
    const parsed = parseFrame(text);
    return parsed.ok ? (CONTROL_KINDS[parsed.value.kind] ?? 'data') : 'data';
  };
  let plan: ChannelPlan | undefined;
  let stopping = false;

  const buffer = new DeliveryBuffer(
    deps.producer,
    {
      acked: (ds: readonly Delivery[], ackedAt: number) => {
        for (const d of ds) {
          metrics.ackLatency.observe((ackedAt - d.receivedAt) / 1000);
          deps.onAcked?.(d.receivedAt, ackedAt);
          if (d.eventTime !== undefined) metrics.eventLag.observe(Math.max(0, ackedAt - d.eventTime) / 1000);
        }
        metrics.bufferDepth.set(buffer.depth);
      },
      pressure: (paused: boolean) => {
        log.warn(
          { paused, depth: buffer.depth },
          paused ? 'Kafka backpressure: pausing sockets' : 'Kafka caught up: resuming sockets',
        );
        for (const c of channels) {
          if (paused) c.pause();
          else c.resume();
        }
      },
      sendFailed: (err: unknown, attempt: number) => {
        log.error({ err: errorSummary(err), attempt }, 'Kafka send failed; retrying (nothing is dropped)');
      },
    },
    opts.delivery,
    now,
  );

  const userContext = (userId: string): TagUserContext | undefined => {
    const c = directory.context(userId);
    if (!c) return undefined;
    return {
      stationId: c.stationId,
      stationType: c.stationType,
      persistentConnectionState: c.persistentConnectionState,
    };
  };

  /** Merges observations into their conversations' snapshots; returns the records of changed snapshots. */
  const absorb = (observations: readonly TagObservation[], at: number): KeyedRecord[] => {
    const byConversation = new Map<string, TagObservation[]>();
    for (const o of observations)
      byConversation.set(o.conversationId, [...(byConversation.get(o.conversationId) ?? []), o]);
    const records: KeyedRecord[] = [];
    for (const [conversationId, obs] of byConversation) {
      const prev = conversations.get(conversationId);
      const next = mergeSessionTags(prev?.snapshot, obs);
      const state = prev ?? { snapshot: next, lastEventAt: at, userIds: new Set<string>() };
      state.lastEventAt = at;
      for (const leg of next.legs) if (leg.userId?.value) state.userIds.add(leg.userId.value);
      const changed = snapshotChanged(prev?.snapshot, next);
      state.snapshot = next;
      conversations.set(conversationId, state);
      if (changed)
        records.push({
          topic: topics.sessionTags,
          key: conversationId,
          value: encoders['session-tags.v1'].encode(next),
        });
    }
    return records;
  };

  const deadLetter = (frame: ReceivedFrame, code: string, reason: string): KeyedRecord => {
    stats.deadLetters++;
    metrics.deadLetters.inc({ code });
    log.error({ channelId: frame.channelId, code, reason }, 'notification frame dead-lettered');
    return {
      topic: topics.dlq,
      key: null,
      value: encoders['dead-letter.v1'].encode({
        key: null,
        value: Buffer.from(frame.text, 'utf8'),
        source: {
          kind: 'websocket',
          topic: null,
          partition: null,
          offset: null,
          timestampMs: frame.receivedAt,
          channelId: frame.channelId,
        },
        stage: 'ingest',
        errorCode: code,
        reason,
        firstSeenAtMs: frame.receivedAt,
        instance: deps.instance,
        headers: {},
      }),
    };
  };

  const onFrame = (frame: ReceivedFrame): void => {
    stats.frames++;
    const seq = (sequence.get(frame.channelId) ?? 0) + 1;
    sequence.set(frame.channelId, seq);
    const parsed = parseFrame(frame.text);
    const kind = parsed.ok ? parsed.value.kind : 'rejected';
    metrics.events.inc({ kind });
    const records: KeyedRecord[] = [];
    let eventTime: number | undefined;
    let conversationId: string | undefined;
    let entityId: string | undefined;
    if (!parsed.ok) {
      records.push(
        deadLetter(
          frame,
          `CUSTODY_INGEST_${parsed.error.code.toUpperCase().replace(/-/g, '_')}`,
          parsed.error.reason,
        ),
      );
    } else {
      const env = parsed.value;
      ({ conversationId, entityId } = notificationKeys(env));
      if (env.topicName !== undefined && isDataKind(env.kind)) {
        // The body as sent (JSON.parse keeps key order), without the per-channel envelope metadata.
        const body = JSON.stringify(env.rawBody ?? null);
        if (dedupe.isDuplicate(env.topicName, body, frame.channelId, frame.receivedAt)) {
          stats.duplicates++;
          metrics.duplicates.inc();
          return;
        }
      }
      if (env.kind === 'user-station') {
        const stationId = env.body.associatedStation?.id;
        directory
          .onStationEvent(env.userId, stationId)
          .catch((e: unknown) =>
            log.warn({ err: errorSummary(e), userId: env.userId }, 'station lookup failed'),
          );
      } else if (env.kind === 'persistent-connection') {
        directory.onPersistentConnection(env.userId, env.body.persistentState ?? undefined);
      }
      const extracted = extractTagObservations(env, {
        receivedAt: frame.receivedAt,
        provenance: 'live',
        userContext,
      });
      if (!extracted.ok) {
        records.push(
          deadLetter(
            frame,
            `CUSTODY_INGEST_${extracted.error.code.toUpperCase().replace(/-/g, '_')}`,
            extracted.error.reason,
          ),
        );
      } else {
        records.push(...absorb(extracted.value, frame.receivedAt));
        eventTime = latestObservedAt(extracted.value);
      }
    }
    const evidence: NotificationRecord = {
      topicName: parsed.ok ? (parsed.value.topicName ?? null) : null,
      kind,
      version: parsed.ok ? (parsed.value.version ?? null) : null,
      correlationId: parsed.ok ? (parsed.value.correlationId ?? null) : null,
      rejectionCode: parsed.ok ? null : parsed.error.code,
      rawFrame: frame.text,
      rawFrameSha256: createHash('sha256').update(frame.text, 'utf8').digest('hex'),
      receivedAtMs: frame.receivedAt,
      channelId: frame.channelId,
      frameSequence: seq,
      ingestInstance: deps.instance,
      ingestVersion: INGEST_VERSION,
      conversationId: conversationId ?? null,
      entityId: entityId ?? null,
    };
    // The evidence record goes first: a snapshot never reaches Kafka before the frame that produced it.
    records.unshift({
      topic: topics.notifications,
      key: conversationId ?? entityId ?? frame.channelId,
      value: encoders['notification.v1'].encode(evidence),
      timestamp: frame.receivedAt,
    });
    buffer.push({ records, receivedAt: frame.receivedAt, eventTime });
    metrics.bufferDepth.set(buffer.depth);
  };

  const reconcile = async (observations: readonly TagObservation[]): Promise<void> => {
    const records = absorb(observations, now());
    if (records.length > 0) buffer.push({ records, receivedAt: now() });
  };

  const repair = new GapRepair(
    {
      api: deps.api,
      knownActive: (userIds, from, to) => {
        const wanted = new Set(userIds);
        return [...conversations]
          .filter(([, s]) => s.lastEventAt >= from && [...s.userIds].some((u) => wanted.has(u)))
          .filter(([, s]) => s.lastEventAt <= to || s.snapshot.legs.some((l) => !l.disconnectedTime))
          .map(([id]) => id);
      },
      reconcileAnalytics: async (c: Models.AnalyticsConversationWithoutAttributes) => {
        const r = extractFromAnalytics(c, { receivedAt: now(), userContext });
        if (r.ok) await reconcile(r.value);
        else
          log.warn(
            { conversationId: c.conversationId, code: r.error.code, reason: r.error.reason },
            'analytics conversation not usable for repair',
          );
      },
      reconcileCall: async (c: Models.CallConversation) => {
        const r = extractFromCallConversation(c, { receivedAt: now(), userContext });
        if (r.ok) await reconcile(r.value);
        else
          log.warn(
            { conversationId: c.id, code: r.error.code, reason: r.error.reason },
            'call conversation not usable for repair',
          );
      },
      repaired: (gap, count, final) => {
        log.info(
          { shard: gap.shard, from: gap.from, to: gap.to, conversations: count, final },
          'gap reconciled',
        );
        if (final) {
          gaps.delete(gap);
          stats.gapsRepaired++;
          stats.gapsOpen = gaps.size;
          metrics.gapsRepaired.inc();
          metrics.gapsOpen.set(gaps.size);
        }
      },
      failed: (gap, err) =>
        log.error(
          { shard: gap.shard, err: errorSummary(err) },
          'gap repair attempt failed; a later attempt will retry',
        ),
    },
    opts.gapRepair,
  );

  const channelEvents = (shard: number) => ({
    frame: (f: ReceivedFrame) => onFrame(f),
    gapOpened: (gap: Gap) => {
      gaps.add(gap);
      stats.gapsOpen = gaps.size;
      metrics.gapsOpened.inc();
      metrics.gapsOpen.set(gaps.size);
      log.warn(
        { shard, from: gap.from, reason: gap.reason, users: gap.userIds.length },
        'notification gap opened',
      );
    },
    gapClosed: (gap: Gap) => {
      // The open gap object is replaced by its closed form, which repair owns until its final attempt.
      for (const g of gaps)
        if (g.shard === gap.shard && g.from === gap.from && g.to === undefined) gaps.delete(g);
      gaps.add(gap);
      log.warn(
        { shard, from: gap.from, to: gap.to, reason: gap.reason },
        'notification gap closed; repairing',
      );
      repair.schedule(gap);
    },
    reconnect: (reason: string) => metrics.reconnects.inc({ reason }),
    log: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) =>
      log[level]({ shard, ...fields }, msg),
  });

  const applyPlan = async (userIds: readonly string[]): Promise<void> => {
    const planned = planChannels(userIds, opts.limits, plan);
    if (!planned.ok) throw new Error(planned.error.message);
    plan = planned.value;
    for (const [i, users] of plan.shards.entries()) {
      const topicsOfShard = plan.topicsPerShard[i] ?? [];
      const existing = channels[i];
      if (existing) {
        if (existing.topics.join('\n') !== topicsOfShard.join('\n'))
          await existing.updateTopics(users, topicsOfShard);
      } else {
        const channel = new NotificationChannel({
          shard: i,
          api: deps.api,
          classify,
          events: channelEvents(i),
          options: opts.channel,
          now,
          scheduleAt: deps.scheduleAt,
        });
        channels[i] = channel;
        await channel.start(users, topicsOfShard);
      }
    }
    metrics.channels.set(channels.length);
    metrics.topics.set(plan.topicsPerShard.reduce((n, t) => n + t.length, 0));
  };

  deps.api.onTokenRenewed(() => {
    for (const c of channels) {
      c.resubscribe().catch((e: unknown) =>
        log.warn(
          { shard: c.shard, err: errorSummary(e) },
          'resubscribe after token renewal failed; the channel will be rebuilt if it ends',
        ),
      );
    }
  });
  const loaded = await directory.load();
  if (loaded.invalid.length > 0)
    log.error({ count: loaded.invalid.length }, 'users with ids that are not UUIDs were skipped');
  await applyPlan(loaded.userIds);
  log.info({ users: loaded.userIds.length, channels: channels.length }, 'ingest subscribed');

  const housekeeping = setInterval(() => {
    const cutoff = now() - opts.snapshotIdleMs;
    for (const [id, s] of conversations) if (s.lastEventAt < cutoff) conversations.delete(id);
  }, 60_000);
  housekeeping.unref();
  const refresh = setInterval(() => {
    if (stopping) return;
    directory
      .load()
      .then((l) => applyPlan(l.userIds))
      .catch((e: unknown) =>
        log.error({ err: errorSummary(e) }, 'user refresh failed; keeping the current subscriptions'),
      );
  }, opts.userRefreshMs);
  refresh.unref();

  return {
    notReadyReason() {
      if (stopping) return 'stopping';
      if (buffer.overflowing) return `Kafka backpressure (${buffer.depth} frames buffered)`;
      const down = channels.filter((c) => !c.connected).length;
      return down > 0 ? `${down} of ${channels.length} notification channels not connected` : undefined;
    },
    snapshot: (id) => conversations.get(id)?.snapshot,
    stats,
    flush: () => buffer.flush(),
    channels: () => channels.map((c) => ({ shard: c.shard, channelId: c.channelId, connected: c.connected })),
    async stop() {
      stopping = true;
      clearInterval(housekeeping);
      clearInterval(refresh);
      // Order matters: stop reading, let running repairs finish, flush what was received, then close.
      await Promise.all(channels.map((c) => c.stop()));
      await repair.stop();
      await buffer.close();
      await deps.producer.close();
    },
  };
}

function isDataKind(kind: NotificationEnvelope['kind']): boolean {
  return CONTROL_KINDS[kind] === undefined && kind !== 'subscribe-result';
}

function latestObservedAt(observations: readonly TagObservation[]): number | undefined {
  let latest: number | undefined;
  for (const o of observations)
    if (o.observedAt !== null && (latest === undefined || o.observedAt > latest)) latest = o.observedAt;
  return latest;
}

/** Error → loggable summary without request details (which may hold tokens). */
function errorSummary(e: unknown): { name: string; message: string } {
  return e instanceof Error
    ? { name: e.name, message: e.message.slice(0, 300) }
    : { name: 'unknown', message: String(e).slice(0, 300) };
}
