/**
 * `custody sink`: consumes `custody.session-tags.v1` and `custody.recording-exports.v1` in one consumer group,
 * folds each record into the conversation's join state in S3, reconciles the conversation's manifests, and only
 * then commits the record's offset (side effect first, offsets after: research/anchors.md §2.9).
 *
 * Delivery: at-least-once, made idempotent. Everything before the offset commit is either a join-merge written
 * conditionally (replaying it changes nothing) or a manifest written only when it would differ and only on the
 * ETag it was computed from. A crash anywhere replays the uncommitted records, which converge on the same S3
 * state. Offsets are committed at the end of each fetched batch and, within a long one, at most every second. Records of one conversation within a fetched batch are coalesced: one state write per input topic and one
 * reconcile. A record that cannot be used goes to `custody.dlq.v1` and processing continues.
 */
import type { KeyObject } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Consumer, IHeaders, Kafka, KafkaMessage } from 'kafkajs';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { keyIdFor } from '../enrich/integrity.ts';
import { SESSION_TAGS_HEADERS } from '../kafka/topics.ts';
import type { SessionTagsSnapshot } from '../enrich/session-tags.ts';
import type { DeadLetter, RecordingExport } from '../kafka/avro-codec.ts';
import { KafkaRecordProducer } from '../kafka/record-producer.ts';
import type { RecordProducer } from '../kafka/record-producer.ts';
import type { KafkaPointer } from './join-state.ts';
import { S3ObjectStore } from './manifest-store.ts';
import type { ManifestLock } from './manifest-store.ts';
import type { SigningKey } from './signing-key.ts';
import type { SinkCodecs } from './sink-codecs.ts';
import { SinkError } from './sink-errors.ts';
import { validateRecordingExport, validateSessionTags } from './sink-records.ts';
import type { SinkErrorCode, SinkInput } from './sink-records.ts';
import { reconcile } from './sink-reconcile.ts';
import { JoinStateStore } from './sink-state-store.ts';
import { backoffDelay, DEFAULT_BACKOFF, sleep } from '../runtime/backoff.ts';
import type { BackoffPolicy } from '../runtime/backoff.ts';
import type { Conditions } from '../runtime/conditions.ts';
import { describeError, isRetriable } from '../runtime/errors.ts';

/** The sink's settings (see the README's configuration table for the variables behind them). */
export type SinkOptions = Readonly<{
  /** Consumer group of every sink instance. */
  groupId: string;
  topics: Readonly<{ sessionTags: string; recordingExports: string; manifests: string; dlq: string }>;
  /** Bucket of the join state (`{statePrefix}/{conversationId}/…`). */
  stateBucket: string;
  statePrefix: string;
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
  /** Read the input topics from the beginning when the group has no committed offset. */
  fromBeginning: boolean;
  instance: string;
  version: string;
  /** Public keys of earlier signing keys, so manifests they signed are still accepted as the current version. */
  trustedPublicKeys?: readonly KeyObject[];
}>;

/** Longest time processed records of a batch stay uncommitted (the replay window after a crash). */
const COMMIT_INTERVAL_MS = 1000;

export const DEFAULT_SINK_OPTIONS = {
  groupId: 'custody-sink',
  statePrefix: '_custody/conversations',
  manifestPrefix: '',
  exportPrefix: '',
  maxConflictRetries: 10,
  partitionsConsumedConcurrently: 1,
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
}>;

export type RunningSink = Readonly<{
  consumer: Consumer;
  /** Stops fetching, lets the batch in hand finish its current conversation, commits, and disconnects. */
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
  const log = (deps.logger ?? pino({ level: 'silent' })).child({ stage: 'sink', component: 'sink-pipeline' });
  const producer = deps.producer ?? new KafkaRecordProducer(deps.kafka);
  const objects = new S3ObjectStore(deps.s3, now);
  const state = new JoinStateStore(
    objects,
    { bucket: options.stateBucket, prefix: options.statePrefix },
    options.maxConflictRetries,
  );
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
  };

  const decode = async (topic: string, message: KafkaMessage): Promise<Decoded> => {
    const key = message.key?.toString('utf8') ?? null;
    const isTags = topic === options.topics.sessionTags;
    if (message.value === null) {
      return isTags
        ? 'tombstone'
        : { rejected: true, code: 'CUSTODY_SINK_UNDECODABLE', reason: 'record has no value' };
    }
    let value: SessionTagsSnapshot | RecordingExport;
    try {
      value = isTags
        ? await deps.codecs.sessionTags.decode(message.value)
        : await deps.codecs.recordingExport.decode(message.value);
    } catch (e) {
      // A registry that does not answer says nothing about the record: wait for it rather than dead-letter.
      if (isRetriable(e)) throw e;
      // Codec errors never quote the payload.
      const reason = e instanceof Error ? e.message : 'undecodable';
      return { rejected: true, code: 'CUSTODY_SINK_UNDECODABLE', reason };
    }
    // avsc decodes records as class instances; validation (and the state) wants plain JSON data.
    const plain: unknown = JSON.parse(JSON.stringify(value));
    return isTags
      ? validateSessionTags(key, plain)
      : validateRecordingExport(key, plain, options.exportPrefix, options.allowedBuckets);
  };

  /** One conversation's records of one partition: fold them into the state, then reconcile once. */
  const processGroup = async (
    topic: string,
    partition: number,
    messages: readonly KafkaMessage[],
  ): Promise<void> => {
    const tags: { snapshot: SessionTagsSnapshot; pointer: KafkaPointer }[] = [];
    const exports: { record: RecordingExport; pointer: KafkaPointer }[] = [];
    let conversationId: string | undefined;
    let trigger: KafkaMessage | undefined;
    for (const message of messages) {
      const input = await decode(topic, message);
      if (input === 'tombstone') {
        // Compaction cleanup of the tags topic: the sink's state (and the manifests) keep what was captured.
        log.info({ topic, partition, offset: message.offset }, 'session-tags tombstone ignored');
        continue;
      }
      if (input.rejected) {
        await deadLetter(topic, partition, message, input.code, input.reason);
        continue;
      }
      const pointer = { topic, partition, offset: message.offset, ...writerOf(message.headers) };
      if (input.kind === 'session-tags') tags.push({ snapshot: input.snapshot, pointer });
      else exports.push({ record: input.record, pointer });
      conversationId = input.conversationId;
      trigger = message;
    }
    if (conversationId === undefined || trigger === undefined) return;
    const source = trigger;
    try {
      await state.addSessionTags(conversationId, tags);
      const exportsWritten = await state.addRecordingExports(conversationId, exports);
      const result = await reconcile(
        conversationId,
        {
          s3: deps.s3,
          objects,
          state,
          signer: deps.signer,
          trustedKeys,
          generatedBy,
          now,
          options,
          announce: async (record) => {
            await producer.send([
              {
                topic: options.topics.manifests,
                key: record.conversationId,
                value: deps.codecs.manifestWritten.encode(record),
              },
            ]);
          },
          deadLetter: (code, reason) => deadLetter(topic, partition, source, code, reason),
        },
        exportsWritten,
      );
      log.debug({ conversationId, ...result }, 'reconciled');
    } catch (e) {
      if (e instanceof SinkError && !e.retriable && e.code !== 'CUSTODY_SINK_CONFLICTS') {
        await deadLetter(topic, partition, source, e.code, e.message);
        return;
      }
      throw e;
    }
  };

  /**
   * Runs one conversation's group, waiting out retriable failures (S3 or Kafka down, throttling, a bucket not
   * created yet, a registry that does not answer) in place: the partition keeps its order, the member keeps
   * heartbeating, and /readyz says what the sink waits for. Giving up to kafkajs instead would retry a few times
   * within a second and then stop the consumer for good. Resolves false when the wait was cut short by a
   * rebalance or a stop: the group stays uncommitted and is replayed by whoever owns the partition next.
   */
  const WAIT = 'sink: S3/Kafka';
  const policy = deps.retryPolicy ?? DEFAULT_BACKOFF;
  let waitingSince: number | undefined;
  const processWithRetry = async (
    topic: string,
    partition: number,
    group: readonly KafkaMessage[],
    batch: { heartbeat(): Promise<void>; isRunning(): boolean; isStale(): boolean },
  ): Promise<boolean> => {
    for (let attempt = 0; ; attempt++) {
      try {
        await processGroup(topic, partition, group);
        if (waitingSince !== undefined) {
          log.info({ waitedMs: Date.now() - waitingSince }, 'sink: recovered');
          waitingSince = undefined;
          deps.conditions?.clear(WAIT);
        }
        return true;
      } catch (e) {
        if (!isRetriable(e)) throw e;
        const reason = describeError(e);
        if (waitingSince === undefined) {
          waitingSince = Date.now();
          log.warn({ topic, partition, reason }, 'sink: waiting (retrying with backoff)');
        }
        deps.conditions?.set(WAIT, `waiting for S3/Kafka: ${reason}`);
        const until = Date.now() + backoffDelay(attempt, policy);
        while (Date.now() < until) {
          if (!batch.isRunning() || batch.isStale() || deps.signal?.aborted) return false;
          await sleep(Math.min(1_000, until - Date.now()), deps.signal).catch(() => undefined);
          await batch.heartbeat();
        }
      }
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

  const consumer = deps.kafka.consumer({ groupId: options.groupId, allowAutoTopicCreation: false });
  await consumer.connect();
  await consumer.subscribe({
    topics: [options.topics.sessionTags, options.topics.recordingExports],
    fromBeginning: options.fromBeginning,
  });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: options.partitionsConsumedConcurrently,
    eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale, commitOffsetsIfNecessary }) => {
      const { topic, partition } = batch;
      const groups = new Map<string, KafkaMessage[]>();
      for (const m of batch.messages) {
        const key = m.key?.toString('utf8') ?? `\u0000offset:${m.offset}`;
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
      const commit = async (): Promise<void> => {
        if (uncommitted === undefined) return;
        const offset = (BigInt(uncommitted) + 1n).toString();
        uncommitted = undefined;
        committedAt = Date.now();
        await commitOffsetsIfNecessary({ topics: [{ topic, partitions: [{ partition, offset }] }] });
      };
      try {
        for (const [key, group] of groups) {
          if (!isRunning() || isStale()) break;
          const processed = await oneAtATime(key, () =>
            processWithRetry(topic, partition, group, { heartbeat, isRunning, isStale }),
          );
          if (!processed) break;
          for (const m of group) done.add(m.offset);
          let last: string | undefined;
          while (next < offsets.length && done.has(offsets[next] ?? '')) last = offsets[next++];
          if (last !== undefined) {
            resolveOffset(last);
            uncommitted = last;
          }
          if (Date.now() - committedAt >= COMMIT_INTERVAL_MS) await commit();
          await heartbeat();
        }
      } catch (e) {
        // Keep the durable prefix; if even that commit fails, it is replayed (idempotently) later.
        await commit().catch(() => undefined);
        throw e;
      }
      await commit();
    },
  });
  log.info({ groupId: options.groupId, instance: options.instance }, 'sink started');

  return {
    consumer,
    stop: async () => {
      await consumer.disconnect();
      if (deps.producer === undefined) await producer.close();
    },
  };
}
