/**
 * Reads given offset ranges of a topic's partitions once, without committing anything: a throwaway consumer
 * group positioned by seek. Partitions without a range are paused, never read. Used at start-up to restore
 * snapshots and to find ingest's last capture.
 */
import { randomUUID } from 'node:crypto';
import type { Kafka, KafkaMessage } from 'kafkajs';
import { ShutdownError } from '../runtime/errors.ts';

/** Offsets [from, to) of one partition. */
export interface PartitionRange {
  readonly partition: number;
  readonly from: bigint;
  readonly to: bigint;
}

export async function readRanges(args: {
  kafka: Kafka;
  topic: string;
  ranges: readonly PartitionRange[];
  onMessage: (partition: number, message: KafkaMessage) => Promise<void> | void;
  timeoutMs: number;
  /** Names the throwaway group, so the broker's group list says what it was. */
  purpose: string;
  /** Aborting ends the read at once with ShutdownError. */
  signal?: AbortSignal;
}): Promise<void> {
  const ranges = new Map<number, PartitionRange>();
  for (const r of args.ranges) if (r.from < r.to) ranges.set(r.partition, r);
  if (ranges.size === 0) return;
  const remaining = new Set(ranges.keys());
  const consumer = args.kafka.consumer({ groupId: `custody-${args.purpose}-${randomUUID()}` });
  try {
    await consumer.connect();
    await consumer.subscribe({ topic: args.topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`reading ${args.topic} took longer than ${args.timeoutMs} ms`)),
        args.timeoutMs,
      );
      const onAbort = () => {
        clearTimeout(timer);
        reject(new ShutdownError(`reading ${args.topic}`));
      };
      if (args.signal?.aborted) onAbort();
      args.signal?.addEventListener('abort', onAbort, { once: true });
      const finish = (partition: number) => {
        consumer.pause([{ topic: args.topic, partitions: [partition] }]);
        remaining.delete(partition);
        if (remaining.size === 0) {
          clearTimeout(timer);
          args.signal?.removeEventListener('abort', onAbort);
          resolve();
        }
      };
      consumer.on(consumer.events.CRASH, (e) => {
        if (!e.payload.restart) {
          clearTimeout(timer);
          reject(e.payload.error);
        }
      });
      consumer.on(consumer.events.GROUP_JOIN, (e) => {
        // Partitions without a range are never read (the evidence log is kept forever).
        const assigned = e.payload.memberAssignment[args.topic] ?? [];
        const idle = assigned.filter((p) => !ranges.has(p));
        if (idle.length > 0) consumer.pause([{ topic: args.topic, partitions: idle }]);
      });
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            const range = ranges.get(partition);
            if (!range || !remaining.has(partition)) return;
            const offset = BigInt(message.offset);
            if (offset < range.from) return;
            if (offset < range.to) await args.onMessage(partition, message);
            // Records may be missing (compaction): the range ends at its last offset or the first one past it.
            if (offset + 1n >= range.to) finish(partition);
          },
        })
        .catch((e: unknown) => {
          clearTimeout(timer);
          reject(e instanceof Error ? e : new Error(String(e)));
        });
      for (const r of ranges.values())
        consumer.seek({ topic: args.topic, partition: r.partition, offset: r.from.toString() });
    });
  } finally {
    await consumer.disconnect().catch(() => undefined);
  }
}
