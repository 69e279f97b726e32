/**
 * One chain-of-custody entry: the event types in lifecycle order, the clocks and actors each may carry, the
 * evidence an entry cites, and the checks that an entry is well formed (zod schemas for errors, hand-written guards
 * checked against them for the hot path). custody.ts orders entries into a timeline.
 */
import { z } from 'zod';
import {
  ISO_DATETIME_WITH_OFFSET,
  array,
  integer,
  nullable,
  oneOf,
  prototypesAreClean,
  strictObject,
  string,
} from './data-guards.ts';

/** Event types in lifecycle order; the index is the tie-break rank for entries with the same time. */
export const CUSTODY_EVENTS = [
  'conversation_started',
  'leg_connected',
  'session_tags_captured',
  'session_tags_reconciled',
  'leg_disconnected',
  'conversation_ended',
  'export_job_created',
  'export_job_executed',
  'export_job_fulfilled',
  'audio_object_created',
  'metadata_object_created',
  'export_detected',
  'audio_hashed',
  'metadata_hashed',
  'legal_hold_applied',
  'legal_hold_released',
  'manifest_written',
] as const;

/** One kind of custody event. */
export type CustodyEventType = (typeof CUSTODY_EVENTS)[number];

/** Whose clock an entry's time comes from. */
export const TIME_SOURCES = ['genesys', 'custody-receive', 's3-last-modified', 'custody-process'] as const;
export type TimeSource = (typeof TIME_SOURCES)[number];

/** Who acted: a custody process, Genesys (optionally a job, user or OAuth client), or S3 itself. */
export type CustodyActor =
  | Readonly<{ kind: 'custody'; component: string; version: string; instance: string }>
  | Readonly<{ kind: 'genesys'; job_id?: string; user_id?: string; client_id?: string }>
  | Readonly<{ kind: 's3' }>;

/** Where the evidence of an entry is: a Kafka record, an S3 object version, or a Genesys API answer. */
export type CustodyEvidence =
  | Readonly<{ kafka: Readonly<{ topic: string; partition: number; offset: string }> }>
  | Readonly<{ s3: Readonly<{ bucket: string; key: string; version_id: string | null }> }>
  | Readonly<{
      api: Readonly<{ method: 'GET' | 'POST' | 'PUT' | 'PATCH'; path: string; correlation_id?: string }>;
    }>;

/** Extra facts about an entry; a closed set so the manifest schema stays closed. */
export type CustodyDetail = Readonly<{
  participant_id?: string;
  communication_id?: string;
  user_id?: string;
  job_id?: string;
  job_state?: string;
  sha256?: string;
  size?: number;
  matter?: string;
  /** Who asked for a legal hold or its release (the person or system that ran custody hold/release). */
  requested_by?: string;
  /** Why, as the requester gave it. */
  reason?: string;
  manifest_version?: number;
  manifest_sha256?: string;
  /** Session-tag fields the entry concerns (captured or repaired). */
  fields?: readonly string[];
  /** The source's timestamp text when `at` is its conversion to UTC milliseconds. */
  original_time?: string;
}>;

/** One timeline entry. `at` is ISO-8601 UTC with milliseconds (`YYYY-MM-DDTHH:mm:ss.sssZ`). */
export type CustodyEntry = Readonly<{
  event: CustodyEventType;
  at: string;
  time_source: TimeSource;
  actor: CustodyActor;
  evidence: CustodyEvidence | null;
  detail?: CustodyDetail;
}>;

type Rule = Readonly<{ timeSources: readonly TimeSource[]; actors: readonly CustodyActor['kind'][] }>;
const GENESYS_FACT: Rule = { timeSources: ['genesys'], actors: ['genesys'] };
const CUSTODY_RECEIVED: Rule = { timeSources: ['custody-receive', 'custody-process'], actors: ['custody'] };
const CUSTODY_DID: Rule = { timeSources: ['custody-process'], actors: ['custody'] };
const JOB: Rule = { timeSources: ['genesys', 'custody-process'], actors: ['genesys', 'custody'] };
const S3_OBJECT: Rule = { timeSources: ['s3-last-modified'], actors: ['s3'] };

/** Which clocks and actors each event may carry. Job events: Genesys's job times, or custody's when it ran them. */
export const CUSTODY_EVENT_RULES: Readonly<Record<CustodyEventType, Rule>> = {
  conversation_started: GENESYS_FACT,
  leg_connected: GENESYS_FACT,
  session_tags_captured: { timeSources: ['custody-receive'], actors: ['custody'] },
  session_tags_reconciled: CUSTODY_RECEIVED,
  leg_disconnected: GENESYS_FACT,
  conversation_ended: GENESYS_FACT,
  export_job_created: JOB,
  export_job_executed: JOB,
  export_job_fulfilled: JOB,
  audio_object_created: S3_OBJECT,
  metadata_object_created: S3_OBJECT,
  export_detected: CUSTODY_RECEIVED,
  audio_hashed: CUSTODY_DID,
  metadata_hashed: CUSTODY_DID,
  legal_hold_applied: CUSTODY_RECEIVED,
  legal_hold_released: CUSTODY_RECEIVED,
  manifest_written: { timeSources: ['custody-process', 's3-last-modified'], actors: ['custody'] },
};

/** `YYYY-MM-DDTHH:mm:ss.sssZ`, the only form `at` takes, so string order is time order. */
export const UTC_MILLIS =
  /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;
const ISO_WITH_OFFSET = z.iso.datetime({ offset: true });
const nonEmpty = z.string().min(1);

/** Zod schemas of the entry parts; also used by the manifest schema. */
export const custodyActorSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('custody'), component: nonEmpty, version: nonEmpty, instance: nonEmpty }),
  z.strictObject({
    kind: z.literal('genesys'),
    job_id: nonEmpty.optional(),
    user_id: nonEmpty.optional(),
    client_id: nonEmpty.optional(),
  }),
  z.strictObject({ kind: z.literal('s3') }),
]);

export const custodyEvidenceSchema = z.union([
  z.strictObject({
    kafka: z.strictObject({
      topic: nonEmpty,
      partition: z.number().int().nonnegative(),
      offset: z.string().regex(/^(0|[1-9]\d*)$/),
    }),
  }),
  z.strictObject({
    s3: z.strictObject({ bucket: nonEmpty, key: nonEmpty, version_id: nonEmpty.nullable() }),
  }),
  z.strictObject({
    api: z.strictObject({
      method: z.enum(['GET', 'POST', 'PUT', 'PATCH']),
      // A path, never a query string (which could carry tokens).
      path: z.string().regex(/^\/[^?#\s]*$/),
      correlation_id: nonEmpty.optional(),
    }),
  }),
]);

export const custodyDetailSchema = z.strictObject({
  participant_id: nonEmpty.optional(),
  communication_id: nonEmpty.optional(),
  user_id: nonEmpty.optional(),
  job_id: nonEmpty.optional(),
  job_state: nonEmpty.optional(),
  sha256: z.string().regex(SHA256_HEX).optional(),
  size: z.number().int().nonnegative().optional(),
  matter: nonEmpty.optional(),
  requested_by: nonEmpty.optional(),
  reason: nonEmpty.optional(),
  manifest_version: z.number().int().positive().optional(),
  manifest_sha256: z.string().regex(SHA256_HEX).optional(),
  fields: z.array(nonEmpty).optional(),
  original_time: nonEmpty.optional(),
});

export const custodyEntrySchema = z.strictObject({
  event: z.enum(CUSTODY_EVENTS),
  at: z.string().regex(UTC_MILLIS),
  time_source: z.enum(TIME_SOURCES),
  actor: custodyActorSchema,
  evidence: custodyEvidenceSchema.nullable(),
  detail: custodyDetailSchema.optional(),
});

// Hand-written twin of custodyEntrySchema for the sink's hot path (see data-guards.ts): true only when the schema
// would accept the entry unchanged; on false checkEntry runs the schema, so errors read as before.
const nonEmptyText = string(1);
const custodyActor = strictObject({
  kind: oneOf(['custody']),
  component: nonEmptyText,
  version: nonEmptyText,
  instance: nonEmptyText,
});
const genesysActor = strictObject(
  { kind: oneOf(['genesys']) },
  { job_id: nonEmptyText, user_id: nonEmptyText, client_id: nonEmptyText },
);
const s3Actor = strictObject({ kind: oneOf(['s3']) });
const kafkaEvidence = strictObject({
  kafka: strictObject({
    topic: nonEmptyText,
    partition: integer(0),
    offset: string(0, Infinity, /^(0|[1-9]\d*)$/),
  }),
});
const s3Evidence = strictObject({
  s3: strictObject({ bucket: nonEmptyText, key: nonEmptyText, version_id: nullable(nonEmptyText) }),
});
const apiEvidence = strictObject({
  api: strictObject(
    { method: oneOf(['GET', 'POST', 'PUT', 'PATCH']), path: string(0, Infinity, /^\/[^?#\s]*$/) },
    { correlation_id: nonEmptyText },
  ),
});
const sha256Text = string(0, Infinity, SHA256_HEX);
const isCustodyDetail = strictObject(
  {},
  {
    participant_id: nonEmptyText,
    communication_id: nonEmptyText,
    user_id: nonEmptyText,
    job_id: nonEmptyText,
    job_state: nonEmptyText,
    sha256: sha256Text,
    size: integer(0),
    matter: nonEmptyText,
    requested_by: nonEmptyText,
    reason: nonEmptyText,
    manifest_version: integer(1),
    manifest_sha256: sha256Text,
    fields: array(nonEmptyText),
    original_time: nonEmptyText,
  },
);
/**
 * {@link isCustodyEntry} without its check of the built-in prototypes, for a guard that checks them once for a whole
 * value holding entries (the manifest's).
 */
export const isCustodyEntryShape = strictObject(
  {
    event: oneOf(CUSTODY_EVENTS),
    at: string(0, Infinity, UTC_MILLIS),
    time_source: oneOf(TIME_SOURCES),
    actor: (v) => custodyActor(v) || genesysActor(v) || s3Actor(v),
    evidence: (v) => v === null || kafkaEvidence(v) || s3Evidence(v) || apiEvidence(v),
  },
  { detail: isCustodyDetail },
);

/** Whether custodyEntrySchema would accept `value` and give it back deep-equal (false may also mean "ask zod"). */
export function isCustodyEntry(value: unknown): value is CustodyEntry {
  return prototypesAreClean() && isCustodyEntryShape(value);
}

/**
 * Converts an ISO-8601 timestamp with `Z` or an offset (any fraction precision) or a `Date` to the timeline's
 * UTC-milliseconds form. A pure conversion of the given instant — it never reads a clock.
 * @returns `undefined` when the text is not such a timestamp or the instant is out of range.
 */
export function toCustodyInstant(time: string | Date): string | undefined {
  if (
    typeof time === 'string' &&
    !ISO_DATETIME_WITH_OFFSET.test(time) &&
    !ISO_WITH_OFFSET.safeParse(time).success
  )
    return undefined;
  const date = typeof time === 'string' ? new Date(time) : time;
  if (Number.isNaN(date.getTime())) return undefined;
  const iso = date.toISOString();
  // toISOString writes years 0–9999 as `YYYY-MM-DDTHH:mm:ss.sssZ` (24 characters), the timeline's form, and any
  // other year with a sign and six digits. A manifest converts ~100 instants, so the length stands in for the regex.
  return iso.length === 24 ? iso : undefined;
}
