/**
 * The Kafka records the exports watcher produces: one RecordingExport per detected recording (keyed by
 * conversationId, so it meets the conversation's session tags in the same partition number) and dead letters
 * for keys and events it cannot use.
 */
import type { ExportKey } from '../enrich/export-layout.ts';
import type { DeadLetter, ExportedObject, ExportJobFacts, RecordingExport } from '../kafka/avro-codec.ts';
import { createHash } from 'node:crypto';
import type { Encoders } from '../kafka/record-codecs.ts';
import type { KeyedRecord } from '../kafka/record-producer.ts';

/** The encoders the watcher needs. */
export type ExportsWatchEncoders = Pick<Encoders, 'recording-export.v1' | 'dead-letter.v1'>;

/** An S3 object version as HEAD (or a listing plus the checkpoint) saw it. */
export type ObjectVersion = Readonly<{
  key: string;
  etag: string;
  versionId: string | null;
  size: number;
  lastModifiedMs: number;
}>;

/** Identity of the detecting process, copied into every record. */
export type Detector = Readonly<{ instance: string; version: string }>;

/** Stage name in dead letters. */
export const EXPORTS_STAGE = 'exports';

/** Error codes of the watcher's dead letters. */
export const EXPORTS_DLQ_CODES = {
  invalidKey: 'CUSTODY_SINK_INVALID_EXPORT_KEY',
  invalidEvent: 'CUSTODY_SINK_INVALID_S3_EVENT',
  jobRecordingFailed: 'CUSTODY_SINK_EXPORT_JOB_RECORDING_FAILED',
  recordTooLarge: 'CUSTODY_SINK_EXPORT_RECORD_TOO_LARGE',
} as const;

function exported(o: ObjectVersion | null): ExportedObject | null {
  return o === null
    ? null
    : { key: o.key, versionId: o.versionId, size: o.size, etag: o.etag, lastModifiedMs: o.lastModifiedMs };
}

/**
 * Builds the RecordingExport value (pure). `ref` is either file's parsed key. `job`: the facts of the bulk job
 * custody ran that exported it (from its ledger), when known.
 */
export function recordingExport(args: {
  bucket: string;
  ref: ExportKey;
  audio: ObjectVersion | null;
  metadata: ObjectVersion | null;
  detectedAtMs: number;
  detectedBy: 'scan' | 's3-event' | 'job';
  detector: Detector;
  job?: ExportJobFacts | null;
}): RecordingExport {
  return {
    bucket: args.bucket,
    orgId: args.ref.orgId,
    conversationId: args.ref.conversationId,
    recordingId: args.ref.recordingId,
    partitionHour: args.ref.partitionHour,
    audio: exported(args.audio),
    metadata: exported(args.metadata),
    detectedAtMs: args.detectedAtMs,
    detectedBy: args.detectedBy,
    detectorInstance: args.detector.instance,
    detectorVersion: args.detector.version,
    job: args.job ?? null,
  };
}

/** Encodes a RecordingExport as a record of `topic`, keyed by conversationId. */
export function recordingExportRecord(
  encoders: ExportsWatchEncoders,
  topic: string,
  value: RecordingExport,
): KeyedRecord {
  return { topic, key: value.conversationId, value: encoders['recording-export.v1'].encode(value) };
}

/**
 * A dead letter for a listed S3 key that looks like an export but is invalid: source kind `s3`, the key as UTF-8
 * in `value`, the bucket in a header. Keyed by the S3 key.
 */
export function invalidKeyDeadLetter(args: {
  encoders: ExportsWatchEncoders;
  topic: string;
  bucket: string;
  key: string;
  reason: string;
  lastModifiedMs: number | null;
  nowMs: number;
  instance: string;
}): KeyedRecord {
  const letter: DeadLetter = {
    key: null,
    value: Buffer.from(args.key, 'utf8'),
    source: {
      kind: 's3',
      topic: null,
      partition: null,
      offset: null,
      timestampMs: args.lastModifiedMs,
      channelId: null,
    },
    stage: EXPORTS_STAGE,
    errorCode: EXPORTS_DLQ_CODES.invalidKey,
    reason: args.reason,
    firstSeenAtMs: args.nowMs,
    instance: args.instance,
    headers: { bucket: Buffer.from(args.bucket, 'utf8') },
  };
  return { topic: args.topic, key: args.key, value: args.encoders['dead-letter.v1'].encode(letter) };
}

/** A consumed Kafka record, as much of it as a dead letter carries. */
export type ConsumedRecord = Readonly<{
  topic: string;
  partition: number;
  offset: string;
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Readonly<Record<string, Buffer>>;
}>;

/**
 * A dead letter for a consumed S3 event record (the original bytes, with its topic/partition/offset). With
 * `tooLarge` (the dead letter itself was too large for Kafka), the original bytes are left out: their size,
 * SHA-256 and first 4 KiB go into headers instead, and the reason says so.
 */
export function consumedDeadLetter(args: {
  encoders: ExportsWatchEncoders;
  topic: string;
  record: ConsumedRecord;
  errorCode: string;
  reason: string;
  nowMs: number;
  instance: string;
  tooLarge?: TooLargeReason;
}): KeyedRecord {
  const ts = Number(args.record.timestamp);
  const original = args.record.value;
  const shrink = args.tooLarge !== undefined;
  const letter: DeadLetter = {
    key: args.record.key,
    value: shrink ? null : original,
    source: {
      kind: 'kafka',
      topic: args.record.topic,
      partition: args.record.partition,
      offset: Number(args.record.offset),
      timestampMs: Number.isFinite(ts) ? ts : null,
      channelId: null,
    },
    stage: EXPORTS_STAGE,
    errorCode: args.errorCode,
    reason: shrink
      ? `${args.reason} (original bytes left out, the dead letter was too large for Kafka: ${args.tooLarge?.message})`
      : args.reason,
    firstSeenAtMs: args.nowMs,
    instance: args.instance,
    headers: shrink
      ? {
          originalBytes: Buffer.from(String(original?.length ?? 0), 'utf8'),
          originalSha256: Buffer.from(
            createHash('sha256')
              .update(original ?? Buffer.alloc(0))
              .digest('hex'),
            'utf8',
          ),
          originalPrefix: (original ?? Buffer.alloc(0)).subarray(0, 4096),
        }
      : { ...args.record.headers },
  };
  return {
    topic: args.topic,
    key: args.record.key?.toString('utf8') ?? null,
    value: args.encoders['dead-letter.v1'].encode(letter),
  };
}

/**
 * A dead letter for a recording Genesys says a custody-run bulk job failed for (GET …/failedrecordings): source
 * kind `api`, the API's entry (`{conversation:{id}, recording:{id}}`) as JSON in `value`, keyed by conversationId,
 * the job id and final state in headers. Its export will never come, so it must not go unnoticed.
 */
export function failedJobRecordingDeadLetter(args: {
  encoders: ExportsWatchEncoders;
  topic: string;
  jobId: string;
  jobState: string;
  conversationId: string;
  recordingId: string;
  reason: string;
  nowMs: number;
  instance: string;
}): KeyedRecord {
  const entry = { conversation: { id: args.conversationId }, recording: { id: args.recordingId } };
  const letter: DeadLetter = {
    key: Buffer.from(args.conversationId, 'utf8'),
    value: Buffer.from(JSON.stringify(entry), 'utf8'),
    source: { kind: 'api', topic: null, partition: null, offset: null, timestampMs: null, channelId: null },
    stage: EXPORTS_STAGE,
    errorCode: EXPORTS_DLQ_CODES.jobRecordingFailed,
    reason: args.reason,
    firstSeenAtMs: args.nowMs,
    instance: args.instance,
    headers: {
      jobId: Buffer.from(args.jobId, 'utf8'),
      jobState: Buffer.from(args.jobState, 'utf8'),
      api: Buffer.from('GET /api/v2/recording/jobs/{jobId}/failedrecordings', 'utf8'),
    },
  };
  return {
    topic: args.topic,
    key: args.conversationId,
    value: args.encoders['dead-letter.v1'].encode(letter),
  };
}

/** Why a record was too large for Kafka, as the producer said (export-publish.ts `TooLarge`). */
export type TooLargeReason = Readonly<{
  bytes: number | undefined;
  limitBytes: number | undefined;
  message: string;
}>;

/**
 * The dead letter that stands in for a RecordingExport the broker can never accept (RecordTooLargeError): source
 * kind `s3`, and in `value`, as JSON, what identifies the recording (bucket, ids, both keys and version ids), never
 * the oversized record itself. Keyed by conversationId like the record it replaces. Re-publish it by fixing the
 * cause (a broker or producer limit) and re-writing either object, or with a backfill of its hour.
 */
export function exportTooLargeDeadLetter(args: {
  encoders: ExportsWatchEncoders;
  topic: string;
  value: RecordingExport;
  why: TooLargeReason;
  nowMs: number;
  instance: string;
}): KeyedRecord {
  const v = args.value;
  const identity = {
    bucket: v.bucket,
    orgId: v.orgId,
    conversationId: v.conversationId,
    recordingId: v.recordingId,
    partitionHour: v.partitionHour,
    audio: v.audio === null ? null : { key: v.audio.key, versionId: v.audio.versionId },
    metadata: v.metadata === null ? null : { key: v.metadata.key, versionId: v.metadata.versionId },
    detectedBy: v.detectedBy,
  };
  const newest = Math.max(v.audio?.lastModifiedMs ?? -1, v.metadata?.lastModifiedMs ?? -1);
  const letter: DeadLetter = {
    key: Buffer.from(v.conversationId, 'utf8'),
    value: Buffer.from(JSON.stringify(identity), 'utf8'),
    source: {
      kind: 's3',
      topic: null,
      partition: null,
      offset: null,
      timestampMs: newest < 0 ? null : newest,
      channelId: null,
    },
    stage: EXPORTS_STAGE,
    errorCode: EXPORTS_DLQ_CODES.recordTooLarge,
    reason: `RecordingExport not publishable: ${args.why.message}`,
    firstSeenAtMs: args.nowMs,
    instance: args.instance,
    headers: { bucket: Buffer.from(v.bucket, 'utf8') },
  };
  return {
    topic: args.topic,
    key: v.conversationId,
    value: args.encoders['dead-letter.v1'].encode(letter),
  };
}
