/**
 * `custody sink`: a stream–table join the way Kafka Streams builds one. It consumes `custody.session-tags.v1` and
 * `custody.recording-exports.v1` (co-partitioned by conversation id) in one consumer group, folds each record into
 * the conversation's join state — held in memory for the partitions this instance owns and backed by the compacted
 * changelog `custody.sink-state.v1` (join-table.ts) — reconciles the conversation's manifests in S3, and only then
 * commits the record's offset (side effect first, offsets after: research/anchors.md §2.9): manifest written and
 * announced, changelog flushed, offset committed.
 *
 * Delivery: at-least-once, made idempotent. State changes are joins (replaying them changes nothing) and a manifest
 * is written only when it would differ, conditionally on the version it continues. A crash anywhere replays the
 * uncommitted records onto the restored state, which converges on the same manifests. Offsets are committed at the
 * end of each fetched batch and, within a long one, at most every second. Records of one conversation within a
 * fetched batch are coalesced into one reconcile. A record that cannot be used goes to `custody.dlq.v1` and
 * processing continues.
 */
import type { KeyObject } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Consumer, IHeaders, Kafka, KafkaMessage } from 'kafkajs';
import { pino } from 'pino';
import { componentLogger } from '../observability/logger.ts';
import type { Logger } from 'pino';
import { keyIdFor } from '../enrich/integrity.ts';
import { SESSION_TAGS_HEADERS } from '../kafka/topics.ts';
import type { SessionTagsSnapshot } from '../enrich/session-tags.ts';
import type { DeadLetter, LegalHoldEvent, RecordingExport } from '../kafka/avro-codec.ts';
import { holdsStateOf, mergeLegalHolds } from '../enrich/legal-holds.ts';
import type { LegalHoldsState } from '../enrich/legal-holds.ts';
import { KafkaRecordProducer } from '../kafka/record-producer.ts';
import type { RecordProducer } from '../kafka/record-producer.ts';
import { EXPORTS_FORMAT, STATE_FORMAT, applyRecordingExport, applySessionTags } from './join-state.ts';
import type { ConversationState, ExportsState, KafkaPointer, SessionTagsState } from './join-state.ts';
import { JoinTable } from './join-table.ts';
import type { InputKind } from './join-table.ts';
import { S3ObjectStore } from './manifest-store.ts';
import { Outbox } from './outbox.ts';
import { ObjectLockProbe } from './object-legal-holds.ts';
import type { ManifestLock } from './manifest-store.ts';
import type { SigningKey } from './signing-key.ts';
import type { SinkCodecs } from './sink-codecs.ts';
import { SinkError } from './sink-errors.ts';
import { validateLegalHold, validateRecordingExport, validateSessionTags } from './sink-records.ts';
import type { SinkErrorCode, SinkInput } from './sink-records.ts';
import { reconcile } from './sink-reconcile.ts';
import type { ReconcileResult } from './sink-reconcile.ts';
import { backoffDelay, DEFAULT_BACKOFF, sleep } from '../runtime/backoff.ts';
import type { BackoffPolicy } from '../runtime/backoff.ts';
import type { Conditions } from '../runtime/conditions.ts';
import { describeError, isRetriable } from '../runtime/errors.ts';

/** The sink's settings (see the README's configuration table for the variables behind them). */
export type SinkOptions = Readonly<{
  /** Consumer group of every sink instance. */
  groupId: string;
  topics: Readonly<{
    sessionTags: string;
    recordingExports: string;
    /** Legal holds (`{conversationId}/{matterId}`-keyed, each in its conversation's partition). */
    legalHolds: string;
    /** The join state's compacted changelog (co-partitioned with the inputs). */
    sinkState: string;
    manifests: string;
    dlq: string;
  }>;
  /** Bucket of the manifests; default: each recording's export bucket. */
  manifestBucket?: string;
  /** `''`: manifests beside the audio; else the same relative key under this prefix. */
  manifestPrefix: string;
  /** Prefix the Genesys integration writes under, before `{orgId}`. */
  exportPrefix: string;
  /** Object Lock on each manifest version. */
  lock?: ManifestLock;
  /** Buckets an export record may name; others are dead-lettered. Undefined: any (tests of the join alone). */
  allowedBuckets?: readonly string[];
  /** Lost conditional writes tolerated per object before the batch is retried. */
  maxConflictRetries: number;
  /** Partitions processed in parallel by one instance. */
  partitionsConsumedConcurrently: number;
  /**
   * Conversations of one partition's batch reconciled at once (default 4). Each is mostly waiting on S3 (two reads,
   * one conditional write), so against a remote S3 a partition's throughput is about this many times the one-at-a-
   * time rate. A conversation is never worked on twice at once (see oneAtATime), and what is committed is still only
   * the batch's contiguous durable prefix.
   */
  conversationsInFlight?: number;
  /** Read the input topics from the beginning when the group has no committed offset. */
  fromBeginning: boolean;
  instance: string;
  version: string;
  /** Public keys of earlier signing keys, so manifests they signed are still accepted as the current version. */
  trustedPublicKeys?: readonly KeyObject[];
  /**
   * Which conversations are reconciled (default: all). The state of the others is still kept, so a later record
   * finds it; `custody backfill` limits its join to the conversations of its range this way.
   */
  reconcileFilter?: (state: ConversationState) => boolean;
  /**
   * Whether the join state is written to the changelog (default true). `custody backfill` restores the live
   * sink's state (so what the live sink already announced costs nothing) but never writes it: the changelog stays
   * the live sink's own.
   */
  writeChangelog?: boolean;
  /**
   * Where an input partition without a committed offset starts (decimal offset), instead of its beginning:
   * `custody backfill` starts its replay at a time. Applied once per partition, when it is first assigned.
   */
  startAt?: (topic: string, partition: number) => string | undefined;
  /**
   * Where the join-state restore reads a partition's session tags from, whatever the group committed (default:
   * the committed offset). Set by `custody backfill`, which keeps no state between its runs (writeChangelog false).
   */
  restoreTagsFrom?: (partition: number) => string | undefined;
  /** Decoded join states kept in memory per partition (default 64; the rest are held compressed). */
  decodedStatesPerPartition?: number;
  /** How long a fetch waits for new records (kafkajs default 5 s; stopping waits for the fetch in flight). */
  fetchMaxWaitMs?: number;
}>;

/** Longest time processed records of a batch stay uncommitted (the replay window after a crash). */
const COMMIT_INTERVAL_MS = 1000;

export const DEFAULT_SINK_OPTIONS = {
  groupId: 'custody-sink',
  manifestPrefix: '',
  exportPrefix: '',
  maxConflictRetries: 10,
  partitionsConsumedConcurrently: 1,
  conversationsInFlight: 4,
  fromBeginning: true,
} as const;

export type SinkDeps = Readonly<{
  kafka: Kafka;
  s3: S3Client;
  signer: SigningKey;
  codecs: SinkCodecs;
  /** custody's processing clock (epoch ms). */
  now?: () => number;
  logger?: Logger;
  producer?: RecordProducer;
  /** Not-ready reasons (behind /readyz) while the sink waits out S3 or Kafka trouble. */
  conditions?: Conditions;
  /** Aborting ends the in-place waits (the batch is left uncommitted and replayed later). */
  signal?: AbortSignal;
  /** Backoff of the in-place retries. */
  retryPolicy?: BackoffPolicy;
  /** Called after each conversation's reconcile (progress and counts of `custody backfill`). */
  onReconciled?: (conversationId: string, result: ReconcileResult) => void;
  /** Called for each record dead-lettered (with its code). */
  onDeadLetter?: (code: SinkErrorCode) => void;
}>;

export type RunningSink = Readonly<{
  consumer: Consumer;
  /** The join state this instance holds (for metrics, tests and the restore benchmark). */
  table: JoinTable;
  /** Stops fetching, lets the batch in hand finish the conversations in flight, commits, and disconnects. */
  stop(): Promise<void>;
}>;

type Decoded = SinkInput | Readonly<{ rejected: true; code: SinkErrorCode; reason: string }> | 'tombstone';

/** The ingest instance and version a session-tags record names in its headers (absent on older records). */
function writerOf(headers: IHeaders | undefined): { writer?: { instance: string; version: string } } {
  const text = (name: string): string | undefined => {
    const v = headers?.[name];
    const last = Array.isArray(v) ? v[v.length - 1] : v;
    const s = last === undefined ? undefined : String(last);
    return s !== undefined && /^[A-Za-z0-9._+-]{1,128}$/.test(s) ? s : undefined;
  };
  const instance = text(SESSION_TAGS_HEADERS.instance);
  const version = text(SESSION_TAGS_HEADERS.version);
  return instance && version ? { writer: { instance, version } } : {};
}

function headersOf(headers: IHeaders | undefined): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    const last = Array.isArray(value) ? value[value.length - 1] : value;
    if (last !== undefined) out[name] = Buffer.isBuffer(last) ? last : Buffer.from(String(last));
  }
  return out;
}

/** Starts a sink instance. Resolves once the consumer runs. */
export async function startSink(deps: SinkDeps, options: SinkOptions): Promise<RunningSink> {
  const now = deps.now ?? (() => Date.now());
  const log = componentLogger(deps.logger ?? pino({ level: 'silent' }), 'sink', {
    component: 'sink-pipeline',
  });
  const producer = deps.producer ?? new KafkaRecordProducer(deps.kafka);
  const announcements = new Outbox(producer);
  const objects = new S3ObjectStore(deps.s3, now);
  const objectLock = new ObjectLockProbe(deps.s3);
  const trustedKeys = new Map<string, KeyObject>([[deps.signer.keyId, deps.signer.publicKey]]);
  for (const k of options.trustedPublicKeys ?? []) trustedKeys.set(keyIdFor(k), k);
  const generatedBy = { component: 'custody-sink', version: options.version, instance: options.instance };

  const deadLetter = async (
    topic: string,
    partition: number,
    message: KafkaMessage,
    code: SinkErrorCode,
    reason: string,
  ): Promise<void> => {
    const letter: DeadLetter = {
      key: message.key ?? null,
      value: message.value ?? null,
      source: {
        kind: 'kafka',
        topic,
        partition,
        offset: Number(message.offset),
        timestampMs: Number(message.timestamp),
        channelId: null,
      },
      stage: 'sink',
      errorCode: code,
      reason,
      firstSeenAtMs: now(),
      instance: options.instance,
      headers: headersOf(message.headers),
    };
    await producer.send([
      {
        topic: options.topics.dlq,
        key: message.key?.toString('utf8') ?? null,
        value: deps.codecs.deadLetter.encode(letter),
      },
    ]);
    log.warn({ topic, partition, offset: message.offset, code, reason }, 'dead-lettered');
    deps.onDeadLetter?.(code);
  };

  /** Partitions of the holds topic (a hold must be in its conversation's partition of them). */
  let holdsPartitions: number | undefined;
  const decode = async (topic: string, message: KafkaMessage, partition = -1): Promise<Decoded> => {
    const key = message.key?.toString('utf8') ?? null;
    const isTags = topic === options.topics.sessionTags;
    const isHold = topic === options.topics.legalHolds;
    if (message.value === null) {
      // Compaction cleanup of a compacted input: the state (and the manifests) keep what was folded in.
      return isTags || isHold
        ? 'tombstone'
        : { rejected: true, code: 'CUSTODY_SINK_UNDECODABLE', reason: 'record has no value' };
    }
    let value: SessionTagsSnapshot | RecordingExport | LegalHoldEvent;
    try {
      value = isTags
        ? await deps.codecs.sessionTags.decode(message.value)
        : isHold
          ? await deps.codecs.legalHold.decode(message.value)
          : await deps.codecs.recordingExport.decode(message.value);
    } catch (e) {
      // A registry that does not answer says nothing about the record: wait for it rather than dead-letter.
      if (isRetriable(e)) throw e;
      // Codec errors never quote the payload.
      const reason = e instanceof Error ? e.message : 'undecodable';
      return { rejected: true, code: 'CUSTODY_SINK_UNDECODABLE', reason };
    }
    // The codecs decode records as plain JSON data, which validation (and the state) wants.
    if (isHold) {
      holdsPartitions ??= (await admin.fetchTopicOffsets(options.topics.legalHolds)).length;
      return validateLegalHold(key, value, partition, holdsPartitions);
    }
    return isTags
      ? validateSessionTags(key, value)
      : validateRecordingExport(key, value, options.exportPrefix, options.allowedBuckets);
  };

  /** A legal-hold event as the join state keeps it. */
  const holdsOf = (event: LegalHoldEvent, pointer: KafkaPointer): LegalHoldsState =>
    holdsStateOf(event.matterId, {
      action: event.action,
      requestedAtMs: event.requestedAtMs,
      requestId: event.requestId,
      requestedBy: event.requestedBy,
      reason: event.reason,
      instance: event.instance,
      version: event.version,
      source: { topic: pointer.topic, partition: pointer.partition, offset: pointer.offset },
    });

  const pointerOf = (topic: string, partition: number, message: KafkaMessage): KafkaPointer => ({
    topic,
    partition,
    offset: message.offset,
    ...writerOf(message.headers),
  });

  const admin = deps.kafka.admin();
  const table = new JoinTable(
    {
      kafka: deps.kafka,
      admin,
      producer,
      log,
      decodeHold: async (partition, message) => {
        const input = await decode(options.topics.legalHolds, message, partition);
        if (input === 'tombstone' || input.rejected || input.kind !== 'legal-hold') return undefined;
        const pointer = pointerOf(options.topics.legalHolds, partition, message);
        return { conversationId: input.conversationId, holds: holdsOf(input.event, pointer) };
      },
      decodeTags: async (message) => {
        const input = await decode(options.topics.sessionTags, message);
        return input !== 'tombstone' && !input.rejected && input.kind === 'session-tags'
          ? input.snapshot
          : undefined;
      },
      pointerOf,
      signal: deps.signal,
    },
    {
      changelogTopic: options.topics.sinkState,
      sessionTagsTopic: options.topics.sessionTags,
      legalHoldsTopic: options.topics.legalHolds,
      groupId: options.groupId,
      instance: options.instance,
      writeChangelog: options.writeChangelog ?? true,
      decodedPerPartition: options.decodedStatesPerPartition,
      tagsFrom: options.restoreTagsFrom,
      tagsStartAt:
        options.startAt === undefined
          ? undefined
          : (partition) => options.startAt?.(options.topics.sessionTags, partition),
    },
  );

  /** One conversation's records of one partition: fold them into the join state, then reconcile once. */
  const processGroup = async (
    topic: string,
    partition: number,
    messages: readonly KafkaMessage[],
  ): Promise<void> => {
    let tags: SessionTagsState | undefined;
    let exports: ExportsState | undefined;
    let holds: LegalHoldsState | null = null;
    let conversationId: string | undefined;
    let trigger: KafkaMessage | undefined;
    // Records this conversation's state says are reconciled already (a restart, a backfill): not even decoded.
    const kind: InputKind | undefined =
      topic === options.topics.sessionTags
        ? 'tags'
        : topic === options.topics.recordingExports
          ? 'exports'
          : undefined; // holds are few, keyed per matter: always processed
    const key = messages[0]?.key?.toString('utf8');
    const through =
      key === undefined || kind === undefined ? undefined : table.reconciledThrough(partition, key, kind);
    const fresh = through === undefined ? messages : messages.filter((m) => BigInt(m.offset) > through);
    const lastOffset = fresh.at(-1)?.offset;
    if (lastOffset === undefined) return;
    const reconciled = (id: string): void => {
      if (kind !== undefined) table.markReconciled(partition, id, kind, BigInt(lastOffset));
    };
    for (const message of fresh) {
      const input = await decode(topic, message, partition);
      if (input === 'tombstone') {
        // Compaction cleanup of the tags topic: the sink's state (and the manifests) keep what was captured.
        log.info({ topic, partition, offset: message.offset }, 'tombstone ignored');
        continue;
      }
      if (input.rejected) {
        await deadLetter(topic, partition, message, input.code, input.reason);
        continue;
      }
      conversationId = input.conversationId;
      trigger = message;
      const held = table.get(partition, conversationId);
      const pointer = pointerOf(topic, partition, message);
      if (input.kind === 'session-tags') {
        tags = applySessionTags(tags ?? held?.tags ?? undefined, input.snapshot, pointer);
      } else if (input.kind === 'legal-hold') {
        holds = mergeLegalHolds(holds, holdsOf(input.event, pointer));
      } else {
        exports = applyRecordingExport(
          exports ?? held?.exports ?? { format: EXPORTS_FORMAT, conversationId, recordings: {} },
          input.record,
          pointer,
        );
      }
    }
    if (conversationId === undefined || trigger === undefined) return;
    const source = trigger;
    const state = table.merge(partition, {
      format: STATE_FORMAT,
      conversationId,
      tags: tags ?? null,
      exports: exports ?? null,
      ...(holds === null ? {} : { holds }),
    });
    if (state.exports === null) {
      reconciled(conversationId); // no recording yet: the state is the whole effect
      return;
    }
    if (options.reconcileFilter !== undefined && !options.reconcileFilter(state)) return;
    try {
      const outcome = await reconcile(state.tags ?? undefined, state.exports, state.holds, {
        s3: deps.s3,
        objects,
        signer: deps.signer,
        trustedKeys,
        generatedBy,
        now,
        options,
        // Sent before the offset is committed (see commit below), with the batch's other announcements.
        announce: (record) => {
          announcements.add({
            topic: options.topics.manifests,
            key: record.conversationId,
            value: deps.codecs.manifestWritten.encode(record),
          });
          return Promise.resolve();
        },
        deadLetter: (code, reason) => deadLetter(topic, partition, source, code, reason),
        objectLock,
        legalHoldsTopic: options.topics.legalHolds,
      });
      table.merge(partition, { format: STATE_FORMAT, conversationId, tags: null, exports: outcome.exports });
      reconciled(conversationId);
      log.debug({ conversationId, ...outcome.result }, 'reconciled');
      deps.onReconciled?.(conversationId, outcome.result);
    } catch (e) {
      if (e instanceof SinkError && !e.retriable && e.code !== 'CUSTODY_SINK_CONFLICTS') {
        await deadLetter(topic, partition, source, e.code, e.message);
        reconciled(conversationId);
        return;
      }
      throw e;
    }
  };

  /**
   * Runs a partition's work (one conversation's group, or the flush before a commit), waiting out retriable
   * failures (S3 or Kafka down, throttling, a bucket not created yet, a registry that does not answer) in place:
   * the partition keeps its order, the member keeps heartbeating, and /readyz says what the sink waits for. Giving
   * up to kafkajs instead would retry a few times within a second and then stop the consumer for good. Resolves
   * false when the wait was cut short by a rebalance or a stop: what is uncommitted is replayed by whoever owns the
   * partition next.
   */
  const WAIT = 'sink: S3/Kafka';
  const policy = deps.retryPolicy ?? DEFAULT_BACKOFF;
  /** Partitions waiting out a failure, with when they started; /readyz is not ready while any is. */
  const waiting = new Map<string, number>();
  let waitingSince: number | undefined;
  const withRetry = async (
    topic: string,
    partition: number,
    work: () => Promise<void>,
    batch: { heartbeat(): Promise<void>; isRunning(): boolean; isStale(): boolean },
  ): Promise<boolean> => {
    const where = `${topic}:${partition}`;
    const settle = (): void => {
      if (!waiting.delete(where) || waiting.size > 0 || waitingSince === undefined) return;
      log.info({ waitedMs: Date.now() - waitingSince }, 'sink: recovered');
      waitingSince = undefined;
      deps.conditions?.clear(WAIT);
    };
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          await work();
          return true;
        } catch (e) {
          if (!isRetriable(e)) throw e;
          const reason = describeError(e);
          if (waitingSince === undefined) {
            waitingSince = Date.now();
            log.warn({ topic, partition, reason }, 'sink: waiting (retrying with backoff)');
          }
          waiting.set(where, Date.now());
          deps.conditions?.set(WAIT, `waiting for S3/Kafka: ${reason}`);
          const until = Date.now() + backoffDelay(attempt, policy);
          while (Date.now() < until) {
            if (!batch.isRunning() || batch.isStale() || deps.signal?.aborted) return false;
            await sleep(Math.min(1_000, until - Date.now()), deps.signal).catch(() => undefined);
            await batch.heartbeat();
          }
        }
      }
    } finally {
      settle();
    }
  };

  /**
   * One conversation at a time in this process. Its session-tags and export partitions (same number, two topics)
   * are consumed concurrently with partitionsConsumedConcurrently > 1, and two reconciles of one conversation would
   * race on the manifest's conditional write: S3 refuses the loser, but an S3-compatible server whose If-Match is
   * not atomic lets both through and forks the chain (seen in the soak on versitygw). Other instances are kept apart
   * by the partition assignment, and across a rebalance by the conditional write.
   */
  const conversationLocks = new Map<string, Promise<unknown>>();
  const oneAtATime = async <T>(key: string, fn: () => Promise<T>): Promise<T> => {
    const before = conversationLocks.get(key) ?? Promise.resolve();
    const run = before.then(fn, fn);
    const settled = run.catch(() => undefined);
    conversationLocks.set(key, settled);
    try {
      return await run;
    } finally {
      if (conversationLocks.get(key) === settled) conversationLocks.delete(key);
    }
  };

  /**
   * Waits for the partition's join state, heartbeating so the member keeps its assignment; a restore that fails
   * (Kafka trouble) is retried like any other retriable failure, with /readyz saying so.
   */
  const waitUntilRestored = async (
    partition: number,
    batch: { heartbeat(): Promise<void>; isRunning(): boolean; isStale(): boolean },
  ): Promise<void> => {
    for (let attempt = 0; ; attempt++) {
      // The member heartbeats while it waits (a restore can outlast the session timeout).
      const ticker = setInterval(() => void batch.heartbeat().catch(() => undefined), 1_000);
      try {
        await table.ready(partition);
        if (attempt > 0) deps.conditions?.clear(WAIT);
        return;
      } catch (e) {
        if (!batch.isRunning() || batch.isStale() || deps.signal?.aborted) return;
        deps.conditions?.set(WAIT, `restoring join state: ${describeError(e)}`);
        log.warn(
          { partition, reason: describeError(e) },
          'sink: state restore failed (retrying with backoff)',
        );
        await sleep(backoffDelay(attempt, policy), deps.signal).catch(() => undefined);
        await batch.heartbeat();
      } finally {
        clearInterval(ticker);
      }
    }
  };

  const consumer = deps.kafka.consumer({
    groupId: options.groupId,
    allowAutoTopicCreation: false,
    ...(options.fetchMaxWaitMs === undefined ? {} : { maxWaitTimeInMs: options.fetchMaxWaitMs }),
  });
  // Catch up the join state of every partition assigned, drop what was revoked (join-table.ts).
  const started = new Set<string>();
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    const assignment = e.payload.memberAssignment;
    const mine = new Set<number>();
    for (const topic of [options.topics.sessionTags, options.topics.recordingExports])
      for (const p of assignment[topic] ?? []) {
        mine.add(p);
        // kafkajs applies a seek before the partition's first fetch (this event precedes fetching).
        if (options.startAt === undefined || started.has(`${topic}:${p}`)) continue;
        started.add(`${topic}:${p}`);
        const offset = options.startAt(topic, p);
        if (offset !== undefined) consumer.seek({ topic, partition: p, offset });
      }
    // Holds are never started at a time: every hold, however old, applies to what is reconciled.
    for (const p of assignment[options.topics.legalHolds] ?? []) mine.add(p);
    table.assigned([...mine]);
  });
  await admin.connect();
  await consumer.connect();
  await consumer.subscribe({
    topics: [options.topics.sessionTags, options.topics.recordingExports, options.topics.legalHolds],
    fromBeginning: options.fromBeginning,
  });
  const inFlight = Math.max(1, options.conversationsInFlight ?? DEFAULT_SINK_OPTIONS.conversationsInFlight);
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: options.partitionsConsumedConcurrently,
    eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale, commitOffsetsIfNecessary }) => {
      const { topic, partition } = batch;
      const groups = new Map<string, KafkaMessage[]>();
      for (const m of batch.messages) {
        let key = m.key?.toString('utf8') ?? `\u0000offset:${m.offset}`;
        // A hold is keyed `{conversationId}/{matterId}`: grouped (and locked) by its conversation.
        if (topic === options.topics.legalHolds && key.includes('/')) key = key.slice(0, key.indexOf('/'));
        const group = groups.get(key) ?? [];
        group.push(m);
        groups.set(key, group);
      }
      const offsets = batch.messages.map((m) => m.offset);
      const done = new Set<string>();
      let next = 0;
      // Only the contiguous prefix of the batch whose effects are durable is ever committed. Each commit is a
      // broker round trip, so within a batch it is committed at most every COMMIT_INTERVAL_MS, and always when the
      // batch ends, stops early or fails: a crash in between replays at most that much, idempotently.
      let uncommitted: string | undefined;
      let committedAt = Date.now();
      const control = { heartbeat, isRunning, isStale };
      /**
       * Commits the durable prefix; false when waiting out a Kafka failure was cut short (nothing committed). One at
       * a time: while workers run, only the one holding `committing` commits, and the last commits come after every
       * worker has finished.
       */
      const commit = async (wait = true): Promise<boolean> => {
        const through = uncommitted;
        if (through === undefined) return true;
        const offset = (BigInt(through) + 1n).toString();
        // What the offset covers must be announced and in the changelog first (a restore starts from it), in that
        // order: the changelog records manifests as announced. The table takes its states before the announcements
        // are flushed. Every conversation within the prefix had its state changed, and its announcements queued,
        // before the prefix reached it, so both are in this flush; a state changed meanwhile (a conversation still
        // in flight, the partition's other input batch) waits for the next one.
        const flush = (): Promise<void> => table.flush(partition, () => announcements.flush());
        if (!wait) await flush();
        else if (!(await withRetry(topic, partition, flush, control))) return false;
        if (uncommitted === through) uncommitted = undefined; // conversations in flight may have moved it on
        committedAt = Date.now();
        await commitOffsetsIfNecessary({ topics: [{ topic, partitions: [{ partition, offset }] }] });
        return true;
      };
      await waitUntilRestored(partition, control);
      const entries = [...groups];
      let taken = 0;
      let stopped = false;
      let cutShort = false;
      let committing = false;
      let failure: { error: unknown } | undefined;
      /** One conversation's group; false ends the batch (a rebalance or stop cut a wait short). */
      const runGroup = async ([key, group]: [string, KafkaMessage[]]): Promise<boolean> => {
        const processed = await oneAtATime(key, () =>
          withRetry(topic, partition, () => processGroup(topic, partition, group), control),
        );
        if (!processed) return false;
        for (const m of group) done.add(m.offset);
        let last: string | undefined;
        while (next < offsets.length && done.has(offsets[next] ?? '')) last = offsets[next++];
        if (last !== undefined) {
          resolveOffset(last);
          uncommitted = last;
        }
        await heartbeat();
        return true;
      };
      /**
       * Takes the batch's groups in order, `inFlight` at most at once, until the batch ends, a group fails or is cut
       * short, or the partition is lost. Every COMMIT_INTERVAL_MS the worker that finished a group commits the
       * durable prefix while the others go on: a conversation held up by S3 keeps the commit behind it, not the
       * conversations after it.
       */
      const worker = async (): Promise<void> => {
        while (!stopped && failure === undefined && taken < entries.length) {
          if (!isRunning() || isStale() || !table.holds(partition)) {
            stopped = true;
            return;
          }
          const entry = entries[taken++] as [string, KafkaMessage[]];
          try {
            if (!(await runGroup(entry))) {
              stopped = true;
              return;
            }
            if (!committing && Date.now() - committedAt >= COMMIT_INTERVAL_MS) {
              committing = true;
              try {
                if (!(await commit())) stopped = cutShort = true;
              } finally {
                committing = false;
              }
            }
          } catch (error) {
            failure ??= { error };
          }
        }
      };
      try {
        await Promise.all(Array.from({ length: inFlight }, worker));
        if (failure !== undefined) throw failure.error;
      } catch (e) {
        // Keep the durable prefix; if even that commit fails, it is replayed (idempotently) later.
        await commit(false).catch(() => undefined);
        throw e;
      }
      if (!cutShort) await commit();
    },
  });
  // The log's own `instance` names this process; the sink's is said only where it differs (one key, written once).
  const sinkInstance =
    options.instance === log.bindings()['instance'] ? {} : { sinkInstance: options.instance };
  log.info({ groupId: options.groupId, ...sinkInstance }, 'sink started');

  return {
    consumer,
    table,
    stop: async () => {
      await consumer.disconnect();
      await admin.disconnect().catch(() => undefined);
      if (deps.producer === undefined) await producer.close();
    },
  };
}
