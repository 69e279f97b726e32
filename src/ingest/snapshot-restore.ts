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
import { packSnapshot, unpackSnapshot } from './packed-snapshots.ts';
import type { PartitionRange } from './topic-ranges.ts';
import { readRanges } from './topic-ranges.ts';

/**
 * A conversation restored at start-up. Its snapshot is kept packed (packed-snapshots.ts) until the conversation
 * hears from Genesys again: a restart restores every conversation of the last `restoreHours`, most of them long
 * over, and decoded they would take ~11 KB each (the default 24 hours at 10 calls/s: ~9.5 GB).
 */
export interface RestoredConversation {
  readonly packed: Buffer;
  /** Its users (so gap repair finds the conversation by user). */
  readonly userIds: readonly string[];
  /** When custody last captured anything of it (epoch ms), if any tag says. */
  readonly lastCapturedAt: number | undefined;
}

export interface RestoredSnapshots {
  conversations: Map<string, RestoredConversation>;
  records: number;
  undecodable: number;
}

/**
 * Conversations kept decoded while the restore reads: a conversation's snapshots are written minutes apart, so
 * its next record usually finds it here instead of unpacking it to merge.
 */
const RESTORE_DECODED = 256;

/** Packs a restored snapshot with what ingest needs of it before it is unpacked. */
function restoredConversation(snapshot: SessionTagsSnapshot): RestoredConversation {
  const userIds = new Set<string>();
  let last = 0;
  for (const leg of snapshot.legs) {
    if (leg.userId?.value) userIds.add(leg.userId.value);
    for (const value of Object.values(leg)) {
      const captured = (value as { capturedAt?: unknown } | null)?.capturedAt;
      if (typeof captured === 'number' && captured > last) last = captured;
    }
  }
  return {
    packed: packSnapshot(snapshot),
    userIds: [...userIds],
    lastCapturedAt: last > 0 ? last : undefined,
  };
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
  /** Conversations kept decoded while reading (default {@link RESTORE_DECODED}; tests use 1). */
  decodedWhileReading?: number;
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
  decodedWhileReading?: number;
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
  const conversations = new Map<string, RestoredConversation>();
  /** Recently read conversations, decoded, least recently read first; each is in one map or the other. */
  const decoded = new Map<string, SessionTagsSnapshot>();
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
      let snap: SessionTagsSnapshot;
      try {
        snap = await args.decoders['session-tags.v1'].decode(message.value);
      } catch {
        undecodable++;
        return;
      }
      const id = snap.conversationId;
      let prev = decoded.get(id);
      decoded.delete(id);
      if (prev === undefined) {
        const held = conversations.get(id);
        conversations.delete(id);
        if (held !== undefined) prev = unpackSnapshot(held.packed);
      }
      // Successive snapshots of a conversation; merging (not replacing) keeps anything either holds.
      decoded.set(id, prev ? mergeSessionTags({ ...prev, legs: [...prev.legs, ...snap.legs] }, []) : snap);
      if (decoded.size > (args.decodedWhileReading ?? RESTORE_DECODED)) {
        const [oldest, snapshot] = decoded.entries().next().value as [string, SessionTagsSnapshot];
        decoded.delete(oldest);
        conversations.set(oldest, restoredConversation(snapshot));
      }
    },
  });
  for (const [id, snapshot] of decoded) conversations.set(id, restoredConversation(snapshot));
  return { conversations, records, undecodable };
}

/** A logger that drops everything, for callers that pass none. */
export function silentLogger(): Logger {
  return createLogger({ level: 'silent', instance: 'custody-ingest' });
}
