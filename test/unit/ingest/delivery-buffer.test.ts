import { afterEach, describe, expect, it, vi } from 'vitest';
import { DeliveryBuffer } from '../../../src/ingest/delivery-buffer.ts';
import type { Delivery } from '../../../src/ingest/delivery-buffer.ts';
import { recordBytes, RecordTooLargeError } from '../../../src/kafka/record-producer.ts';
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

  it('pauses above the byte high-water mark however few the frames, and resumes below both low marks', async () => {
    const producer = new FlakyProducer();
    producer.down = true;
    const pressure: boolean[] = [];
    const buf = new DeliveryBuffer(
      producer,
      { acked: () => {}, pressure: (p) => pressure.push(p), sendFailed: () => {} },
      {
        highWater: 1_000,
        lowWater: 500,
        highWaterBytes: 100_000,
        lowWaterBytes: 40_000,
        maxBatch: 2,
        retryBaseMs: 1,
        retryMaxMs: 5,
      },
    );
    const large = (i: number): Delivery => ({
      receivedAt: i,
      records: [{ topic: 't', key: 'k', value: Buffer.alloc(30_000, i) }],
    });
    for (let i = 0; i < 3; i++) buf.push(large(i));
    expect(buf.bytes).toBe(3 * recordBytes(large(0).records[0] as KeyedRecord));
    expect(pressure).toEqual([]);
    buf.push(large(3));
    expect(buf.overflowing).toBe(true);
    expect(pressure).toEqual([true]);
    producer.down = false;
    await buf.flush();
    expect(pressure).toEqual([true, false]);
    expect(buf.bytes).toBe(0);
    expect(producer.sent.flat().map((r) => r.value?.[0])).toEqual([0, 1, 2, 3]);
  });
});

/** A producer that refuses records over `limit` bytes as the real one does (RecordTooLargeError). */
class LimitedProducer implements RecordProducer {
  sent: KeyedRecord[] = [];
  readonly limit: number;
  constructor(limit: number) {
    this.limit = limit;
  }
  async send(records: readonly KeyedRecord[]) {
    for (const r of records)
      if (recordBytes(r) > this.limit) throw new RecordTooLargeError(r.topic, recordBytes(r), this.limit);
    this.sent.push(...records);
    return [];
  }
  async close() {}
}

describe('DeliveryBuffer: answers retrying cannot fix', () => {
  it('replaces a record the broker can never accept (dead letter) instead of retrying it forever', async () => {
    const producer = new LimitedProducer(1_000);
    const seen: Array<{ bytes: number; limit: number }> = [];
    let failures = 0;
    const buf = new DeliveryBuffer(producer, {
      acked: () => {},
      pressure: () => {},
      sendFailed: () => failures++,
      oversized: (r, _d, limit) => {
        seen.push({ bytes: r.value?.length ?? 0, limit });
        return { topic: 'dlq', key: r.key, value: Buffer.from('too large') };
      },
    });
    buf.push(delivery(1));
    buf.push({ receivedAt: 2, records: [{ topic: 't', key: 'k', value: Buffer.alloc(5_000) }] });
    buf.push(delivery(3));
    await buf.flush();
    expect(seen).toEqual([{ bytes: 5_000, limit: 1_000 }]);
    expect(failures).toBe(0);
    expect(producer.sent.map((r) => `${r.topic}:${r.value?.toString()}`)).toEqual([
      't:1',
      'dlq:too large',
      't:3',
    ]);
  });

  it('stops on a fatal error (authorization) and reports it', async () => {
    const producer: RecordProducer = {
      send: async () => {
        throw Object.assign(new Error('Not authorized to access topics'), {
          type: 'TOPIC_AUTHORIZATION_FAILED',
        });
      },
      close: async () => {},
    };
    const failed: unknown[] = [];
    let retries = 0;
    const buf = new DeliveryBuffer(
      producer,
      { acked: () => {}, pressure: () => {}, sendFailed: () => retries++, failed: (e) => failed.push(e) },
      { retryBaseMs: 1, retryMaxMs: 2 },
    );
    buf.push(delivery(1));
    await new Promise((r) => setTimeout(r, 30));
    expect(failed).toHaveLength(1);
    expect(retries).toBe(0);
    expect(buf.failed).toBe(true);
  });

  it('abandon() stops retrying and says which frames were given up', async () => {
    const producer = new FlakyProducer();
    producer.down = true;
    const buf = new DeliveryBuffer(
      producer,
      { acked: () => {}, pressure: () => {}, sendFailed: () => {} },
      { retryBaseMs: 1_000, retryMaxMs: 1_000 },
    );
    for (let i = 10; i < 15; i++) buf.push(delivery(i));
    const flushing = buf.flush();
    await new Promise((r) => setTimeout(r, 20));
    expect(buf.abandon()).toEqual({ frames: 5, from: 10, to: 14 });
    await flushing;
    const attempts = producer.attempts;
    await new Promise((r) => setTimeout(r, 50));
    expect(producer.attempts).toBe(attempts);
    expect(() => buf.push(delivery(20))).toThrow(/closed/);
  });
});

/** A producer whose sends take `sendMs` of (fake) time; records when each batch was sent and what it held. */
class TimedProducer implements RecordProducer {
  batches: Array<{ at: number; values: string[] }> = [];
  readonly sendMs: number;
  constructor(sendMs: number) {
    this.sendMs = sendMs;
  }
  async send(records: readonly KeyedRecord[]) {
    this.batches.push({ at: Date.now(), values: records.map((r) => r.value?.toString() ?? '') });
    await new Promise((r) => setTimeout(r, this.sendMs));
    return [];
  }
  async close() {}
}

describe('DeliveryBuffer: linger', () => {
  afterEach(() => vi.useRealTimers());

  it('holds a partial batch until its oldest frame is lingerMs old; frames that waited through a send, or a full batch, go at once', async () => {
    vi.useFakeTimers({ now: 0 });
    const producer = new TimedProducer(30);
    const buf = new DeliveryBuffer(
      producer,
      { acked: () => {}, pressure: () => {}, sendFailed: () => {} },
      { lingerMs: 20, maxBatch: 10 },
    );
    const at = async (t: number) => vi.advanceTimersByTimeAsync(t - Date.now());
    buf.push(delivery(0));
    await at(5);
    buf.push(delivery(1));
    await at(19);
    expect(producer.batches).toEqual([]);
    await at(20);
    expect(producer.batches).toEqual([{ at: 20, values: ['0', '1'] }]);
    // Pushed during that send (20–50): by its end the oldest has waited 25 ms ≥ lingerMs, so no further wait.
    await at(25);
    buf.push(delivery(2));
    await at(45);
    buf.push(delivery(3));
    await at(50);
    expect(producer.batches.at(-1)).toEqual({ at: 50, values: ['2', '3'] });
    await at(200);
    // A full batch (maxBatch deliveries) does not linger.
    for (let i = 4; i < 14; i++) buf.push(delivery(i));
    await at(200);
    expect(producer.batches.at(-1)).toEqual({
      at: 200,
      values: ['4', '5', '6', '7', '8', '9', '10', '11', '12', '13'],
    });
    const flushed = buf.flush();
    await vi.runAllTimersAsync();
    await flushed;
    expect(producer.batches).toHaveLength(3);
  });

  it('ends the linger when the queued bytes reach maxBatchBytes', async () => {
    vi.useFakeTimers({ now: 0 });
    const producer = new TimedProducer(1);
    const buf = new DeliveryBuffer(
      producer,
      { acked: () => {}, pressure: () => {}, sendFailed: () => {} },
      { lingerMs: 20, maxBatch: 10, maxBatchBytes: 1_000 },
    );
    const sized = (v: string): Delivery => ({
      receivedAt: 0,
      records: [{ topic: 't', key: 'k', value: Buffer.from(v.repeat(600)) }],
    });
    buf.push(sized('a'));
    buf.push(sized('b'));
    await vi.advanceTimersByTimeAsync(25);
    // 'a' alone fills a batch by bytes, so it goes at once; 'b' then lingers as a partial batch of its own.
    expect(producer.batches.map((b) => ({ at: b.at, first: b.values.map((v) => v[0]) }))).toEqual([
      { at: 0, first: ['a'] },
      { at: 20, first: ['b'] },
    ]);
  });
});
