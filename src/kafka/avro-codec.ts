/**
 * Avro codecs for custody's topics, in the two wire formats custody reads and writes:
 *
 * - Avro single-object encoding (Avro 1.11 spec, "Single object encoding"): `C3 01`, then the 8-byte little-endian
 *   CRC-64-AVRO (Rabin) fingerprint of the writer schema's Parsing Canonical Form, then the binary datum. Used when
 *   no schema registry is configured: every record names its writer schema by fingerprint.
 * - Confluent wire format (research/anchors.md §3.1): magic byte `00`, a 4-byte big-endian schema id from the
 *   registry, then the binary datum. Used when SCHEMA_REGISTRY_URL is set.
 *
 * Old records are read with a newer reader schema through avsc resolvers (Avro schema resolution), which is how
 * the topics evolve under BACKWARD compatibility (new fields optional with defaults, so also forward-readable).
 * Error messages never contain record content.
 */
import { readFileSync } from 'node:fs';
import avro from 'avsc';
import type { Type as AvroType, Resolver } from 'avsc';
import type { SessionTagsSnapshot } from '../enrich/session-tags.ts';

/** Machine-readable codec failure codes. */
export type AvroCodecErrorCode =
  | 'invalid-value'
  | 'unknown-wire-format'
  | 'bad-header'
  | 'unknown-schema'
  | 'incompatible-schema'
  | 'bad-payload';

/** A codec failure. Poison data for the shell (dead-letter it); the message never contains record content. */
export class AvroCodecError extends Error {
  readonly code: AvroCodecErrorCode;
  constructor(code: AvroCodecErrorCode, message: string) {
    super(message);
    this.name = 'AvroCodecError';
    this.code = code;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Schemas
// ---------------------------------------------------------------------------------------------------------------

/** The schema files custody ships, by `{name}.v{N}`; each has the same `.vN` as its topic. */
export const SCHEMA_FILES = {
  'notification.v1': 'notification.v1.avsc',
  'session-tags.v1': 'session-tags.v1.avsc',
  'dead-letter.v1': 'dead-letter.v1.avsc',
  'recording-export.v1': 'recording-export.v1.avsc',
  'manifest-written.v1': 'manifest-written.v1.avsc',
  'legal-hold.v1': 'legal-hold.v1.avsc',
} as const;

/** A schema custody ships. */
export type SchemaName = keyof typeof SCHEMA_FILES;

/** `schemas/` at the project root; the same relative path from `src/kafka` and from the built `dist/kafka`. */
const SCHEMAS_DIR = new URL('../../schemas/', import.meta.url);

/**
 * Builds an avsc type from a schema object or JSON text. Unknown logical types stay their underlying type. Its
 * records decode as plain objects ({@link decodeRecordsAsPlainObjects}).
 */
export function avroTypeFromSchema(schema: unknown): AvroType {
  const parsed: unknown = typeof schema === 'string' ? JSON.parse(schema) : schema;
  const registry: Record<string, AvroType> = {};
  const type = avro.Type.forSchema(parsed as avro.Schema, { registry, omitRecordMethods: true });
  // Every record type is named, so the registry holds all of them, however deeply nested.
  for (const named of Object.values(registry))
    if (named.typeName === 'record') decodeRecordsAsPlainObjects(named);
  return type;
}

/**
 * Makes a record type decode plain objects (prototype `Object.prototype`, members in schema order) instead of
 * instances of avsc's generated record class, with or without schema resolution: validation, the sink's state and
 * canonical JSON want plain data, and copying every decoded record into plain objects ({@link toPlainData}) was the
 * largest single cost of the sink's session-tags phase (12 % of it, and its garbage). avsc builds records with
 * `new Record(…)`, and `new` gives an object the function's `prototype`; the types are frozen, the constructor's
 * `prototype` property is not. The records carry no methods (`omitRecordMethods`), which custody never used.
 */
function decodeRecordsAsPlainObjects(type: AvroType): void {
  const constructor = (type as unknown as { recordConstructor: { prototype: object } }).recordConstructor;
  constructor.prototype = Object.prototype;
}

/** Reads and compiles an `.avsc` file. */
export function loadAvscFile(path: string | URL): AvroType {
  return avroTypeFromSchema(readFileSync(path, 'utf8'));
}

/** Reads and compiles one of custody's schemas from `schemas/`. */
export function loadCustodySchema(name: SchemaName): AvroType {
  return loadAvscFile(new URL(SCHEMA_FILES[name], SCHEMAS_DIR));
}

/**
 * Earlier writer schemas of each shipped schema, kept in `schemas/history/{name}.{fingerprint}.avsc` when a schema
 * evolves (fields appended with defaults), so that records written with them stay readable by fingerprint.
 */
export const SCHEMA_HISTORY: Readonly<Partial<Record<SchemaName, readonly string[]>>> = {
  'session-tags.v1': ['session-tags.v1.d5413e4084410ea9.avsc'],
  'notification.v1': ['notification.v1.4ba20aae72467d36.avsc'],
};

/** The earlier writer schemas of `name` (see {@link SCHEMA_HISTORY}). */
export function loadHistoricalSchemas(name: SchemaName): AvroType[] {
  return (SCHEMA_HISTORY[name] ?? []).map((f) => loadAvscFile(new URL(`history/${f}`, SCHEMAS_DIR)));
}

/**
 * The Parsing Canonical Form of a schema (Avro spec, "Parsing Canonical Form for Schemas"): full names, no doc,
 * aliases, defaults or logical types, fixed key order, no whitespace. avsc's `schema()` without attributes emits
 * exactly that (checked against the Avro project's test vectors in test/unit/kafka/avro-codec.test.ts).
 */
export function parsingCanonicalForm(type: AvroType): string {
  return JSON.stringify(type.schema());
}

// ---------------------------------------------------------------------------------------------------------------
// CRC-64-AVRO (Rabin) fingerprint
// ---------------------------------------------------------------------------------------------------------------

const MASK64 = (1n << 64n) - 1n;
/** The spec's `EMPTY` (also the polynomial): 0xc15d213aa4d7a795. */
const CRC64_EMPTY = 0xc15d213aa4d7a795n;
const CRC64_TABLE: readonly bigint[] = (() => {
  const table: bigint[] = [];
  for (let i = 0n; i < 256n; i++) {
    let fp = i;
    for (let j = 0; j < 8; j++) fp = (fp >> 1n) ^ (CRC64_EMPTY & -(fp & 1n) & MASK64);
    table.push(fp);
  }
  return table;
})();

/** CRC-64-AVRO of `bytes`, as an unsigned 64-bit bigint (the spec's `fingerprint64`). */
export function crc64Avro(bytes: Uint8Array): bigint {
  let fp = CRC64_EMPTY;
  for (const b of bytes) fp = (fp >> 8n) ^ (CRC64_TABLE[Number((fp ^ BigInt(b)) & 0xffn)] ?? 0n);
  return fp;
}

/** Fingerprints by type: a decoder asks for its writer's on every record, and computing one walks the schema. */
const fingerprints = new WeakMap<AvroType, bigint>();

/** The schema fingerprint used by single-object encoding: CRC-64-AVRO of the Parsing Canonical Form (UTF-8). */
export function schemaFingerprint(type: AvroType): bigint {
  let fp = fingerprints.get(type);
  if (fp === undefined) {
    fp = crc64Avro(Buffer.from(parsingCanonicalForm(type), 'utf8'));
    fingerprints.set(type, fp);
  }
  return fp;
}

function fingerprintBytesLE(fp: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(fp);
  return b;
}

// ---------------------------------------------------------------------------------------------------------------
// Shared encode/decode helpers
// ---------------------------------------------------------------------------------------------------------------

function invalidValue(type: AvroType, value: unknown): AvroCodecError {
  const badPaths: string[] = [];
  type.isValid(value, { errorHook: (path) => badPaths.push(path.join('.') || '(root)') });
  return new AvroCodecError(
    'invalid-value',
    `value does not match ${type.name ?? 'the schema'} at ${badPaths.join(', ') || '(root)'}`,
  );
}

/**
 * Scratch space every encode writes into (one record at a time; encoding is synchronous), grown when a record does
 * not fit. Each record is then copied out at its exact size, so the buffers handed to Kafka are never shared.
 */
let scratch = Buffer.allocUnsafe(64 * 1024);

/**
 * Writes `header` + the binary datum of `value` into the scratch buffer at `pos` and returns where it ends, growing
 * the buffer (keeping what is before `pos`) when the record does not fit. avsc's writers check every value as they
 * write it and throw on the first that does not match, so a valid value is walked once (not validated, then
 * encoded); only an invalid one is walked again, to name every bad path in the error (never the values).
 */
function writeFramed(type: AvroType, header: Uint8Array, value: unknown, pos: number): number {
  for (;;) {
    let need = pos + header.length;
    if (need <= scratch.length) {
      scratch.set(header, pos);
      let end: number;
      try {
        end = type.encode(value, scratch, pos + header.length);
      } catch {
        throw invalidValue(type, value);
      }
      if (end >= 0) return end;
      // avsc returns minus the bytes missing.
      need = scratch.length - end;
    }
    const grown = Buffer.allocUnsafe(Math.max(scratch.length * 2, need));
    scratch.copy(grown, 0, 0, pos);
    scratch = grown;
  }
}

/** `header` + the binary datum of `value`, in one buffer of exactly that size (copied out of the scratch buffer). */
function encodeWithHeader(type: AvroType, header: Buffer, value: unknown): Buffer {
  const end = writeFramed(type, header, value, 0);
  const out = Buffer.allocUnsafe(end);
  scratch.copy(out, 0, 0, end);
  return out;
}

/**
 * How an encoder frames its records: `header` + the binary datum under the schema whose fingerprint is given. With
 * it another thread that holds the same schema writes exactly the encoder's bytes ({@link encodeFramedBatch}).
 */
export interface RecordFraming {
  readonly header: Uint8Array;
  readonly fingerprint: bigint;
}

/**
 * Each value framed as `header` + its binary datum, all in one buffer of exactly their size that owns its
 * ArrayBuffer (so it can be transferred to another thread); `ends[i]` is where value i's record ends. Each record's
 * bytes are those every codec's `encode` writes for it.
 */
export function encodeFramedBatch(
  type: AvroType,
  header: Uint8Array,
  values: readonly unknown[],
): { bytes: Uint8Array<ArrayBuffer>; ends: number[] } {
  const ends: number[] = [];
  let pos = 0;
  for (const value of values) ends.push((pos = writeFramed(type, header, value, pos)));
  const bytes = new Uint8Array(pos);
  bytes.set(scratch.subarray(0, pos));
  return { bytes, ends };
}

/** A datum as plain JSON data (buffers kept as they are; see {@link decodeRecordsAsPlainObjects}). */
function decodeBody<T>(reader: AvroType, body: Buffer, resolver: Resolver | undefined): T {
  try {
    return reader.fromBuffer(body, resolver) as T;
  } catch {
    // avsc's messages can quote data; only say what failed.
    throw new AvroCodecError(
      'bad-payload',
      `payload is not a valid ${reader.name ?? 'Avro'} datum for its writer schema`,
    );
  }
}

/** Caches one resolver per writer schema (by fingerprint), since building a resolver walks both schemas. */
class ResolverCache {
  readonly #reader: AvroType;
  readonly #readerFingerprint: bigint;
  readonly #resolvers = new Map<bigint, Resolver>();
  constructor(reader: AvroType) {
    this.#reader = reader;
    this.#readerFingerprint = schemaFingerprint(reader);
  }
  /** undefined = read directly (writer schema is the reader schema). */
  for(writer: AvroType): Resolver | undefined {
    const fp = schemaFingerprint(writer);
    if (fp === this.#readerFingerprint) return undefined;
    let r = this.#resolvers.get(fp);
    if (r === undefined) {
      try {
        r = this.#reader.createResolver(writer);
      } catch {
        throw new AvroCodecError(
          'incompatible-schema',
          `writer schema cannot be read as ${this.#reader.name ?? 'the reader schema'}`,
        );
      }
      this.#resolvers.set(fp, r);
    }
    return r;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Single-object encoding
// ---------------------------------------------------------------------------------------------------------------

const SINGLE_OBJECT_MARKER = Buffer.from([0xc3, 0x01]);
const SINGLE_OBJECT_HEADER_LENGTH = 10;

/**
 * Encodes and decodes Avro single-object records for one reader/writer schema. Records written with an older (or
 * newer) version are read through schema resolution when their writer schema was registered with
 * {@link SingleObjectCodec.addWriterSchema}.
 */
export class SingleObjectCodec<T> {
  readonly type: AvroType;
  readonly fingerprint: bigint;
  readonly #header: Buffer;
  readonly #writers = new Map<bigint, AvroType>();
  readonly #resolvers: ResolverCache;

  constructor(type: AvroType) {
    this.type = type;
    this.fingerprint = schemaFingerprint(type);
    this.#header = Buffer.concat([SINGLE_OBJECT_MARKER, fingerprintBytesLE(this.fingerprint)]);
    this.#writers.set(this.fingerprint, type);
    this.#resolvers = new ResolverCache(type);
  }

  /** Makes records written with `writer` (e.g. an older version of the schema) readable. */
  addWriterSchema(writer: AvroType): this {
    this.#writers.set(schemaFingerprint(writer), writer);
    return this;
  }

  /** `C3 01` + fingerprint (LE) + binary datum. */
  encode(value: T): Buffer {
    return encodeWithHeader(this.type, this.#header, value);
  }

  get framing(): RecordFraming {
    return { header: Uint8Array.from(this.#header), fingerprint: this.fingerprint };
  }

  /** Decodes a single-object record into this codec's schema. */
  decode(buf: Buffer): T {
    const fp = readSingleObjectFingerprint(buf);
    const writer = this.#writers.get(fp);
    if (writer === undefined) {
      throw new AvroCodecError(
        'unknown-schema',
        `no writer schema known for fingerprint ${fp.toString(16).padStart(16, '0')}`,
      );
    }
    return decodeBody<T>(this.type, buf.subarray(SINGLE_OBJECT_HEADER_LENGTH), this.#resolvers.for(writer));
  }
}

/** The writer-schema fingerprint of a single-object record. */
export function readSingleObjectFingerprint(buf: Buffer): bigint {
  if (buf.length < SINGLE_OBJECT_HEADER_LENGTH || buf[0] !== 0xc3 || buf[1] !== 0x01) {
    throw new AvroCodecError(
      'bad-header',
      'not an Avro single-object record (expected C3 01 and an 8-byte fingerprint)',
    );
  }
  return buf.readBigUInt64LE(2);
}

// ---------------------------------------------------------------------------------------------------------------
// Confluent wire format
// ---------------------------------------------------------------------------------------------------------------

const CONFLUENT_HEADER_LENGTH = 5;

/** Encodes records in the Confluent wire format under a schema id obtained from the registry. */
export class ConfluentCodec<T> {
  readonly type: AvroType;
  readonly schemaId: number;
  readonly #header: Buffer;

  constructor(type: AvroType, schemaId: number) {
    if (!Number.isInteger(schemaId) || schemaId < 0 || schemaId > 0x7fffffff) {
      throw new RangeError('schemaId must be a non-negative 32-bit integer');
    }
    this.type = type;
    this.schemaId = schemaId;
    this.#header = Buffer.alloc(CONFLUENT_HEADER_LENGTH);
    this.#header.writeUInt8(0, 0);
    this.#header.writeUInt32BE(schemaId, 1);
  }

  /** `00` + schema id (4 bytes BE) + binary datum. */
  encode(value: T): Buffer {
    return encodeWithHeader(this.type, this.#header, value);
  }

  get framing(): RecordFraming {
    return { header: Uint8Array.from(this.#header), fingerprint: schemaFingerprint(this.type) };
  }
}

/** The schema id of a Confluent wire-format record. */
export function readConfluentSchemaId(buf: Buffer): number {
  if (buf.length < CONFLUENT_HEADER_LENGTH || buf[0] !== 0x00) {
    throw new AvroCodecError(
      'bad-header',
      'not a Confluent wire-format record (expected 00 and a 4-byte schema id)',
    );
  }
  return buf.readUInt32BE(1);
}

// ---------------------------------------------------------------------------------------------------------------
// Reading either format
// ---------------------------------------------------------------------------------------------------------------

/** How {@link AnyFormatDecoder} finds writer schemas. */
export interface WriterSchemaLookup {
  /** Writer schema by registry id (Confluent format); typically `SchemaRegistryClient.getTypeById`. */
  resolveSchemaById?: (id: number) => Promise<AvroType>;
  /** Writer schema by fingerprint (single-object format); e.g. every shipped version of the schema. */
  resolveSchemaByFingerprint?: (fingerprint: bigint) => AvroType | undefined;
}

/**
 * Decodes records of one topic whichever wire format wrote them, dispatching on the first byte (`C3` single-object,
 * `00` Confluent), into the reader schema, so a topic can move from one format to the other without a rewrite.
 */
export class AnyFormatDecoder<T> {
  readonly #reader: AvroType;
  readonly #readerFingerprint: bigint;
  readonly #lookup: WriterSchemaLookup;
  readonly #resolvers: ResolverCache;

  constructor(reader: AvroType, lookup: WriterSchemaLookup) {
    this.#reader = reader;
    this.#readerFingerprint = schemaFingerprint(reader);
    this.#lookup = lookup;
    this.#resolvers = new ResolverCache(reader);
  }

  async decode(buf: Buffer): Promise<T> {
    const first = buf[0];
    if (first === 0xc3) {
      const fp = readSingleObjectFingerprint(buf);
      const writer =
        fp === this.#readerFingerprint ? this.#reader : this.#lookup.resolveSchemaByFingerprint?.(fp);
      if (writer === undefined) {
        throw new AvroCodecError(
          'unknown-schema',
          `no writer schema known for fingerprint ${fp.toString(16).padStart(16, '0')}`,
        );
      }
      return decodeBody<T>(
        this.#reader,
        buf.subarray(SINGLE_OBJECT_HEADER_LENGTH),
        this.#resolvers.for(writer),
      );
    }
    if (first === 0x00) {
      const id = readConfluentSchemaId(buf);
      if (this.#lookup.resolveSchemaById === undefined) {
        throw new AvroCodecError(
          'unknown-schema',
          `record names registry schema id ${id} but no registry is configured`,
        );
      }
      const writer = await this.#lookup.resolveSchemaById(id);
      return decodeBody<T>(this.#reader, buf.subarray(CONFLUENT_HEADER_LENGTH), this.#resolvers.for(writer));
    }
    throw new AvroCodecError(
      'unknown-wire-format',
      'first byte is neither C3 (single-object) nor 00 (Confluent)',
    );
  }
}

/** One-shot form of {@link AnyFormatDecoder} (builds resolvers each call; prefer the class on hot paths). */
export function decodeAny<T>(buf: Buffer, reader: AvroType, lookup: WriterSchemaLookup): Promise<T> {
  return new AnyFormatDecoder<T>(reader, lookup).decode(buf);
}

// ---------------------------------------------------------------------------------------------------------------
// Record types (each equals its Avro record name; see schemas/*.avsc for the field docs)
// ---------------------------------------------------------------------------------------------------------------

/** `schemas/notification.v1.avsc`: one frame as received, on genesys.notifications.v1. */
export type NotificationRecord = {
  topicName: string | null;
  kind: string;
  version: string | null;
  correlationId: string | null;
  rejectionCode: string | null;
  rawFrame: string;
  rawFrameSha256: string;
  receivedAtMs: number;
  channelId: string;
  frameSequence: number | null;
  ingestInstance: string;
  ingestVersion: string;
  conversationId: string | null;
  entityId: string | null;
  /** null or 'websocket', or 'eventbridge' (appended with a default; absent in records of the earlier schema). */
  transport?: string | null;
  eventBridge?: EventBridgeOriginRecord | null;
};

/** `schemas/notification.v1.avsc`: an EventBridge event's own fields and where custody read it. */
export type EventBridgeOriginRecord = {
  id: string;
  detailType: string;
  source: string;
  time: string | null;
  detailTimestamp: string | null;
  account: string | null;
  region: string | null;
  bridgeTopic: string;
  bridgePartition: number;
  bridgeOffset: number;
};

/** `schemas/dead-letter.v1.avsc`: where a dead letter came from. */
export type DeadLetterSource = {
  kind: string;
  topic: string | null;
  partition: number | null;
  offset: number | null;
  timestampMs: number | null;
  channelId: string | null;
};

/** `schemas/dead-letter.v1.avsc`: input custody could not process, on custody.dlq.v1. */
export type DeadLetter = {
  key: Buffer | null;
  value: Buffer | null;
  source: DeadLetterSource;
  stage: string;
  errorCode: string;
  reason: string;
  firstSeenAtMs: number;
  instance: string | null;
  headers: Record<string, Buffer>;
};

/** `schemas/recording-export.v1.avsc`: one S3 object of an export. */
export type ExportedObject = {
  key: string;
  versionId: string | null;
  size: number;
  etag: string;
  lastModifiedMs: number;
};

/** `schemas/recording-export.v1.avsc`: the Genesys job that covered a recording. */
export type ExportJobFacts = {
  jobId: string;
  createdBy: string | null;
  states: Array<{ state: string; observedAtMs: number }>;
};

/** `schemas/recording-export.v1.avsc`: one recording found in the export bucket, on custody.recording-exports.v1. */
export type RecordingExport = {
  bucket: string;
  orgId: string;
  conversationId: string;
  recordingId: string;
  partitionHour: string;
  audio: ExportedObject | null;
  metadata: ExportedObject | null;
  detectedAtMs: number;
  detectedBy: string;
  detectorInstance: string;
  detectorVersion: string;
  job: ExportJobFacts | null;
};

/** `schemas/manifest-written.v1.avsc`: a manifest version written to S3, on custody.manifests.v1. */
export type ManifestWritten = {
  conversationId: string;
  recordingId: string;
  bucket: string;
  key: string;
  versionId: string | null;
  manifestVersion: number;
  manifestSha256: string;
  previousManifestSha256: string | null;
  completeness: string;
  missing: string[];
  keyId: string;
  writtenAtMs: number;
  writerInstance: string;
};

/** `schemas/legal-hold.v1.avsc`: a legal hold placed or released for one matter, on custody.legal-holds.v1. */
export type LegalHoldEvent = {
  action: 'hold' | 'release';
  conversationId: string;
  matterId: string;
  reason: string | null;
  requestedBy: string;
  requestedAtMs: number;
  requestId: string;
  instance: string;
  version: string;
  genesysDeletionProtection: { protect: boolean; recordingIds: string[]; appliedAtMs: number } | null;
};

/** The record type of each shipped schema. */
export interface CustodyRecords {
  'notification.v1': NotificationRecord;
  'session-tags.v1': SessionTagsSnapshot;
  'dead-letter.v1': DeadLetter;
  'recording-export.v1': RecordingExport;
  'manifest-written.v1': ManifestWritten;
  'legal-hold.v1': LegalHoldEvent;
}

/** A single-object codec for one of custody's schemas. */
export function singleObjectCodecFor<N extends SchemaName>(name: N): SingleObjectCodec<CustodyRecords[N]> {
  const codec = new SingleObjectCodec<CustodyRecords[N]>(loadCustodySchema(name));
  for (const old of loadHistoricalSchemas(name)) codec.addWriterSchema(old);
  return codec;
}

/**
 * A decoded value as plain JSON data, optionally sharing equal parts ({@link PlainDataSharing}). Types built here
 * already decode plain objects ({@link decodeRecordsAsPlainObjects}); this copies, for types built elsewhere and
 * where equal strings and objects are to be shared. The same result as a JSON round trip for records without
 * `bytes` fields (buffers are kept as they are), at a fraction of its cost.
 */
export function toPlainData(value: unknown, share?: PlainDataSharing): unknown {
  if (typeof value === 'string') return share ? share.string(value) : value;
  if (Array.isArray(value)) return value.map((v) => toPlainData(v, share));
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value)) return value;
  // A clone keeps the record's layout: built member by member, an object of more than a dozen members (a leg of
  // session tags has 34) goes to dictionary mode, a hash table several times its size.
  const out: Record<string, unknown> = { ...value };
  for (const key of Object.keys(out)) {
    const v = out[key];
    if (v === undefined) delete out[key];
    else out[key] = toPlainData(v, share);
  }
  return share ? share.object(out) : out;
}

/**
 * How {@link toPlainData} may share equal parts of what it builds (each string and each object, once built, is
 * passed in; what is returned takes its place). Only for data never changed in place.
 */
export interface PlainDataSharing {
  string(value: string): string;
  object(value: Record<string, unknown>): object;
}
