import { describe, expect, it } from 'vitest';
import type { KeyedRecord, RecordProducer } from '../../../src/kafka/record-producer.ts';
import { RecordTooLargeError } from '../../../src/kafka/record-producer.ts';
import { publishInChunks } from '../../../src/exports/export-publish.ts';
import type { Outgoing } from '../../../src/exports/export-publish.ts';
import { NO_RETRY } from '../../../src/exports/export-retry.ts';

const rec = (key: string): KeyedRecord => ({ topic: 't', key, value: Buffer.from(key) });

/** A producer that rejects a send holding any key of `tooLarge`, like KafkaRecordProducer (nothing sent). */
function fakeProducer(tooLarge: Set<string> = new Set()) {
  const sends: string[][] = [];
  const producer: RecordProducer = {
    async send(records) {
      const big = records.find((r) => tooLarge.has(r.key ?? ''));
      if (big) throw new RecordTooLargeError(big.topic, 2_000_000, 1_000_000);
      sends.push(records.map((r) => r.key ?? ''));
      return [];
    },
    close: async () => undefined,
  };
  return { producer, sends };
}

describe('publishInChunks', () => {
  it('sends at most maxRecordsPerSend records per send, in order, acknowledging chunk by chunk', async () => {
    const { producer, sends } = fakeProducer();
    const acked: string[] = [];
    const persistedAt: number[] = [];
    const items: Outgoing[] = Array.from({ length: 1_234 }, (_, n) => ({
      record: rec(`k${n}`),
      afterAck: () => void acked.push(`k${n}`),
    }));
    const report = await publishInChunks(producer, items, {
      maxRecordsPerSend: 500,
      retry: NO_RETRY,
      afterChunk: async () => void persistedAt.push(acked.length),
    });
    expect(sends.map((s) => s.length)).toEqual([500, 500, 234]);
    expect(sends.flat()).toEqual(items.map((i) => i.record.key));
    expect(acked).toHaveLength(1_234);
    // The checkpoint could be written after each acknowledged chunk but the last (the pass writes it then).
    expect(persistedAt).toEqual([500, 1_000]);
    expect(report).toEqual({ sent: 1_234, deadLettered: 0, sends: 3 });
  });

  it('replaces only a record rejected as too large by its dead letter, keeping the others and their order', async () => {
    const { producer, sends } = fakeProducer(new Set(['k5']));
    const acks: Array<[string, boolean]> = [];
    const items: Outgoing[] = Array.from({ length: 8 }, (_, n) => ({
      record: rec(`k${n}`),
      tooLarge: (why) => rec(`dlq:k${n}:${why.bytes}`),
      afterAck: (dead) => void acks.push([`k${n}`, dead]),
    }));
    const report = await publishInChunks(producer, items, { maxRecordsPerSend: 500, retry: NO_RETRY });
    expect(sends.flat()).toEqual(['k0', 'k1', 'k2', 'k3', 'k4', 'dlq:k5:2000000', 'k6', 'k7']);
    expect(acks.filter(([, dead]) => dead)).toEqual([['k5', true]]);
    expect(acks).toHaveLength(8);
    expect(report).toMatchObject({ sent: 7, deadLettered: 1 });
  });

  it('rethrows when nothing can stand in for an oversized record, and acknowledges nothing of that chunk', async () => {
    const { producer } = fakeProducer(new Set(['k1']));
    const acked: string[] = [];
    const items: Outgoing[] = ['k0', 'k1'].map((k) => ({
      record: rec(k),
      afterAck: () => void acked.push(k),
    }));
    await expect(
      publishInChunks(producer, items, { maxRecordsPerSend: 1, retry: NO_RETRY }),
    ).rejects.toBeInstanceOf(RecordTooLargeError);
    expect(acked).toEqual(['k0']);
  });
});
