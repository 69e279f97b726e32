/**
 * The one way custody writes to Kafka: an idempotent producer with acks=all whose `send` resolves only
 * after the broker has acknowledged every record. Callers treat a resolved send as durable and only then
 * move on (commit an offset, drop a buffered frame).
 *
 * Sends are cut into requests of at most `maxRequestBytes`, so a large batch (a whole scan pass, a backlog of
 * frames) never exceeds the broker's message limit; a single record that can never fit is rejected at once with
 * a RecordTooLargeError (not retriable), so the caller dead-letters it instead of retrying it forever.
 */
import type { Kafka, Message, Producer, RecordMetadata } from 'kafkajs';
import { murmur2Partitioner } from './partitioning.ts';
import { compressionType, registerKafkajsCodecs } from './kafkajs-codecs.ts';
import type { KafkaCompression } from '../config.ts';

export interface KeyedRecord {
  readonly topic: string;
  readonly key: string | null;
  readonly value: Buffer | null;
  readonly headers?: Readonly<Record<string, string>>;
  /** Record timestamp (ms); defaults to the broker's CreateTime from the producer clock. */
  readonly timestamp?: number;
  /** Explicit partition (e.g. a changelog record beside the input partition it mirrors); default: by key. */
  readonly partition?: number;
}

export interface RecordProducer {
  /** Sends all records (any topics) and resolves once every one is acknowledged by all in-sync replicas. */
  send(records: readonly KeyedRecord[]): Promise<RecordMetadata[]>;
  close(): Promise<void>;
}

/** A record larger than the broker accepts: retrying cannot help, so it belongs in the dead-letter topic. */
export class RecordTooLargeError extends Error {
  readonly bytes: number;
  readonly limitBytes: number;
  readonly topic: string;
  readonly retriable = false;
  constructor(topic: string, bytes: number, limitBytes: number) {
    super(`a record for ${topic} is ${bytes} bytes, over the ${limitBytes}-byte record limit`);
    this.name = 'RecordTooLargeError';
    this.topic = topic;
    this.bytes = bytes;
    this.limitBytes = limitBytes;
  }
}

/**
 * The broker's default `message.max.bytes` is 1,048,588 bytes per record batch; custody stays below it with room
 * for the batch header and per-record framing.
 */
export const DEFAULT_MAX_RECORD_BYTES = 1_000_000;
/** Per-record framing (offset delta, timestamp delta, lengths, attributes) counted on top of key/value/headers. */
const RECORD_OVERHEAD_BYTES = 32;

/** The bytes a record takes in a request, near enough to keep requests under the broker's limit. */
export function recordBytes(r: KeyedRecord): number {
  let n = RECORD_OVERHEAD_BYTES + (r.key === null ? 0 : Buffer.byteLength(r.key)) + (r.value?.length ?? 0);
  for (const [name, value] of Object.entries(r.headers ?? {})) {
    n += Buffer.byteLength(name) + Buffer.byteLength(value) + 8;
  }
  return n;
}

/**
 * Cuts records into chunks whose bytes stay within `maxBytes`, keeping their order (so per-key order holds).
 * Throws RecordTooLargeError for a record that alone exceeds `maxBytes`.
 */
export function chunkByBytes(records: readonly KeyedRecord[], maxBytes: number): KeyedRecord[][] {
  const chunks: KeyedRecord[][] = [];
  let current: KeyedRecord[] = [];
  let size = 0;
  for (const r of records) {
    const n = recordBytes(r);
    if (n > maxBytes) throw new RecordTooLargeError(r.topic, n, maxBytes);
    if (current.length > 0 && size + n > maxBytes) {
      chunks.push(current);
      current = [];
      size = 0;
    }
    current.push(r);
    size += n;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

export class KafkaRecordProducer implements RecordProducer {
  readonly #producer: Producer;
  readonly #maxRequestBytes: number;
  readonly #compression: ReturnType<typeof compressionType>;
  #connected: Promise<void> | undefined;

  /**
   * `compression` is the record batches' codec (`KAFKA_COMPRESSION`); requests are still cut by their uncompressed
   * bytes, so a record that fits uncompressed fits whatever the codec achieves.
   */
  constructor(
    kafka: Kafka,
    opts: { transactionalId?: string; maxRequestBytes?: number; compression?: KafkaCompression } = {},
  ) {
    // Idempotence needs maxInFlightRequests <= 5 (kafkajs enforces 1 for safety with retries).
    // The Java client's murmur2 partitioner, named explicitly: a conversation's records land in the same
    // partition whichever client (custody or another Kafka service) produced them (partitioning.ts: kafkajs's
    // choices, without its allocations).
    this.#producer = kafka.producer({
      createPartitioner: murmur2Partitioner,
      idempotent: true,
      maxInFlightRequests: 1,
      transactionalId: opts.transactionalId,
    });
    this.#maxRequestBytes = opts.maxRequestBytes ?? DEFAULT_MAX_RECORD_BYTES;
    registerKafkajsCodecs();
    this.#compression = compressionType(opts.compression ?? 'none');
  }

  async #connect(): Promise<void> {
    if (this.#connected === undefined) {
      const attempt = this.#producer.connect();
      this.#connected = attempt;
      // A failed connect must not be remembered: the next send connects again (the broker may be up by then).
      attempt.catch(() => {
        if (this.#connected === attempt) this.#connected = undefined;
      });
    }
    return this.#connected;
  }

  async send(records: readonly KeyedRecord[]): Promise<RecordMetadata[]> {
    if (records.length === 0) return [];
    const chunks = chunkByBytes(records, this.#maxRequestBytes);
    await this.#connect();
    const out: RecordMetadata[] = [];
    for (const chunk of chunks) out.push(...(await this.#sendChunk(chunk)));
    return out;
  }

  async #sendChunk(records: readonly KeyedRecord[]): Promise<RecordMetadata[]> {
    const byTopic = new Map<string, Message[]>();
    for (const r of records) {
      const list = byTopic.get(r.topic) ?? [];
      list.push({
        key: r.key,
        value: r.value,
        headers: r.headers ? { ...r.headers } : undefined,
        timestamp: r.timestamp === undefined ? undefined : String(r.timestamp),
        ...(r.partition === undefined ? {} : { partition: r.partition }),
      });
      byTopic.set(r.topic, list);
    }
    return this.#producer.sendBatch({
      acks: -1,
      compression: this.#compression,
      topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
    });
  }

  async close(): Promise<void> {
    const connected = this.#connected;
    this.#connected = undefined;
    if (connected) {
      await connected.catch(() => undefined);
      await this.#producer.disconnect();
    }
  }
}
