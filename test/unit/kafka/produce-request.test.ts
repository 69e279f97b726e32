/**
 * The Produce request written once (src/kafka/produce-request.ts) against kafkajs's own v3 request encoder, in this
 * process: the same bytes for generated requests, and kafkajs's own encoder (with its own result or error) for
 * what the fast path leaves to it.
 */
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { encodeProduceRequest, exactProduceRequest } from '../../../src/kafka/produce-request.ts';
import type { KafkajsInternals, ProduceArgs, ProduceRequestV3 } from '../../../src/kafka/produce-request.ts';

const require = createRequire(import.meta.url);
const kafkajsV3 = require('kafkajs/src/protocol/requests/produce/v3/request.js') as ProduceRequestV3;
const Long = require('kafkajs/src/utils/long.js') as KafkajsInternals['Long'] & {
  fromNumber(n: number): unknown;
};
const k: KafkajsInternals = {
  Encoder: require('kafkajs/src/protocol/encoder.js') as KafkajsInternals['Encoder'],
  Long,
};
const GZIP = 1;

async function kafkajsBytes(args: ProduceArgs): Promise<Buffer> {
  return ((await kafkajsV3(args).encode()) as { buffer: Buffer }).buffer;
}

function fastBytes(args: ProduceArgs): Buffer | undefined {
  return (encodeProduceRequest(args, k) as { buffer: Buffer } | undefined)?.buffer;
}

const text = fc.oneof(fc.string({ maxLength: 12 }), fc.string({ unit: 'grapheme', maxLength: 6 }));
const bytes = fc.oneof(
  fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)),
  fc.integer({ min: 126, max: 20_000 }).map((n) => Buffer.alloc(n, n % 251)),
);
const bytesOrText = fc.oneof(bytes, text);
const headerValue = fc.oneof(bytesOrText, fc.array(bytesOrText, { minLength: 1, maxLength: 3 }));
// Around the digit-count boundary, so kafkajs's sort by text puts a later time first, and some far apart.
const timestamp = fc.oneof(
  fc.constantFrom(999, 1_000, 9_999_999_999_999, 10_000_000_000_000),
  fc.integer({ min: 1_700_000_000_000, max: 1_900_000_000_000 }),
);
const message = fc.record(
  {
    key: fc.oneof(fc.constant(null), bytesOrText),
    value: fc.oneof(fc.constant(null), bytesOrText),
    headers: fc.dictionary(fc.string({ maxLength: 8 }), headerValue, { maxKeys: 3 }),
    timestamp: fc.oneof(timestamp, timestamp.map(String)),
  },
  { requiredKeys: ['value'] },
);
const partition = fc.record(
  {
    partition: fc.nat(63),
    firstSequence: fc.nat(1 << 20),
    messages: fc.array(message, { maxLength: 12 }),
  },
  { requiredKeys: ['partition', 'messages'] },
);
const produceArgs: fc.Arbitrary<ProduceArgs> = fc.record(
  {
    acks: fc.constantFrom(-1, 0, 1),
    timeout: fc.nat(60_000),
    transactionalId: fc.oneof(fc.constant(null), text),
    producerId: fc.oneof(fc.nat(1 << 30), fc.constant(Long.fromNumber(2 ** 40 + 7))),
    producerEpoch: fc.nat(32_767),
    topicData: fc.array(
      fc.record({ topic: text, partitions: fc.array(partition, { minLength: 1, maxLength: 3 }) }),
      { minLength: 1, maxLength: 3 },
    ),
  },
  { requiredKeys: ['acks', 'timeout', 'topicData'] },
);

afterEach(() => {
  vi.restoreAllMocks();
});

describe('encodeProduceRequest', () => {
  it("writes exactly kafkajs's bytes for generated requests", async () => {
    // kafkajs reads the clock once per partition for records without a timestamp; both read this one.
    vi.spyOn(Date, 'now').mockReturnValue(1_790_000_000_123);
    await fc.assert(
      fc.asyncProperty(produceArgs, async (args) => {
        const fast = fastBytes(args);
        expect(fast, 'the fast path took it').toBeDefined();
        expect(fast?.equals(await kafkajsBytes(args))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('writes the varints of more than 16,383 records and of time differences past 32 bits', async () => {
    const messages = Array.from({ length: 17_000 }, (_, i) => ({
      key: i % 2 === 0 ? `k${i}` : null,
      value: Buffer.from([i & 0xff]),
      timestamp: String(1_000_000_000_000 + i * 300_000),
    }));
    const args: ProduceArgs = {
      acks: -1,
      timeout: 30_000,
      topicData: [{ topic: 'custody.evidence.v1', partitions: [{ partition: 0, messages }] }],
    };
    expect(fastBytes(args)?.equals(await kafkajsBytes(args))).toBe(true);
  });

  it("leaves to kafkajs what it does not write as kafkajs would, and kafkajs's result or error stands", async () => {
    vi.spyOn(Date, 'now').mockReturnValue(1_790_000_000_123);
    const base = { acks: -1, timeout: 30_000 } as const;
    const one = (
      m: Record<string, unknown>,
      compression?: number,
      ...more: Record<string, unknown>[]
    ): ProduceArgs => ({
      ...base,
      ...(compression === undefined ? {} : { compression }),
      topicData: [{ topic: 't', partitions: [{ partition: 0, messages: [m, ...more] }] }],
    });
    const left = [
      one({ value: Buffer.from('x') }, GZIP),
      one({ value: 42 }),
      one({ key: new Uint8Array([1, 2]), value: Buffer.from('x') }),
      one({ value: Buffer.from('x'), headers: { h: null } }),
      one({ value: Buffer.from('x'), headers: { h: [Buffer.from('a'), 5] } }),
      one({ value: Buffer.from('x'), timestamp: 'not a time' }),
      // A time difference past 2^53, which a double cannot hold exactly.
      one({ value: Buffer.from('x'), timestamp: 2 ** 60 }, undefined, { value: null, timestamp: 1 }),
    ];
    const request = exactProduceRequest(kafkajsV3, k);
    for (const [i, args] of left.entries()) {
      expect(encodeProduceRequest(args, k), `case ${i}`).toBeUndefined();
      const expected = await kafkajsV3(args)
        .encode()
        .then((e) => (e as { buffer: Buffer }).buffer.toString('hex'))
        .catch((e: unknown) => `error: ${String(e)}`);
      const got = await request(args)
        .encode()
        .then((e) => (e as { buffer: Buffer }).buffer.toString('hex'))
        .catch((e: unknown) => `error: ${String(e)}`);
      expect(got).toBe(expected);
    }
  });

  it("keeps kafkajs's request fields and hands the request on as an Encoder", async () => {
    const request = exactProduceRequest(kafkajsV3, k);
    const args: ProduceArgs = {
      acks: 1,
      timeout: 5,
      topicData: [{ topic: 't', partitions: [{ partition: 0, messages: [{ value: 'v', timestamp: 5 }] }] }],
    };
    const ours = request(args);
    const theirs = kafkajsV3(args);
    for (const field of ['apiKey', 'apiVersion', 'apiName']) expect(ours[field]).toBe(theirs[field]);
    expect((ours['expectResponse'] as () => boolean)()).toBe(true);
    const encoded = await ours.encode();
    expect(encoded).toBeInstanceOf(k.Encoder as unknown as new () => object);
    expect((encoded as { size(): number }).size()).toBe((await kafkajsBytes(args)).length);
  });
});
