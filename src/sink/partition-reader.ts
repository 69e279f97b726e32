/**
 * Reads fixed offset ranges of topic-partitions once: what the sink restores its join state from.
 *
 * kafkajs has no manual partition assignment, so the reader is a consumer of its own throw-away group (never
 * committed, so it leaves nothing behind but an empty group the broker expires): as the group's only member it is
 * assigned every partition of its topics, seeks the wanted ones to their start and pauses the rest.
 */
import { randomUUID } from 'node:crypto';
import type { Consumer, Kafka, KafkaMessage } from 'kafkajs';

/** `[from, to)` of one partition, offsets as decimal strings (int64). */
export type PartitionRange = Readonly<{ topic: string; partition: number; from: string; to: string }>;

export type ReadOptions = Readonly<{
  /** Group id prefix; a random suffix makes each read its own group. */
  groupPrefix: string;
  /** Every partition count of the topics read (partitions not in a range are paused). */
  partitionCounts: ReadonlyMap<string, number>;
  signal?: AbortSignal;
}>;

const key = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

/** Delivers every record in the ranges, in offset order per partition; resolves when every range is read. */
export async function readPartitions(
  kafka: Kafka,
  ranges: readonly PartitionRange[],
  onMessage: (topic: string, partition: number, message: KafkaMessage) => void,
  opts: ReadOptions,
): Promise<void> {
  const remaining = new Map<string, { from: bigint; to: bigint }>();
  for (const r of ranges) {
    if (BigInt(r.from) < BigInt(r.to))
      remaining.set(key(r.topic, r.partition), { from: BigInt(r.from), to: BigInt(r.to) });
  }
  if (remaining.size === 0) return;
  const wanted = ranges.filter((r) => remaining.has(key(r.topic, r.partition)));
  const topics = [...new Set(wanted.map((r) => r.topic))];

  const consumer: Consumer = kafka.consumer({
    groupId: `${opts.groupPrefix}-${randomUUID()}`,
    allowAutoTopicCreation: false,
  });
  let finish: (() => void) | undefined;
  let fail: ((e: unknown) => void) | undefined;
  const done = new Promise<void>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  const abort = (): void => fail?.(opts.signal?.reason ?? new Error('aborted'));
  opts.signal?.addEventListener('abort', abort, { once: true });
  const crashed = consumer.on(consumer.events.CRASH, (e) => fail?.(e.payload.error));
  try {
    await consumer.connect();
    await consumer.subscribe({ topics, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const k = key(batch.topic, batch.partition);
        const range = remaining.get(k);
        if (range === undefined) return;
        for (const m of batch.messages) {
          const offset = BigInt(m.offset);
          if (offset >= range.to) break;
          if (offset >= range.from) onMessage(batch.topic, batch.partition, m);
        }
        const last = batch.messages.at(-1);
        const next = last === undefined ? 0n : BigInt(last.offset) + 1n;
        if (next >= range.to || BigInt(batch.highWatermark) <= next) {
          remaining.delete(k);
          consumer.pause([{ topic: batch.topic, partitions: [batch.partition] }]);
          if (remaining.size === 0) finish?.();
        }
      },
    });
    for (const topic of topics) {
      const count = opts.partitionCounts.get(topic) ?? 0;
      const idle = [...Array(count).keys()].filter((p) => !remaining.has(key(topic, p)));
      if (idle.length > 0) consumer.pause([{ topic, partitions: idle }]);
    }
    for (const r of wanted) consumer.seek({ topic: r.topic, partition: r.partition, offset: r.from });
    await done;
  } finally {
    opts.signal?.removeEventListener('abort', abort);
    crashed();
    await consumer.disconnect().catch(() => undefined);
  }
}
