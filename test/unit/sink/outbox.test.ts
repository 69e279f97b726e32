import { describe, expect, it } from 'vitest';
import type { KeyedRecord, RecordProducer } from '../../../src/kafka/record-producer.ts';
import { Outbox } from '../../../src/sink/outbox.ts';

/** A producer whose sends fail while `failing` is set, recording what each acknowledged send carried. */
function scriptedProducer() {
  const acked: string[][] = [];
  const state = { failing: false, inFlight: 0, maxInFlight: 0 };
  const producer: RecordProducer = {
    async send(records: readonly KeyedRecord[]) {
      state.inFlight++;
      state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
      await new Promise((resolve) => setTimeout(resolve, 2));
      state.inFlight--;
      if (state.failing) throw Object.assign(new Error('broker unavailable'), { retriable: true });
      acked.push(records.map((r) => r.key ?? ''));
      return [];
    },
    close: () => Promise.resolve(),
  };
  return { producer, acked, state };
}

const record = (key: string): KeyedRecord => ({
  topic: 'custody.manifests.v1',
  key,
  value: Buffer.from(key),
});

describe('Outbox (announcements sent before the commit)', () => {
  it('sends everything added in one request, and nothing when empty', async () => {
    const { producer, acked } = scriptedProducer();
    const outbox = new Outbox(producer);
    await outbox.flush();
    outbox.add(record('a'));
    outbox.add(record('b'));
    expect(outbox.size).toBe(2);
    await outbox.flush();
    expect(acked).toEqual([['a', 'b']]);
    expect(outbox.size).toBe(0);
  });

  it('keeps a failed send in front, in order, and a later flush sends it with what came after', async () => {
    const { producer, acked, state } = scriptedProducer();
    const outbox = new Outbox(producer);
    outbox.add(record('a'));
    state.failing = true;
    await expect(outbox.flush()).rejects.toThrow('broker unavailable');
    expect(outbox.size).toBe(1);
    outbox.add(record('b'));
    state.failing = false;
    await outbox.flush();
    expect(acked).toEqual([['a', 'b']]);
  });

  it('runs flushes one after the other: a flush resolves only once every record added before it is acknowledged', async () => {
    const { producer, acked, state } = scriptedProducer();
    const outbox = new Outbox(producer);
    outbox.add(record('a'));
    const first = outbox.flush();
    await first;
    expect(acked.flat()).toEqual(['a']);
    outbox.add(record('b'));
    const second = outbox.flush();
    outbox.add(record('c'));
    const third = outbox.flush();
    await third;
    // Never two sends at once, never out of order.
    expect(acked.flat()).toEqual(['a', 'b', 'c']);
    await second;
    expect(state.maxInFlight).toBe(1);
  });

  it('a flush that follows a failed one sends the failed records', async () => {
    const { producer, acked, state } = scriptedProducer();
    const outbox = new Outbox(producer);
    outbox.add(record('a'));
    state.failing = true;
    const failed = outbox.flush();
    const next = outbox.flush();
    await expect(failed).rejects.toThrow();
    state.failing = false;
    await next;
    expect(acked).toEqual([['a']]);
  });
});
