/**
 * When did ingest last capture? Answered from the evidence log itself, so it survives any crash: every frame
 * ingest receives — Genesys heartbeats too, every ~30 s per channel — is written to genesys.notifications.v1
 * with its receive time and the receiving instance. The newest record that this deployment wrote (same
 * CUSTODY_INSTANCE_ID), or that is about one of its users (a renamed instance, e.g. a container with a new
 * host name), marks the end of what was captured before this start; the interval from then until the sockets
 * are up again is a gap, repaired like any other.
 *
 * The topic is kept forever and may be large, so it is read backwards in widening windows from the end of each
 * partition, stopping at the first window that holds a match (any match is at least as new as the true last
 * capture's partition-mates, so the gap can only come out longer, never shorter: extra repair work, no loss).
 */
import type { Kafka } from 'kafkajs';
import type { NotificationRecord } from '../kafka/avro-codec.ts';
import type { Decoders } from '../kafka/record-codecs.ts';
import type { Logger } from '../observability/logger.ts';
import { retryUntilDone } from '../runtime/backoff.ts';
import type { BackoffPolicy } from '../runtime/backoff.ts';
import type { Conditions } from '../runtime/conditions.ts';
import type { PartitionRange } from './topic-ranges.ts';
import { readRanges } from './topic-ranges.ts';

export interface LastCapture {
  /** Receive time of the newest matching frame (epoch ms, ingest's clock). */
  readonly at: number;
  /** Whether it was matched by instance name or only by user. */
  readonly matchedBy: 'instance' | 'user';
  readonly channelId: string;
  /** Records read to find it. */
  readonly scanned: number;
}

export interface FindLastCaptureArgs {
  readonly kafka: Kafka;
  /** The evidence log, genesys.notifications.v1. */
  readonly topic: string;
  readonly decoders: Decoders;
  /** This ingest's CUSTODY_INSTANCE_ID. */
  readonly instance: string;
  /** The users this ingest subscribes to. */
  readonly userIds: readonly string[];
  /** Only frames received before this (the current start) count. */
  readonly before: number;
  readonly log: Logger;
  readonly signal?: AbortSignal;
  readonly conditions?: Conditions;
  readonly policy?: BackoffPolicy;
  /** Records read from the end of each partition in the first window (default 2,000); each next window is 8×. */
  readonly tailRecords?: number;
  /** Give up after this many records per partition (default 1,000,000). */
  readonly maxRecordsPerPartition?: number;
  readonly timeoutMs?: number;
}

/** The newest capture of this ingest before `before`, or undefined when there is none (first start). */
export async function findLastCapture(args: FindLastCaptureArgs): Promise<LastCapture | undefined> {
  return retryUntilDone('evidence log scan', () => scan(args), {
    log: args.log,
    signal: args.signal,
    conditions: args.conditions,
    policy: args.policy,
  });
}

async function scan(args: FindLastCaptureArgs): Promise<LastCapture | undefined> {
  const admin = args.kafka.admin();
  let offsets: Array<{ partition: number; low: string; high: string }>;
  try {
    await admin.connect();
    offsets = await admin.fetchTopicOffsets(args.topic);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
  const users = new Set(args.userIds);
  const maxPerPartition = BigInt(args.maxRecordsPerPartition ?? 1_000_000);
  // Per partition: the lowest offset read so far (reading goes backwards from the high watermark).
  const state = offsets.map((o) => ({
    partition: o.partition,
    low: BigInt(o.low),
    high: BigInt(o.high),
    next: BigInt(o.high),
  }));
  let window = BigInt(args.tailRecords ?? 2_000);
  let best: LastCapture | undefined;
  let scanned = 0;
  for (;;) {
    const ranges: PartitionRange[] = [];
    for (const p of state) {
      const floor = p.high - maxPerPartition > p.low ? p.high - maxPerPartition : p.low;
      if (p.next <= floor) continue;
      const from = p.next - window > floor ? p.next - window : floor;
      ranges.push({ partition: p.partition, from, to: p.next });
      p.next = from;
    }
    if (ranges.length === 0) return best;
    await readRanges({
      kafka: args.kafka,
      topic: args.topic,
      ranges,
      timeoutMs: args.timeoutMs ?? 120_000,
      purpose: 'ingest-last-capture',
      signal: args.signal,
      onMessage: async (_partition, message) => {
        scanned++;
        if (!message.value) return;
        let r: NotificationRecord;
        try {
          r = await args.decoders['notification.v1'].decode(message.value);
        } catch {
          return;
        }
        if (r.receivedAtMs >= args.before) return;
        const byInstance = r.ingestInstance === args.instance;
        const byUser =
          !byInstance &&
          r.entityId !== null &&
          r.topicName?.startsWith('v2.users.') === true &&
          users.has(r.entityId);
        if (!byInstance && !byUser) return;
        if (best && best.at >= r.receivedAtMs) return;
        best = {
          at: r.receivedAtMs,
          matchedBy: byInstance ? 'instance' : 'user',
          channelId: r.channelId,
          scanned,
        };
      },
    });
    if (best) return { ...best, scanned };
    window *= 8n;
  }
}
