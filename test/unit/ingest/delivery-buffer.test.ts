import { describe, expect, it } from 'vitest';
import { DeliveryBuffer } from '../../../src/ingest/delivery-buffer.ts';
import type { Delivery } from '../../../src/ingest/delivery-buffer.ts';
import type { KeyedRecord, RecordProducer } from '../../../src/kafka/record-producer.ts';

/** A producer port fake (component level): records what was sent, fails while `down` is true. */
class FlakyProducer implements RecordProducer {
  sent: KeyedRecord[][] = [];
  down = false;
  attempts = 0;
  async send(records: readonly KeyedRecord[]) {
    this.attempts++;
    await new Promise((r) => setTimeout(r, 1));
    if (this.down) throw new Error('broker unreachable');
    this.sent.push([...records]);
    return [];
  }
  async close() {}
}

const delivery = (i: number): Delivery => ({
  receivedAt: i,
  records: [{ topic: 't', key: `k${i % 3}`, value: Buffer.from(String(i)) }],
});

describe('DeliveryBuffer', () => {
  it('delivers everything in order and reports acks', async () => {
    const producer = new FlakyProducer();
    const acked: number[] = [];
    const buf = new DeliveryBuffer(
      producer,
      { acked: (ds) => acked.push(...ds.map((d) => d.receivedAt)), pressure: () => {}, sendFailed: () => {} },
      { maxBatch: 7 },
    );
    for (let i = 0; i < 100; i++) buf.push(delivery(i));
    await buf.flush();
    expect(acked).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(producer.sent.flat().map((r) => r.value?.toString())).toEqual(acked.map(String));
    expect(Math.max(...producer.sent.map((b) => b.length))).toBeLessThanOrEqual(7);
  });

  it('cuts batches by bytes below what Kafka accepts per request, and still sends a single oversized frame', async () => {
    const producer = new FlakyProducer();
    const buf = new DeliveryBuffer(
      producer,
      { acked: () => {}, pressure: () => {}, sendFailed: () => {} },
      { maxBatch: 500, maxBatchBytes: 10_000 },
    );
    const big = (i: number, size: number): Delivery => ({
      receivedAt: i,
      records: [{ topic: 't', key: 'k', value: Buffer.alloc(size, i) }],
    });
    for (let i = 0; i < 50; i++) buf.push(big(i, 1_000));
    buf.push(big(50, 25_000));
    for (let i = 51; i < 60; i++) buf.push(big(i, 1_000));
    await buf.flush();
    const sizes = producer.sent.map((b) => b.reduce((n, r) => n + (r.value?.byteLength ?? 0) + 1, 0));
    expect(producer.sent.flat().map((r) => r.value?.[0])).toEqual(Array.from({ length: 60 }, (_, i) => i));
    expect(sizes.filter((n) => n > 10_000)).toEqual([25_001]);
  });

  it('never drops while Kafka is down: retries, pauses above the high-water mark, resumes below the low one', async () => {
    const producer = new FlakyProducer();
    producer.down = true;
    const pressure: boolean[] = [];
    let failures = 0;
    const buf = new DeliveryBuffer(
      producer,
      { acked: () => {}, pressure: (p) => pressure.push(p), sendFailed: () => failures++ },
      { highWater: 50, lowWater: 10, maxBatch: 20, retryBaseMs: 1, retryMaxMs: 5 },
    );
    for (let i = 0; i < 60; i++) buf.push(delivery(i));
    expect(buf.overflowing).toBe(true);
    expect(pressure).toEqual([true]);
    await new Promise((r) => setTimeout(r, 50));
    expect(failures).toBeGreaterThan(2);
    expect(buf.depth).toBe(60);
    producer.down = false;
    await buf.flush();
    expect(pressure).toEqual([true, false]);
    expect(producer.sent.flat()).toHaveLength(60);
    expect(buf.depth).toBe(0);
  });
});
