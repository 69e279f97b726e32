/**
 * Incremental scanning of the Genesys export bucket.
 *
 * A pass never lists the whole bucket. It lists (ListObjectsV2, paged) only the hour folders of
 * - the sliding window `now - lookbackHours … now + lookaheadHours` of every org folder (org folders are found
 *   with a Delimiter listing of the export prefix, cached for `orgRefreshPasses` passes),
 * - up to `maxRangeHoursPerPass` hours of backfill requests ({@link ExportScanner.requestRange}: e.g. after a
 *   bulk job exported old conversations into old hour folders), and
 * - folders that still hold a lone object waiting for its pairing grace.
 * It groups objects by recording, applies the emission rules of `export-emission.ts` (HEAD only for objects
 * whose ETag/LastModified changed, to learn their version id), and produces one RecordingExport per new pair
 * plus one dead letter per new invalid key.
 *
 * Order of effects: records first (the producer resolves once the broker acknowledged all of them), then the
 * in-memory checkpoint, then the S3 checkpoint object. A crash between the produce and the checkpoint write
 * re-emits that pass's recordings after a restart; downstream (the sink) is idempotent, so that is harmless.
 */
import { performance } from 'node:perf_hooks';
import type { S3Client } from '@aws-sdk/client-s3';
import type { ExportKey } from '../enrich/export-layout.ts';
import { normalizeKeyPrefix, parseExportKey } from '../enrich/export-layout.ts';
import type { ExportJobFacts } from '../kafka/avro-codec.ts';
import type { KeyedRecord, RecordProducer } from '../kafka/record-producer.ts';
import type { Logger } from '../observability/logger.ts';
import type { Checkpoint, HourState } from './export-checkpoint.ts';
import {
  cloneCheckpoint,
  emptyCheckpoint,
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
import type { Detector, ExportsWatchEncoders, ObjectVersion } from './export-records.ts';
import { invalidKeyDeadLetter, recordingExport, recordingExportRecord } from './export-records.ts';
import type { ListedObject } from './export-s3.ts';
import { headVersion, listFolder, listOrgFolders, mapLimit } from './export-s3.ts';
import type { DayHourPadding } from './export-window.ts';
import { hourFolders, rangeRequest, takeRangeHours, windowHours } from './export-window.ts';

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
  pending: number;
  checkpointWritten: boolean;
}>;

type Group = { ref: ExportKey; audio?: ListedObject; metadata?: ListedObject };
type Update = (c: Checkpoint) => void;

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

/** The incremental scanner; one per watcher name. Passes run one at a time. */
export class ExportScanner {
  readonly #o: ExportScannerOptions;
  readonly #d: ExportScannerDeps;
  readonly #prefix: string;
  readonly #store: S3CheckpointStore;
  #state: Checkpoint;
  #etag: string | undefined;
  #loaded = false;
  #dirty = false;
  #orgs: string[] = [];
  #passes = 0;
  #requested: Checkpoint['ranges'] = [];
  #queue: Promise<unknown> = Promise.resolve();

  constructor(deps: ExportScannerDeps, options: ExportScannerOptions) {
    const prefix = normalizeKeyPrefix(options.prefix);
    if (!prefix.ok) throw new RangeError(`invalid export prefix: ${prefix.error.detail}`);
    this.#prefix = prefix.value;
    this.#o = options;
    this.#d = deps;
    this.#store = new S3CheckpointStore(deps.s3, options.checkpoint.bucket, options.checkpoint.key);
    this.#state = emptyCheckpoint(options.watcherName);
  }

  /** Reads the checkpoint (once; scanOnce calls it when needed). */
  async load(): Promise<void> {
    if (this.#loaded) return;
    const { checkpoint, etag } = await this.#store.read(this.#o.watcherName);
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

  /** Records a pair emitted by the S3-event path; persisted with the next pass's checkpoint write. */
  noteEmitted(ref: ExportKey, pair: EmittedPair): void {
    const hour = hourStateOf(this.#state, hourFolderOf(ref), Date.parse(ref.partitionHour));
    recordEmitted(hour, recordingKey(ref), pair);
    this.#dirty = true;
  }

  /** Runs one pass (after any pass in progress). */
  scanOnce(): Promise<ScanReport> {
    const run = this.#queue.then(() => this.#scan());
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #scan(): Promise<ScanReport> {
    const t0 = performance.now();
    const nowMs = this.#d.now();
    await this.load();
    const o = this.#o;
    if (this.#requested.length > 0) {
      this.#state.ranges.push(...this.#requested);
      this.#requested = [];
      this.#dirty = true;
    }
    if (this.#passes % Math.max(1, o.orgRefreshPasses) === 0) {
      this.#orgs = await listOrgFolders(this.#d.s3, o.bucket, this.#prefix);
    }
    this.#passes++;

    const window = windowHours(nowMs, o.lookbackHours, o.lookaheadHours);
    const ranges = takeRangeHours(this.#state.ranges, o.maxRangeHoursPerPass);
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
      ...(await listFolder(this.#d.s3, o.bucket, folder)),
    }));

    const records: KeyedRecord[] = [];
    const updates: Update[] = [];
    const toResolve: Array<{ folder: string; hourMs: number; rec: string; group: Group }> = [];
    let objectsListed = 0;
    let skipped = 0;
    let invalidKeys = 0;
    let emitted = 0;

    for (const { folder, hourMs, objects } of listings) {
      objectsListed += objects.length;
      const hour: HourState | undefined = this.#state.hours[folder];
      const groups = new Map<string, Group>();
      for (const obj of objects) {
        const parsed = parseExportKey(obj.key, { prefix: this.#prefix });
        if (!parsed.ok) {
          if (parsed.error.kind === 'not-an-export') skipped++;
          else if (!hour?.invalid.includes(obj.key)) {
            invalidKeys++;
            records.push(
              invalidKeyDeadLetter({
                encoders: this.#d.encoders,
                topic: o.topics.dlq,
                bucket: o.bucket,
                key: obj.key,
                reason: `${parsed.error.reason}: ${parsed.error.detail}`,
                lastModifiedMs: obj.lastModifiedMs,
                nowMs,
                instance: o.detector.instance,
              }),
            );
            this.#d.log.error(
              { bucket: o.bucket, key: obj.key, reason: parsed.error.reason },
              'invalid export key dead-lettered',
            );
            updates.push((c) => hourStateOf(c, folder, hourMs).invalid.push(obj.key));
          }
          continue;
        }
        const rec = recordingKey(parsed.value);
        const group = groups.get(rec) ?? { ref: parsed.value };
        group[parsed.value.kind] = obj;
        groups.set(rec, group);
      }
      // Lone objects that disappeared stop waiting.
      for (const rec of Object.keys(hour?.pending ?? {})) {
        if (!groups.has(rec)) updates.push((c) => delete hourStateOf(c, folder, hourMs).pending[rec]);
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
          if (hour?.pending[rec] !== decision.aloneSinceMs) {
            updates.push((c) => (hourStateOf(c, folder, hourMs).pending[rec] = decision.aloneSinceMs));
          }
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
        const head = await headVersion(this.#d.s3, o.bucket, listed.key);
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
        emitted++;
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
        records.push(recordingExportRecord(this.#d.encoders, o.topics.recordingExports, value));
        updates.push((c) => recordEmitted(hourStateOf(c, folder, hourMs), rec, pair));
      } else if (decision.kind === 'wait') {
        updates.push((c) => (hourStateOf(c, folder, hourMs).pending[rec] = decision.aloneSinceMs));
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

    await this.#d.producer.send(records);
    // Acknowledged: now (and only now) remember what was emitted.
    for (const update of updates) update(this.#state);
    const rangesChanged = ranges.hours.length > 0;
    if (rangesChanged) this.#state.ranges = ranges.after;
    const pruned = pruneCheckpoint(this.#state, window[0] ?? nowMs);
    this.#state = pruned.checkpoint;
    if (updates.length > 0 || rangesChanged || pruned.pruned.length > 0) this.#dirty = true;
    const checkpointWritten = await this.#persist(nowMs, window[0] ?? nowMs);

    const pendingCount = Object.values(this.#state.hours).reduce(
      (n, h) => n + Object.keys(h.pending).length,
      0,
    );
    const m = this.#d.metrics;
    m.objectsListed(objectsListed);
    m.objectsSkipped(skipped);
    m.recordingsEmitted('scan', emitted);
    m.invalidKeys('scan', invalidKeys);
    if (invalidKeys > 0) m.deadLetters('CUSTODY_SINK_INVALID_EXPORT_KEY', invalidKeys);
    m.pendingRecordings(pendingCount);
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
      recordingsEmitted: emitted,
      invalidKeys,
      pending: pendingCount,
      checkpointWritten,
    };
  }

  /** Writes the checkpoint if it changed; on a lost conditional write, re-reads, merges and retries. */
  async #persist(nowMs: number, windowStartMs: number): Promise<boolean> {
    if (!this.#dirty) return false;
    for (let attempt = 1; attempt <= MAX_CHECKPOINT_ATTEMPTS; attempt++) {
      const next: Checkpoint = { ...this.#state, writer: this.#o.detector.instance, writtenAtMs: nowMs };
      const res = await this.#store.write(next, this.#etag);
      if (res.written) {
        this.#state = next;
        this.#etag = res.etag;
        this.#dirty = false;
        this.#d.metrics.checkpointWrite();
        return true;
      }
      this.#d.metrics.checkpointConflict();
      const theirs = await this.#store.read(this.#o.watcherName);
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
      }
      this.#etag = theirs.etag;
    }
    throw new CheckpointError(
      'CUSTODY_SINK_CHECKPOINT_CONFLICT',
      `checkpoint s3://${this.#store.bucket}/${this.#store.key} kept changing under watcher "${this.#o.watcherName}"`,
    );
  }
}
