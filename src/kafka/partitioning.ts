/**
 * Which partition a record goes to: the Java client's default partitioner (`toPositive(murmur2(key)) % n`), as
 * kafkajs's `Partitioners.DefaultPartitioner` computes it, so a conversation's records land in the same partition
 * whichever client (custody or another Kafka service) produced them. Records keyed by something else — the legal
 * holds, keyed `{conversationId}/{matterId}` so compaction keeps one record per matter — are sent explicitly to
 * their conversation's partition, so they stay co-partitioned with its other records.
 *
 * kafkajs computes murmur2 on BigInt-backed 64-bit Longs: a dozen allocations per four bytes of key, ~4 KB of
 * garbage per record in bench:ingest. Only the low 32 bits of any of its intermediate values ever reach the result
 * (products, xors and the shifts of `toInt()` keep them apart from the high bits), so 32-bit `Math.imul` gives the
 * same hash with no allocation (test/unit/kafka/partitioning.test.ts holds both equal).
 */
import type { ICustomPartitioner, PartitionerArgs } from 'kafkajs';

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/** Where an all-ASCII key is written as its bytes (its own UTF-8), so hashing it allocates nothing. */
const scratch = Buffer.allocUnsafe(256);

/** Kafka's `Utils.murmur2` of the key's bytes (a string as UTF-8, as kafkajs encodes it), as a signed 32-bit int. */
export function murmur2(key: string | Uint8Array): number {
  if (typeof key !== 'string') return murmur2Bytes(key, key.length);
  let ascii = key.length <= scratch.length;
  for (let i = 0; ascii && i < key.length; i++) ascii = key.charCodeAt(i) <= 0x7f;
  if (ascii) return murmur2Bytes(scratch, scratch.write(key, 0, 'latin1'));
  const bytes = Buffer.from(key);
  return murmur2Bytes(bytes, bytes.length);
}

/** murmur2 of `data[0, length)`. */
function murmur2Bytes(data: Uint8Array, length: number): number {
  let h = SEED ^ length;
  const end = length & ~3;
  for (let i = 0; i < end; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  switch (length & 3) {
    case 3:
      h ^= data[end + 2]! << 16;
    // falls through
    case 2:
      h ^= data[end + 1]! << 8;
    // falls through
    case 1:
      h ^= data[end]!;
      h = Math.imul(h, M);
  }
  return finish(h);
}

function finish(hash: number): number {
  let h = hash;
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

const toPositive = (x: number): number => x & 0x7fffffff;

/**
 * kafkajs's `Partitioners.DefaultPartitioner` with the murmur2 above, choice for choice: an explicit partition
 * wins; a key hashes to `toPositive(murmur2(key)) % partitions`; records without a key go round-robin over the
 * partitions that have a leader, from a random start per topic.
 */
export const murmur2Partitioner: ICustomPartitioner = () => {
  const counters = new Map<string, number>();
  return ({ topic, partitionMetadata, message }: PartitionerArgs): number => {
    if (message.partition !== null && message.partition !== undefined) return message.partition;
    const key = message.key;
    if (key !== null && key !== undefined) return toPositive(murmur2(key)) % partitionMetadata.length;
    let counter = counters.get(topic) ?? Math.floor(Math.random() * 0x100000000);
    counter = (counter + 1) >>> 0;
    counters.set(topic, counter);
    const available = partitionMetadata.filter((p) => p.leader >= 0);
    if (available.length > 0) return available[toPositive(counter) % available.length]!.partitionId;
    return toPositive(counter) % partitionMetadata.length;
  };
};

export function conversationPartition(conversationId: string, partitions: number): number {
  if (!Number.isInteger(partitions) || partitions < 1)
    throw new RangeError('partitions must be a positive integer');
  return toPositive(murmur2(conversationId)) % partitions;
}

/** The key of a legal-hold record: one per conversation and matter. */
export function legalHoldKey(conversationId: string, matterId: string): string {
  return `${conversationId}/${matterId}`;
}
