/**
 * S3 event notifications, as delivered to a Kafka topic, parsed once at the edge (pure; never throws).
 *
 * Accepted shapes (each record validated field by field):
 * - AWS S3 event message structure 2.x: `{"Records":[{eventVersion, eventSource:"aws:s3", eventTime,
 *   eventName:"ObjectCreated:Put", s3:{bucket:{name}, object:{key, size, eTag, versionId, sequencer}}}]}`;
 * - MinIO: the same records with `eventSource:"minio:s3"`, `eventName:"s3:ObjectCreated:Put"`, plus top-level
 *   `EventName` and `Key` (ignored);
 * - versitygw: `eventName:"s3:ObjectCreated:Put"`, `eTag`/`versionId` possibly null, and (older releases) a bare
 *   JSON array of records instead of `{"Records":[…]}`;
 * - the `s3:TestEvent` message S3 sends when a notification is configured (`{"Service","Event":"s3:TestEvent"}`),
 *   which is not an error and carries no records.
 *
 * Object keys in notifications are URL-encoded the way HTML forms are (`+` for a space, `%2F`…), so they are
 * decoded here; listing keys (ListObjectsV2) are not, and must never pass through this decoder.
 */
import { z } from 'zod';
import { err, ok } from '../enrich/result.ts';
import type { Result } from '../enrich/result.ts';

/** One object-created notification, with the key decoded. */
export type S3ObjectCreated = Readonly<{
  bucket: string;
  /** The object key, URL-decoded. */
  key: string;
  /** e.g. `ObjectCreated:Put` (any `s3:` prefix removed). */
  eventName: string;
  eventTimeMs: number;
  size: number | null;
  etag: string | null;
  versionId: string | null;
  sequencer: string | null;
}>;

/** A parsed notification message. `ignored` counts records of other event types (removals, restores…). */
export type S3EventMessage =
  | Readonly<{ kind: 'test-event' }>
  | Readonly<{ kind: 'records'; created: readonly S3ObjectCreated[]; ignored: number }>;

/** Stable failure codes of {@link parseS3EventMessage}. */
export type S3EventFailureCode = 'not-json' | 'bad-shape' | 'bad-record' | 'bad-event-source' | 'bad-key';

/** Why a message was rejected; `reason` names the record and field, never the payload. */
export type S3EventFailure = Readonly<{ code: S3EventFailureCode; reason: string }>;

/** Event sources custody accepts: AWS S3 and S3-compatible servers that copy its format. */
export const ACCEPTED_EVENT_SOURCES: readonly string[] = ['aws:s3', 'minio:s3'];

const isoTime = z.string().refine((s) => /^\d{4}-\d{2}-\d{2}T/.test(s) && Number.isFinite(Date.parse(s)), {
  message: 'expected an ISO-8601 time',
});
const nullableString = z.string().min(1).nullish();

const recordSchema = z.object({
  eventVersion: z.string().regex(/^\d+\.\d+$/, 'expected a version such as 2.1'),
  eventSource: z.string().min(1),
  eventTime: isoTime,
  eventName: z.string().min(1).max(200),
  s3: z.object({
    bucket: z.object({ name: z.string().min(1).max(255) }),
    object: z.object({
      key: z.string().min(1).max(4096),
      size: z.number().int().nonnegative().nullish(),
      eTag: nullableString,
      versionId: nullableString,
      sequencer: nullableString,
    }),
  }),
});

const testEventSchema = z.object({ Event: z.literal('s3:TestEvent') });

/** Form-style URL decoding of an S3 notification key; undefined for malformed `%` escapes. */
export function decodeS3EventKey(encoded: string): string | undefined {
  try {
    return decodeURIComponent(encoded.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const path = issue.path.map(String).join('.') || '(record)';
  return `${path}: ${issue.message}`;
}

/**
 * Parses one notification message (the Kafka record value).
 * @returns the created objects (other event types counted in `ignored`), a test event, or why the whole message
 *   is unusable — one bad record rejects the message, so it goes to the DLQ intact.
 */
export function parseS3EventMessage(raw: string | Buffer): Result<S3EventMessage, S3EventFailure> {
  let json: unknown;
  try {
    json = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
  } catch {
    return err({ code: 'not-json', reason: 'the message is not valid JSON' });
  }
  if (testEventSchema.safeParse(json).success) return ok({ kind: 'test-event' });

  let records: unknown;
  if (Array.isArray(json)) records = json;
  else if (typeof json === 'object' && json !== null && 'Records' in json) records = json.Records;
  if (!Array.isArray(records) || records.length === 0) {
    return err({ code: 'bad-shape', reason: 'expected {"Records":[…]} with at least one record' });
  }

  const created: S3ObjectCreated[] = [];
  let ignored = 0;
  for (const [i, candidate] of records.entries()) {
    const parsed = recordSchema.safeParse(candidate);
    if (!parsed.success) {
      const detail = parsed.error.issues.slice(0, 3).map(describeIssue).join('; ');
      return err({ code: 'bad-record', reason: `Records[${i}]: ${detail}` });
    }
    const r = parsed.data;
    if (!ACCEPTED_EVENT_SOURCES.includes(r.eventSource)) {
      return err({
        code: 'bad-event-source',
        reason: `Records[${i}]: eventSource "${r.eventSource.slice(0, 40)}" is not one of ${ACCEPTED_EVENT_SOURCES.join(', ')}`,
      });
    }
    const eventName = r.eventName.replace(/^s3:/, '');
    if (!eventName.startsWith('ObjectCreated:')) {
      ignored++;
      continue;
    }
    const key = decodeS3EventKey(r.s3.object.key);
    if (key === undefined) {
      return err({ code: 'bad-key', reason: `Records[${i}]: s3.object.key has a malformed %-escape` });
    }
    created.push({
      bucket: r.s3.bucket.name,
      key,
      eventName,
      eventTimeMs: Date.parse(r.eventTime),
      size: r.s3.object.size ?? null,
      etag: r.s3.object.eTag ?? null,
      versionId: r.s3.object.versionId ?? null,
      sequencer: r.s3.object.sequencer ?? null,
    });
  }
  return ok({ kind: 'records', created, ignored });
}
