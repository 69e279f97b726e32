/**
 * After a job custody ran, waits for its exports to land in S3 and publishes one RecordingExport per recording,
 * `detectedBy: "job"`, carrying the job's facts (`custody exports run --wait`).
 *
 * Genesys writes a job's exports at its export date, into the hour folders of the covered conversations' starts,
 * which may be far older than `custody exports watch`'s scan window. The ledger names exactly those conversations
 * and their start hours, so this lists only those hour folders (both day/hour spellings when configured) and keeps
 * only keys of covered conversations. It stops when as many recordings as the job processed are published, or
 * at `timeoutMs`, and reports what is missing; the watcher keeps attributing later arrivals through the ledger.
 *
 * An export whose objects are older than custody's execution of the job (a retention policy's earlier export)
 * is not this job's doing and is not published with its facts. Re-publishing is harmless (the sink is
 * idempotent); progress is saved in the ledger (`published`) so a resumed run skips what was done.
 *
 * One object alone (Genesys writes the audio, then the metadata) waits `pairGraceMs` for its sibling, then is
 * published without it; its sibling is still awaited, and when it lands the pair is published again, as the
 * exports watch does for a late pair — so metadata that arrives after its audio reaches the sink. Such a
 * recording counts as published but is not saved in the ledger until its pair is, and the run keeps waiting for
 * the sibling (up to `timeoutMs`). Records go out in chunks (export-publish.ts); one too large for Kafka is
 * dead-lettered when `dlqTopic` is set.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { ExportKey } from '../enrich/export-layout.ts';
import { normalizeKeyPrefix, parseExportKey } from '../enrich/export-layout.ts';
import type { RecordProducer } from '../kafka/record-producer.ts';
import type { Logger } from '../observability/logger.ts';
import { hourStart } from './export-checkpoint.ts';
import type { ExportJobLedger } from './export-job-ledger.ts';
import { executedAtMs, exportJobFacts } from './export-job-state.ts';
import type { Outgoing } from './export-publish.ts';
import { DEFAULT_MAX_RECORDS_PER_SEND, publishInChunks } from './export-publish.ts';
import type { Detector, ExportsWatchEncoders, ObjectVersion } from './export-records.ts';
import { exportTooLargeDeadLetter, recordingExport, recordingExportRecord } from './export-records.ts';
import type { Retrier } from './export-retry.ts';
import { NO_RETRY, s3Dependency } from './export-retry.ts';
import type { ListedObject } from './export-s3.ts';
import { headVersion, listFolder, listOrgFolders } from './export-s3.ts';
import { mapLimit } from '../runtime/map-limit.ts';
import type { DayHourPadding } from './export-window.ts';
import { hourFolders } from './export-window.ts';

export type CollectDeps = Readonly<{
  s3: S3Client;
  producer: RecordProducer;
  encoders: ExportsWatchEncoders;
  log: Logger;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  /** Waits out retriable S3 and Kafka failures (export-retry.ts); default: none. */
  retry?: Retrier;
}>;

export type CollectOptions = Readonly<{
  bucket: string;
  /** Export prefix before `{orgId}`; `''` for the bucket root. */
  prefix: string;
  dayHourPadding: DayHourPadding;
  topic: string;
  /** Dead-letter topic: a RecordingExport too large for Kafka goes there instead; unset: the error is thrown. */
  dlqTopic?: string;
  detector: Detector;
  /** Pause between two listings of the covered folders (ms). */
  intervalMs: number;
  /** Stop waiting this long after collection started (ms). */
  timeoutMs: number;
  /** How long one object waits for its sibling before it is published alone (ms). */
  pairGraceMs: number;
  /** Allowed gap between custody's clock and S3 LastModified when comparing with the execution time (ms). */
  skewMs: number;
  s3Concurrency: number;
  /** Records per `producer.send` (default 500). */
  maxRecordsPerSend?: number;
}>;

export type CollectReport = Readonly<{
  /** Recordings the job processed (null when Genesys did not say). */
  expected: number | null;
  /** Recordings published (with both objects, or with one whose sibling never came). */
  published: number;
  /** Of those, published with one object only: its sibling had not landed when the run stopped waiting. */
  incomplete: number;
  /** Exports of covered conversations written before the job was executed (not attributed to it). */
  olderThanJob: number;
  timedOut: boolean;
}>;

type Group = { ref: ExportKey; audio?: ListedObject; metadata?: ListedObject };

const recKey = (ref: Pick<ExportKey, 'conversationId' | 'recordingId'>) =>
  `${ref.conversationId}/${ref.recordingId}`;

/**
 * Publishes the job's exports as they appear. `onPublished` is awaited after each acknowledged batch with the
 * `conversationId/recordingId` keys published so far (the caller saves them in the ledger).
 */
export async function collectJobExports(
  deps: CollectDeps,
  options: CollectOptions,
  ledger: ExportJobLedger,
  onPublished: (published: readonly string[]) => Promise<void>,
): Promise<CollectReport> {
  const prefix = normalizeKeyPrefix(options.prefix);
  if (!prefix.ok) throw new RangeError(`invalid export prefix: ${prefix.error.detail}`);
  const covered = ledger.coverage?.conversations ?? {};
  const executed = executedAtMs(ledger.states);
  const expected = ledger.totals?.processed ?? null;
  const published = new Set(ledger.published);
  const log = deps.log.child({ jobId: ledger.jobId });
  if (executed === undefined || Object.keys(covered).length === 0) {
    return { expected, published: published.size, incomplete: 0, olderThanJob: 0, timedOut: false };
  }
  const facts = exportJobFacts(ledger.jobId, ledger.createdBy, ledger.states);
  const hours = [...new Set(Object.values(covered).map(hourStart))].sort((a, b) => a - b);
  const deadline = deps.now() + options.timeoutMs;
  const retry = deps.retry ?? NO_RETRY;
  const bucket = s3Dependency(options.bucket);
  const aloneSince = new Map<string, number>();
  const older = new Set<string>();
  /** Published with one object only, by the side published: the sibling is still awaited. */
  const partial = new Map<string, 'audio' | 'metadata'>();
  const report = (timedOut: boolean): CollectReport => ({
    expected,
    published: published.size + partial.size,
    incomplete: partial.size,
    olderThanJob: older.size,
    timedOut,
  });
  const done = () => expected !== null && published.size + partial.size >= expected && partial.size === 0;

  for (;;) {
    if (done()) break;
    const nowMs = deps.now();
    const orgs = await retry(bucket, () => listOrgFolders(deps.s3, options.bucket, prefix.value));
    const folders = orgs.flatMap((org) =>
      hours.flatMap((h) => hourFolders(prefix.value, org, h, options.dayHourPadding)),
    );
    const listings = await mapLimit(folders, options.s3Concurrency, (f) =>
      retry(bucket, () => listFolder(deps.s3, options.bucket, f)),
    );
    const groups = new Map<string, Group>();
    for (const { objects } of listings) {
      for (const o of objects) {
        const parsed = parseExportKey(o.key, { prefix: prefix.value });
        if (!parsed.ok || covered[parsed.value.conversationId] === undefined) continue;
        const k = recKey(parsed.value);
        if (published.has(k)) continue;
        const g = groups.get(k) ?? { ref: parsed.value };
        g[parsed.value.kind] = o;
        groups.set(k, g);
      }
    }
    const ready = [...groups].filter(([k, g]) => {
      if (g.audio !== undefined && g.metadata !== undefined) return true;
      // Only the side published already: nothing new until its sibling lands.
      const side = g.audio !== undefined ? 'audio' : 'metadata';
      if (partial.get(k) === side) return false;
      const since = aloneSince.get(k) ?? nowMs;
      aloneSince.set(k, since);
      return nowMs - since >= options.pairGraceMs || nowMs >= deadline;
    });
    const heads = await mapLimit(ready, options.s3Concurrency, async ([k, g]) => {
      const head = async (o: ListedObject | undefined): Promise<ObjectVersion | null> =>
        o === undefined
          ? null
          : ((await retry(bucket, () => headVersion(deps.s3, options.bucket, o.key))) ?? null);
      return { k, g, audio: await head(g.audio), metadata: await head(g.metadata) };
    });
    const items: Outgoing[] = [];
    for (const { k, g, audio, metadata } of heads) {
      if (audio === null && metadata === null) continue;
      const newest = Math.max(audio?.lastModifiedMs ?? 0, metadata?.lastModifiedMs ?? 0);
      if (newest < executed - options.skewMs) {
        if (!older.has(k)) log.info({ recording: k }, 'export predates the job; not attributed to it');
        older.add(k);
        continue;
      }
      const value = recordingExport({
        bucket: options.bucket,
        ref: g.ref,
        audio,
        metadata,
        detectedAtMs: deps.now(),
        detectedBy: 'job',
        detector: options.detector,
        job: facts,
      });
      const dlqTopic = options.dlqTopic;
      items.push({
        record: recordingExportRecord(deps.encoders, options.topic, value),
        tooLarge:
          dlqTopic === undefined
            ? undefined
            : (why) => {
                log.error(
                  { recording: k, reason: why.message },
                  'RecordingExport too large for Kafka: dead-lettered',
                );
                return exportTooLargeDeadLetter({
                  encoders: deps.encoders,
                  topic: dlqTopic,
                  value,
                  why,
                  nowMs: deps.now(),
                  instance: options.detector.instance,
                });
              },
        // Acknowledged: only now count it as published (one-sided: as partial, its sibling still awaited).
        afterAck: () => {
          if (audio !== null && metadata !== null) {
            published.add(k);
            partial.delete(k);
          } else partial.set(k, audio !== null ? 'audio' : 'metadata');
        },
      });
    }
    if (items.length > 0) {
      await publishInChunks(deps.producer, items, {
        maxRecordsPerSend: options.maxRecordsPerSend ?? DEFAULT_MAX_RECORDS_PER_SEND,
        retry,
      });
      await onPublished([...published].sort());
      log.info({ published: published.size, partial: partial.size, expected }, 'job exports published');
    }
    if (done()) break;
    if (deps.now() >= deadline) {
      log.warn(
        {
          published: published.size,
          withoutSibling: [...partial.keys()].slice(0, 20),
          expected,
          olderThanJob: older.size,
        },
        'stopped waiting for the job’s exports; custody exports watch attributes later ones through the ledger',
      );
      return report(true);
    }
    await deps.sleep(Math.min(options.intervalMs, Math.max(0, deadline - deps.now())));
  }
  return report(false);
}
