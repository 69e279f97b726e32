/**
 * `custody exports watch`: finds every recording Genesys exports to S3 and publishes one RecordingExport per
 * recording (and per new version of it) to custody.recording-exports.v1.
 *
 * Two detection paths feed one producer and one checkpoint:
 * - the incremental scan (export-scanner.ts), every `scanIntervalMs`: the safety net that needs nothing but
 *   read access to the bucket;
 * - optionally, S3 event notifications delivered to a Kafka topic (export-s3-events.ts): lower latency and
 *   exports into hour folders of any age.
 * Hour folders older than the scan window (e.g. a bulk job exporting last year's calls) are seen by the event
 * path, or by the scanner after {@link RunningExportsWatch.requestRange}.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { Kafka } from 'kafkajs';
import type { Registry } from 'prom-client';
import type { RecordProducer } from '../kafka/record-producer.ts';
import type { Logger } from '../observability/logger.ts';
import { CheckpointError } from './export-checkpoint-store.ts';
import { JobLedgerIndex, S3JobLedgerStore } from './export-job-ledger-store.ts';
import type { ExportsWatchMetrics } from './export-metrics.ts';
import { exportsWatchMetrics, NO_METRICS } from './export-metrics.ts';
import type { ExportsWatchEncoders } from './export-records.ts';
import type { RunningS3Events, S3EventsOptions } from './export-s3-events.ts';
import { startS3Events } from './export-s3-events.ts';
import type { ScanReport } from './export-scanner.ts';
import { ExportScanner } from './export-scanner.ts';
import type { DayHourPadding } from './export-window.ts';
import { CUSTODY_VERSION } from '../version.ts';

export type { ScanReport } from './export-scanner.ts';

/** The version written into `detectorVersion`. */
export const EXPORTS_WATCH_VERSION = CUSTODY_VERSION;

/** Options of the role. Config maps CUSTODY_EXPORTS_WATCH_* settings onto these (see the README). */
export type ExportsWatchOptions = Readonly<{
  /** Export bucket (S3_BUCKET). */
  bucket: string;
  /** Prefix the integration writes under, before `{orgId}`; `''` for the bucket root. */
  prefix: string;
  /** Names this watcher's checkpoint; two processes with the same name share (and merge) one checkpoint. */
  watcherName: string;
  topics: Readonly<{ recordingExports: string; dlq: string }>;
  instance: string;
  version: string;
  /** Pause between scan passes (ms); 0 = no loop (call scanOnce yourself). */
  scanIntervalMs: number;
  lookbackHours: number;
  lookaheadHours: number;
  pairGraceMs: number;
  orgRefreshPasses: number;
  dayHourPadding: DayHourPadding;
  maxRangeHoursPerPass: number;
  s3Concurrency: number;
  /** Where the checkpoint lives; bucket defaults to `bucket`, key to `_custody/exports-watch/{watcherName}/checkpoint.json`. */
  checkpointBucket?: string;
  checkpointKey?: string;
  /** S3 event notifications topic; unset = scan only. */
  s3Events?: Partial<S3EventsOptions> & Readonly<{ topic: string }>;
  /**
   * Attach the facts of custody-run bulk jobs (their ledgers, `_custody/export-jobs/` in `bucket`) to the exports
   * they cover; ledgers are re-listed before every pass.
   */
  jobLedgers: boolean;
  /** Allowed gap between custody's clock and S3 LastModified when matching an export to a job's execution (ms). */
  jobLedgerSkewMs: number;
}>;

/** Defaults of every optional setting. */
export const DEFAULT_EXPORTS_WATCH_OPTIONS = {
  prefix: '',
  watcherName: 'default',
  version: EXPORTS_WATCH_VERSION,
  scanIntervalMs: 60_000,
  lookbackHours: 48,
  lookaheadHours: 1,
  pairGraceMs: 10 * 60_000,
  orgRefreshPasses: 10,
  dayHourPadding: 'both',
  maxRangeHoursPerPass: 48,
  s3Concurrency: 8,
  jobLedgers: true,
  jobLedgerSkewMs: 5 * 60_000,
} as const satisfies Partial<ExportsWatchOptions>;

/** Defaults of the S3-event path. */
export const DEFAULT_S3_EVENTS_OPTIONS = {
  groupId: 'custody-exports-watch-s3events',
  fromBeginning: true,
  maxMessagesPerProduce: 100,
} as const satisfies Partial<S3EventsOptions>;

export type ExportsWatchDeps = Readonly<{
  s3: S3Client;
  producer: RecordProducer;
  encoders: ExportsWatchEncoders;
  log: Logger;
  /** Needed only with `s3Events`. */
  kafka?: Kafka;
  /** Metrics are registered here (once per registry); or pass `metrics`. */
  registry?: Registry;
  metrics?: ExportsWatchMetrics;
  /** custody's clock (epoch ms); `Date.now` by default. */
  now?: () => number;
}>;

export type RunningExportsWatch = Readonly<{
  /** Runs one scan pass now (after any pass in progress) and reports what it did. */
  scanOnce(): Promise<ScanReport>;
  /** Lists the hour folders of `from … to` over the next passes (a backfill after a bulk export). */
  requestRange(from: Date | number, to: Date | number): void;
  /** Undefined when healthy; else why not (for /readyz). */
  notReadyReason(): string | undefined;
  /** Stops the loop and the consumer, after the pass in progress. Does not close the producer it was given. */
  stop(): Promise<void>;
}>;

/** The checkpoint key of a watcher. */
export function defaultCheckpointKey(watcherName: string): string {
  return `_custody/exports-watch/${watcherName}/checkpoint.json`;
}

/**
 * Starts the role: reads the checkpoint (failing fast if it is invalid), starts the S3-event consumer when
 * configured, and the scan loop when `scanIntervalMs > 0` (first pass immediately).
 */
export async function startExportsWatch(
  deps: ExportsWatchDeps,
  options: Partial<ExportsWatchOptions> & Pick<ExportsWatchOptions, 'bucket' | 'topics' | 'instance'>,
): Promise<RunningExportsWatch> {
  const o: ExportsWatchOptions = { ...DEFAULT_EXPORTS_WATCH_OPTIONS, ...options };
  if (!/^[A-Za-z0-9._-]{1,100}$/.test(o.watcherName)) {
    throw new RangeError('watcherName must be 1-100 characters of [A-Za-z0-9._-]');
  }
  const now = deps.now ?? Date.now;
  const metrics = deps.metrics ?? (deps.registry ? exportsWatchMetrics(deps.registry) : NO_METRICS);
  const log = deps.log.child({ stage: 'exports', component: 'exports-watch', watcher: o.watcherName });
  const ledgers = o.jobLedgers
    ? new JobLedgerIndex(new S3JobLedgerStore(deps.s3, o.bucket), log, o.jobLedgerSkewMs)
    : undefined;
  const scanner = new ExportScanner(
    {
      s3: deps.s3,
      producer: deps.producer,
      encoders: deps.encoders,
      log,
      metrics,
      now,
      jobFacts: ledgers ? (c, t) => ledgers.factsFor(c, t) : undefined,
    },
    {
      bucket: o.bucket,
      prefix: o.prefix,
      watcherName: o.watcherName,
      lookbackHours: o.lookbackHours,
      lookaheadHours: o.lookaheadHours,
      pairGraceMs: o.pairGraceMs,
      orgRefreshPasses: o.orgRefreshPasses,
      dayHourPadding: o.dayHourPadding,
      maxRangeHoursPerPass: o.maxRangeHoursPerPass,
      s3Concurrency: o.s3Concurrency,
      topics: o.topics,
      detector: { instance: o.instance, version: o.version },
      checkpoint: {
        bucket: o.checkpointBucket ?? o.bucket,
        key: o.checkpointKey ?? defaultCheckpointKey(o.watcherName),
      },
    },
  );
  await scanner.load();
  await ledgers?.refresh();
  /** One scan pass, with the job ledgers re-read first (so exports of a job executed since carry its facts). */
  const scanOnce = async (): Promise<ScanReport> => {
    await ledgers?.refresh();
    return scanner.scanOnce();
  };

  let events: RunningS3Events | undefined;
  if (o.s3Events) {
    if (!deps.kafka) throw new RangeError('s3Events needs deps.kafka');
    events = await startS3Events(
      {
        kafka: deps.kafka,
        s3: deps.s3,
        producer: deps.producer,
        encoders: deps.encoders,
        log,
        metrics,
        now,
        scanner,
      },
      {
        bucket: o.bucket,
        prefix: o.prefix,
        topics: o.topics,
        detector: { instance: o.instance, version: o.version },
      },
      { ...DEFAULT_S3_EVENTS_OPTIONS, ...o.s3Events },
    );
  }

  let stopped = false;
  let fatal: string | undefined;
  let lastError: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<unknown> = Promise.resolve();

  const pass = async (): Promise<void> => {
    try {
      const report = await scanOnce();
      lastError = undefined;
      log[report.recordingsEmitted > 0 || report.invalidKeys > 0 ? 'info' : 'debug'](
        { ...report },
        'scan pass done',
      );
    } catch (e) {
      lastError = e instanceof Error ? e.message : String(e);
      if (e instanceof CheckpointError && e.code === 'CUSTODY_SINK_CHECKPOINT_INVALID') fatal = lastError;
      log.error({ err: e }, 'scan pass failed; retrying at the next interval');
    }
  };
  const loop = (): void => {
    if (stopped || fatal) return;
    inFlight = pass().finally(() => {
      if (!stopped && !fatal) timer = setTimeout(loop, o.scanIntervalMs);
    });
  };
  if (o.scanIntervalMs > 0) loop();

  return {
    scanOnce,
    requestRange(from, to) {
      scanner.requestRange(
        typeof from === 'number' ? from : from.getTime(),
        typeof to === 'number' ? to : to.getTime(),
      );
    },
    notReadyReason() {
      if (fatal) return `exports watch stopped: ${fatal}`;
      const crashed = events?.crashed();
      if (crashed) return `S3 events consumer crashed: ${crashed}`;
      return lastError ? `last scan pass failed: ${lastError}` : undefined;
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await inFlight;
      await events?.stop();
    },
  };
}
