/**
 * kafkajs's Produce request body (version 3, which versions 4 to 7 repeat), written into one buffer of its exact size.
 *
 * kafkajs builds it from nested encoders, each copying the one inside it: the record, the batch body, the batch, the
 * batch after its offset, the partition, the topic and the request. That is seven copies of every record's bytes,
 * most into buffers grown by doubling, each a new ArrayBuffer. V8 counts ArrayBuffer memory as external memory, and
 * at 5,000 frames/s these buffers started every one of ingest's major GCs ("external memory pressure") long before
 * its heap reached its limit (bench/README.md, "Buffers, not the heap, started the major GCs"). Here the sizes are
 * counted first and every byte is written once.
 *
 * The bytes are kafkajs's, down to its quirks (timestamps sorted as text, `timestamp || now`). Anything this does not
 * write exactly as kafkajs would is left to kafkajs: compressed batches, and keys, values or header values that are
 * neither a Buffer nor a string, or timestamps whose difference is not a safe integer.
 */
import { crc32c } from './crc32c.ts';

/** kafkajs's 64-bit integer (utils/long.js). */
interface KafkajsLong {
  getHighBits(): number;
  getLowBits(): number;
}

export interface KafkajsInternals {
  /** protocol/encoder.js: the request is handed on as one of these. */
  Encoder: { prototype: object };
  /** utils/long.js */
  Long: { fromValue(value: unknown): KafkajsLong; fromInt(value: number): KafkajsLong };
}

type Message = Readonly<{ key?: unknown; value?: unknown; headers?: unknown; timestamp?: unknown }>;
type PartitionData = Readonly<{ partition: number; firstSequence?: number; messages: readonly Message[] }>;
type TopicData = Readonly<{ topic: string; partitions: readonly PartitionData[] }>;
export type ProduceArgs = Readonly<{
  acks: number;
  timeout: number;
  transactionalId?: string | null;
  producerId?: unknown;
  producerEpoch?: number;
  compression?: number;
  topicData: readonly TopicData[];
}>;
type ProduceRequest = { encode(): Promise<unknown> } & Record<string, unknown>;
export type ProduceRequestV3 = (args: ProduceArgs) => ProduceRequest;

/** kafkajs's `Encoder.encodeZigZag`, exactly (32-bit arithmetic). */
function zigZag32(n: number): number {
  return (n << 1) ^ (n >> 31);
}

/** The byte count of kafkajs's `writeUVarInt(encodeZigZag(n))`. */
function sizeOfVarInt(n: number): number {
  let v = zigZag32(n);
  let bytes = 1;
  while ((v & 0xffffff80) !== 0) {
    bytes += 1;
    v >>>= 7;
  }
  return bytes;
}

/** ZigZag of a safe integer as 64 bits do it, as an exact non-negative double. */
function zigZag64(n: number): number {
  return n >= 0 ? 2 * n : -2 * n - 1;
}

function sizeOfVarLong(n: number): number {
  let z = zigZag64(n);
  let bytes = 1;
  while (z >= 128) {
    bytes += 1;
    z = Math.floor(z / 128);
  }
  return bytes;
}

function byteLength(v: Buffer | string): number {
  return typeof v === 'string' ? Buffer.byteLength(v, 'utf8') : v.length;
}

/** A key, value or header value kafkajs writes as its bytes (a Buffer or a string), or null/undefined. */
function isBytes(v: unknown): v is Buffer | string | null | undefined {
  return v == null || typeof v === 'string' || Buffer.isBuffer(v);
}

/** `Encoder.sizeOfVarIntBytes` */
function sizeOfVarIntBytes(v: Buffer | string | null | undefined): number {
  if (v == null) return 1;
  const n = byteLength(v);
  return sizeOfVarInt(n) + n;
}

/** A record's headers as kafkajs flattens them (an array value gives one header per element). */
function headersOf(headers: unknown): [string, Buffer | string][] | undefined {
  const out: [string, Buffer | string][] = [];
  if (headers == null) return out;
  if (typeof headers !== 'object') return undefined;
  for (const key of Object.keys(headers)) {
    const value = (headers as Record<string, unknown>)[key];
    for (const v of Array.isArray(value) ? value : [value]) {
      // kafkajs throws on a null header value (Buffer.byteLength(null)); that, too, is left to it.
      if (typeof v !== 'string' && !Buffer.isBuffer(v)) return undefined;
      out.push([key, v]);
    }
  }
  return out;
}

/** One record, measured: everything its bytes are written from. */
type Sized = {
  key: Buffer | string | null | undefined;
  value: Buffer | string | null | undefined;
  headers: [string, Buffer | string][];
  timestampDelta: number;
  bodySize: number;
};

/** One partition's batch, measured. */
type SizedBatch = {
  partition: number;
  firstSequence: number;
  records: Sized[];
  firstTimestamp: unknown;
  maxTimestamp: unknown;
  /** The record batch as kafkajs's RecordBatch returns it: offset, length, then the batch. */
  size: number;
};

/** `partitionsEncoder`'s timestamps and `Record`'s sizes, or undefined where kafkajs's own encoder must run. */
function sizeBatch(data: PartitionData): SizedBatch | undefined {
  const dateNow = Date.now();
  const messages = data.messages;
  const stamps: unknown[] = [];
  for (const m of messages) if (m.timestamp != null) stamps.push(m.timestamp);
  // As kafkajs does: Array#sort without a comparator, which compares as text.
  stamps.sort();
  const timestamps = stamps.length === 0 ? [dateNow] : stamps;
  const firstTimestamp = timestamps[0];
  const maxTimestamp = timestamps[timestamps.length - 1];
  const records: Sized[] = [];
  let recordsSize = 0;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i] as Message;
    const { key, value } = m;
    if (!isBytes(key) || !isBytes(value)) return undefined;
    const headers = headersOf(m.headers);
    if (headers === undefined) return undefined;
    const timestampDelta = ((m.timestamp || dateNow) as number) - (firstTimestamp as number);
    if (!Number.isSafeInteger(timestampDelta)) return undefined;
    let bodySize =
      1 + sizeOfVarLong(timestampDelta) + sizeOfVarInt(i) + sizeOfVarIntBytes(key) + sizeOfVarIntBytes(value);
    bodySize += sizeOfVarInt(headers.length);
    for (const [k, v] of headers) {
      const keySize = Buffer.byteLength(k, 'utf8');
      const valueSize = byteLength(v);
      bodySize += sizeOfVarInt(keySize) + keySize + sizeOfVarInt(valueSize) + valueSize;
    }
    records.push({ key, value, headers, timestampDelta, bodySize });
    recordsSize += sizeOfVarInt(bodySize) + bodySize;
  }
  // Offset and length; leader epoch, magic, CRC; the body's fixed fields and the record count.
  const size = 8 + 4 + (4 + 1 + 4) + (2 + 4 + 8 + 8 + 8 + 2 + 4) + 4 + recordsSize;
  return {
    partition: data.partition,
    firstSequence: data.firstSequence ?? 0,
    records,
    firstTimestamp,
    maxTimestamp,
    size,
  };
}

/** Writes into a buffer of known size, in kafkajs's encodings. */
class Writer {
  pos = 0;
  readonly buf: Buffer;
  readonly long: KafkajsInternals['Long'];
  constructor(buf: Buffer, long: KafkajsInternals['Long']) {
    this.buf = buf;
    this.long = long;
  }

  int8(v: number): void {
    this.pos = this.buf.writeInt8(v, this.pos);
  }
  int16(v: number): void {
    this.pos = this.buf.writeInt16BE(v, this.pos);
  }
  int32(v: number): void {
    this.pos = this.buf.writeInt32BE(v, this.pos);
  }
  /** `Encoder#writeInt64`: through kafkajs's Long, which reads numbers, strings and Longs as kafkajs does. */
  int64(v: unknown): void {
    const l = this.long.fromValue(v);
    this.int32(l.getHighBits());
    this.int32(l.getLowBits());
  }
  /** `Encoder#writeUVarInt(encodeZigZag(n))` */
  varInt(n: number): void {
    let v = zigZag32(n);
    while ((v & 0xffffff80) !== 0) {
      this.buf[this.pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[this.pos++] = v & 0x7f;
  }
  /** `Encoder#writeVarLong` of a safe integer. */
  varLong(n: number): void {
    let z = zigZag64(n);
    while (z >= 128) {
      this.buf[this.pos++] = (z % 128) | 0x80;
      z = Math.floor(z / 128);
    }
    this.buf[this.pos++] = z;
  }
  /** `Encoder#writeString`: int16 length (-1 for null), UTF-8. */
  string(v: string | null): void {
    if (v === null) return this.int16(-1);
    const n = Buffer.byteLength(v, 'utf8');
    this.int16(n);
    this.pos += this.buf.write(v, this.pos, n, 'utf8');
  }
  raw(v: Buffer | string): void {
    this.pos += typeof v === 'string' ? this.buf.write(v, this.pos, 'utf8') : v.copy(this.buf, this.pos);
  }
  /** `Encoder#writeVarIntBytes` (and `writeVarIntString` of a string). */
  varIntBytes(v: Buffer | string | null | undefined): void {
    if (v == null) return this.varInt(-1);
    this.varInt(byteLength(v));
    this.raw(v);
  }
}

const COMPRESSION_NONE = 0;
const TRANSACTIONAL = 16;

function writeBatch(w: Writer, b: SizedBatch, args: ProduceArgs, producerId: unknown) {
  w.int64(0); // firstOffset
  w.int32(b.size - 12);
  w.int32(0); // partitionLeaderEpoch
  w.int8(2); // magic
  const crcAt = w.pos;
  w.pos += 4;
  const bodyAt = w.pos;
  w.int16(args.transactionalId ? TRANSACTIONAL : 0); // attributes: no compression, CreateTime
  w.int32(b.records.length - 1); // lastOffsetDelta
  w.int64(b.firstTimestamp);
  w.int64(b.maxTimestamp);
  w.int64(producerId);
  w.int16(args.producerEpoch ?? 0);
  w.int32(b.firstSequence);
  w.int32(b.records.length);
  for (let i = 0; i < b.records.length; i++) {
    const r = b.records[i] as Sized;
    w.varInt(r.bodySize);
    w.int8(0); // attributes
    w.varLong(r.timestampDelta);
    w.varInt(i); // offsetDelta
    w.varIntBytes(r.key);
    w.varIntBytes(r.value);
    w.varInt(r.headers.length);
    for (const [k, v] of r.headers) {
      w.varIntBytes(k);
      w.varIntBytes(v);
    }
  }
  w.buf.writeUInt32BE(crc32c(w.buf.subarray(bodyAt, w.pos)), crcAt);
}

/**
 * The request body kafkajs's v3 `encode` would give, as one Encoder whose buffer is exactly that, or undefined when
 * kafkajs's own encoder must write it (see the module comment).
 */
export function encodeProduceRequest(args: ProduceArgs, k: KafkajsInternals): object | undefined {
  if ((args.compression ?? COMPRESSION_NONE) !== COMPRESSION_NONE) return undefined;
  const transactionalId = args.transactionalId ?? null;
  const producerId = args.producerId === undefined ? k.Long.fromInt(-1) : args.producerId;
  let size = (transactionalId === null ? 2 : 2 + Buffer.byteLength(transactionalId, 'utf8')) + 2 + 4 + 4;
  const topics: { topic: string; batches: SizedBatch[] }[] = [];
  for (const t of args.topicData) {
    const batches: SizedBatch[] = [];
    size += 2 + Buffer.byteLength(t.topic, 'utf8') + 4;
    for (const p of t.partitions) {
      const b = sizeBatch(p);
      if (b === undefined) return undefined;
      batches.push(b);
      size += 4 + 4 + b.size;
    }
    topics.push({ topic: t.topic, batches });
  }
  const w = new Writer(Buffer.allocUnsafe(size), k.Long);
  w.string(transactionalId);
  w.int16(args.acks);
  w.int32(args.timeout);
  w.int32(topics.length);
  for (const t of topics) {
    w.string(t.topic);
    w.int32(t.batches.length);
    for (const b of t.batches) {
      w.int32(b.partition);
      w.int32(b.size);
      writeBatch(w, b, args, producerId);
    }
  }
  if (w.pos !== size) throw new Error(`produce request: wrote ${w.pos} bytes of ${size}`);
  const encoder = Object.create(k.Encoder.prototype) as { buf: Buffer; offset: number };
  encoder.buf = w.buf;
  encoder.offset = size;
  return encoder;
}

/** kafkajs's v3 Produce request module, with `encode` writing the request once ({@link encodeProduceRequest}). */
export function exactProduceRequest(original: ProduceRequestV3, k: KafkajsInternals): ProduceRequestV3 {
  return (args) => {
    const request = original(args);
    const fallback = request.encode;
    return { ...request, encode: async () => encodeProduceRequest(args, k) ?? (await fallback()) };
  };
}
