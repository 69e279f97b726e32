import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { Partitioners } from 'kafkajs';
import type { PartitionMetadata } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { conversationPartition, murmur2, murmur2Partitioner } from '../../../src/kafka/partitioning.ts';

// kafkajs's own Java-compatible murmur2 (BigInt Longs): the reference this one must equal.
const kafkajsMurmur2 = (await import('kafkajs/src/producer/partitioners/default/murmur2.js' as string))
  .default as (key: string | Buffer) => number;

function metadata(n: number, leaderless: number[] = []): PartitionMetadata[] {
  return Array.from({ length: n }, (_, i) => ({
    partitionId: i,
    leader: leaderless.includes(i) ? -1 : 0,
    partitionErrorCode: 0,
    replicas: [0],
    isr: [0],
  }));
}

/** Keys of every length 0–80 and every kind: ASCII, UUIDs, non-ASCII, astral, lone surrogates, random bytes. */
function keys(): Array<string | Buffer> {
  const out: Array<string | Buffer> = ['', 'a', 'ab', 'abc', 'abcd', '21', 'foobar', '\u007f', '\u0080'];
  for (let len = 0; len <= 80; len++) {
    out.push(Array.from({ length: len }, () => String.fromCharCode(randomInt(0x20, 0x7f))).join(''));
    out.push(Array.from({ length: len }, () => String.fromCharCode(randomInt(0, 0x800))).join(''));
    out.push(randomBytes(len));
  }
  for (let i = 0; i < 500; i++) out.push(randomUUID(), `${randomUUID()}/M-${i}`);
  out.push('é', 'ß/€', '😀', 'x😀y', '\ud800', 'a\udc00b', '\ud83d\ude00\ud83d');
  // Around the 256-byte scratch an ASCII key is written into.
  for (const len of [255, 256, 257, 1000]) out.push('k'.repeat(len), `${'k'.repeat(len - 1)}é`);
  return out;
}

describe('murmur2 (partitioning.ts)', () => {
  it("equals kafkajs's murmur2 for every kind and length of key", () => {
    for (const key of keys()) expect(murmur2(key), JSON.stringify(String(key))).toBe(kafkajsMurmur2(key));
  });

  it("gives Kafka's UtilsTest values", () => {
    expect(murmur2('abc')).toBe(479470107);
    expect(murmur2('21')).toBe(-973932308);
    expect(murmur2('foobar')).toBe(-790332482);
  });

  it("chooses the partition kafkajs's DefaultPartitioner chooses for every keyed record", () => {
    const ours = murmur2Partitioner();
    const theirs = Partitioners.DefaultPartitioner();
    for (const n of [1, 3, 6, 7, 64, 1000]) {
      const partitionMetadata = metadata(n);
      for (const key of keys()) {
        const args = { topic: 't', partitionMetadata, message: { key, value: null } };
        expect(ours(args)).toBe(theirs(args));
      }
      expect(conversationPartition('2b5f3c1e-8d4a-4f6b-9c2e-1a3b5c7d9e0f', n)).toBe(
        theirs({
          topic: 't',
          partitionMetadata,
          message: { key: '2b5f3c1e-8d4a-4f6b-9c2e-1a3b5c7d9e0f', value: null },
        }),
      );
    }
  });

  it('keeps an explicit partition, and sends keyless records round-robin over partitions with a leader', () => {
    const partition = murmur2Partitioner();
    expect(
      partition({
        topic: 't',
        partitionMetadata: metadata(6),
        message: { key: 'k', value: null, partition: 4 },
      }),
    ).toBe(4);
    const chosen = Array.from({ length: 12 }, () =>
      partition({ topic: 't', partitionMetadata: metadata(6, [1, 4]), message: { value: null } }),
    );
    expect(new Set(chosen)).toEqual(new Set([0, 2, 3, 5]));
    // Consecutive choices step through the available partitions in order.
    const available = [0, 2, 3, 5];
    for (let i = 1; i < chosen.length; i++)
      expect(available.indexOf(chosen[i]!)).toBe((available.indexOf(chosen[i - 1]!) + 1) % 4);
    // No partition has a leader: still a partition of the topic.
    const none = partition({
      topic: 'u',
      partitionMetadata: metadata(3, [0, 1, 2]),
      message: { value: null },
    });
    expect([0, 1, 2]).toContain(none);
  });

  it('refuses a partition count that is not a positive integer', () => {
    expect(() => conversationPartition('c', 0)).toThrow(RangeError);
    expect(() => conversationPartition('c', 1.5)).toThrow(RangeError);
  });
});
