/**
 * The sink's join state (architecture.md "The join"), per conversation: the session tags (the merged snapshot and
 * where each leg was first captured on Kafka) and the exports (the conversation's recordings with their export
 * facts, hashes and the manifest version last announced). It lives in the memory of the instance that owns the
 * conversation's partition and in the compacted changelog topic `custody.sink-state.v1` (one record per
 * conversation, the whole state), from which an instance restores it when it is assigned the partition.
 *
 * Everything here is pure. Each merge is a join (commutative, associative, idempotent: a maximum over a total order,
 * field by field), so replays, duplicates, late records, a restore that reads back the instance's own writes and
 * two instances that owned a partition one after the other all converge on the same state whatever the order.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { z } from 'zod';
import { canonicalize, canonicalizeWith } from '../enrich/canonical-json.ts';
import type { CanonicalMemo } from '../enrich/canonical-json.ts';
import { joinSnapshotTags, snapshotChanged } from '../enrich/session-tags-merge.ts';
import { LEG_TAG_FIELDS, legFieldsByKind } from '../enrich/session-tags.ts';
import type { LegTags, SessionTagsSnapshot } from '../enrich/session-tags.ts';
import { legalHoldsStateSchema, mergeLegalHolds } from '../enrich/legal-holds.ts';
import type { LegalHoldsState } from '../enrich/legal-holds.ts';
import type { ExportedObject, ExportJobFacts, RecordingExport } from '../kafka/avro-codec.ts';

// ---------------------------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------------------------

/** A Kafka record: the evidence pointer of an input. `offset` is a decimal string (Kafka offsets are int64). */
export type KafkaPointer = Readonly<{
  topic: string;
  partition: number;
  offset: string;
  /** The custody process that wrote the record, from its headers (session-tags records name their ingest). */
  writer?: Readonly<{ instance: string; version: string }>;
}>;

/** Where a leg was first seen with a provenance: the session-tags record that carried it. */
export type LegCaptures = Readonly<{ live: KafkaPointer | null; reconciled: KafkaPointer | null }>;

/** `session-tags.json`. */
export type SessionTagsState = Readonly<{
  format: typeof TAGS_FORMAT;
  snapshot: SessionTagsSnapshot;
  /** By legKey. */
  captures: Readonly<Record<string, LegCaptures>>;
}>;

/** One export object as detected, with who detected it and the record that said so. */
export type DetectedObject = Readonly<{
  object: ExportedObject;
  detectedAtMs: number;
  detectedBy: string;
  detectorInstance: string;
  detectorVersion: string;
  source: KafkaPointer;
}>;

/** A hash custody computed over one exact object version (matched by version id and ETag). */
export type ObjectHash = Readonly<{
  versionId: string | null;
  etag: string;
  sha256: string;
  size: number;
  hashedAtMs: number;
  instance: string;
  version: string;
}>;

/**
 * The manifest version last announced on `custody.manifests.v1` for a recording, with the digest of the inputs it
 * was last built (or found current) from: the same inputs again need no S3 request at all.
 */
export type Announced = Readonly<{ manifestVersion: number; manifestSha256: string; inputs: string | null }>;

/** What the sink knows about one recording. */
export type RecordingState = Readonly<{
  bucket: string;
  orgId: string;
  partitionHour: string;
  audio: DetectedObject | null;
  metadata: DetectedObject | null;
  job: ExportJobFacts | null;
  audioHash: ObjectHash | null;
  metadataHash: ObjectHash | null;
  announced: Announced | null;
}>;

/** `exports.json`. */
export type ExportsState = Readonly<{
  format: typeof EXPORTS_FORMAT;
  conversationId: string;
  /** By recordingId. */
  recordings: Readonly<Record<string, RecordingState>>;
}>;

/**
 * A changelog record: everything the sink knows about one conversation. `holds` (the legal holds of
 * custody.legal-holds.v1) was added later: records written before have none, and a state without holds leaves it
 * out, so its bytes (and every changelog record already written) stay as they were.
 */
export type ConversationState = Readonly<{
  format: typeof STATE_FORMAT;
  conversationId: string;
  tags: SessionTagsState | null;
  exports: ExportsState | null;
  holds?: LegalHoldsState;
}>;

export const TAGS_FORMAT = 'custody.sink.session-tags/v1';
export const EXPORTS_FORMAT = 'custody.sink.exports/v1';
export const STATE_FORMAT = 'custody.sink.state/v1';

// ---------------------------------------------------------------------------------------------------------------
// Schemas (state read back from S3 and snapshots from Kafka are external input: validated, never trusted)
// ---------------------------------------------------------------------------------------------------------------

const UUID_LOWER = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Epoch ms that `Date` can represent (so every time converts to the manifest's UTC ms form). */
const epochMs = z.number().int().min(0).max(8_640_000_000_000_000);
const nonEmpty = z.string().min(1).max(4096);
const uuidLower = z.string().regex(UUID_LOWER);

const tagSourceSchema = z.strictObject({
  kind: z.enum(['notification', 'api', 'user-context']),
  topicName: nonEmpty.nullable(),
  correlationId: nonEmpty.nullable(),
  api: nonEmpty.nullable(),
  field: nonEmpty.nullable(),
});

function tagSchema<T extends z.ZodType>(value: T) {
  return z
    .strictObject({
      value,
      provenance: z.enum(['live', 'reconciled']),
      source: tagSourceSchema,
      observedAt: z.number().int().nullable(),
      capturedAt: epochMs,
      firstCapturedAt: epochMs,
    })
    .nullable();
}

const text = tagSchema(z.string().max(4096));
const flag = tagSchema(z.boolean());
const instant = tagSchema(epochMs);

const legSchema = z.strictObject({
  legKey: nonEmpty,
  participantId: nonEmpty,
  ...legFieldsByKind<z.ZodType>({ text, flag, instant }),
});

/** A snapshot as custody accepts it: lower-case UUID conversation id, every time a representable instant. */
export const sessionTagsSnapshotSchema = z.strictObject({
  conversationId: uuidLower,
  legs: z.array(legSchema).max(10_000),
});

const kafkaPointerSchema = z.strictObject({
  topic: nonEmpty,
  partition: z.number().int().nonnegative(),
  offset: z.string().regex(/^(0|[1-9]\d{0,18})$/),
  writer: z.strictObject({ instance: nonEmpty, version: nonEmpty }).optional(),
});

const tagsStateSchema = z.strictObject({
  format: z.literal(TAGS_FORMAT),
  snapshot: sessionTagsSnapshotSchema,
  captures: z.record(
    z.string(),
    z.strictObject({ live: kafkaPointerSchema.nullable(), reconciled: kafkaPointerSchema.nullable() }),
  ),
});

const exportedObjectSchema = z.strictObject({
  key: nonEmpty,
  versionId: nonEmpty.nullable(),
  size: z.number().int().nonnegative(),
  etag: nonEmpty,
  lastModifiedMs: epochMs,
});

const detectedSchema = z.strictObject({
  object: exportedObjectSchema,
  detectedAtMs: epochMs,
  detectedBy: nonEmpty,
  detectorInstance: nonEmpty,
  detectorVersion: nonEmpty,
  source: kafkaPointerSchema,
});

const jobSchema = z.strictObject({
  jobId: nonEmpty,
  createdBy: nonEmpty.nullable(),
  states: z.array(z.strictObject({ state: nonEmpty, observedAtMs: epochMs })),
});

const hashSchema = z.strictObject({
  versionId: nonEmpty.nullable(),
  etag: nonEmpty,
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  size: z.number().int().nonnegative(),
  hashedAtMs: epochMs,
  instance: nonEmpty,
  version: nonEmpty,
});

const recordingSchema = z.strictObject({
  bucket: nonEmpty,
  orgId: uuidLower,
  partitionHour: nonEmpty,
  audio: detectedSchema.nullable(),
  metadata: detectedSchema.nullable(),
  job: jobSchema.nullable(),
  audioHash: hashSchema.nullable(),
  metadataHash: hashSchema.nullable(),
  announced: z
    .strictObject({
      manifestVersion: z.number().int().positive(),
      manifestSha256: z.string().regex(/^[0-9a-f]{64}$/),
      inputs: z
        .string()
        .regex(/^[0-9a-f]{64}$/)
        .nullable(),
    })
    .nullable(),
});

const exportsStateSchema = z.strictObject({
  format: z.literal(EXPORTS_FORMAT),
  conversationId: uuidLower,
  recordings: z.record(uuidLower, recordingSchema),
});

const conversationStateSchema = z.strictObject({
  format: z.literal(STATE_FORMAT),
  conversationId: uuidLower,
  tags: tagsStateSchema.nullable(),
  exports: exportsStateSchema.nullable(),
  holds: legalHoldsStateSchema.optional(),
});

/** Why a stored state object was rejected (a field path list, never content). */
export type StateParseFailure = Readonly<{ detail: string }>;

function utf8Text(bytes: Uint8Array): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

function parseJsonText(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function parseJsonBytes(bytes: Uint8Array): unknown {
  return parseJsonText(utf8Text(bytes));
}

function issuesOf(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => i.path.map(String).join('.') || '(root)')
    .join(', ');
}

/** Parses `session-tags.json` bytes. */
export function parseTagsState(bytes: Uint8Array): SessionTagsState | StateParseFailure {
  const parsed = tagsStateSchema.safeParse(parseJsonBytes(bytes));
  return parsed.success
    ? (parsed.data as SessionTagsState)
    : { detail: `session-tags state invalid at ${issuesOf(parsed.error)}` };
}

/** Parses `exports.json` bytes. */
export function parseExportsState(bytes: Uint8Array): ExportsState | StateParseFailure {
  const parsed = exportsStateSchema.safeParse(parseJsonBytes(bytes));
  return parsed.success
    ? (parsed.data as ExportsState)
    : { detail: `exports state invalid at ${issuesOf(parsed.error)}` };
}

/**
 * A changelog value: one format byte, then the state's canonical JSON compressed with raw DEFLATE (about a tenth of
 * its size: the sink holds these bytes in memory for every conversation of its partitions, and restores them).
 */
const DEFLATED_JSON = 0x01;
/** Largest state a changelog value may inflate to (a bound against compression bombs). */
export const MAX_STATE_BYTES = 16 * 1024 * 1024;

/** The changelog value of a state: its canonical bytes ({@link stateBytes}), deflated. */
export function encodeConversationState(state: ConversationState): Buffer {
  return Buffer.concat([Buffer.of(DEFLATED_JSON), deflateRawSync(stateBytes(state), { level: 1 })]);
}

/** The canonical JSON bytes a changelog value holds (plain JSON is accepted too), or undefined. */
function changelogJson(value: Uint8Array): Uint8Array | undefined {
  if (value[0] === 0x7b) return value; // '{': uncompressed
  if (value[0] !== DEFLATED_JSON) return undefined;
  try {
    return inflateRawSync(value.subarray(1), { maxOutputLength: MAX_STATE_BYTES });
  } catch {
    return undefined;
  }
}

/** Parses a changelog record's value; its key must name the same conversation. */
export function parseConversationState(
  key: string | null,
  value: Uint8Array,
): ConversationState | StateParseFailure {
  const bytes = changelogJson(value);
  if (bytes === undefined) return { detail: 'sink state is neither JSON nor deflated JSON within 16 MiB' };
  const json = utf8Text(bytes);
  const parsed = conversationStateSchema.safeParse(parseJsonText(json));
  if (!parsed.success) return { detail: `sink state invalid at ${issuesOf(parsed.error)}` };
  const state = parsed.data as ConversationState;
  const inner = [state.tags?.snapshot.conversationId, state.exports?.conversationId];
  if (key !== state.conversationId || inner.some((id) => id !== undefined && id !== key)) {
    return { detail: 'sink state names another conversation than its key' };
  }
  // Only a deflated value is known canonical (encodeConversationState wrote it); plain JSON may be hand-made.
  if (value[0] === DEFLATED_JSON && json !== undefined) rememberTagsText(state, json);
  return state;
}

/**
 * Seeds the canonical-text memo with a decoded state's tags, cut from the canonical JSON the state was parsed from:
 * `tags` sorts last among a state's members, so its text runs from after `"tags":` to the final `}`. The tags are
 * most of a state, and a conversation read back from the changelog (its export, minutes after the call) would
 * otherwise canonicalise them again for its inputs digest and its next changelog write.
 */
function rememberTagsText(state: ConversationState, json: string): void {
  if (state.tags === null) return;
  const rest = canonicalizeWith({ ...state, tags: null }, STATE_MEMO); // `{…,"tags":null}`
  const head = rest.slice(0, -'null}'.length);
  if (json.length > head.length + 1 && json.startsWith(head) && json.endsWith('}')) {
    STATE_MEMO.set(state.tags, json.slice(head.length, -1));
  }
}

/**
 * Canonical text of state parts by identity: states are never changed once built (every merge builds new objects
 * and keeps the parts it did not change), so the join table's change check after a merge re-canonicalises only
 * what the merge touched.
 */
const STATE_MEMO: CanonicalMemo = new WeakMap();

/** The bytes stored for a state: RFC 8785 canonical JSON, so equal states are equal bytes. */
export function stateBytes(
  state: SessionTagsState | ExportsState | ConversationState | LegalHoldsState,
): Buffer {
  return partsBytes(state);
}

/** Canonical bytes of a value made of join-state parts (see {@link STATE_MEMO}), e.g. a manifest's inputs. */
export function partsBytes(value: object): Buffer {
  return Buffer.from(canonicalizeWith(value, STATE_MEMO), 'utf8');
}

// ---------------------------------------------------------------------------------------------------------------
// Orders
// ---------------------------------------------------------------------------------------------------------------

function cmp(a: string | number, b: string | number): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Total order on Kafka pointers: topic, partition, then numeric offset. */
export function comparePointers(a: KafkaPointer, b: KafkaPointer): number {
  return (
    cmp(a.topic, b.topic) ||
    cmp(a.partition, b.partition) ||
    cmp(a.offset.length, b.offset.length) ||
    cmp(a.offset, b.offset)
  );
}

function minPointer(a: KafkaPointer | null, b: KafkaPointer | null): KafkaPointer | null {
  if (a === null) return b;
  if (b === null) return a;
  return comparePointers(a, b) <= 0 ? a : b;
}

// ---------------------------------------------------------------------------------------------------------------
// Session tags
// ---------------------------------------------------------------------------------------------------------------

function legHas(leg: LegTags, provenance: 'live' | 'reconciled'): boolean {
  return LEG_TAG_FIELDS.some((f) => leg[f]?.provenance === provenance);
}

/**
 * Folds a session-tags record into `session-tags.json`: the snapshots are joined (an older snapshot arriving late
 * loses nothing), and each leg keeps the lowest Kafka record that carried it live / reconciled.
 */
export function applySessionTags(
  stored: SessionTagsState | undefined,
  incoming: SessionTagsSnapshot,
  pointer: KafkaPointer,
): SessionTagsState {
  const snapshot = joinSnapshotTags(stored?.snapshot, incoming);
  const captures: Record<string, LegCaptures> = { ...(stored?.captures ?? {}) };
  for (const leg of incoming.legs) {
    const before = captures[leg.legKey] ?? { live: null, reconciled: null };
    captures[leg.legKey] = {
      live: legHas(leg, 'live') ? minPointer(before.live, pointer) : before.live,
      reconciled: legHas(leg, 'reconciled') ? minPointer(before.reconciled, pointer) : before.reconciled,
    };
  }
  const sorted = Object.fromEntries(Object.entries(captures).sort(([a], [b]) => cmp(a, b)));
  return { format: TAGS_FORMAT, snapshot, captures: sorted };
}

/**
 * Whether `next` must be written over `stored`: a material snapshot change (`snapshotChanged`: a value, a
 * provenance or a first-capture time) or a new capture pointer. Churn in which frame last confirmed a value is not
 * written, so the evidence object (and every manifest that references its version) changes only when facts do.
 */
export function tagsStateChanged(stored: SessionTagsState | undefined, next: SessionTagsState): boolean {
  if (stored === undefined) return true;
  return (
    snapshotChanged(stored.snapshot, next.snapshot) ||
    canonicalize(stored.captures) !== canonicalize(next.captures)
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Exports
// ---------------------------------------------------------------------------------------------------------------

/** Newer object first: LastModified, then version id, ETag and key (only to make the order total). */
function compareObjects(a: ExportedObject, b: ExportedObject): number {
  return (
    cmp(a.lastModifiedMs, b.lastModifiedMs) ||
    cmp(a.versionId ?? '', b.versionId ?? '') ||
    cmp(a.etag, b.etag) ||
    cmp(a.key, b.key) ||
    cmp(a.size, b.size)
  );
}

/** Earlier detection first. */
function compareDetections(a: DetectedObject, b: DetectedObject): number {
  return (
    cmp(a.detectedAtMs, b.detectedAtMs) ||
    comparePointers(a.source, b.source) ||
    cmp(a.detectedBy, b.detectedBy) ||
    cmp(a.detectorInstance, b.detectorInstance) ||
    cmp(a.detectorVersion, b.detectorVersion)
  );
}

/** The newest object version wins; for the same version, its first detection. */
export function mergeDetected(a: DetectedObject | null, b: DetectedObject | null): DetectedObject | null {
  if (a === null) return b;
  if (b === null) return a;
  const byObject = compareObjects(a.object, b.object);
  if (byObject !== 0) return byObject > 0 ? a : b;
  return compareDetections(a, b) <= 0 ? a : b;
}

/** Same job: union of its observed states (ordered by time). Different jobs: the larger job id (deterministic). */
export function mergeJob(a: ExportJobFacts | null, b: ExportJobFacts | null): ExportJobFacts | null {
  if (a === null) return b;
  if (b === null) return a;
  if (a.jobId !== b.jobId) return a.jobId > b.jobId ? a : b;
  const states = new Map<string, { state: string; observedAtMs: number }>();
  for (const s of [...a.states, ...b.states]) states.set(`${s.observedAtMs}:${s.state}`, s);
  return {
    jobId: a.jobId,
    createdBy: a.createdBy ?? b.createdBy,
    states: [...states.values()].sort((x, y) => cmp(x.observedAtMs, y.observedAtMs) || cmp(x.state, y.state)),
  };
}

/** The hash of `object` among the candidates: only hashes of that exact version count; the earliest wins. */
function hashFor(object: ExportedObject | undefined, ...hashes: (ObjectHash | null)[]): ObjectHash | null {
  if (object === undefined) return null;
  let best: ObjectHash | null = null;
  for (const h of hashes) {
    if (h === null || h.versionId !== object.versionId || h.etag !== object.etag) continue;
    if (
      best === null ||
      h.hashedAtMs < best.hashedAtMs ||
      (h.hashedAtMs === best.hashedAtMs && canonicalize(h) < canonicalize(best))
    ) {
      best = h;
    }
  }
  return best;
}

function mergeAnnounced(a: Announced | null, b: Announced | null): Announced | null {
  if (a === null) return b;
  if (b === null) return a;
  return (cmp(a.manifestVersion, b.manifestVersion) ||
    cmp(a.manifestSha256, b.manifestSha256) ||
    cmp(a.inputs ?? '', b.inputs ?? '')) >= 0
    ? a
    : b;
}

/** Joins what two states know about the same recording. */
export function mergeRecording(a: RecordingState, b: RecordingState): RecordingState {
  const audio = mergeDetected(a.audio, b.audio);
  const metadata = mergeDetected(a.metadata, b.metadata);
  // Location facts come from the key and are equal for one recording; take the larger only to stay deterministic.
  const where =
    canonicalize([a.bucket, a.orgId, a.partitionHour]) >= canonicalize([b.bucket, b.orgId, b.partitionHour])
      ? a
      : b;
  return {
    bucket: where.bucket,
    orgId: where.orgId,
    partitionHour: where.partitionHour,
    audio,
    metadata,
    job: mergeJob(a.job, b.job),
    audioHash: hashFor(audio?.object, a.audioHash, b.audioHash),
    metadataHash: hashFor(metadata?.object, a.metadataHash, b.metadataHash),
    announced: mergeAnnounced(a.announced, b.announced),
  };
}

/** Joins two exports states of one conversation, recording by recording. */
export function mergeExportsState(a: ExportsState | undefined, b: ExportsState): ExportsState {
  if (a !== undefined && a.conversationId !== b.conversationId) {
    throw new RangeError('mergeExportsState got states of two conversations');
  }
  const recordings: Record<string, RecordingState> = { ...(a?.recordings ?? {}) };
  for (const [id, rec] of Object.entries(b.recordings)) {
    const before = recordings[id];
    recordings[id] = before === undefined ? rec : mergeRecording(before, rec);
  }
  const sorted = Object.fromEntries(Object.entries(recordings).sort(([x], [y]) => cmp(x, y)));
  return { format: EXPORTS_FORMAT, conversationId: b.conversationId, recordings: sorted };
}

/** The exports state a single RecordingExport record stands for. */
export function exportsStateOf(record: RecordingExport, pointer: KafkaPointer): ExportsState {
  const detected = (object: ExportedObject | null): DetectedObject | null =>
    object === null
      ? null
      : {
          object,
          detectedAtMs: record.detectedAtMs,
          detectedBy: record.detectedBy,
          detectorInstance: record.detectorInstance,
          detectorVersion: record.detectorVersion,
          source: pointer,
        };
  return {
    format: EXPORTS_FORMAT,
    conversationId: record.conversationId,
    recordings: {
      [record.recordingId]: {
        bucket: record.bucket,
        orgId: record.orgId,
        partitionHour: record.partitionHour,
        audio: detected(record.audio),
        metadata: detected(record.metadata),
        job: record.job,
        audioHash: null,
        metadataHash: null,
        announced: null,
      },
    },
  };
}

/** Folds a RecordingExport record into `exports.json`. */
export function applyRecordingExport(
  stored: ExportsState | undefined,
  record: RecordingExport,
  pointer: KafkaPointer,
): ExportsState {
  return mergeExportsState(stored, exportsStateOf(record, pointer));
}

/** Joins two tags states of one conversation: the snapshots, and per leg the lowest capture pointers. */
export function mergeTagsState(
  a: SessionTagsState | null,
  b: SessionTagsState | null,
): SessionTagsState | null {
  if (a === null) return b;
  if (b === null) return a;
  const captures: Record<string, LegCaptures> = { ...a.captures };
  for (const [legKey, c] of Object.entries(b.captures)) {
    const before = captures[legKey] ?? { live: null, reconciled: null };
    captures[legKey] = {
      live: minPointer(before.live, c.live),
      reconciled: minPointer(before.reconciled, c.reconciled),
    };
  }
  const sorted = Object.fromEntries(Object.entries(captures).sort(([x], [y]) => cmp(x, y)));
  return { format: TAGS_FORMAT, snapshot: joinSnapshotTags(a.snapshot, b.snapshot), captures: sorted };
}

/** Joins two states of one conversation (e.g. what is in memory and a changelog record read back). */
export function mergeConversationState(
  a: ConversationState | undefined,
  b: ConversationState,
): ConversationState {
  if (a === undefined) return b;
  if (a.conversationId !== b.conversationId) {
    throw new RangeError('mergeConversationState got states of two conversations');
  }
  const holds = mergeLegalHolds(a.holds, b.holds);
  return {
    format: STATE_FORMAT,
    conversationId: b.conversationId,
    tags: mergeTagsState(a.tags, b.tags),
    exports: b.exports === null ? a.exports : mergeExportsState(a.exports ?? undefined, b.exports),
    ...(holds === null ? {} : { holds }),
  };
}

/** Whether two exports states differ (as stored bytes). */
export function exportsStateChanged(stored: ExportsState | undefined, next: ExportsState): boolean {
  return stored === undefined || canonicalize(stored) !== canonicalize(next);
}

/** Whether a parse result is a failure. */
export function isStateFailure<T extends object>(value: T | StateParseFailure): value is StateParseFailure {
  return 'detail' in value && !('format' in value);
}
