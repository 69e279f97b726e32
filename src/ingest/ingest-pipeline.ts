/**
 * `custody ingest`: Genesys notification WebSocket → Kafka.
 *
 * Every frame goes, as received, to the evidence log (genesys.notifications.v1). The snapshot worker
 * (snapshot-merger.ts) parses it, merges the tags it carries into its conversation's snapshot, and answers with the
 * snapshots it changed, which go to custody.session-tags.v1 (compacted, keyed by conversationId) in the batch of the
 * last frame merged into them, after those frames. Most frames are parsed only there, and their evidence record is
 * written from the worker's summary of them (frame-summary.ts); the main thread parses the frames it must act on as
 * they arrive (main-thread-frames.ts). A frame that cannot be parsed goes to custody.dlq.v1 with the reason — and to
 * the evidence log as `rejected`, so the log stays complete. Gaps recorded by the channels are repaired from REST
 * and analytics with provenance `reconciled`.
 */
import { createHash, hash } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import type { Models } from 'purecloud-platform-client-v2';
import type { Config } from '../config.ts';
import type { NotificationEnvelope } from '../enrich/genesys-envelope.ts';
import {
  eventBodyText,
  isGenesysId,
  notificationKeys,
  parseNotificationFrame,
} from '../enrich/genesys-envelope.ts';
import type {
  SessionTagsSnapshot,
  TagObservation,
  UserContext as TagUserContext,
} from '../enrich/session-tags.ts';
import { summarizeFrame } from '../enrich/frame-summary.ts';
import type { FrameSummary } from '../enrich/frame-summary.ts';
import { parseEventBridgeEvent } from '../enrich/eventbridge-event.ts';
import type { EventBridgeOrigin } from '../enrich/eventbridge-event.ts';
import { extractFromAnalytics, extractFromCallConversation } from '../enrich/session-tags-reconcile.ts';
import type { DroppedRecordPart } from '../enrich/session-tags-reconcile.ts';
import type { EventBridgeOriginRecord, NotificationRecord } from '../kafka/avro-codec.ts';
import { SESSION_TAGS_HEADERS } from '../kafka/topics.ts';
import { DEFAULT_MAX_RECORD_BYTES, recordBytes } from '../kafka/record-producer.ts';
import type { KeyedRecord, RecordProducer } from '../kafka/record-producer.ts';
import type { Decoders, Encoders } from '../kafka/record-codecs.ts';
import type { Logger } from '../observability/logger.ts';
import type { IngestMetrics } from '../observability/metrics.ts';
import { DEFAULT_BACKOFF, retryUntilDone } from '../runtime/backoff.ts';
import type { BackoffPolicy } from '../runtime/backoff.ts';
import { Conditions } from '../runtime/conditions.ts';
import { describeError, FatalError, isRetriable } from '../runtime/errors.ts';
import { findLastCapture } from './capture-checkpoint.ts';
import type { BridgeRecord, RunningEventBridgeSource } from './eventbridge-source.ts';
import { startEventBridgeSource } from './eventbridge-source.ts';
import type { Delivery, DeliveryBufferOptions, Unflushed } from './delivery-buffer.ts';
import { DEFAULT_DELIVERY_OPTIONS, DeliveryBuffer, withFrames } from './delivery-buffer.ts';
import {
  droppedParticipantsReason,
  oversizedFrameDeadLetter,
  PARTICIPANT_DROPPED,
  unusableFrameDeadLetter,
} from './frame-dead-letters.ts';
import { GENESYS_CREDENTIAL_SETTINGS, genesysFatal, genesysRetryAfterMs } from './genesys-errors.ts';
import type { GapRepairOptions } from './gap-repair.ts';
import { GapRepair } from './gap-repair.ts';
import type { GenesysApi } from './genesys-api.ts';
import type {
  ChannelOptions,
  ChannelStart,
  ControlKind,
  EventBridgeReceipt,
  Gap,
  ReceivedFrame,
} from './notification-channel.ts';
import { NotificationChannel } from './notification-channel.ts';
import { OverlapDedupe } from './overlap-dedupe.ts';
import { mayNeedMainThread } from './main-thread-frames.ts';
import { SnapshotMerger } from './snapshot-merger.ts';
import type { Merged } from './snapshot-merger.ts';
import type { RestoredConversation } from './snapshot-restore.ts';
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
  /** Keep a conversation's snapshot packed (packed-snapshots.ts) this long after its last event. */
  readonly snapshotPackAfterMs: number;
  /** How often quiet snapshots are packed and idle ones forgotten (ms). */
  readonly housekeepingMs: number;
  /**
   * Largest Kafka record the producer sends (bytes; the producer's `maxRequestBytes`). A frame whose evidence
   * record would be larger goes to the DLQ (size, SHA-256, prefix) and its conversation is repaired as a gap.
   */
  readonly maxRecordBytes: number;
  /** Bytes of an oversized frame kept in its dead letter. */
  readonly deadLetterPrefixBytes: number;
  /** `stop()` returns within this long whatever Kafka and Genesys do; what was not flushed is reported. */
  readonly stopTimeoutMs: number;
  /**
   * The gap recorded at start for the time ingest was not running begins at most this long ago (a longer
   * outage is repaired for its last part only; the rest needs a backfill).
   */
  readonly restartGapMaxMs: number;
  /** Backoff of the start-up waits (Genesys directory, evidence log scan). */
  readonly startRetry: BackoffPolicy;
  /**
   * How long an EventBridge event's body is remembered to drop a redelivery of it (ms). EventBridge delivers at
   * least once and a bridge may retry late, so this is far longer than the WebSocket's channel-overlap window.
   */
  readonly eventBridgeDedupeWindowMs: number;
}

export const DEFAULT_INGEST_OPTIONS: IngestOptions = {
  limits: GENESYS_LIMITS,
  channel: {},
  delivery: {},
  gapRepair: {},
  userRefreshMs: 10 * 60_000,
  snapshotIdleMs: 6 * 60 * 60_000,
  snapshotPackAfterMs: 60_000,
  housekeepingMs: 60_000,
  maxRecordBytes: DEFAULT_MAX_RECORD_BYTES,
  deadLetterPrefixBytes: 4_096,
  stopTimeoutMs: 10_000,
  restartGapMaxMs: 24 * 60 * 60_000,
  startRetry: DEFAULT_BACKOFF,
  eventBridgeDedupeWindowMs: 6 * 60 * 60_000,
};

/** Evidence-record overhead besides the frame text (ids, hashes, Avro framing), with room to spare. */
const EVIDENCE_OVERHEAD_BYTES = 2_048;

/** A REST/analytics read used in part: some participants or sessions failed validation (see repairDropped). */
const REPAIR_PARTICIPANT_DROPPED = 'CUSTODY_INGEST_REPAIR_PARTICIPANT_DROPPED';

export interface IngestDeps {
  readonly api: GenesysApi;
  /** Owned by ingest from here on: `stop()` closes it (and so does a failed start). */
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
  /** Conversations restored from custody.session-tags.v1 at start-up, packed (see restoreSnapshots). */
  readonly restored?: ReadonlyMap<string, RestoredConversation>;
  /**
   * The evidence log to find, at start, when this ingest last captured (see findLastCapture): the interval from
   * then until the sockets are up is recorded as a gap and repaired. Without it no restart gap is recorded.
   */
  readonly evidenceLog?: { readonly kafka: Kafka; readonly decoders: Decoders };
  /**
   * When the process started (before it waited for Kafka and Genesys): on a first start, with no earlier capture,
   * the time since then is recorded as a gap and repaired.
   */
  readonly processStartedAt?: number;
  /**
   * Read the notifications from the Kafka topic the user bridges Genesys' Amazon EventBridge integration into,
   * instead of the Notification API WebSocket (see eventbridge-source.ts). Everything after reading is shared.
   */
  readonly eventBridge?: { readonly kafka: Kafka; readonly topic: string; readonly groupId: string };
  /** Aborting ends the start-up waits (ShutdownError). */
  readonly signal?: AbortSignal;
  /** Not-ready reasons of the start-up waits and of Kafka delivery trouble (else ingest keeps its own). */
  readonly conditions?: Conditions;
  /** Called once when a part of ingest stopped for a reason retries cannot fix (see RunningIngest.failure). */
  readonly onFailure?: (err: unknown) => void;
}

/** What `stop()` could not do before its deadline. */
export interface StopReport {
  /** True when the deadline cut the stop short. */
  readonly timedOut: boolean;
  /** Frames received and never acknowledged by Kafka: the next start repairs them as part of its restart gap. */
  readonly unflushed: Unflushed;
}

export interface RunningIngest {
  /** Undefined when ready; else why not (for /readyz). */
  notReadyReason(): string | undefined;
  /**
   * A copy of the conversation's snapshot as ingest holds it: every frame received merged in. Once every frame is
   * acknowledged it is the one it wrote last, plus re-captures that changed nothing material (later capture times and
   * sources of the same values), which wait for the next material change.
   */
  snapshot(conversationId: string): Promise<SessionTagsSnapshot | undefined>;
  readonly stats: {
    frames: number;
    deadLetters: number;
    duplicates: number;
    gapsOpen: number;
    gapsRepaired: number;
    /** Snapshots packed because their conversation went quiet (packed-snapshots.ts). */
    snapshotsPacked: number;
  };
  /**
   * Rejects when a part of ingest stopped for a reason retrying cannot fix (credentials or a permission
   * Genesys refused, Kafka authorization): the process should end so its supervisor restarts it. Never resolves.
   */
  readonly failure: Promise<never>;
  /** Resolves when every frame received so far is acknowledged by Kafka. */
  flush(): Promise<void>;
  /** Waits for pending gap repairs that are due (tests) — not the later retries. */
  channels(): ReadonlyArray<{ shard: number; channelId: string | undefined; connected: boolean }>;
  /** Stops within `stopTimeoutMs` even when Kafka or Genesys do not answer, and reports what was not flushed. */
  stop(): Promise<StopReport>;
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
 * `f` over frame texts, remembering its last answer: the channel classifies a frame and then hands the same text to
 * onFrame, synchronously, so a one-entry memo serves both (parsing and validating is the largest per-frame cost of
 * ingest).
 */
function lastFrameMemo<T>(f: (text: string) => T): (text: string) => T {
  let lastText: string | undefined;
  let last: T;
  return (text) => {
    if (text !== lastText) {
      last = f(text);
      lastText = text;
    }
    return last;
  };
}

export async function startIngest(
  deps: IngestDeps,
  options: Partial<IngestOptions> = {},
): Promise<RunningIngest> {
  const opts: IngestOptions = { ...DEFAULT_INGEST_OPTIONS, ...options };
  const now = deps.now ?? (() => Date.now());
  const startedAt = now();
  const { log, metrics, encoders, topics } = deps;
  const conditions = deps.conditions ?? new Conditions(log);
  const directory = new UserDirectory(deps.api, now);
  const dedupe = new OverlapDedupe(
    deps.eventBridge
      ? { windowMs: opts.eventBridgeDedupeWindowMs, maxEntries: 500_000, alwaysArmed: true }
      : {},
  );
  let housekeepingPosted = false;
  // The held snapshots live in a worker thread: their heap, and its major GCs, off the thread that reads the
  // sockets (bench/README.md, "What the tail is made of"). Frames wait for it to merge them (see `deliver`).
  const snapshotFraming = encoders['session-tags.v1'].framing;
  const merger = new SnapshotMerger(
    {
      restored: deps.restored,
      now: now(),
      // The worker encodes the snapshots it changes when ingest's encoder says how (the same bytes), so the main
      // thread neither copies them in nor encodes them: each would hold ~10 KB of its heap until the batch is sent.
      ...(snapshotFraming ? { snapshotFraming } : {}),
    },
    {
      merged: (m) => onMerged(m),
      housekept: (_forgotten, packed) => {
        stats.snapshotsPacked += packed;
        housekeepingPosted = false;
      },
      // A crashed worker (out of memory, a bug, a broken install) is software's failure, not a setting to fix.
      failure: (e) => fail(new Error(`the snapshot worker failed: ${e.message}`)),
    },
  );
  metrics.observeSnapshotWorker({ held: () => merger.held, heap: () => merger.heapStatistics() });
  const channels: NotificationChannel[] = [];
  const gaps = new Set<Gap>();
  const stats = {
    frames: 0,
    deadLetters: 0,
    duplicates: 0,
    gapsOpen: 0,
    gapsRepaired: 0,
    snapshotsPacked: 0,
  };
  const sequence = new Map<string, number>();
  const parseFrame = lastFrameMemo(parseNotificationFrame);
  const needsMainThread = lastFrameMemo(mayNeedMainThread);
  const classify = (text: string): ControlKind => {
    // Only frames that may be control frames are parsed here (the others are parsed by the worker).
    if (!needsMainThread(text)) return 'data';
    const parsed = parseFrame(text);
    return parsed.ok ? (CONTROL_KINDS[parsed.value.kind] ?? 'data') : 'data';
  };
  let plan: ChannelPlan | undefined;
  let stopping = false;

  // --- failure: a loop that retries cannot fix ends ingest, so the process can end and be restarted ---------
  let failedWith: unknown;
  let rejectFailure: (e: unknown) => void = () => undefined;
  const failure = new Promise<never>((_, reject) => {
    rejectFailure = reject;
  });
  // Nobody may be listening yet (or ever, in tests): that must not count as an unhandled rejection.
  failure.catch(() => undefined);
  const fail = (e: unknown): void => {
    if (failedWith !== undefined || stopping) return;
    failedWith = e;
    log.error({ err: e }, 'ingest cannot continue: a part of it stopped for a reason retries cannot fix');
    deps.onFailure?.(e);
    rejectFailure(e);
  };

  const KAFKA_CONDITION = 'Kafka delivery';
  const WORKER_CONDITION = 'snapshot worker';
  /**
   * Two queues can fill: the delivery buffer (Kafka slow) and the deliveries waiting for the snapshot worker (the
   * worker slow). The sockets pause while either is above its high water.
   */
  const pressure = { kafka: false, worker: false };
  // The same water marks as the delivery buffer's, in frames.
  const { highWater, lowWater } = { ...DEFAULT_DELIVERY_OPTIONS, ...opts.delivery };
  let socketsPaused = false;
  const applyPressure = (): void => {
    const paused = pressure.kafka || pressure.worker;
    if (paused === socketsPaused) return;
    socketsPaused = paused;
    for (const c of channels) {
      if (paused) c.pause();
      else c.resume();
    }
  };
  const reportBuffer = () => {
    metrics.bufferDepth.set(buffer.depth);
    metrics.bufferBytes.set(buffer.bytes);
  };
  /** Set once stop() closed or abandoned the buffer: nothing may be pushed any more. */
  let bufferGone = false;
  const buffer = new DeliveryBuffer(
    deps.producer,
    {
      acked: (ds: readonly Delivery[], ackedAt: number) => {
        for (const d of ds) {
          metrics.ackLatency.observe((ackedAt - d.receivedAt) / 1000);
          deps.onAcked?.(d.receivedAt, ackedAt);
          if (d.eventTime !== undefined) metrics.eventLag.observe(Math.max(0, ackedAt - d.eventTime) / 1000);
        }
        reportBuffer();
      },
      pressure: (paused: boolean) => {
        log.warn(
          { paused, depth: buffer.depth, bytes: buffer.bytes },
          paused ? 'Kafka backpressure: pausing sockets' : 'Kafka caught up: resuming sockets',
        );
        pressure.kafka = paused;
        applyPressure();
      },
      sendFailed: (err: unknown, attempt: number) => {
        // One line when sending starts failing; the condition carries the latest cause for /readyz.
        if (attempt === 0)
          log.error({ err }, 'Kafka send failed; retrying with backoff (nothing is dropped)');
        conditions.set(KAFKA_CONDITION, `Kafka not accepting frames: ${describeError(err)}`);
      },
      recovered: (attempts: number) => {
        log.info({ attempts }, 'Kafka send recovered');
        conditions.clear(KAFKA_CONDITION);
      },
      oversized: (record: KeyedRecord, delivery: Delivery, limitBytes: number) => {
        stats.deadLetters++;
        metrics.deadLetters.inc({ code: 'CUSTODY_INGEST_RECORD_TOO_LARGE' });
        log.error(
          { topic: record.topic, key: record.key, bytes: recordBytes(record), limitBytes },
          'a record is larger than Kafka accepts; dead-lettered',
        );
        return oversizedRecordDeadLetter(record, delivery, limitBytes);
      },
      failed: (err: unknown) => fail(err),
    },
    opts.delivery,
    now,
  );

  const oversizedRecordDeadLetter = (
    record: KeyedRecord,
    delivery: Delivery,
    limitBytes: number,
  ): KeyedRecord | undefined => {
    if (record.topic === topics.dlq) return undefined;
    const value = record.value ?? Buffer.alloc(0);
    const sha256 = createHash('sha256').update(value).digest('hex');
    const prefix = value.subarray(0, opts.deadLetterPrefixBytes);
    return {
      topic: topics.dlq,
      key: record.key,
      value: encoders['dead-letter.v1'].encode({
        key: record.key === null ? null : Buffer.from(record.key),
        value: prefix,
        source: {
          kind: 'kafka',
          topic: record.topic,
          partition: null,
          offset: null,
          timestampMs: delivery.receivedAt,
          channelId: null,
        },
        stage: 'ingest',
        errorCode: 'CUSTODY_INGEST_RECORD_TOO_LARGE',
        reason:
          `a record for ${record.topic} of ${value.length} bytes (SHA-256 ${sha256}) exceeds the ${limitBytes}-byte ` +
          `Kafka record limit; the value keeps its first ${prefix.length} bytes`,
        firstSeenAtMs: delivery.receivedAt,
        instance: deps.instance,
        headers: {
          'custody.record.bytes': Buffer.from(String(value.length)),
          'custody.record.sha256': Buffer.from(sha256),
        },
      }),
    };
  };

  const writerHeaders = {
    [SESSION_TAGS_HEADERS.instance]: deps.instance,
    [SESSION_TAGS_HEADERS.version]: INGEST_VERSION,
  };

  const userContext = (userId: string): TagUserContext | undefined => {
    const c = directory.context(userId);
    if (!c) return undefined;
    return {
      stationId: c.stationId,
      stationType: c.stationType,
      persistentConnectionState: c.persistentConnectionState,
    };
  };
  // The worker extracts with the same contexts, each change posted before the frames received after it.
  // Posted only when what extraction reads changed: the directory records every persistent-connection event anew.
  const postedContexts = new Map<string, string>();
  directory.onChange((userId) => {
    const c = userContext(userId);
    const key = c === undefined ? '' : `${c.stationId}|${c.stationType}|${c.persistentConnectionState}`;
    if (postedContexts.get(userId) === key) return;
    if (c === undefined) postedContexts.delete(userId);
    else postedContexts.set(userId, key);
    merger.contexts([[userId, c ?? null]]);
  });

  /**
   * Deliveries waiting for the snapshot worker to merge their item, in item order (from `waitingHead`). A slot is
   * emptied as its item leaves: a consumed item kept until the next compaction (up to ~200 ms of frames at 5,000/s)
   * outlived the young-generation GCs with its frame's text, and the promoted texts drove the main thread's major GCs.
   */
  type Waiting = { records: KeyedRecord[]; receivedAt: number; eventTime?: number };
  type WaitingItem = {
    seq: number;
    delivery: Waiting;
    frame?: ReceivedFrame;
    /** Set for a frame the worker parses for the main thread: its records are written from the worker's summary. */
    reported?: { frameSequence: number | null };
  };
  let waiting: Array<WaitingItem | undefined> = [];
  let waitingHead = 0;

  /**
   * Queues a delivery once the worker has merged its item: a frame's text (null: nothing to merge, it only keeps its
   * place), or observations read from the API. Everything goes through here, so deliveries keep their order.
   */
  const deliver = (
    delivery: Waiting,
    item:
      | { frame: ReceivedFrame; text: string | null; reported?: { frameSequence: number | null } }
      | { observations: readonly TagObservation[]; at: number }
      | null,
  ): void => {
    if (bufferGone) return;
    if (item !== null && 'observations' in item) {
      waiting.push({ seq: merger.observations(item.observations, item.at), delivery });
    } else {
      const seq = merger.frame(item?.text ?? null, delivery.receivedAt, item?.reported !== undefined);
      waiting.push({
        seq,
        delivery,
        ...(item ? { frame: item.frame } : {}),
        ...(item?.reported ? { reported: item.reported } : {}),
      });
    }
    if (!pressure.worker && waiting.length - waitingHead >= highWater) {
      pressure.worker = true;
      const behind = waiting.length - waitingHead;
      log.warn({ waiting: behind }, 'the snapshot worker is behind: pausing sockets');
      conditions.set(WORKER_CONDITION, `the snapshot worker is behind by ${behind} frames`);
      applyPressure();
    }
  };

  /**
   * The worker merged through `m.through`: those deliveries go to the buffer in order, each frame with the dead letter
   * of a failed extraction, and the snapshots they changed close the last of them, so a snapshot is in the batch of
   * the last frame merged into it and never reaches Kafka before any of its frames.
   */
  const onMerged = (m: Merged): void => {
    if (bufferGone) return;
    const outcomes = new Map(m.outcomes.map((o) => [o.seq, o]));
    let last: Waiting | undefined;
    while (waitingHead < waiting.length && (waiting[waitingHead] as WaitingItem).seq <= m.through) {
      const w = waiting[waitingHead] as WaitingItem;
      waiting[waitingHead++] = undefined;
      const o = outcomes.get(w.seq);
      if (w.reported && w.frame) {
        if (!o?.summary) {
          fail(new Error(`the snapshot worker did not report on frame ${w.seq}`));
          return;
        }
        metrics.events.inc({ kind: o.summary.kind });
        for (const r of frameRecords(w.frame, w.reported.frameSequence, o.summary))
          w.delivery.records.push(r);
      }
      if (o?.failure && w.frame)
        w.delivery.records.push(deadLetter(w.frame, deadLetterCode(o.failure.code), o.failure.reason));
      if (o?.eventTime != null) w.delivery.eventTime = o.eventTime;
      if (last) buffer.push(last);
      last = w.delivery;
    }
    if (waitingHead > 1024 && waitingHead * 2 > waiting.length) {
      waiting = waiting.slice(waitingHead);
      waitingHead = 0;
    }
    if (pressure.worker && waiting.length - waitingHead <= lowWater) {
      pressure.worker = false;
      log.warn({ waiting: waiting.length - waitingHead }, 'the snapshot worker caught up: resuming sockets');
      conditions.clear(WORKER_CONDITION);
      applyPressure();
    }
    if (last === undefined) return;
    const snapshotRecord = (key: string, value: Buffer): KeyedRecord => ({
      topic: topics.sessionTags,
      key,
      value,
      // Who captured it: manifests name this ingest instance and version as the actor of the capture.
      headers: writerHeaders,
    });
    const enc = m.encoded;
    if (enc) {
      const all = Buffer.from(enc.bytes.buffer, enc.bytes.byteOffset, enc.bytes.byteLength);
      enc.conversationIds.forEach((id, i) =>
        last.records.push(snapshotRecord(id, all.subarray(i === 0 ? 0 : enc.ends[i - 1], enc.ends[i]))),
      );
    }
    // Without framing, encoded here with ingest's own encoder (and schema registry id), as every other record.
    for (const { conversationId: id, snapshot } of m.snapshots)
      last.records.push(snapshotRecord(id, encoders['session-tags.v1'].encode(snapshot)));
    buffer.push(last);
    reportBuffer();
  };

  const deadLetter = (frame: ReceivedFrame, code: string, reason: string, key?: string): KeyedRecord => {
    stats.deadLetters++;
    metrics.deadLetters.inc({ code });
    log.error({ channelId: frame.channelId, code, reason }, 'notification frame dead-lettered');
    return unusableFrameDeadLetter({
      frame,
      code,
      reason,
      dlqTopic: topics.dlq,
      instance: deps.instance,
      encoders,
      ...(key === undefined ? {} : { key }),
    });
  };

  /**
   * A frame too large for any Kafka record: its size, hash and a prefix go to the DLQ, and the conversation it
   * is about (or its user) is recorded as a gap, so what it said is repaired from the Platform API.
   */
  const onOversizedFrame = (frame: ReceivedFrame, bytes: number): void => {
    const sha256 = createHash('sha256')
      .update(frame.eventBridge?.event ?? frame.text, 'utf8')
      .digest('hex');
    const parsed = parseFrame(frame.text);
    const keys: { conversationId?: string; entityId?: string } = parsed.ok
      ? notificationKeys(parsed.value)
      : {};
    const topicName = parsed.ok ? parsed.value.topicName : undefined;
    const userId = topicName?.startsWith('v2.users.') ? keys.entityId : undefined;
    const conversationId = keys.conversationId;
    stats.deadLetters++;
    metrics.deadLetters.inc({ code: 'CUSTODY_INGEST_FRAME_TOO_LARGE' });
    metrics.events.inc({ kind: 'oversized' });
    log.error(
      { channelId: frame.channelId, bytes, sha256, limitBytes: opts.maxRecordBytes, conversationId, userId },
      'notification frame too large for Kafka: dead-lettered (size, hash, prefix) and repaired as a gap',
    );
    const record = oversizedFrameDeadLetter({
      frame,
      bytes,
      sha256,
      limitBytes: opts.maxRecordBytes,
      prefixBytes: opts.deadLetterPrefixBytes,
      conversationId,
      topicName,
      dlqTopic: topics.dlq,
      instance: deps.instance,
      encoders,
    });
    deliver({ records: [record], receivedAt: frame.receivedAt }, null);
    if (!conversationId && !userId) return;
    const shard = channels.find((c) => c.channelId === frame.channelId)?.shard ?? -1;
    const known = conversationId ? merger.usersOf(conversationId) : undefined;
    const gap: Gap = {
      shard,
      userIds: [...new Set([...(userId ? [userId] : []), ...(known ?? [])])],
      from: frame.receivedAt,
      to: frame.receivedAt,
      reason: 'frame too large for Kafka',
      conversationIds: conversationId ? [conversationId] : undefined,
    };
    recordGap(gap);
    repair.schedule(gap);
  };

  const onFrame = (frame: ReceivedFrame): void => {
    // A socket that outlived a stop past its deadline: the buffer is gone, and the restart gap covers the frame.
    if (bufferGone) return;
    stats.frames++;
    const eb = frame.eventBridge;
    // EventBridge has no connection to count frames on: its records are ordered by their bridge offsets.
    let seq: number | null = null;
    if (!eb) {
      seq = (sequence.get(frame.channelId) ?? 0) + 1;
      sequence.set(frame.channelId, seq);
    }
    const rawText = eb?.event ?? frame.text;
    const frameBytes = Buffer.byteLength(rawText, 'utf8');
    if (frameBytes + EVIDENCE_OVERHEAD_BYTES > opts.maxRecordBytes) {
      onOversizedFrame(frame, frameBytes);
      return;
    }
    // Most frames are parsed once, by the worker: their records are written when it reports (onMerged). The main
    // thread parses those it must act on now, and every frame while duplicates are checked.
    if (!eb && !dedupe.checks(frame.receivedAt) && !needsMainThread(frame.text)) {
      deliver(
        { records: [], receivedAt: frame.receivedAt },
        { frame, text: frame.text, reported: { frameSequence: seq } },
      );
      return;
    }
    const parsed = parseFrame(frame.text);
    metrics.events.inc({ kind: parsed.ok ? parsed.value.kind : 'rejected' });
    if (parsed.ok) {
      const env = parsed.value;
      // Sockets' frames are checked only while a second channel may carry their topic (after a subscription).
      if (env.topicName !== undefined && isDataKind(env.kind) && (eb || dedupe.checks(frame.receivedAt))) {
        // The body as sent, without the per-channel envelope metadata.
        const body = eventBodyText(env);
        // EventBridge delivers at least once, and Genesys retries it for days: any repeat of a body is a duplicate.
        const duplicate = eb
          ? dedupe.seenBefore(env.topicName, body, frame.receivedAt)
          : dedupe.isDuplicate(env.topicName, body, frame.channelId, frame.receivedAt);
        if (duplicate) {
          stats.duplicates++;
          metrics.duplicates.inc();
          return;
        }
      }
      if (env.kind === 'user-station') {
        const stationId = env.body.associatedStation?.id;
        directory
          .onStationEvent(env.userId, stationId)
          .catch((e: unknown) => log.warn({ err: e, userId: env.userId }, 'station lookup failed'));
      } else if (env.kind === 'persistent-connection') {
        directory.onPersistentConnection(env.userId, env.body.persistentState ?? undefined);
      }
    }
    const records = frameRecords(frame, seq, summarizeFrame(parsed));
    // The worker parses the text again to extract and merge its tags (the main thread keeps no snapshots).
    deliver({ records, receivedAt: frame.receivedAt }, { frame, text: parsed.ok ? frame.text : null });
  };

  /**
   * A frame's evidence record, then the dead letter of a rejected frame or of participants left out: the same records
   * whether the main thread or the worker parsed the frame.
   */
  const frameRecords = (
    frame: ReceivedFrame,
    frameSequence: number | null,
    s: FrameSummary,
  ): KeyedRecord[] => {
    const eb = frame.eventBridge;
    const rawText = eb?.event ?? frame.text;
    const conversationId = s.conversationId ?? undefined;
    const evidence: NotificationRecord = {
      topicName: s.topicName,
      kind: s.kind,
      version: s.version,
      correlationId: s.correlationId,
      rejectionCode: s.rejection?.code ?? null,
      rawFrame: rawText,
      rawFrameSha256: hash('sha256', rawText, 'hex'),
      receivedAtMs: frame.receivedAt,
      channelId: frame.channelId,
      frameSequence,
      ingestInstance: deps.instance,
      ingestVersion: INGEST_VERSION,
      conversationId: s.conversationId,
      entityId: s.entityId,
      transport: eb ? 'eventbridge' : null,
      eventBridge: eb ? eventBridgeRecord(eb) : null,
    };
    // The evidence record goes first; the snapshots it changes close the delivery the worker's reply releases.
    const records: KeyedRecord[] = [
      {
        topic: topics.notifications,
        key: s.conversationId ?? s.entityId ?? frame.channelId,
        value: encoders['notification.v1'].encode(evidence),
        timestamp: frame.receivedAt,
      },
    ];
    if (s.rejection) records.push(deadLetter(frame, deadLetterCode(s.rejection.code), s.rejection.reason));
    // The valid legs are used; what was left out, and why, goes to the DLQ keyed by the conversation.
    if (s.dropped.length > 0)
      records.push(
        deadLetter(frame, PARTICIPANT_DROPPED, droppedParticipantsReason(s.dropped), conversationId),
      );
    return records;
  };

  /**
   * One record of the EventBridge bridge topic: an event that parses goes through onFrame like a WebSocket frame
   * (its detail is the notification); one that does not is kept in the evidence log as rejected and dead-lettered
   * with its bridge coordinates, and reading goes on.
   */
  const onBridgeRecord = (r: BridgeRecord): void => {
    if (bufferGone) return;
    const text = r.value?.toString('utf8') ?? '';
    const parsed = parseEventBridgeEvent(text);
    if (parsed.ok) {
      onFrame({
        text: parsed.value.frameText,
        receivedAt: r.receivedAt,
        channelId: parsed.value.origin.source,
        eventBridge: {
          event: text,
          origin: parsed.value.origin,
          topic: r.topic,
          partition: r.partition,
          offset: Number(r.offset),
        },
      });
      return;
    }
    stats.frames++;
    stats.deadLetters++;
    const code = deadLetterCode(parsed.error.code, 'EVENTBRIDGE_');
    metrics.events.inc({ kind: 'rejected' });
    metrics.deadLetters.inc({ code });
    log.error(
      { topic: r.topic, partition: r.partition, offset: r.offset, code, reason: parsed.error.reason },
      'EventBridge event dead-lettered',
    );
    const value = r.value ?? Buffer.alloc(0);
    const tooLarge = value.length + EVIDENCE_OVERHEAD_BYTES > opts.maxRecordBytes;
    const kept = tooLarge ? value.subarray(0, opts.deadLetterPrefixBytes) : value;
    const records: KeyedRecord[] = [];
    if (!tooLarge) {
      const evidence: NotificationRecord = {
        topicName: null,
        kind: 'rejected',
        version: null,
        correlationId: null,
        rejectionCode: `eventbridge-${parsed.error.code}`,
        rawFrame: text,
        rawFrameSha256: hash('sha256', text, 'hex'),
        receivedAtMs: r.receivedAt,
        channelId: r.topic,
        frameSequence: null,
        ingestInstance: deps.instance,
        ingestVersion: INGEST_VERSION,
        conversationId: null,
        entityId: null,
        transport: 'eventbridge',
        eventBridge: null,
      };
      records.push({
        topic: topics.notifications,
        key: r.topic,
        value: encoders['notification.v1'].encode(evidence),
        timestamp: r.receivedAt,
      });
    }
    records.push({
      topic: topics.dlq,
      key: null,
      value: encoders['dead-letter.v1'].encode({
        key: null,
        value: kept,
        source: {
          kind: 'kafka',
          topic: r.topic,
          partition: r.partition,
          offset: Number(r.offset),
          timestampMs: r.receivedAt,
          channelId: null,
        },
        stage: 'ingest',
        errorCode: code,
        reason: tooLarge
          ? `${parsed.error.reason}; the event of ${value.length} bytes exceeds the Kafka record limit, the value keeps its first ${kept.length} bytes`
          : parsed.error.reason,
        firstSeenAtMs: r.receivedAt,
        instance: deps.instance,
        headers: {},
      }),
    });
    deliver({ records, receivedAt: r.receivedAt }, null);
  };

  const reconcile = async (observations: readonly TagObservation[]): Promise<void> => {
    if (bufferGone || observations.length === 0) return;
    const at = now();
    deliver({ records: [], receivedAt: at }, { observations, at });
  };

  /**
   * Participants (or sessions) of a REST/analytics read that failed validation: the others were used; these go to
   * the DLQ with the check each failed and the record as read, keyed by the conversation.
   */
  const repairDropped = (
    api: 'analytics' | 'conversations',
    dropped: readonly DroppedRecordPart[],
    conversationId: string | undefined,
    record: unknown,
  ): void => {
    if (dropped.length === 0 || bufferGone) return;
    stats.deadLetters++;
    metrics.deadLetters.inc({ code: REPAIR_PARTICIPANT_DROPPED });
    const reason = `${api}: ${droppedParticipantsReason(dropped)}`;
    log.warn({ api, conversationId, code: REPAIR_PARTICIPANT_DROPPED, reason }, 'gap repair left parts out');
    const key = conversationId !== undefined && isGenesysId(conversationId) ? conversationId : null;
    const at = now();
    buffer.push({
      receivedAt: at,
      records: [
        {
          topic: topics.dlq,
          key,
          value: encoders['dead-letter.v1'].encode({
            key: key === null ? null : Buffer.from(key),
            value: Buffer.from(JSON.stringify(record) ?? 'null', 'utf8'),
            source: {
              kind: 'api',
              topic: null,
              partition: null,
              offset: null,
              timestampMs: at,
              channelId: null,
            },
            stage: 'ingest',
            errorCode: REPAIR_PARTICIPANT_DROPPED,
            reason,
            firstSeenAtMs: at,
            instance: deps.instance,
            headers: {},
          }),
        },
      ],
    });
  };

  const repair = new GapRepair(
    {
      api: deps.api,
      knownActive: (userIds, from, to) => merger.activeFor(userIds, from, to),
      reconcileAnalytics: async (c: Models.AnalyticsConversationWithoutAttributes) => {
        const r = extractFromAnalytics(c, { receivedAt: now(), userContext });
        if (r.ok) {
          repairDropped('analytics', r.value.dropped, c.conversationId, c);
          await reconcile(r.value.observations);
        } else
          log.warn(
            { conversationId: c.conversationId, code: r.error.code, reason: r.error.reason },
            'analytics conversation not usable for repair',
          );
      },
      reconcileCall: async (c: Models.CallConversation) => {
        const r = extractFromCallConversation(c, { receivedAt: now(), userContext });
        if (r.ok) {
          repairDropped('conversations', r.value.dropped, c.id, c);
          await reconcile(r.value.observations);
        } else
          log.warn(
            { conversationId: c.id, code: r.error.code, reason: r.error.reason },
            'call conversation not usable for repair',
          );
      },
      repaired: (gap, count, final) => {
        log.info(
          { shard: gap.shard, from: gap.from, to: gap.to, reason: gap.reason, conversations: count, final },
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
      failed: (gap, err) => {
        const fatal = genesysFatal(err);
        if (fatal) fail(fatal);
        else log.error({ shard: gap.shard, err }, 'gap repair attempt failed; a later attempt will retry');
      },
    },
    opts.gapRepair,
  );

  const recordGap = (gap: Gap): void => {
    gaps.add(gap);
    stats.gapsOpen = gaps.size;
    metrics.gapsOpened.inc();
    metrics.gapsOpen.set(gaps.size);
  };

  const channelEvents = (shard: number) => ({
    frame: (f: ReceivedFrame) => onFrame(f),
    gapOpened: (gap: Gap) => {
      recordGap(gap);
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
    willCarry: (channelId: string, topics: readonly string[]) => {
      if (!channels.some((c) => c.carriesAny(channelId, topics))) return;
      dedupe.arm(now());
      log.info({ shard, channelId }, 'two channels may carry the same topics: checking for duplicates');
    },
    failed: (err: FatalError) => fail(err),
    log: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) =>
      log[level]({ shard, ...fields }, msg),
  });

  /** Subscribes the planned shards; `start` opens a gap on new shards (the restart gap at start-up). */
  const applyPlan = async (userIds: readonly string[], start: ChannelStart = {}): Promise<void> => {
    const planned = planChannels(userIds, opts.limits, plan);
    if (!planned.ok) throw new FatalError(planned.error.message, { setting: GENESYS_CREDENTIAL_SETTINGS });
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
        // A channel added while Kafka or the worker holds the others paused starts paused too.
        if (socketsPaused) channel.pause();
        // Resolves after the first attempt; a failed one keeps retrying in the background (not ready meanwhile).
        await channel.start(users, topicsOfShard, start);
      }
    }
    metrics.channels.set(channels.length);
    metrics.topics.set(plan.topicsPerShard.reduce((n, t) => n + t.length, 0));
  };

  const startRetry = {
    log,
    signal: deps.signal,
    conditions,
    policy: opts.startRetry,
    retryAfterMs: genesysRetryAfterMs,
  };
  /** A Genesys wait: network errors, 429 (Retry-After) and 5xx are retried; 401/403 become a FatalError. */
  const fromGenesys = <T>(what: string, fn: () => Promise<T>): Promise<T> =>
    retryUntilDone(
      what,
      async () => {
        try {
          return await fn();
        } catch (e) {
          throw genesysFatal(e) ?? e;
        }
      },
      { ...startRetry, retriable: isRetriable },
    );

  const timers: NodeJS.Timeout[] = [];
  let bridge: RunningEventBridgeSource | undefined;
  try {
    // The worker is part of start-up: one that cannot start (a broken install) fails it, before any subscription.
    await merger.ready();
    deps.api.onTokenRenewed(() => {
      for (const c of channels) {
        c.resubscribe().catch((e: unknown) => {
          const fatal = genesysFatal(e);
          if (fatal) fail(fatal);
          else
            log.warn(
              { shard: c.shard, err: e },
              'resubscribe after token renewal failed; the channel will be rebuilt if it ends',
            );
        });
      }
    });
    const loaded = await fromGenesys('Genesys user directory', () => directory.load());
    if (loaded.invalid.length > 0)
      log.error({ count: loaded.invalid.length }, 'users with ids that are not UUIDs were skipped');
    if (deps.eventBridge) {
      // EventBridge is durable and the bridge topic keeps what was not committed: no restart gap, no sockets.
      bridge = await startEventBridgeSource({
        ...deps.eventBridge,
        log,
        now,
        handle: onBridgeRecord,
        acknowledged: async () => {
          await buffer.flush();
          return !bufferGone && !buffer.failed;
        },
        failed: (e) => fail(e),
      });
      log.info({ users: loaded.userIds.length, topic: deps.eventBridge.topic }, 'ingest reading EventBridge');
    } else {
      await subscribeAll(loaded.userIds);
    }
  } catch (e) {
    await release(`start-up failed: ${describeError(e)}`).catch(() => undefined);
    throw e;
  }

  async function subscribeAll(userIds: readonly string[]): Promise<void> {
    const restartGapFrom = await lastCaptureBefore(userIds);
    await applyPlan(
      userIds,
      restartGapFrom === undefined ? {} : { gapFrom: restartGapFrom, gapReason: 'ingest was not running' },
    );
    log.info({ users: userIds.length, channels: channels.length }, 'ingest subscribed');
  }

  /**
   * When this ingest last captured before this start (its newest evidence record), clamped to restartGapMaxMs;
   * undefined on a first start or without an evidence log.
   */
  async function lastCaptureBefore(userIds: readonly string[]): Promise<number | undefined> {
    if (!deps.evidenceLog) return undefined;
    const last = await findLastCapture({
      kafka: deps.evidenceLog.kafka,
      decoders: deps.evidenceLog.decoders,
      topic: topics.notifications,
      instance: deps.instance,
      userIds,
      before: startedAt,
      log,
      signal: deps.signal,
      conditions,
      policy: opts.startRetry,
    });
    if (!last) {
      // A first start: what happened while this process waited for Kafka and Genesys was not captured either.
      if (deps.processStartedAt !== undefined && deps.processStartedAt < startedAt) {
        log.info(
          {
            since: new Date(deps.processStartedAt).toISOString(),
            waitedMs: startedAt - deps.processStartedAt,
          },
          'no earlier capture by this ingest: the time since the process started is a gap',
        );
        return Math.max(deps.processStartedAt, startedAt - opts.restartGapMaxMs);
      }
      log.info('no earlier capture by this ingest in the evidence log: no restart gap');
      return undefined;
    }
    const floor = startedAt - opts.restartGapMaxMs;
    if (last.at < floor)
      log.warn(
        { lastCapturedAt: new Date(last.at).toISOString(), repairedFrom: new Date(floor).toISOString() },
        'ingest was down longer than CUSTODY_INGEST_RESTART_GAP_MAX_HOURS: only the last part of the outage is repaired',
      );
    log.info(
      {
        lastCapturedAt: new Date(last.at).toISOString(),
        matchedBy: last.matchedBy,
        downMs: startedAt - last.at,
        scanned: last.scanned,
      },
      'restart gap: from the last capture until the sockets are up',
    );
    return Math.max(last.at, floor);
  }

  const housekeeping = setInterval(() => {
    // One at a time: packing goes a slice at a time (after a restart every restored conversation is quiet at once).
    if (housekeepingPosted) return;
    housekeepingPosted = true;
    merger.housekeep(now() - opts.snapshotIdleMs, now() - opts.snapshotPackAfterMs);
  }, opts.housekeepingMs);
  housekeeping.unref();
  const refresh = setInterval(() => {
    if (stopping || failedWith !== undefined) return;
    directory
      .load()
      // With EventBridge the directory only serves station context; there is nothing to subscribe.
      .then((l) => (deps.eventBridge ? undefined : applyPlan(l.userIds)))
      .catch((e: unknown) => {
        const fatal = genesysFatal(e);
        if (fatal) fail(fatal);
        else log.error({ err: e }, 'user refresh failed; keeping the current subscriptions');
      });
  }, opts.userRefreshMs);
  refresh.unref();
  timers.push(housekeeping, refresh);

  /**
   * Stops everything within stopTimeoutMs: sockets, repairs, the flush to Kafka and the producer. What did not
   * reach Kafka by then is given up and reported (the next start's restart gap covers it).
   */
  async function release(why: string): Promise<StopReport> {
    stopping = true;
    for (const t of timers) clearInterval(t);
    const deadline = Date.now() + opts.stopTimeoutMs;
    const within = async (what: string, p: Promise<unknown>): Promise<boolean> => {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()));
      });
      try {
        const done = await Promise.race([p.then(() => true), timedOut]);
        if (!done)
          log.warn({ what, stopTimeoutMs: opts.stopTimeoutMs }, `stop deadline reached while ${what}`);
        return done;
      } catch (e) {
        log.warn({ what, err: e }, `stop: ${what} failed`);
        return true;
      } finally {
        clearTimeout(timer);
      }
    };
    // Order matters: stop reading, let running repairs finish, flush what was received, then close.
    const closed = await within(
      'closing sockets',
      Promise.all([...channels.map((c) => c.stop()), bridge?.stop()]),
    );
    const repaired = await within('finishing gap repairs', repair.stop());
    // What the worker merges in time joins the buffer; what still waits for it (the deadline, or a failed worker) is
    // reported unflushed with what the buffer could not send, for the next start's gap.
    const merged = await within('merging the last frames', merger.drain());
    const flushed = !buffer.failed && (await within('flushing frames to Kafka', buffer.flush()));
    bufferGone = true;
    void merger.close();
    const unmerged = waiting.slice(waitingHead).map((w) => (w as WaitingItem).delivery);
    let unflushed: Unflushed = { frames: 0 };
    if (!flushed) unflushed = withFrames(buffer.abandon(), unmerged);
    else {
      await buffer.close();
      unflushed = withFrames(unflushed, unmerged);
    }
    if (unflushed.frames > 0)
      log.error(
        {
          frames: unflushed.frames,
          from: new Date(unflushed.from ?? 0).toISOString(),
          to: new Date(unflushed.to ?? 0).toISOString(),
        },
        'frames not written to Kafka before the stop deadline; the next start records this interval as a gap and repairs it',
      );
    const producerClosed = await within('closing the Kafka producer', deps.producer.close());
    log.info({ why, flushed, unflushedFrames: unflushed.frames }, 'ingest stopped');
    return { timedOut: !(closed && repaired && merged && flushed && producerClosed), unflushed };
  }

  let stopped: Promise<StopReport> | undefined;
  return {
    notReadyReason() {
      if (stopping) return 'stopping';
      if (failedWith !== undefined) return `failed: ${describeError(failedWith)}`;
      const reasons: string[] = [];
      if (!deps.conditions) {
        const own = conditions.notReadyReason();
        if (own) reasons.push(own);
      }
      if (buffer.overflowing)
        reasons.push(`Kafka backpressure (${buffer.depth} frames, ${buffer.bytes} bytes buffered)`);
      const bridgeDown = bridge?.notReadyReason();
      if (bridgeDown) reasons.push(bridgeDown);
      const down = channels.filter((c) => !c.connected).length;
      if (down > 0) reasons.push(`${down} of ${channels.length} notification channels not connected`);
      return reasons.length > 0 ? reasons.join('; ') : undefined;
    },
    snapshot: (id) => merger.copyOf(id),
    stats,
    failure,
    // Frames wait for the worker before they reach the buffer.
    flush: async () => {
      await merger.drain();
      await buffer.flush();
    },
    channels: () => channels.map((c) => ({ shard: c.shard, channelId: c.channelId, connected: c.connected })),
    stop() {
      stopped ??= release('stop requested');
      return stopped;
    },
  };
}

function eventBridgeRecord(eb: EventBridgeReceipt): EventBridgeOriginRecord {
  const o: EventBridgeOrigin = eb.origin;
  return {
    id: o.id,
    detailType: o.detailType,
    source: o.source,
    time: o.time ?? null,
    detailTimestamp: o.detailTimestamp ?? null,
    account: o.account ?? null,
    region: o.region ?? null,
    bridgeTopic: eb.topic,
    bridgePartition: eb.partition,
    bridgeOffset: eb.offset,
  };
}

/** A dead letter's code from a failure code: `bad-event-body` → `CUSTODY_INGEST_BAD_EVENT_BODY`. */
function deadLetterCode(failure: string, scope = ''): string {
  return `CUSTODY_INGEST_${scope}${failure.toUpperCase().replace(/-/g, '_')}`;
}

function isDataKind(kind: NotificationEnvelope['kind']): boolean {
  return CONTROL_KINDS[kind] === undefined && kind !== 'subscribe-result';
}
