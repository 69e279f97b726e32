/**
 * custody's Kafka topics: their roles, keys and cleanup policies live here and only here.
 * Names come from config (CUSTODY_TOPIC_*); every topic has the same partition count, so records keyed by
 * one conversation id land in the same partition number everywhere (co-partitioning, as Kafka Streams
 * requires for joins), with kafkajs's default Java-compatible murmur2 partitioner.
 */
import type { Admin, ITopicConfig } from 'kafkajs';
import type { Config } from '../config.ts';
import { FatalError, isRetriable } from '../runtime/errors.ts';

export type TopicRole =
  'notifications' | 'sessionTags' | 'recordingExports' | 'legalHolds' | 'sinkState' | 'manifests' | 'dlq';

/** The custody processes that write or read topics (asyncapi.yaml names them the same way). */
export type CustodyProcess = 'ingest' | 'exports watch' | 'exports run' | 'sink' | 'backfill' | 'hold';

interface TopicSpec {
  readonly role: TopicRole;
  readonly cleanup: 'delete' | 'compact';
  /** Retention in ms for `delete` topics (-1 = forever). */
  readonly retentionMs?: number;
  readonly purpose: string;
  /** What the record key holds. */
  readonly key: string;
  /** The processes that write it and those of custody's that read it (other services may read any but sinkState). */
  readonly producers: readonly CustodyProcess[];
  readonly consumers: readonly CustodyProcess[];
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** The topic contract. README's "Topics" table and asyncapi.yaml describe the same facts (a test checks both). */
export const TOPIC_SPECS: readonly TopicSpec[] = [
  // The evidence log is kept forever by default: it is what backfill replays and what auditors may ask for.
  {
    role: 'notifications',
    cleanup: 'delete',
    retentionMs: -1,
    purpose: 'every notification as received',
    key: 'conversationId (else the entity id, else the channel id)',
    producers: ['ingest'],
    // At start, ingest reads its own evidence log back to find when it last captured (the gap to repair).
    consumers: ['ingest'],
  },
  {
    role: 'sessionTags',
    cleanup: 'compact',
    purpose: 'latest session-tag snapshot per conversation',
    key: 'conversationId',
    // backfill publishes the tags it reconstructs from analytics (provenance `reconciled`).
    producers: ['ingest', 'backfill'],
    // ingest restores its snapshots from it at start.
    consumers: ['ingest', 'sink', 'backfill'],
  },
  {
    role: 'recordingExports',
    cleanup: 'delete',
    retentionMs: 365 * DAY_MS,
    purpose: 'recordings found in S3',
    key: 'conversationId',
    // backfill publishes the recordings its rescan finds that the topic lacks.
    producers: ['exports watch', 'exports run', 'backfill'],
    consumers: ['sink', 'backfill'],
  },
  // Compacted on `{conversationId}/{matterId}`, so every matter's latest hold or release survives compaction.
  {
    role: 'legalHolds',
    cleanup: 'compact',
    purpose: 'legal holds placed and released, per conversation and matter',
    key: '{conversationId}/{matterId}, in the partition of conversationId',
    // `custody hold`/`release` (the "hold" process) writes it, and reads a conversation's holds before a release.
    producers: ['hold'],
    consumers: ['sink', 'backfill', 'hold'],
  },
  // Internal to the sink (its join state, like a Kafka Streams changelog): compacted, one record per conversation.
  {
    role: 'sinkState',
    cleanup: 'compact',
    purpose: 'the sink’s join state per conversation (internal)',
    key: 'conversationId',
    producers: ['sink'],
    // backfill restores the live sink's join state but never writes it.
    consumers: ['sink', 'backfill'],
  },
  {
    role: 'manifests',
    cleanup: 'delete',
    retentionMs: 365 * DAY_MS,
    purpose: 'manifest versions written',
    key: 'conversationId',
    producers: ['sink', 'backfill'],
    consumers: [],
  },
  {
    role: 'dlq',
    cleanup: 'delete',
    retentionMs: 365 * DAY_MS,
    purpose: 'input that could not be processed',
    key: 'the input key',
    producers: ['ingest', 'exports watch', 'exports run', 'sink', 'backfill'],
    consumers: [],
  },
];

/** Headers of every session-tags record: the ingest instance and version that captured the snapshot. */
export const SESSION_TAGS_HEADERS = {
  instance: 'custody.ingest.instance',
  version: 'custody.ingest.version',
} as const;

export function topicName(topics: Config['topics'], role: TopicRole): string {
  return topics[role];
}

function topicConfig(spec: TopicSpec, name: string, partitions: number): ITopicConfig {
  const configEntries: Array<{ name: string; value: string }> = [
    { name: 'cleanup.policy', value: spec.cleanup },
  ];
  if (spec.retentionMs !== undefined)
    configEntries.push({ name: 'retention.ms', value: String(spec.retentionMs) });
  return { topic: name, numPartitions: partitions, configEntries };
}

/** True for kafkajs's answer when another process created the topic between our list and our create. */
function alreadyExists(e: unknown): boolean {
  const errors = (e as { errors?: unknown[] } | undefined)?.errors;
  const all = Array.isArray(errors) && errors.length > 0 ? errors : [e];
  return all.every((x) => (x as { type?: unknown } | undefined)?.type === 'TOPIC_ALREADY_EXISTS');
}

/**
 * What to throw when a creation failed for a reason other than "already exists": an answer worth retrying as it
 * is; any other refusal (partitions, replication factor, a topic policy, a config the broker does not accept) is for
 * the operator to fix, as one line naming each topic and the broker's reason (kafkajs's own says neither).
 */
function creationRefused(e: unknown): unknown {
  const errors = (e as { errors?: unknown[] } | undefined)?.errors;
  if (!Array.isArray(errors) || errors.length === 0 || isRetriable(e)) return e;
  const refused = errors
    .map((x) => x as { topic?: unknown; message?: unknown; type?: unknown })
    .filter((x) => x.type !== 'TOPIC_ALREADY_EXISTS');
  const reasons = refused.map((x) => `${String(x.topic ?? '?')}: ${String(x.message)} (${String(x.type)})`);
  return new FatalError(`Kafka refused to create topic ${reasons.join('; ')}`, {
    ...(refused.some((x) => x.type === 'INVALID_PARTITIONS') ? { setting: 'CUSTODY_TOPIC_PARTITIONS' } : {}),
    cause: e,
  });
}

/**
 * Creates the topics of the given roles that do not exist yet and waits until every partition has a leader.
 * Existing topics are left as they are (their partition count is reported, never changed: repartitioning would
 * move conversations). Several roles may run this at the same moment against a brand-new broker: a topic another
 * process created first counts as created. Retriable broker errors propagate; the caller retries the whole call.
 * @returns the partition count of each topic.
 */
export async function ensureTopics(
  admin: Admin,
  topics: Config['topics'],
  roles: readonly TopicRole[],
): Promise<Map<string, number>> {
  const wanted = TOPIC_SPECS.filter((s) => roles.includes(s.role)).map((s) => ({
    spec: s,
    name: topics[s.role],
  }));
  const existing = new Set(await admin.listTopics());
  const missing = wanted.filter((w) => !existing.has(w.name));
  if (missing.length > 0) {
    try {
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((w) => topicConfig(w.spec, w.name, topics.partitions)),
      });
    } catch (e) {
      if (!alreadyExists(e)) throw creationRefused(e);
    }
  }
  const meta = await admin.fetchTopicMetadata({ topics: wanted.map((w) => w.name) });
  const leaderless = meta.topics.filter((t) => t.partitions.some((p) => p.leader < 0));
  if (leaderless.length > 0) {
    throw new TopicsNotReadyError(leaderless.map((t) => t.name));
  }
  return new Map(meta.topics.map((t) => [t.name, t.partitions.length]));
}

/** Topics exist but some partition has no leader yet (a broker just started): worth waiting for. */
export class TopicsNotReadyError extends Error {
  readonly retriable = true;
  constructor(names: readonly string[]) {
    super(`partitions without a leader yet: ${names.join(', ')}`);
    this.name = 'TopicsNotReadyError';
  }
}
