/**
 * `custody backfill`: rebuilds the manifests of past exports with the very join the live sink runs.
 *
 * 1. **Discover** the conversations of the scope: replay `custody.recording-exports.v1` (from `lookback` before the
 *    range, or from the start for a list) and note which of them `custody.session-tags.v1` has tags for.
 * 2. **Rescan** the export hour folders of the scope (with the exports watch's scanner) and publish every
 *    recording version the exports topic does not have: exported before custody ran, or missed.
 * 3. **Reconstruct** the tags of conversations never captured live (before custody ran, or in a gap never
 *    repaired) from the analytics conversation-details API: observations with provenance `reconciled` and the
 *    time of reconstruction, published to the session-tags topic like any snapshot — never presented as live.
 * 4. **Join**: the sink pipeline (`startSink`, the same code as `custody sink`) runs in a consumer group of the
 *    job's own, whose offsets start where the replay starts, reconciles only the conversations of the scope, and
 *    stops when it has committed everything that was in the topics when it started. It restores the live sink's
 *    join state (so a recording the live sink already has a current manifest for costs no S3 request) but never
 *    writes it.
 *
 * Resumable: a run that is interrupted leaves its group's offsets where it stopped, and the same command (same
 * scope, so the same job id) continues from there. Idempotent: the join writes a manifest version only when the
 * manifest would differ, and the rescan and reconstruction publish only what is missing.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { Admin, Kafka, KafkaMessage } from 'kafkajs';
import type { Logger } from 'pino';
import type { Models } from 'purecloud-platform-client-v2';
import { mergeSessionTags } from '../enrich/session-tags-merge.ts';
import { extractFromAnalytics } from '../enrich/session-tags-reconcile.ts';
import type { SessionTagsSnapshot } from '../enrich/session-tags.ts';
import type { RecordEncoder } from '../kafka/record-codecs.ts';
import type { KeyedRecord, RecordProducer } from '../kafka/record-producer.ts';
import { SESSION_TAGS_HEADERS } from '../kafka/topics.ts';
import { describeError } from '../runtime/errors.ts';
import { mapLimit } from '../runtime/map-limit.ts';
import { readPartitions } from '../sink/partition-reader.ts';
import type { PartitionRange } from '../sink/partition-reader.ts';
import type { SigningKey } from '../sink/signing-key.ts';
import type { SinkCodecs } from '../sink/sink-codecs.ts';
import { startSink } from '../sink/sink-pipeline.ts';
import type { SinkOptions } from '../sink/sink-pipeline.ts';
import { validateRecordingExport } from '../sink/sink-records.ts';
import { backfillGroupId, hourStartMs, inScope, replayStartMs } from './backfill-plan.ts';
import type { BackfillScope } from './backfill-plan.ts';

/** Header naming what wrote a session-tags record when it was not the live ingest. */
export const TAGS_ORIGIN_HEADER = 'custody.origin';

export type BackfillPhase = 'rescan' | 'discover' | 'reconstruct' | 'join';

export type BackfillProgress = Readonly<{ phase: BackfillPhase; done: number; total: number }>;

export type RescanResult = Readonly<{ hours: number; published: number }>;

export type BackfillDeps = Readonly<{
  kafka: Kafka;
  s3: S3Client;
  producer: RecordProducer;
  signer: SigningKey;
  codecs: SinkCodecs;
  tagsEncoder: RecordEncoder<SessionTagsSnapshot>;
  /**
   * Lists the export hour folders of `[fromMs, toMs)` and publishes their recordings, each batch of records
   * through `keep` first (which drops what the exports topic already has).
   */
  rescan?: (
    fromMs: number,
    toMs: number,
    keep: (records: readonly KeyedRecord[]) => Promise<KeyedRecord[]>,
    onHour: (done: number, total: number) => void,
  ) => Promise<RescanResult>;
  /** A conversation's analytics details, undefined when Genesys has none; absent: Genesys not configured. */
  analytics?: (conversationId: string) => Promise<Models.AnalyticsConversationWithoutAttributes | undefined>;
  log: Logger;
  now: () => number;
  signal?: AbortSignal;
  onProgress?: (p: BackfillProgress) => void;
}>;

export type BackfillOptions = Readonly<{
  jobId: string;
  scope: BackfillScope;
  /** How long before the range the replay of the input topics starts (tags precede their exports). */
  lookbackMs: number;
  /** The live sink's settings; the backfill runs the join with them in a group of its own. */
  sink: SinkOptions;
  /** Conversations whose tags are reconstructed at the same time. */
  concurrency: number;
}>;

export type BackfillReport = Readonly<{
  jobId: string;
  groupId: string;
  /** A previous run of the same job had started: this one continued it. */
  resumed: boolean;
  scope: BackfillScope;
  rescan: RescanResult | null;
  conversations: number;
  recordings: number;
  reconstruction: Readonly<{
    needed: number;
    published: number;
    /** Conversations still without tags, with why (their manifests say the tags are missing). */
    failed: readonly Readonly<{ conversationId: string; reason: string }>[];
  }>;
  replay: Readonly<{ records: number; ms: number; recordsPerSecond: number }>;
  manifests: Readonly<{ written: number; unchanged: number; skipped: number; deadLettered: number }>;
  deadLetters: Readonly<Record<string, number>>;
  ms: number;
  /** No dead letter, and Genesys answered every analytics request (exit 0; else 1). */
  ok: boolean;
}>;

type Offsets = Map<string, Map<number, bigint>>;

const HOUR_MS = 3_600_000;

async function highOffsets(admin: Admin, topics: readonly string[]): Promise<Offsets> {
  const out: Offsets = new Map();
  for (const topic of topics) {
    const parts = await admin.fetchTopicOffsets(topic);
    out.set(topic, new Map(parts.map((p) => [p.partition, BigInt(p.high)])));
  }
  return out;
}

/** Where the replay starts: the first record at or after `atMs` (range), or each partition's start (list). */
async function startOffsets(
  admin: Admin,
  topics: readonly string[],
  atMs: number | undefined,
): Promise<Offsets> {
  const out: Offsets = new Map();
  for (const topic of topics) {
    if (atMs === undefined) {
      const parts = await admin.fetchTopicOffsets(topic);
      out.set(topic, new Map(parts.map((p) => [p.partition, BigInt(p.low)])));
    } else {
      const [parts, ends] = await Promise.all([
        admin.fetchTopicOffsetsByTimestamp(topic, atMs),
        admin.fetchTopicOffsets(topic),
      ]);
      const high = new Map(ends.map((p) => [p.partition, p.high]));
      out.set(
        topic,
        new Map(
          parts.map((p) => [
            p.partition,
            BigInt(p.offset === '-1' ? (high.get(p.partition) ?? '0') : p.offset),
          ]),
        ),
      );
    }
  }
  return out;
}

/** The group's committed offsets (partitions without a commit are absent). */
async function committedOffsets(admin: Admin, groupId: string, topics: readonly string[]): Promise<Offsets> {
  const out: Offsets = new Map();
  for (const t of await admin.fetchOffsets({ groupId, topics: [...topics] })) {
    const m = new Map<number, bigint>();
    for (const p of t.partitions) if (p.offset !== '-1') m.set(p.partition, BigInt(p.offset));
    out.set(t.topic, m);
  }
  return out;
}

function rangesOf(from: Offsets, to: Offsets): PartitionRange[] {
  const out: PartitionRange[] = [];
  for (const [topic, parts] of from)
    for (const [partition, start] of parts) {
      const end = to.get(topic)?.get(partition) ?? start;
      if (start < end) out.push({ topic, partition, from: start.toString(), to: end.toString() });
    }
  return out;
}

function remaining(position: Offsets, end: Offsets): bigint {
  let n = 0n;
  for (const [topic, parts] of end)
    for (const [partition, e] of parts) {
      const at = position.get(topic)?.get(partition) ?? e;
      if (at < e) n += e - at;
    }
  return n;
}

/** Runs a backfill to its end; rejects on a failure it cannot continue past (the job can then be resumed). */
export async function runBackfill(deps: BackfillDeps, options: BackfillOptions): Promise<BackfillReport> {
  const started = Date.now();
  const { kafka, log, now } = deps;
  const { scope, sink } = options;
  const topics = { tags: sink.topics.sessionTags, exports: sink.topics.recordingExports };
  const groupId = backfillGroupId(sink.groupId, options.jobId);
  const progress = (phase: BackfillPhase, done: number, total: number): void =>
    deps.onProgress?.({ phase, done, total });
  const admin = kafka.admin();
  await admin.connect();
  log.info('backfill: started');
  try {
    // A list names conversations, not hours: their hour folders come from analytics (kept for step 3).
    const details = new Map<string, Models.AnalyticsConversationWithoutAttributes | undefined>();
    const detailsOf = async (id: string) => {
      if (!details.has(id)) details.set(id, await deps.analytics?.(id));
      return details.get(id);
    };

    // Discover what the scope holds, and which conversations have tags.
    const replayFrom = replayStartMs(scope, options.lookbackMs);
    const committedAtStart = await committedOffsets(admin, groupId, [topics.tags, topics.exports]);
    const resumed = [...committedAtStart.values()].some((m) => m.size > 0);
    const start = await startOffsets(admin, [topics.tags, topics.exports], replayFrom);
    const discoverEnd = await highOffsets(admin, [topics.tags, topics.exports]);
    const conversations = new Set<string>();
    const recordings = new Set<string>();
    const tagged = new Set<string>();
    const exportMessages: KafkaMessage[] = [];
    const ranges = rangesOf(start, discoverEnd);
    const discoverTotal = ranges.reduce((n, r) => n + Number(BigInt(r.to) - BigInt(r.from)), 0);
    let discovered = 0;
    await readPartitions(
      kafka,
      ranges,
      (topic, _partition, message) => {
        discovered++;
        if (discovered % 1000 === 0) progress('discover', discovered, discoverTotal);
        if (topic === topics.exports) exportMessages.push(message);
        else if (message.value !== null && message.key !== null) tagged.add(message.key.toString('utf8'));
        else if (message.key !== null) tagged.delete(message.key.toString('utf8'));
      },
      {
        groupPrefix: `${groupId}.discover`,
        partitionCounts: new Map([...discoverEnd].map(([t, parts]) => [t, parts.size])),
        signal: deps.signal,
      },
    );
    progress('discover', discovered, discoverTotal);
    /** Each object version of a recording the exports topic already has. */
    const onTopic = new Set<string>();
    /**
     * Notes a RecordingExport; true when it is of the scope and new to the topic (a rescan publishes only
     * those: never an export of the live window, which the live exports watch publishes).
     */
    const note = async (key: Buffer | string | null, value: Buffer | null): Promise<boolean> => {
      if (value === null) return false;
      let plain: unknown;
      try {
        plain = await deps.codecs.recordingExport.decode(value);
      } catch {
        return false; // the join dead-letters it when it gets there
      }
      const input = validateRecordingExport(
        key === null ? null : key.toString(),
        plain,
        sink.exportPrefix,
        sink.allowedBuckets,
      );
      if (input.rejected || input.kind !== 'recording-export') return false;
      const r = input.record;
      const id = [
        r.recordingId,
        r.audio?.versionId ?? r.audio?.etag,
        r.metadata?.versionId ?? r.metadata?.etag,
      ];
      const text = JSON.stringify(id);
      if (onTopic.has(text) || !inScope(scope, input.conversationId, r.partitionHour)) return false;
      onTopic.add(text);
      conversations.add(input.conversationId);
      recordings.add(`${input.conversationId}/${r.recordingId}`);
      return true;
    };
    for (const message of exportMessages.splice(0)) await note(message.key, message.value);
    if (scope.kind === 'conversations') for (const id of scope.ids) conversations.add(id);
    log.info(
      { conversations: conversations.size, recordings: recordings.size, withTags: tagged.size },
      'backfill: scope discovered',
    );

    // Rescan the export folders, publishing only what the topic does not have.
    let rescan: RescanResult | null = null;
    if (deps.rescan !== undefined) {
      const hours: Array<[number, number]> = [];
      if (scope.kind === 'range') hours.push([scope.fromMs, scope.toMs]);
      else if (deps.analytics !== undefined) {
        for (const id of scope.ids) {
          const start = Date.parse((await detailsOf(id))?.conversationStart ?? '');
          if (Number.isFinite(start)) hours.push([hourStartMs(start), hourStartMs(start) + HOUR_MS]);
        }
      }
      let total = { hours: 0, published: 0 };
      for (const [from, to] of hours) {
        const r = await deps.rescan(
          from,
          to,
          async (records) => {
            const kept: KeyedRecord[] = [];
            for (const rec of records)
              if (rec.topic !== topics.exports || (await note(rec.key, rec.value))) kept.push(rec);
            return kept;
          },
          (done, all) => progress('rescan', done, all),
        );
        total = { hours: total.hours + r.hours, published: total.published + r.published };
      }
      rescan = total;
      log.info({ ...rescan }, 'backfill: export folders rescanned');
    }

    // Reconstruct the tags of conversations never captured live.
    const missing = [...conversations].filter((id) => !tagged.has(id)).sort();
    const failed: Array<{ conversationId: string; reason: string }> = [];
    let published = 0;
    /** Conversations whose analytics Genesys did not answer for (a failure; the others are facts). */
    let unavailable = 0;
    if (deps.analytics === undefined) {
      for (const conversationId of missing)
        failed.push({
          conversationId,
          reason: 'no tags captured, and Genesys is not configured to reconstruct them',
        });
    } else {
      let done = 0;
      await mapLimit(missing, options.concurrency, async (conversationId) => {
        const reason = await reconstruct(conversationId);
        if (reason === undefined) published++;
        else failed.push({ conversationId, reason });
        progress('reconstruct', ++done, missing.length);
      });
    }
    async function reconstruct(conversationId: string): Promise<string | undefined> {
      let c: Models.AnalyticsConversationWithoutAttributes | undefined;
      try {
        c = await detailsOf(conversationId);
      } catch (e) {
        unavailable++;
        return `analytics conversation details unavailable: ${describeError(e)}`;
      }
      if (c === undefined) return 'Genesys has no analytics record of the conversation';
      // No user context: a user's station now says nothing about the station of a past call.
      const r = extractFromAnalytics(c, { receivedAt: now(), userContext: () => undefined });
      if (!r.ok) return `analytics record not usable: ${r.error.reason}`;
      for (const d of r.value.dropped)
        log.warn(
          { conversationId, participant: d.index, reason: d.reason },
          'backfill: analytics participant left out',
        );
      if (r.value.observations.length === 0) return 'the analytics record has no usable voice session';
      const snapshot = mergeSessionTags(undefined, r.value.observations);
      await deps.producer.send([
        {
          topic: topics.tags,
          key: conversationId,
          value: deps.tagsEncoder.encode(snapshot),
          headers: {
            [SESSION_TAGS_HEADERS.instance]: sink.instance,
            [SESSION_TAGS_HEADERS.version]: sink.version,
            [TAGS_ORIGIN_HEADER]: 'backfill-reconstruction',
          },
        },
      ]);
      return undefined;
    }
    failed.sort((a, b) => a.conversationId.localeCompare(b.conversationId));
    log.info({ needed: missing.length, published, failed: failed.length }, 'backfill: tags reconstructed');

    // The join, in the job's own group, up to what the topics hold now.
    const end = await highOffsets(admin, [topics.tags, topics.exports]);
    const position = async (): Promise<Offsets> => {
      const c = await committedOffsets(admin, groupId, [topics.tags, topics.exports]);
      for (const [topic, parts] of start)
        for (const [partition, offset] of parts)
          if (!c.get(topic)?.has(partition)) c.get(topic)?.set(partition, offset);
      return c;
    };
    const replayTotal = remaining(await position(), end);
    const counts = { written: 0, unchanged: 0, skipped: 0, deadLettered: 0 };
    const deadLetters: Record<string, number> = {};
    const joinStarted = Date.now();
    let joinMs = 0;
    let crashed: Error | undefined;
    const running = await startSink(
      {
        kafka,
        s3: deps.s3,
        signer: deps.signer,
        codecs: deps.codecs,
        now,
        logger: log,
        producer: deps.producer,
        signal: deps.signal,
        onReconciled: (_id, r) => {
          counts.written += r.written;
          counts.unchanged += r.unchanged;
          counts.skipped += r.skipped;
          counts.deadLettered += r.deadLettered;
        },
        onDeadLetter: (code) => {
          deadLetters[code] = (deadLetters[code] ?? 0) + 1;
        },
      },
      {
        ...sink,
        groupId,
        fromBeginning: true,
        writeChangelog: false,
        // It stops once caught up: a short fetch wait lets it stop quickly.
        fetchMaxWaitMs: 500,
        // A partition the job never committed starts where the replay starts (admin.setOffsets would join the
        // group with a throw-away consumer per topic: seconds each).
        // It keeps no state between runs: a resumed run restores every tag of the replay, committed or not.
        restoreTagsFrom: (partition) => start.get(topics.tags)?.get(partition)?.toString(),
        startAt: (topic, partition) =>
          committedAtStart.get(topic)?.has(partition)
            ? undefined
            : start.get(topic)?.get(partition)?.toString(),
        reconcileFilter: (state) =>
          Object.values(state.exports?.recordings ?? {}).some((r) =>
            inScope(scope, state.conversationId, r.partitionHour),
          ),
      },
    );
    running.consumer.on(running.consumer.events.CRASH, (e) => {
      if (!e.payload.restart) crashed = e.payload.error;
    });
    try {
      for (;;) {
        if (crashed !== undefined) throw crashed;
        if (deps.signal?.aborted) throw deps.signal.reason ?? new Error('aborted');
        const left = remaining(await position(), end);
        progress('join', Number(replayTotal - left), Number(replayTotal));
        if (left === 0n) break;
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      joinMs = Date.now() - joinStarted;
      // Stopping waits for the consumer's fetch in flight (kafkajs long-polls up to 5 s): not replay time.
      await running.stop();
    }
    const records = Number(replayTotal);
    const report: BackfillReport = {
      jobId: options.jobId,
      groupId,
      resumed,
      scope,
      rescan,
      conversations: conversations.size,
      recordings: recordings.size,
      reconstruction: { needed: missing.length, published, failed },
      replay: { records, ms: joinMs, recordsPerSecond: joinMs > 0 ? (records * 1000) / joinMs : 0 },
      manifests: counts,
      deadLetters,
      ms: Date.now() - started,
      ok: Object.keys(deadLetters).length === 0 && unavailable === 0,
    };
    log.info({ ...report.manifests, records, ms: joinMs }, 'backfill: join done');
    return report;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
