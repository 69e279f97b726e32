import { describe, expect, it } from 'vitest';
import type { Kafka } from 'kafkajs';
import {
  chunkByBytes,
  KafkaRecordProducer,
  RecordTooLargeError,
  recordBytes,
} from '../../../src/kafka/record-producer.ts';
import type { KeyedRecord } from '../../../src/kafka/record-producer.ts';

const rec = (bytes: number, key = 'c1'): KeyedRecord => ({ topic: 't', key, value: Buffer.alloc(bytes) });

describe('chunkByBytes', () => {
  it('cuts a large send into requests under the limit, in order', () => {
    const records = Array.from({ length: 2_000 }, (_, i) => rec(1_000, `c${i}`));
    const chunks = chunkByBytes(records, 100_000);
    expect(chunks.length).toBeGreaterThan(20);
    for (const c of chunks) expect(c.reduce((n, r) => n + recordBytes(r), 0)).toBeLessThanOrEqual(100_000);
    expect(chunks.flat()).toEqual(records);
  });

  it('rejects a record that can never fit, without retrying', () => {
    expect(() => chunkByBytes([rec(10), rec(200_000)], 100_000)).toThrow(RecordTooLargeError);
  });
});

describe('KafkaRecordProducer', () => {
  it('connects again after a failed connect (a broker that was not up yet)', async () => {
    let connects = 0;
    const sent: unknown[] = [];
    const producer = {
      connect: async () => {
        connects += 1;
        if (connects === 1) throw Object.assign(new Error('connect ECONNREFUSED'), { retriable: true });
      },
      sendBatch: async (b: unknown) => {
        sent.push(b);
        return [];
      },
      disconnect: async () => undefined,
    };
    const kafka = { producer: () => producer } as unknown as Kafka;
    const p = new KafkaRecordProducer(kafka);
    await expect(p.send([rec(10)])).rejects.toThrow('ECONNREFUSED');
    await p.send([rec(10)]);
    expect(connects).toBe(2);
    expect(sent).toHaveLength(1);
  });
});
