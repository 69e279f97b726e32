/**
 * The S3-event path of `custody exports watch`: consumes S3 event notifications from a Kafka topic and, for each
 * created audio or metadata object, HEADs both siblings and emits a RecordingExport (detectedBy `s3-event`).
 *
 * - A message that is not a valid notification goes to the DLQ (CUSTODY_SINK_INVALID_S3_EVENT, with the reason
 *   and the original bytes); an invalid export key in a valid message too (CUSTODY_SINK_INVALID_EXPORT_KEY).
 * - When a sibling does not exist yet (Genesys writes the audio, then the metadata), nothing is emitted for that
 *   event ("deferred"): the object is recorded as pending in the scanner's checkpoint (written before the event's
 *   offset is committed), whatever the age of its hour folder. Every scan pass revisits it: the sibling's own
 *   event (or a pass) emits the pair, and if the sibling never comes the scanner emits the object alone once the
 *   pairing grace is over — exactly what it does with a lone object it found itself.
 * - Pairs the scanner (or an earlier event) already emitted are not emitted again; pairs emitted here are
 *   recorded in the scanner's checkpoint.
 * - Offsets are resolved and committed only after the produced records were acknowledged. S3 and Kafka calls that
 *   fail retriably are waited out in place (export-retry.ts, heartbeating meanwhile); other errors fail the batch,
 *   and kafkajs redelivers it from the last committed offset. A record too large for Kafka is dead-lettered.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import { exportSiblingKeys, normalizeKeyPrefix, parseExportKey } from '../enrich/export-layout.ts';
import type { RecordProducer } from '../kafka/record-producer.ts';
import type { Logger } from '../observability/logger.ts';
import type { ExportsWatchMetrics } from './export-metrics.ts';
import type { Outgoing } from './export-publish.ts';
import { DEFAULT_MAX_RECORDS_PER_SEND, publishInChunks } from './export-publish.ts';
import type { ConsumedRecord, Detector, ExportsWatchEncoders, ObjectVersion } from './export-records.ts';
import {
  consumedDeadLetter,
  EXPORTS_DLQ_CODES,
  exportTooLargeDeadLetter,
  recordingExport,
  recordingExportRecord,
} from './export-records.ts';
import type { Retrier } from './export-retry.ts';
import { KAFKA_DEPENDENCY, NO_RETRY, s3Dependency } from './export-retry.ts';
import { headVersion } from './export-s3.ts';
import type { ExportScanner } from './export-scanner.ts';
import { parseS3EventMessage } from './s3-events.ts';
import type { TooLargeReason } from './export-records.ts';
import { describeError, errorChain, isFatal, ShutdownError } from '../runtime/errors.ts';

export type S3EventsOptions = Readonly<{
  /** Topic the bucket's notifications are delivered to. */
  topic: string;
  /** Consumer group (default `custody-exports-watch-s3events`). */
  groupId: string;
  /** Where a new group starts: true (default) = the oldest retained event, so none is missed. */
  fromBeginning: boolean;
  /** Messages per produce round trip within a batch. */
  maxMessagesPerProduce: number;
}>;

export type S3EventsDeps = Readonly<{
  kafka: Kafka;
  s3: S3Client;
  producer: RecordProducer;
  encoders: ExportsWatchEncoders;
  log: Logger;
  metrics: ExportsWatchMetrics;
  now: () => number;
  scanner: ExportScanner;
  /** Waits out retriable S3 and Kafka failures (export-retry.ts); default: none. */
  retry?: Retrier;
  /** The consumer stopped for good (kafkajs will not restart it): the role must end. */
  onStopped?: (error: unknown) => void;
}>;

export type S3EventsContext = Readonly<{
  bucket: string;
  prefix: string;
  topics: Readonly<{ recordingExports: string; dlq: string }>;
  detector: Detector;
}>;

/** The running consumer. */
export type RunningS3Events = Readonly<{ stop(): Promise<void>; crashed(): string | undefined }>;

/** What one message gives: records to publish, and whether it deferred a lone object (to persist first). */
type Handled = { items: Outgoing[]; deferred: boolean };

function consumed(topic: string, partition: number, message: KafkaMessage): ConsumedRecord {
  const headers: Record<string, Buffer> = {};
  for (const [k, v] of Object.entries(message.headers ?? {})) {
    const first = Array.isArray(v) ? v[0] : v;
    if (first !== undefined) headers[k] = Buffer.isBuffer(first) ? first : Buffer.from(String(first), 'utf8');
  }
  return {
    topic,
    partition,
    offset: message.offset,
    timestamp: message.timestamp,
    key: message.key,
    value: message.value,
    headers,
  };
}

/** Handles one notification message: the records to produce and what to remember once they are acknowledged. */
async function handleMessage(
  deps: S3EventsDeps,
  ctx: S3EventsContext,
  record: ConsumedRecord,
  heartbeat: () => Promise<void>,
): Promise<Handled> {
  const out: Handled = { items: [], deferred: false };
  const nowMs = deps.now();
  const m = deps.metrics;
  const retry = deps.retry ?? NO_RETRY;
  const deadLetter = (errorCode: string, reason: string) => {
    m.deadLetters(errorCode, 1);
    deps.log.error(
      { topic: record.topic, partition: record.partition, offset: record.offset, code: errorCode, reason },
      'S3 event dead-lettered',
    );
    const letter = (tooLarge?: TooLargeReason) =>
      consumedDeadLetter({
        encoders: deps.encoders,
        topic: ctx.topics.dlq,
        record,
        errorCode,
        reason,
        nowMs,
        instance: ctx.detector.instance,
        tooLarge,
      });
    out.items.push({ record: letter(), tooLarge: (why) => letter(why) });
  };

  const parsed = parseS3EventMessage(record.value ?? Buffer.alloc(0));
  if (!parsed.ok) {
    m.s3Events('rejected', 1);
    deadLetter(EXPORTS_DLQ_CODES.invalidEvent, `${parsed.error.code}: ${parsed.error.reason}`);
    return out;
  }
  if (parsed.value.kind === 'test-event') {
    m.s3Events('test-event', 1);
    return out;
  }
  m.s3Events('ignored', parsed.value.ignored);
  for (const created of parsed.value.created) {
    if (created.bucket !== ctx.bucket) {
      m.s3Events('other-bucket', 1);
      continue;
    }
    const ref = parseExportKey(created.key, { prefix: ctx.prefix });
    if (!ref.ok) {
      if (ref.error.kind === 'not-an-export') m.s3Events('ignored', 1);
      else {
        m.invalidKeys('s3-event', 1);
        deadLetter(EXPORTS_DLQ_CODES.invalidKey, `${created.key}: ${ref.error.reason}: ${ref.error.detail}`);
      }
      continue;
    }
    const { audioKey, metadataKey } = exportSiblingKeys(ref.value);
    const head = (key: string) =>
      retry(s3Dependency(ctx.bucket), () => headVersion(deps.s3, ctx.bucket, key), heartbeat);
    const [audio, metadata] = await Promise.all([head(audioKey), head(metadataKey)]);
    if (audio === undefined || metadata === undefined) {
      m.s3Events('deferred', 1);
      // Pending in the scanner's checkpoint from now: revisited every pass until its sibling comes or the pairing
      // grace ends, even when its hour is far older than the scan window (a bulk export of last year's calls).
      deps.scanner.noteDeferred(ref.value, nowMs);
      out.deferred = true;
      continue;
    }
    m.s3Events('created', 1);
    const identity = (o: ObjectVersion) => ({
      etag: o.etag,
      versionId: o.versionId,
      lastModifiedMs: o.lastModifiedMs,
    });
    const pair = { audio: identity(audio), metadata: identity(metadata) };
    if (deps.scanner.isEmitted(ref.value, pair)) continue;
    const value = recordingExport({
      bucket: ctx.bucket,
      ref: ref.value,
      audio,
      metadata,
      detectedAtMs: nowMs,
      detectedBy: 's3-event',
      detector: ctx.detector,
      job: deps.scanner.jobFactsFor(
        ref.value.conversationId,
        Math.max(audio.lastModifiedMs, metadata.lastModifiedMs),
      ),
    });
    const exportRef = ref.value;
    out.items.push({
      record: recordingExportRecord(deps.encoders, ctx.topics.recordingExports, value),
      tooLarge: (why) => {
        deps.log.error(
          { bucket: ctx.bucket, key: created.key, reason: why.message },
          'RecordingExport too large for Kafka: dead-lettered',
        );
        return exportTooLargeDeadLetter({
          encoders: deps.encoders,
          topic: ctx.topics.dlq,
          value,
          why,
          nowMs,
          instance: ctx.detector.instance,
        });
      },
      afterAck: (deadLettered) => {
        deps.scanner.noteEmitted(exportRef, pair);
        if (deadLettered) m.deadLetters(EXPORTS_DLQ_CODES.recordTooLarge, 1);
        else m.recordingsEmitted('s3-event', 1);
      },
    });
  }
  return out;
}

/** Subscribes to the notifications topic and starts consuming. */
export async function startS3Events(
  deps: S3EventsDeps,
  ctx: S3EventsContext,
  options: S3EventsOptions,
): Promise<RunningS3Events> {
  const prefix = normalizeKeyPrefix(ctx.prefix);
  if (!prefix.ok) throw new RangeError(`invalid export prefix: ${prefix.error.detail}`);
  const context: S3EventsContext = { ...ctx, prefix: prefix.value };
  const retry = deps.retry ?? NO_RETRY;
  const consumer: Consumer = deps.kafka.consumer({ groupId: options.groupId });
  let crash: string | undefined;
  let stopping = false;
  consumer.on(consumer.events.CRASH, (e) => {
    // A wait ended by stop() (ShutdownError) is not a crash.
    if (stopping || errorChain(e.payload.error).some((x) => x instanceof ShutdownError)) return;
    crash = describeError(e.payload.error);
    deps.log.error({ err: e.payload.error, restart: e.payload.restart }, 'S3 events consumer crashed');
    // kafkajs restarts the consumer after a retriable error; otherwise it is stopped for good.
    if (!e.payload.restart) deps.onStopped?.(e.payload.error);
  });
  // Rejoined after a restart: the crash is over.
  consumer.on(consumer.events.GROUP_JOIN, () => {
    crash = undefined;
  });
  await retry(KAFKA_DEPENDENCY, () => consumer.connect());
  await retry(KAFKA_DEPENDENCY, () =>
    consumer.subscribe({ topic: options.topic, fromBeginning: options.fromBeginning }),
  );

  const eachBatch = async (payload: EachBatchPayload): Promise<void> => {
    try {
      await handleBatch(payload);
    } catch (e) {
      // Credentials or permissions: kafkajs would restart the consumer into the same error forever.
      if (isFatal(e) && !stopping) deps.onStopped?.(e);
      throw e;
    }
  };
  const handleBatch = async (payload: EachBatchPayload): Promise<void> => {
    const { batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale } = payload;
    const messages = batch.messages;
    for (let i = 0; i < messages.length; i += options.maxMessagesPerProduce) {
      if (!isRunning() || isStale()) return;
      const chunk = messages.slice(i, i + options.maxMessagesPerProduce);
      const handled: Handled[] = [];
      for (const message of chunk) {
        handled.push(
          await handleMessage(deps, context, consumed(batch.topic, batch.partition, message), heartbeat),
        );
      }
      await publishInChunks(
        deps.producer,
        handled.flatMap((h) => h.items),
        { maxRecordsPerSend: DEFAULT_MAX_RECORDS_PER_SEND, retry, onRetry: heartbeat },
      );
      // Deferred objects are pending in the checkpoint object before their events are committed.
      if (handled.some((h) => h.deferred)) await deps.scanner.flushCheckpoint();
      // Acknowledged by the broker: only now may the offsets move on.
      const last = chunk[chunk.length - 1];
      if (last) resolveOffset(last.offset);
      await heartbeat();
      await commitOffsetsIfNecessary();
    }
  };
  await consumer.run({ eachBatchAutoResolve: false, eachBatch });

  return {
    crashed: () => crash,
    async stop() {
      stopping = true;
      await consumer.disconnect();
    },
  };
}
