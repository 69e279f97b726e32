/** Reads Kafka topics to their current end in tests (no sleeping: stops at the high watermarks). */
import type { Kafka } from 'kafkajs';
import { registerKafkajsCodecs } from '../../src/kafka/kafkajs-codecs.ts';
import { uniqueName } from './clients.ts';

export interface ReadRecord {
  readonly partition: number;
  readonly offset: string;
  readonly key: string | null;
  readonly value: Buffer | null;
  readonly timestamp: string;
  /** Header values as UTF-8 text (the last value of a repeated header). */
  readonly headers: Readonly<Record<string, string>>;
}

export async function readTopicToEnd(kafka: Kafka, topic: string, timeoutMs = 30_000): Promise<ReadRecord[]> {
  // Topics custody wrote with KAFKA_COMPRESSION=zstd or gzip read as the roles read them.
  registerKafkajsCodecs();
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const remaining = new Map(ends.filter((e) => e.high !== e.low).map((e) => [e.partition, BigInt(e.high)]));
  if (remaining.size === 0) return [];
  const consumer = kafka.consumer({ groupId: uniqueName('reader') });
  const out: ReadRecord[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out reading ${topic}`)), timeoutMs);
      consumer
        .run({
          eachMessage: async ({ partition, message }) => {
            out.push({
              partition,
              offset: message.offset,
              key: message.key?.toString() ?? null,
              value: message.value,
              timestamp: message.timestamp,
              headers: Object.fromEntries(
                Object.entries(message.headers ?? {}).map(([k, v]) => [
                  k,
                  String(Array.isArray(v) ? v[v.length - 1] : (v ?? '')),
                ]),
              ),
            });
            const end = remaining.get(partition);
            if (end !== undefined && BigInt(message.offset) + 1n >= end) remaining.delete(partition);
            if (remaining.size === 0) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return out;
}
