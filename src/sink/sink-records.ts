/**
 * The sink's input records, decoded and validated at the edge: a session-tags snapshot or a recording export,
 * keyed by its conversation id. Anything else is a {@link RejectedInput} with a stable code and a reason that
 * never quotes the payload — the pipeline dead-letters it and moves on.
 */
import { z } from 'zod';
import { parseExportKey } from '../enrich/export-layout.ts';
import type { SessionTagsSnapshot } from '../enrich/session-tags.ts';
import { MATTER_ID, MAX_REASON_CHARS, REQUESTER } from '../enrich/legal-holds.ts';
import type { LegalHoldEvent, RecordingExport } from '../kafka/avro-codec.ts';
import { conversationPartition, legalHoldKey } from '../kafka/partitioning.ts';
import { sessionTagsSnapshotSchema } from './join-state.ts';
import { isRecordingExport, isSessionTagsSnapshot } from './sink-record-guards.ts';

/** Stable dead-letter codes of the sink. */
export const SINK_ERROR_CODES = [
  'CUSTODY_SINK_UNDECODABLE',
  'CUSTODY_SINK_BAD_KEY',
  'CUSTODY_SINK_INVALID_TAGS',
  'CUSTODY_SINK_INVALID_EXPORT',
  'CUSTODY_SINK_STATE_CORRUPT',
  'CUSTODY_SINK_MANIFEST_INVALID',
  'CUSTODY_SINK_CURRENT_MANIFEST_UNVERIFIABLE',
  /** The chain's head is gone although a later version was announced: never silently start a new chain. */
  'CUSTODY_SINK_MANIFEST_MISSING',
  /** The export names a bucket the sink is not configured to read from or write to. */
  'CUSTODY_SINK_BUCKET_NOT_ALLOWED',
  /** A legal-hold event that does not validate, or is not in its conversation's partition. */
  'CUSTODY_SINK_INVALID_HOLD',
] as const;
export type SinkErrorCode = (typeof SINK_ERROR_CODES)[number];

/** A record the sink cannot use. */
export type RejectedInput = Readonly<{ rejected: true; code: SinkErrorCode; reason: string }>;

export type SinkInput =
  | Readonly<{ rejected: false; kind: 'session-tags'; conversationId: string; snapshot: SessionTagsSnapshot }>
  | Readonly<{ rejected: false; kind: 'recording-export'; conversationId: string; record: RecordingExport }>
  | Readonly<{ rejected: false; kind: 'legal-hold'; conversationId: string; event: LegalHoldEvent }>;

const UUID_LOWER = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const UTC_HOUR = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):00:00\.000Z$/;
const epochMs = z.number().int().min(0).max(8_640_000_000_000_000);
const nonEmpty = z.string().min(1).max(1024);

const objectSchema = z.strictObject({
  key: z.string().min(1).max(1024),
  versionId: nonEmpty.nullable(),
  size: z.number().int().nonnegative(),
  etag: nonEmpty,
  lastModifiedMs: epochMs,
});

/** A RecordingExport as the sink accepts it (exported for its guard's differential test). */
export const recordingExportSchema = z.strictObject({
  bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/),
  orgId: z.string().regex(UUID_LOWER),
  conversationId: z.string().regex(UUID_LOWER),
  recordingId: z.string().regex(UUID_LOWER),
  partitionHour: z.string().regex(UTC_HOUR),
  audio: objectSchema.nullable(),
  metadata: objectSchema.nullable(),
  detectedAtMs: epochMs,
  detectedBy: nonEmpty,
  detectorInstance: nonEmpty,
  detectorVersion: nonEmpty,
  job: z
    .strictObject({
      jobId: nonEmpty,
      createdBy: nonEmpty.nullable(),
      states: z.array(z.strictObject({ state: nonEmpty, observedAtMs: epochMs })).max(1000),
    })
    .nullable(),
});

function reject(code: SinkErrorCode, reason: string): RejectedInput {
  return { rejected: true, code, reason };
}

function pathsOf(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => i.path.map(String).join('.') || '(root)')
    .join(', ');
}

/**
 * Validates a decoded RecordingExport against its Kafka key and its own object keys: lower-case UUID ids, the key
 * equal to the conversation id, at least one object, and each object key a Genesys export key of the right kind
 * whose org, conversation, recording and partition hour are the record's.
 */
export function validateRecordingExport(
  key: string | null,
  value: unknown,
  exportPrefix: string,
  /** Buckets the sink may read exports from; undefined = any (tests of the join alone). */
  allowedBuckets?: readonly string[],
): SinkInput | RejectedInput {
  // The guard is the fast path; the schema runs only when it says no (and then says why).
  let record: RecordingExport;
  if (isRecordingExport(value)) record = value;
  else {
    const parsed = recordingExportSchema.safeParse(value);
    if (!parsed.success) {
      return reject('CUSTODY_SINK_INVALID_EXPORT', `recording export invalid at ${pathsOf(parsed.error)}`);
    }
    record = parsed.data as RecordingExport;
  }
  if (allowedBuckets !== undefined && !allowedBuckets.includes(record.bucket)) {
    // Never read from, or write signed manifests into, a bucket an input record merely names.
    return reject(
      'CUSTODY_SINK_BUCKET_NOT_ALLOWED',
      `recording export names bucket "${record.bucket.slice(0, 63)}", which is not a configured bucket (S3_BUCKET, CUSTODY_MANIFEST_BUCKET)`,
    );
  }
  if (key !== record.conversationId) {
    return reject('CUSTODY_SINK_BAD_KEY', 'record key is not the recording export conversationId');
  }
  if (record.audio === null && record.metadata === null) {
    return reject(
      'CUSTODY_SINK_INVALID_EXPORT',
      'recording export names neither an audio nor a metadata object',
    );
  }
  for (const [kind, object] of [
    ['audio', record.audio],
    ['metadata', record.metadata],
  ] as const) {
    if (object === null) continue;
    const layout = parseExportKey(object.key, { prefix: exportPrefix });
    if (!layout.ok) {
      return reject(
        'CUSTODY_SINK_INVALID_EXPORT',
        `${kind} key is not an export key (${layout.error.reason})`,
      );
    }
    const k = layout.value;
    if (
      k.kind !== kind ||
      k.orgId !== record.orgId ||
      k.conversationId !== record.conversationId ||
      k.recordingId !== record.recordingId ||
      k.partitionHour !== record.partitionHour
    ) {
      return reject(
        'CUSTODY_SINK_INVALID_EXPORT',
        `${kind} key does not match the record's ids or partition hour`,
      );
    }
  }
  return { rejected: false, kind: 'recording-export', conversationId: record.conversationId, record };
}

/** Validates a decoded session-tags snapshot against its Kafka key. */
export function validateSessionTags(key: string | null, value: unknown): SinkInput | RejectedInput {
  let snapshot: SessionTagsSnapshot;
  if (isSessionTagsSnapshot(value)) snapshot = value;
  else {
    const parsed = sessionTagsSnapshotSchema.safeParse(value);
    if (!parsed.success) {
      return reject('CUSTODY_SINK_INVALID_TAGS', `session-tags snapshot invalid at ${pathsOf(parsed.error)}`);
    }
    snapshot = parsed.data as SessionTagsSnapshot;
  }
  if (key !== snapshot.conversationId) {
    return reject('CUSTODY_SINK_BAD_KEY', 'record key is not the snapshot conversationId');
  }
  for (const leg of snapshot.legs) {
    for (const tag of Object.values(leg)) {
      if (tag !== null && typeof tag === 'object' && tag.firstCapturedAt > tag.capturedAt) {
        return reject('CUSTODY_SINK_INVALID_TAGS', 'a tag was first captured after it was captured');
      }
    }
  }
  return { rejected: false, kind: 'session-tags', conversationId: snapshot.conversationId, snapshot };
}

const legalHoldSchema = z.strictObject({
  action: z.enum(['hold', 'release']),
  conversationId: z.string().regex(UUID_LOWER),
  matterId: z.string().regex(MATTER_ID),
  reason: z.string().min(1).max(MAX_REASON_CHARS).nullable(),
  requestedBy: z.string().regex(REQUESTER),
  requestedAtMs: epochMs,
  requestId: z.string().regex(UUID_LOWER),
  instance: nonEmpty,
  version: nonEmpty,
  genesysDeletionProtection: z
    .strictObject({
      protect: z.boolean(),
      recordingIds: z.array(nonEmpty).max(1000),
      appliedAtMs: epochMs,
    })
    .nullable(),
});

/**
 * Validates a decoded legal-hold event against its key (`{conversationId}/{matterId}`) and its partition: it must
 * be in its conversation's partition (see src/kafka/partitioning.ts), or the sink instance that holds the
 * conversation would never see it.
 */
export function validateLegalHold(
  key: string | null,
  value: unknown,
  partition: number,
  partitions: number,
): SinkInput | RejectedInput {
  const parsed = legalHoldSchema.safeParse(value);
  if (!parsed.success) {
    return reject('CUSTODY_SINK_INVALID_HOLD', `legal-hold event invalid at ${pathsOf(parsed.error)}`);
  }
  const event = parsed.data as LegalHoldEvent;
  if (key !== legalHoldKey(event.conversationId, event.matterId)) {
    return reject(
      'CUSTODY_SINK_BAD_KEY',
      'record key is not {conversationId}/{matterId} of the legal-hold event',
    );
  }
  const expected = conversationPartition(event.conversationId, partitions);
  if (partition !== expected) {
    return reject(
      'CUSTODY_SINK_INVALID_HOLD',
      `legal-hold event is in partition ${partition}, not its conversation's partition ${expected}`,
    );
  }
  return { rejected: false, kind: 'legal-hold', conversationId: event.conversationId, event };
}
