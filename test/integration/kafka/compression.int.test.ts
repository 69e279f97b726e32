/**
 * Record batch compression against the real broker: custody's producer really writes zstd and gzip batches (the
 * consumer has to inflate them), and custody reads the batches a broker-side `compression.type` makes of records
 * written uncompressed — the case where kafkajs alone stops with "ZSTD compression not implemented".
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { KafkaCompression } from '../../../src/config.ts';
import { KafkaRecordProducer } from '../../../src/kafka/record-producer.ts';
import type { KeyedRecord } from '../../../src/kafka/record-producer.ts';
import { kafkaClient, uniqueName } from '../../support/clients.ts';
import { countInflatedBatches } from '../../support/kafka-inflation.ts';
import type { InflationCounter } from '../../support/kafka-inflation.ts';
import { readTopicToEnd } from '../../support/kafka-read.ts';

const kafka = kafkaClient('custody-compression-test');
const admin = kafka.admin();
let counter: InflationCounter | undefined;
/** Batches inflated per codec since the last reset: the proof a topic holds compressed batches. */
const inflated = () => counter?.counts ?? { zstd: -1, gzip: -1 };

beforeAll(async () => {
  counter = countInflatedBatches();
  await admin.connect();
});

afterEach(() => counter?.reset());

afterAll(async () => {
  counter?.restore();
  await admin.disconnect();
});

/** Snapshot-like records: one JSON shape, different ids. */
function records(topic: string, n: number): KeyedRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    topic,
    key: `conversation-${i % 7}`,
    value: Buffer.from(
      JSON.stringify({
        conversationId: `conversation-${i % 7}`,
        seq: i,
        legs: [{ participantId: `p-${i}` }],
      }),
    ),
    headers: { 'custody.test': String(i) },
  }));
}

async function topic(configEntries: { name: string; value: string }[] = []): Promise<string> {
  const name = uniqueName('compression');
  await admin.createTopics({
    waitForLeaders: true,
    topics: [{ topic: name, numPartitions: 2, configEntries }],
  });
  return name;
}

async function roundTrip(name: string, compression: KafkaCompression): Promise<void> {
  const sent = records(name, 300);
  const producer = new KafkaRecordProducer(kafka, { compression });
  try {
    await producer.send(sent);
  } finally {
    await producer.close();
  }
  const read = await readTopicToEnd(kafka, name);
  const byValue = (r: { value: Buffer | null }) => r.value?.toString() ?? '';
  expect(read.map(byValue).sort()).toEqual(sent.map(byValue).sort());
  expect(read.find((r) => r.headers['custody.test'] === '42')?.key).toBe('conversation-0');
}

describe('Kafka record batch compression', () => {
  it('KAFKA_COMPRESSION=zstd writes zstd batches that read back record for record', async () => {
    await roundTrip(await topic(), 'zstd');
    expect(inflated().zstd).toBeGreaterThan(0);
    expect(inflated().gzip).toBe(0);
  });

  it('KAFKA_COMPRESSION=gzip writes gzip batches', async () => {
    await roundTrip(await topic(), 'gzip');
    expect(inflated().gzip).toBeGreaterThan(0);
    expect(inflated().zstd).toBe(0);
  });

  it('KAFKA_COMPRESSION=none writes batches no reader has to inflate', async () => {
    await roundTrip(await topic(), 'none');
    expect(inflated()).toEqual({ zstd: 0, gzip: 0 });
  });

  it('reads a topic the broker recompresses (compression.type=zstd) although custody wrote it uncompressed', async () => {
    await roundTrip(await topic([{ name: 'compression.type', value: 'zstd' }]), 'none');
    expect(inflated().zstd).toBeGreaterThan(0);
  });
});
