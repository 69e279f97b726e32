/**
 * Restores ingest's in-memory snapshots at start-up from the compacted custody.session-tags.v1 topic.
 *
 * Without this, a restarted ingest would merge new events into empty snapshots and publish them, replacing
 * fuller snapshots on the compacted topic. Only records written in the last `windowMs` are read (found by
 * timestamp): a conversation still in progress has been written recently, so a bounded read restores every
 * live conversation without re-reading the topic from the beginning of time.
 *
 * A broker that has just started answers the offset and metadata requests with retriable errors for a while
 * (NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION, a coordinator loading): the whole read is retried with
 * backoff, reported as a not-ready condition, until it succeeds or `signal` aborts.
 */
import type { Kafka } from 'kafkajs';
import type { SessionTagsSnapshot } from '../enrich/session-tags.ts';
import { mergeSessionTags } from '../enrich/session-tags-merge.ts';
import type { Decoders } from '../kafka/record-codecs.ts';
import { createLogger } from '../observability/logger.ts';
import type { Logger } from '../observability/logger.ts';
import { retryUntilDone } from '../runtime/backoff.ts';
import type { BackoffPolicy } from '../runtime/backoff.ts';
import type { Conditions } from '../runtime/conditions.ts';
import type { PartitionRange } from './topic-ranges.ts';
import { readRanges } from './topic-ranges.ts';

export interface RestoredSnapshots {
  snapshots: Map<string, SessionTagsSnapshot>;
  records: number;
  undecodable: number;
}

export async function restoreSnapshots(args: {
  kafka: Kafka;
  topic: string;
  decoders: Decoders;
  since: number;
  timeoutMs?: number;
  /** Logs the waits (once per change of cause); without it retriable errors are still retried, silently. */
  log?: Logger;
  /** Aborting ends the retries with ShutdownError. */
  signal?: AbortSignal;
  /** While retrying, `session-tags restore` is a not-ready reason. */
  conditions?: Conditions;
  policy?: BackoffPolicy;
}): Promise<RestoredSnapshots> {
  return retryUntilDone('session-tags restore', () => restoreOnce(args), {
    log: args.log ?? silentLogger(),
    signal: args.signal,
    conditions: args.conditions,
    policy: args.policy,
  });
}

async function restoreOnce(args: {
  kafka: Kafka;
  topic: string;
  decoders: Decoders;
  since: number;
  timeoutMs?: number;
  signal?: AbortSignal;
}): Promise<RestoredSnapshots> {
  const admin = args.kafka.admin();
  let starts: Array<{ partition: number; offset: string }>;
  let ends: Array<{ partition: number; high: string }>;
  try {
    await admin.connect();
    starts = await admin.fetchTopicOffsetsByTimestamp(args.topic, args.since);
    ends = await admin.fetchTopicOffsets(args.topic);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
  const ranges: PartitionRange[] = [];
  for (const e of ends) {
    const start = starts.find((s) => s.partition === e.partition);
    const from = start && start.offset !== '-1' ? BigInt(start.offset) : BigInt(e.high);
    ranges.push({ partition: e.partition, from, to: BigInt(e.high) });
  }
  const snapshots = new Map<string, SessionTagsSnapshot>();
  let records = 0;
  let undecodable = 0;
  await readRanges({
    kafka: args.kafka,
    topic: args.topic,
    ranges,
    timeoutMs: args.timeoutMs ?? 120_000,
    purpose: 'ingest-restore',
    signal: args.signal,
    onMessage: async (_partition, message) => {
      records++;
      if (!message.key || !message.value) return;
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
    },
  });
  return { snapshots, records, undecodable };
}

/** A logger that drops everything, for callers that pass none. */
export function silentLogger(): Logger {
  return createLogger({ level: 'silent', instance: 'custody-ingest' });
}
