/**
 * Incremental scanning of the Genesys export bucket.
 *
 * A pass never lists the whole bucket. It lists (ListObjectsV2, paged) only the hour folders of
 * - the sliding window `now - lookbackHours … now + lookaheadHours` of every org folder (org folders are found
 *   with a Delimiter listing of the export prefix, cached for `orgRefreshPasses` passes),
 * - up to `maxRangeHoursPerPass` hours of unfinished ranges: backfill requests ({@link ExportScanner.requestRange}:
 *   e.g. after a bulk job exported old conversations into old hour folders) and catch-up ranges — every hour from
 *   the checkpoint's high-water hour on that slid out of the window since the latest pass (the watcher was down
 *   longer than the lookback, or passes were slow), so no late export is skipped however long the outage —, and
 * - folders that still hold a lone object waiting for its pairing grace (found by a pass, or deferred by the
 *   S3-event path, {@link ExportScanner.noteDeferred}, whatever the folder's age).
 * It groups objects by recording, applies the emission rules of `export-emission.ts` (HEAD only for objects
 * whose ETag/LastModified changed, to learn their version id), and produces one RecordingExport per new pair
 * plus one dead letter per new invalid key.
 *
 * Order of effects: records go out in chunks of at most `maxRecordsPerSend` (export-publish.ts); each chunk's
 * recordings enter the in-memory checkpoint once the broker acknowledged it (and the checkpoint object is
 * written between chunks), so the checkpoint never gets ahead of Kafka. A record too large for Kafka is replaced
 * by a dead letter naming the recording, and counts as done. A crash between a produce and the next checkpoint
 * write re-emits those recordings after a restart; downstream (the sink) is idempotent, so that is harmless.
 *
 * Every S3 and Kafka call goes through the `retry` dependency (export-retry.ts): retriable failures (a bucket
 * that does not exist yet, throttling, a broker restarting) are waited out in place, so a pass continues where
 * it was; only other errors reject the pass.
 */
import { performance } from 'node:perf_hooks';
import type { S3Client } from '@aws-sdk/client-s3';
import type { ExportKey } from '../enrich/export-layout.ts';
import { normalizeKeyPrefix, parseExportKey } from '../enrich/export-layout.ts';
import type { ExportJobFacts } from '../kafka/avro-codec.ts';
import type { RecordProducer } from '../kafka/record-producer.ts';
import type { Logger } from '../observability/logger.ts';
import type { Checkpoint, HourState } from './export-checkpoint.ts';
import {
  cloneCheckpoint,
  emptyCheckpoint,
  HOUR_MS,
  hourStateOf,
  isSameEmitted,
  mergeCheckpoints,
  pruneCheckpoint,
  recordEmitted,
} from './export-checkpoint.ts';
import { CheckpointError, S3CheckpointStore } from './export-checkpoint-store.ts';
import type { EmittedFile, EmittedPair, ObservedFile } from './export-emission.ts';
import { decideEmission, observeListed } from './export-emission.ts';
import type { ExportsWatchMetrics } from './export-metrics.ts';
import type { Outgoing } from './export-publish.ts';
import { DEFAULT_MAX_RECORDS_PER_SEND, publishInChunks } from './export-publish.ts';
import type { Detector, ExportsWatchEncoders, ObjectVersion } from './export-records.ts';
import {
  EXPORTS_DLQ_CODES,
  exportTooLargeDeadLetter,
  invalidKeyDeadLetter,
  recordingExport,
  recordingExportRecord,
} from './export-records.ts';
import type { Retrier } from './export-retry.ts';
import { NO_RETRY, s3Dependency } from './export-retry.ts';
import type { ListedObject } from './export-s3.ts';
import { headVersion, listFolder, listOrgFolders } from './export-s3.ts';
import { mapLimit } from '../runtime/map-limit.ts';
import type { DayHourPadding } from './export-window.ts';
import {
  advanceRanges,
  catchUpRange,
  highWaterHour,
  hourFolders,
  rangeHoursLeft,
  rangeRequest,
  takeRangeHours,
  windowHours,
} from './export-window.ts';

export type ExportScannerOptions = Readonly<{
  bucket: string;
  /** Export prefix before `{orgId}`; `''` for the bucket root. */
  prefix: string;
  watcherName: string;
  lookbackHours: number;
  lookaheadHours: number;
  pairGraceMs: number;
  orgRefreshPasses: number;
  dayHourPadding: DayHourPadding;
  maxRangeHoursPerPass: number;
  /** Concurrent S3 list/HEAD requests. */
  s3Concurrency: number;
  topics: Readonly<{ recordingExports: string; dlq: string }>;
  detector: Detector;
  checkpoint: Readonly<{ bucket: string; key: string }>;
  /** Records per `producer.send` (default 500): a pass publishes in chunks of at most this many. */
  maxRecordsPerSend?: number;
}>;

/**
 * The facts of the custody-run bulk job that exported a recording of `conversationId` whose newest object was
 * written at `lastModifiedMs`, or null (export-job-ledger-store.ts `JobLedgerIndex.factsFor`).
 */
export type JobFactsLookup = (conversationId: string, lastModifiedMs: number) => ExportJobFacts | null;

export type ExportScannerDeps = Readonly<{
  s3: S3Client;
  producer: RecordProducer;
  encoders: ExportsWatchEncoders;
  log: Logger;
  metrics: ExportsWatchMetrics;
  now: () => number;
  /** Attaches job facts to emitted records; none when absent. */
  jobFacts?: JobFactsLookup;
  /** Waits out retriable S3 and Kafka failures (export-retry.ts); default: none (errors reject the pass). */
  retry?: Retrier;
}>;

/** What one pass did. */
export type ScanReport = Readonly<{
  startedAtMs: number;
  durationMs: number;
  orgs: number;
  foldersListed: number;
  listRequests: number;
  objectsListed: number;
  objectsSkipped: number;
  headRequests: number;
  recordingsEmitted: number;
  invalidKeys: number;
  /** Recordings whose RecordingExport was too large for Kafka: dead-lettered instead. */
  recordsTooLarge: number;
  /** `producer.send` calls (chunks of at most `maxRecordsPerSend` records). */
  sends: number;
  pending: number;
  /** Hours of backfill and catch-up ranges still to list after this pass (0: caught up). */
  backlogHours: number;
  checkpointWritten: boolean;
}>;

type Group = { ref: ExportKey; audio?: ListedObject; metadata?: ListedObject };
type Update = (c: Checkpoint) => void;
type PassCounts = { emitted: number; invalidKeys: number; tooLarge: number };

const MAX_CHECKPOINT_ATTEMPTS = 3;

/** The hour folder of an export key (everything up to `hour=H/`), as listed. */
export function hourFolderOf(ref: ExportKey): string {
  return `${ref.key.split('/').slice(0, -2).join('/')}/`;
}

function recordingKey(ref: ExportKey): string {
  return `${ref.conversationId}/${ref.recordingId}`;
}

function stored(o: ObjectVersion | null): EmittedFile | null {
  return o === null ? null : { etag: o.etag, versionId: o.versionId, lastModifiedMs: o.lastModifiedMs };
}

/** The incremental scanner; one per watcher name. Passes run one at a time; so do checkpoint writes. */
export class ExportScanner {
  readonly #o: ExportScannerOptions;
  readonly #d: ExportScannerDeps;
  readonly #prefix: string;
  readonly #store: S3CheckpointStore;
  readonly #retry: Retrier;
  readonly #bucketDependency: string;
  readonly #checkpointDependency: string;
  #state: Checkpoint;
  #etag: string | undefined;
  #loading: Promise<void> | undefined;
  #loaded = false;
  /** Bumped on every change of the in-memory checkpoint; `#persistedVersion` is the one last written. */
  #version = 0;
  #persistedVersion = 0;
  #orgs: string[] = [];
  #passes = 0;
  #requested: Checkpoint['ranges'] = [];
  #queue: Promise<unknown> = Promise.resolve();
  #writes: Promise<unknown> = Promise.resolve();
  /** Recordings deferred by the S3-event path since the current pass listed its folders (`folder\nrec`). */
  readonly #deferredDuringPass = new Set<string>();

  constructor(deps: ExportScannerDeps, options: ExportScannerOptions) {
    const prefix = normalizeKeyPrefix(options.prefix);
    if (!prefix.ok) throw new RangeError(`invalid export prefix: ${prefix.error.detail}`);
    this.#prefix = prefix.value;
    this.#o = options;
    this.#d = deps;
    this.#retry = deps.retry ?? NO_RETRY;
    this.#bucketDependency = s3Dependency(options.bucket);
    this.#checkpointDependency = s3Dependency(options.checkpoint.bucket);
    this.#store = new S3CheckpointStore(deps.s3, options.checkpoint.bucket, options.checkpoint.key);
    this.#state = emptyCheckpoint(options.watcherName);
  }

  /**
   * Reads the checkpoint (once; scanOnce calls it when needed), waiting while S3 answers retriably.
   * @throws {CheckpointError} when the stored checkpoint is invalid; fatal S3 errors as they are.
   */
  load(): Promise<void> {
    if (this.#loaded) return Promise.resolve();
    this.#loading ??= this.#load().finally(() => {
      this.#loading = undefined;
    });
    return this.#loading;
  }

  async #load(): Promise<void> {
    const { checkpoint, etag } = await this.#retry(this.#checkpointDependency, () =>
      this.#store.read(this.#o.watcherName),
    );
    this.#state = checkpoint ?? emptyCheckpoint(this.#o.watcherName);
    this.#etag = etag;
    this.#loaded = true;
  }

  /** Asks for the hour folders `from … to` (any instants; whole hours) to be listed over the next passes. */
  requestRange(fromMs: number, toMs: number): void {
    if (!Number.isFinite(fromMs) || !Number.isFinite(toMs))
      throw new RangeError('range bounds must be finite');
    this.#requested.push(rangeRequest(fromMs, toMs));
  }

  /** A copy of the in-memory checkpoint (for diagnostics and tests). */
  checkpoint(): Checkpoint {
    return cloneCheckpoint(this.#state);
  }

  /** Whether exactly this pair was already emitted for the recording (used by the S3-event path). */
  isEmitted(ref: ExportKey, pair: EmittedPair): boolean {
    return isSameEmitted(this.#state.hours[hourFolderOf(ref)], recordingKey(ref), pair);
  }

  /** Job facts for an export (see {@link JobFactsLookup}); null without a lookup. */
  jobFactsFor(conversationId: string, lastModifiedMs: number): ExportJobFacts | null {
    return this.#d.jobFacts?.(conversationId, lastModifiedMs) ?? null;
  }

  /** Records a pair emitted by the S3-event path; persisted with the next checkpoint write. */
  noteEmitted(ref: ExportKey, pair: EmittedPair): void {
    const hour = hourStateOf(this.#state, hourFolderOf(ref), Date.parse(ref.partitionHour));
    recordEmitted(hour, recordingKey(ref), pair);
    this.#version++;
  }

  /**
   * Records an object the S3-event path found without its sibling (seen alone at `seenAtMs`, custody's clock) as
   * pending in the checkpoint, whatever the age of its hour folder: every later pass lists that folder and
   * revisits it, until its sibling comes (the pair is emitted) or the pairing grace ends (it is emitted alone,
   * as for a lone object a pass found itself). Persist with {@link flushCheckpoint} before committing the event.
   */
  noteDeferred(ref: ExportKey, seenAtMs: number): void {
    const folder = hourFolderOf(ref);
    const rec = recordingKey(ref);
    const hour = hourStateOf(this.#state, folder, Date.parse(ref.partitionHour));
    const before = hour.pending[rec];
    hour.pending[rec] = Math.min(before ?? seenAtMs, seenAtMs);
    this.#deferredDuringPass.add(`${folder}\n${rec}`);
    if (before !== hour.pending[rec]) this.#version++;
  }

  /** Writes the checkpoint now if it changed (after any write in progress); true when written. */
  async flushCheckpoint(): Promise<boolean> {
    await this.load();
    const nowMs = this.#d.now();
    return this.#persist(nowMs, this.#windowStart(nowMs));
  }

  /** Runs one pass (after any pass in progress). */
  scanOnce(): Promise<ScanReport> {
    const run = this.#queue.then(() => this.#scan());
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #windowStart(nowMs: number): number {
    return windowHours(nowMs, this.#o.lookbackHours, 0)[0] ?? nowMs;
  }

  /**
   * Adds the catch-up range of this pass (hours from the high-water hour that slid out of the window) and moves
   * the high-water hour to this pass's window start; both are kept in the checkpoint, so a restart during a long
   * catch-up continues it.
   */
  #catchUp(windowStart: number): void {
    const o = this.#o;
    const missed = catchUpRange(highWaterHour(this.#state, o.lookbackHours), windowStart);
    if (missed !== undefined) {
      this.#state.ranges.push(missed);
      const hours = (missed.toHourMs - missed.fromHourMs) / HOUR_MS + 1;
      // One hour is the window sliding on between two passes: routine. More means the watcher fell behind.
      this.#d.log[hours > 1 ? 'warn' : 'debug'](
        {
          behindHours: hours,
          catchUpFrom: new Date(missed.fromHourMs).toISOString(),
          catchUpTo: new Date(missed.toHourMs).toISOString(),
          hoursPerPass: o.maxRangeHoursPerPass,
          lastWrittenAt:
            this.#state.writtenAtMs === null ? null : new Date(this.#state.writtenAtMs).toISOString(),
        },
        `exports watch is ${hours} hour(s) behind its checkpoint: listing the hour folders that left the lookback window since`,
      );
    }
    if (this.#state.windowFromHourMs !== windowStart) {
      this.#state.windowFromHourMs = windowStart;
      this.#version++;
    }
    if (missed !== undefined) this.#version++;
  }

  async #scan(): Promise<ScanReport> {
    const t0 = performance.now();
    const nowMs = this.#d.now();
    await this.load();
    const o = this.#o;
    const m = this.#d.metrics;
    // Deferrals from here on are newer than this pass's listings: never taken for objects that disappeared.
    this.#deferredDuringPass.clear();
    if (this.#requested.length > 0) {
      this.#state.ranges.push(...this.#requested);
      this.#requested = [];
      this.#version++;
    }
    const window = windowHours(nowMs, o.lookbackHours, o.lookaheadHours);
    const windowStart = window[0] ?? nowMs;
    this.#catchUp(windowStart);
    if (this.#passes % Math.max(1, o.orgRefreshPasses) === 0) {
      this.#orgs = await this.#retry(this.#bucketDependency, () =>
        listOrgFolders(this.#d.s3, o.bucket, this.#prefix),
      );
    }
    this.#passes++;

    const taken = this.#state.ranges.map((r) => ({ ...r }));
    const ranges = takeRangeHours(taken, o.maxRangeHoursPerPass);
    const folders = new Map<string, number>();
    for (const org of this.#orgs) {
      for (const h of [...window, ...ranges.hours]) {
        for (const f of hourFolders(this.#prefix, org, h, o.dayHourPadding)) folders.set(f, h);
      }
    }
    for (const [folder, hour] of Object.entries(this.#state.hours)) {
      if (Object.keys(hour.pending).length > 0) folders.set(folder, hour.hourMs);
    }

    const listings = await mapLimit([...folders], o.s3Concurrency, async ([folder, hourMs]) => ({
      folder,
      hourMs,
      ...(await this.#retry(this.#bucketDependency, () => listFolder(this.#d.s3, o.bucket, folder))),
    }));

    const counts: PassCounts = { emitted: 0, invalidKeys: 0, tooLarge: 0 };
    const outgoing: Outgoing[] = [];
    const updates: Update[] = [];
    const toResolve: Array<{ folder: string; hourMs: number; rec: string; group: Group }> = [];
    let objectsListed = 0;
    let skipped = 0;

    for (const { folder, hourMs, objects } of listings) {
      objectsListed += objects.length;
      const hour: HourState | undefined = this.#state.hours[folder];
      const groups = new Map<string, Group>();
      for (const obj of objects) {
        const parsed = parseExportKey(obj.key, { prefix: this.#prefix });
        if (!parsed.ok) {
          if (parsed.error.kind === 'not-an-export') skipped++;
          else if (!hour?.invalid.includes(obj.key))
            outgoing.push(this.#invalidKey(obj, parsed.error, folder, hourMs, nowMs, counts));
          continue;
        }
        const rec = recordingKey(parsed.value);
        const group = groups.get(rec) ?? { ref: parsed.value };
        group[parsed.value.kind] = obj;
        groups.set(rec, group);
      }
      // Lone objects that disappeared stop waiting (unless the S3-event path deferred them after this listing).
      for (const rec of Object.keys(hour?.pending ?? {})) {
        if (groups.has(rec)) continue;
        updates.push((c) => {
          if (!this.#deferredDuringPass.has(`${folder}\n${rec}`))
            delete hourStateOf(c, folder, hourMs).pending[rec];
        });
      }
      for (const [rec, group] of groups) {
        const prior = hour?.emitted[rec];
        const decision = decideEmission({
          audio: observeListed(group.audio, prior?.audio),
          metadata: observeListed(group.metadata, prior?.metadata),
          emitted: prior,
          aloneSinceMs: hour?.pending[rec],
          nowMs,
          pairGraceMs: o.pairGraceMs,
        });
        if (decision.kind === 'resolve' || decision.kind === 'emit') {
          toResolve.push({ folder, hourMs, rec, group });
        } else if (decision.kind === 'wait') {
          if (hour?.pending[rec] !== decision.aloneSinceMs)
            updates.push(markPending(folder, hourMs, rec, decision.aloneSinceMs));
        } else if (hour?.pending[rec] !== undefined) {
          updates.push((c) => delete hourStateOf(c, folder, hourMs).pending[rec]);
        }
      }
    }

    // Learn version ids (HEAD) of changed objects, then decide again on full identities.
    let headRequests = 0;
    const resolved = await mapLimit(toResolve, o.s3Concurrency, async (item) => {
      const prior = this.#state.hours[item.folder]?.emitted[item.rec];
      const version = async (listed: ListedObject | undefined, before: EmittedFile | null | undefined) => {
        if (listed === undefined) return null;
        const known = observeListed(listed, before);
        if (known?.resolved) return { ...listed, versionId: known.versionId };
        headRequests++;
        const head = await this.#retry(this.#bucketDependency, () =>
          headVersion(this.#d.s3, o.bucket, listed.key),
        );
        // Keep the listing's LastModified (finer than HEAD's) so the next pass recognises the object.
        return head === undefined
          ? null
          : head.etag === listed.etag
            ? { ...head, lastModifiedMs: listed.lastModifiedMs }
            : head;
      };
      const audio = await version(item.group.audio, prior?.audio);
      const metadata = await version(item.group.metadata, prior?.metadata);
      return { ...item, prior, audio, metadata };
    });
    for (const { folder, hourMs, rec, group, prior, audio, metadata } of resolved) {
      const observed = (v: ObjectVersion | null): ObservedFile | null =>
        v === null ? null : { etag: v.etag, versionId: v.versionId, resolved: true };
      const pending = this.#state.hours[folder]?.pending[rec];
      const decision = decideEmission({
        audio: observed(audio),
        metadata: observed(metadata),
        emitted: prior,
        aloneSinceMs: pending,
        nowMs,
        pairGraceMs: o.pairGraceMs,
      });
      const pair: EmittedPair = { audio: stored(audio), metadata: stored(metadata) };
      if (decision.kind === 'emit') {
        const value = recordingExport({
          bucket: o.bucket,
          ref: group.ref,
          audio,
          metadata,
          detectedAtMs: nowMs,
          detectedBy: 'scan',
          detector: o.detector,
          job: this.jobFactsFor(
            group.ref.conversationId,
            Math.max(audio?.lastModifiedMs ?? 0, metadata?.lastModifiedMs ?? 0),
          ),
        });
        outgoing.push({
          record: recordingExportRecord(this.#d.encoders, o.topics.recordingExports, value),
          tooLarge: (why) => {
            this.#d.log.error(
              { bucket: o.bucket, key: (audio ?? metadata)?.key, reason: why.message },
              'RecordingExport too large for Kafka: dead-lettered',
            );
            return exportTooLargeDeadLetter({
              encoders: this.#d.encoders,
              topic: o.topics.dlq,
              value,
              why,
              nowMs,
              instance: o.detector.instance,
            });
          },
          afterAck: (deadLettered) => {
            // Acknowledged (the record or its dead letter): now, and only now, remember it as done.
            recordEmitted(hourStateOf(this.#state, folder, hourMs), rec, pair);
            this.#version++;
            if (deadLettered) {
              counts.tooLarge++;
              m.deadLetters(EXPORTS_DLQ_CODES.recordTooLarge, 1);
            } else {
              counts.emitted++;
              m.recordingsEmitted('scan', 1);
            }
          },
        });
      } else if (decision.kind === 'wait') {
        updates.push(markPending(folder, hourMs, rec, decision.aloneSinceMs));
      } else if (prior !== undefined && (audio !== null || metadata !== null)) {
        // Same versions with a newer LastModified reading: remember it, so the next pass needs no HEAD.
        updates.push((c) =>
          recordEmitted(hourStateOf(c, folder, hourMs), rec, {
            audio: pair.audio ?? prior.audio,
            metadata: pair.metadata ?? prior.metadata,
          }),
        );
      }
    }

    // Pending marks and their clean-up do not depend on Kafka.
    for (const update of updates) update(this.#state);
    if (updates.length > 0) this.#version++;
    const published = await publishInChunks(this.#d.producer, outgoing, {
      maxRecordsPerSend: o.maxRecordsPerSend ?? DEFAULT_MAX_RECORDS_PER_SEND,
      retry: this.#retry,
      // A long pass keeps what Kafka acknowledged so far, should it stop before its end.
      afterChunk: async () => void (await this.#persist(nowMs, windowStart)),
    });
    if (ranges.hours.length > 0) {
      this.#state.ranges = advanceRanges(this.#state.ranges, taken, ranges.after);
      this.#version++;
    }
    const pruned = pruneCheckpoint(this.#state, windowStart);
    if (pruned.pruned.length > 0) {
      this.#state = pruned.checkpoint;
      this.#version++;
    }
    const checkpointWritten = await this.#persist(nowMs, windowStart);

    const pendingCount = Object.values(this.#state.hours).reduce(
      (n, h) => n + Object.keys(h.pending).length,
      0,
    );
    const backlogHours = rangeHoursLeft(this.#state.ranges);
    m.objectsListed(objectsListed);
    m.objectsSkipped(skipped);
    m.pendingRecordings(pendingCount);
    m.backlogHours(backlogHours);
    const durationMs = performance.now() - t0;
    m.scanDuration(durationMs / 1000);
    return {
      startedAtMs: nowMs,
      durationMs,
      orgs: this.#orgs.length,
      foldersListed: listings.length,
      listRequests: listings.reduce((n, l) => n + l.requests, 0),
      objectsListed,
      objectsSkipped: skipped,
      headRequests,
      recordingsEmitted: counts.emitted,
      invalidKeys: counts.invalidKeys,
      recordsTooLarge: counts.tooLarge,
      sends: published.sends,
      pending: pendingCount,
      backlogHours,
      checkpointWritten,
    };
  }

  /** The dead letter of a listed key that breaks the layout; remembered (never sent again) once acknowledged. */
  #invalidKey(
    obj: ListedObject,
    error: Readonly<{ reason: string; detail: string }>,
    folder: string,
    hourMs: number,
    nowMs: number,
    counts: PassCounts,
  ): Outgoing {
    const o = this.#o;
    this.#d.log.error(
      { bucket: o.bucket, key: obj.key, reason: error.reason },
      'invalid export key dead-lettered',
    );
    return {
      record: invalidKeyDeadLetter({
        encoders: this.#d.encoders,
        topic: o.topics.dlq,
        bucket: o.bucket,
        key: obj.key,
        reason: `${error.reason}: ${error.detail}`,
        lastModifiedMs: obj.lastModifiedMs,
        nowMs,
        instance: o.detector.instance,
      }),
      afterAck: () => {
        const hour = hourStateOf(this.#state, folder, hourMs);
        if (!hour.invalid.includes(obj.key)) hour.invalid.push(obj.key);
        this.#version++;
        counts.invalidKeys++;
        this.#d.metrics.invalidKeys('scan', 1);
        this.#d.metrics.deadLetters(EXPORTS_DLQ_CODES.invalidKey, 1);
      },
    };
  }

  /** Writes the checkpoint if it changed, one write at a time; true when written. */
  #persist(nowMs: number, windowStartMs: number): Promise<boolean> {
    const run = this.#writes.then(() => this.#write(nowMs, windowStartMs));
    this.#writes = run.catch(() => undefined);
    return run;
  }

  /** The conditional write; on a lost one, re-reads, merges and tries again. */
  async #write(nowMs: number, windowStartMs: number): Promise<boolean> {
    if (this.#version === this.#persistedVersion) return false;
    for (let attempt = 1; attempt <= MAX_CHECKPOINT_ATTEMPTS; attempt++) {
      const version = this.#version;
      const writer = this.#o.detector.instance;
      const res = await this.#retry(this.#checkpointDependency, () =>
        this.#store.write({ ...this.#state, writer, writtenAtMs: nowMs }, this.#etag),
      );
      if (res.written) {
        this.#state.writer = writer;
        this.#state.writtenAtMs = nowMs;
        this.#etag = res.etag;
        this.#persistedVersion = version;
        this.#d.metrics.checkpointWrite();
        return true;
      }
      this.#d.metrics.checkpointConflict();
      const theirs = await this.#retry(this.#checkpointDependency, () =>
        this.#store.read(this.#o.watcherName),
      );
      this.#d.log.warn(
        {
          watcher: this.#o.watcherName,
          otherWriter: theirs.checkpoint?.writer ?? null,
          attempt,
        },
        'checkpoint was changed by another writer; merging (is a second watcher running with this name?)',
      );
      if (theirs.checkpoint) {
        this.#state = pruneCheckpoint(
          mergeCheckpoints(this.#state, theirs.checkpoint),
          windowStartMs,
        ).checkpoint;
        this.#version++;
      }
      this.#etag = theirs.etag;
    }
    throw new CheckpointError(
      'CUSTODY_SINK_CHECKPOINT_CONFLICT',
      `checkpoint s3://${this.#store.bucket}/${this.#store.key} kept changing under watcher "${this.#o.watcherName}"`,
    );
  }
}

/** Marks a recording pending since `sinceMs`, keeping an earlier mark (e.g. one the S3-event path set). */
function markPending(folder: string, hourMs: number, rec: string, sinceMs: number): Update {
  return (c) => {
    const pending = hourStateOf(c, folder, hourMs).pending;
    pending[rec] = Math.min(pending[rec] ?? sinceMs, sinceMs);
  };
}
