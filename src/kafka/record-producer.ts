/**
 * The one way custody writes to Kafka: an idempotent producer with acks=all whose `send` resolves only
 * after the broker has acknowledged every record. Callers treat a resolved send as durable and only then
 * move on (commit an offset, drop a buffered frame).
 */
import type { Kafka, Message, Producer, RecordMetadata } from 'kafkajs';
import { CompressionTypes, Partitioners } from 'kafkajs';

export interface KeyedRecord {
  readonly topic: string;
  readonly key: string | null;
  readonly value: Buffer | null;
  readonly headers?: Readonly<Record<string, string>>;
  /** Record timestamp (ms); defaults to the broker's CreateTime from the producer clock. */
  readonly timestamp?: number;
}

export interface RecordProducer {
  /** Sends all records (any topics) and resolves once every one is acknowledged by all in-sync replicas. */
  send(records: readonly KeyedRecord[]): Promise<RecordMetadata[]>;
  close(): Promise<void>;
}

export class KafkaRecordProducer implements RecordProducer {
  readonly #producer: Producer;
  #connected: Promise<void> | undefined;

  constructor(kafka: Kafka, opts: { transactionalId?: string } = {}) {
    // Idempotence needs maxInFlightRequests <= 5 (kafkajs enforces 1 for safety with retries).
    // The Java client's murmur2 partitioner, named explicitly: a conversation's records land in the same
    // partition whichever client (custody or another Kafka service) produced them.
    this.#producer = kafka.producer({
      createPartitioner: Partitioners.DefaultPartitioner,
      idempotent: true,
      maxInFlightRequests: 1,
      transactionalId: opts.transactionalId,
    });
  }

  async #connect(): Promise<void> {
    this.#connected ??= this.#producer.connect();
    return this.#connected;
  }

  async send(records: readonly KeyedRecord[]): Promise<RecordMetadata[]> {
    if (records.length === 0) return [];
    await this.#connect();
    const byTopic = new Map<string, Message[]>();
    for (const r of records) {
      const list = byTopic.get(r.topic) ?? [];
      list.push({
        key: r.key,
        value: r.value,
        headers: r.headers ? { ...r.headers } : undefined,
        timestamp: r.timestamp === undefined ? undefined : String(r.timestamp),
      });
      byTopic.set(r.topic, list);
    }
    return this.#producer.sendBatch({
      acks: -1,
      compression: CompressionTypes.None,
      topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
    });
  }

  async close(): Promise<void> {
    if (this.#connected) await this.#producer.disconnect();
    this.#connected = undefined;
  }
}
