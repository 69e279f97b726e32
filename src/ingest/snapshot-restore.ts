/**
 * Restores ingest's in-memory snapshots at start-up from the compacted custody.session-tags.v1 topic.
 *
 * Without this, a restarted ingest would merge new events into empty snapshots and publish them, replacing
 * fuller snapshots on the compacted topic. Only records written in the last `windowMs` are read (found by
 * timestamp): a conversation still in progress has been written recently, so a bounded read restores every
 * live conversation without re-reading the topic from the beginning of time.
 */
import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import type { SessionTagsSnapshot } from '../enrich/session-tags.ts';
import { mergeSessionTags } from '../enrich/session-tags-merge.ts';
import type { Decoders } from '../kafka/record-codecs.ts';

export async function restoreSnapshots(args: {
  kafka: Kafka;
  topic: string;
  decoders: Decoders;
  since: number;
  timeoutMs?: number;
}): Promise<{ snapshots: Map<string, SessionTagsSnapshot>; records: number; undecodable: number }> {
  const admin = args.kafka.admin();
  await admin.connect();
  let starts: Array<{ partition: number; offset: string }>;
  let ends: Array<{ partition: number; high: string }>;
  try {
    starts = await admin.fetchTopicOffsetsByTimestamp(args.topic, args.since);
    ends = await admin.fetchTopicOffsets(args.topic);
  } finally {
    await admin.disconnect();
  }
  const remaining = new Map<number, bigint>();
  for (const e of ends) {
    const start = starts.find((s) => s.partition === e.partition);
    const from = start && start.offset !== '-1' ? BigInt(start.offset) : BigInt(e.high);
    if (from < BigInt(e.high)) remaining.set(e.partition, BigInt(e.high));
  }
  const snapshots = new Map<string, SessionTagsSnapshot>();
  let records = 0;
  let undecodable = 0;
  if (remaining.size === 0) return { snapshots, records, undecodable };

  // A throwaway group that never commits: the read is positioned by seek, not by committed offsets.
  const consumer = args.kafka.consumer({ groupId: `custody-ingest-restore-${randomUUID()}` });
  await consumer.connect();
  await consumer.subscribe({ topic: args.topic, fromBeginning: true });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`restoring ${args.topic} took longer than ${args.timeoutMs ?? 120_000} ms`)),
        args.timeoutMs ?? 120_000,
      );
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            records++;
            if (message.key && message.value) {
              try {
                const snap = await args.decoders['session-tags.v1'].decode(message.value);
                const prev = snapshots.get(snap.conversationId);
                // Successive snapshots of a conversation; merging (not replacing) keeps anything either holds.
                snapshots.set(
                  snap.conversationId,
                  prev ? mergeSessionTags({ ...prev, legs: [...prev.legs, ...snap.legs] }, []) : snap,
                );
              } catch {
                undecodable++;
              }
            }
            const end = remaining.get(partition);
            if (end !== undefined && BigInt(message.offset) + 1n >= end) remaining.delete(partition);
            if (remaining.size === 0) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
      for (const s of starts) {
        if (remaining.has(s.partition))
          consumer.seek({ topic: args.topic, partition: s.partition, offset: s.offset });
      }
    });
  } finally {
    await consumer.disconnect();
  }
  return { snapshots, records, undecodable };
}
