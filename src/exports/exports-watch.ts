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
 * path, or by the scanner after {@link RunningExportsWatch.requestRange}; hours that slid out of the window while
 * the watch was down are caught up from the checkpoint's high-water hour (export-scanner.ts).
 *
 * Unattended operation. Every S3 and Kafka call (checkpoint, listings, HEADs, producing, the event consumer) that
 * fails retriably — the export bucket not created yet, throttling, a broker restarting — is waited out in place
 * with capped exponential backoff and jitter (export-retry.ts): the watch is not ready meanwhile (the reason is a
 * condition in `deps.conditions`, else in {@link RunningExportsWatch.notReadyReason}), and logs one line when the
 * wait starts and one when it ends. Anything else that stops the scan loop or the event consumer for good (a
 * fatal AccessDenied, an invalid checkpoint, a bug) rejects {@link RunningExportsWatch.failed} and calls
 * `deps.onFailure`, so the process ends and its supervisor restarts it: nothing lingers alive but idle.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { Kafka } from 'kafkajs';
import type { Registry } from 'prom-client';
import type { RecordProducer } from '../kafka/record-producer.ts';
import { componentLogger } from '../observability/logger.ts';
import type { Logger } from '../observability/logger.ts';
import type { BackoffPolicy } from '../runtime/backoff.ts';
import { Conditions } from '../runtime/conditions.ts';
import { describeError, isFatal, ShutdownError } from '../runtime/errors.ts';
import { JobLedgerIndex, S3JobLedgerStore } from './export-job-ledger-store.ts';
import type { ExportsWatchMetrics } from './export-metrics.ts';
import { exportsWatchMetrics, NO_METRICS } from './export-metrics.ts';
import type { ExportsWatchEncoders } from './export-records.ts';
import type { RunningS3Events, S3EventsOptions } from './export-s3-events.ts';
import { startS3Events } from './export-s3-events.ts';
import type { ScanReport } from './export-scanner.ts';
import { ExportScanner } from './export-scanner.ts';
import type { DayHourPadding } from './export-window.ts';
import { DEFAULT_MAX_RECORDS_PER_SEND } from './export-publish.ts';
import { DependencyWaits, s3Dependency } from './export-retry.ts';
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
  /**
   * Records per `producer.send`: a pass publishes in chunks of at most this many, and its checkpoint advances
   * chunk by chunk, only over what the broker acknowledged.
   */
  maxRecordsPerSend: number;
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
  maxRecordsPerSend: DEFAULT_MAX_RECORDS_PER_SEND,
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
  /**
   * The role's readiness conditions: while S3 or Kafka is waited for, `waiting for <what>: <reason>` is set
   * here. Without it the watch keeps its own, reported by `notReadyReason()`.
   */
  conditions?: Conditions;
  /** Aborting ends every wait (start-up included) with ShutdownError; a pass that meets no failure finishes. */
  signal?: AbortSignal;
  /** Called once when the scan loop or the S3-event consumer stopped for good (also: `failed`). */
  onFailure?: (error: unknown) => void;
  /** Backoff of the waits (default: the runtime's, 250 ms doubling to 10 s). */
  backoff?: BackoffPolicy;
}>;

export type RunningExportsWatch = Readonly<{
  /** Runs one scan pass now (after any pass in progress) and reports what it did. */
  scanOnce(): Promise<ScanReport>;
  /** Lists the hour folders of `from … to` over the next passes (a backfill after a bulk export). */
  requestRange(from: Date | number, to: Date | number): void;
  /** Undefined when healthy; else why not (for /readyz). */
  notReadyReason(): string | undefined;
  /**
   * Rejects, with the error, when the scan loop or the S3-event consumer stopped for good (never for a retriable
   * error: those are waited out). The composition root ends the process then. Never resolves.
   */
  failed: Promise<never>;
  /**
   * Stops the loop and the consumer, after the pass in progress (a pass waiting for S3 or Kafka stops waiting).
   * Does not close the producer it was given.
   */
  stop(): Promise<void>;
}>;

/** Pause between passes while backfill or catch-up hours remain, instead of the scan interval. */
const BACKLOG_PAUSE_MS = 1_000;

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
  const log = componentLogger(deps.log, 'exports', { component: 'exports-watch', watcher: o.watcherName });
  // Our own signal: stop() ends the waits of this watch even when the caller's signal is not aborted.
  const abort = new AbortController();
  const onAbort = () => abort.abort();
  if (deps.signal?.aborted) abort.abort();
  else deps.signal?.addEventListener('abort', onAbort, { once: true });
  const ownConditions = deps.conditions === undefined;
  const conditions = deps.conditions ?? new Conditions(log);
  const waits = new DependencyWaits({ log, conditions, signal: abort.signal, policy: deps.backoff });
  const retry = waits.run;
  const bucketDependency = s3Dependency(o.bucket);

  let stopped = false;
  let failure: unknown;
  let timer: NodeJS.Timeout | undefined;
  let rejectFailed: (e: unknown) => void = () => undefined;
  const failed = new Promise<never>((_, reject) => {
    rejectFailed = reject;
  });
  // Nobody may be listening (a caller that only polls notReadyReason): not an unhandled rejection.
  failed.catch(() => undefined);
  const fail = (e: unknown): void => {
    if (stopped || failure !== undefined) return;
    failure = e;
    if (timer) clearTimeout(timer);
    log.error({ reason: describeError(e), fatal: isFatal(e) }, `exports watch failed: ${describeError(e)}`);
    rejectFailed(e);
    deps.onFailure?.(e);
  };

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
      retry,
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
      maxRecordsPerSend: o.maxRecordsPerSend,
      topics: o.topics,
      detector: { instance: o.instance, version: o.version },
      checkpoint: {
        bucket: o.checkpointBucket ?? o.bucket,
        key: o.checkpointKey ?? defaultCheckpointKey(o.watcherName),
      },
    },
  );
  const refreshLedgers = async (): Promise<void> => {
    if (ledgers) await retry(bucketDependency, () => ledgers.refresh());
  };
  /** One scan pass, with the job ledgers re-read first (so exports of a job executed since carry its facts). */
  const scanOnce = async (): Promise<ScanReport> => {
    await refreshLedgers();
    return scanner.scanOnce();
  };

  let events: RunningS3Events | undefined;
  try {
    // Waits (not ready) while the bucket does not exist yet; an invalid checkpoint or a fatal error throws.
    await scanner.load();
    await refreshLedgers();
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
          retry,
          onStopped: fail,
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
  } catch (e) {
    deps.signal?.removeEventListener('abort', onAbort);
    throw e;
  }

  let inFlight: Promise<unknown> = Promise.resolve();
  /** One pass of the loop; resolves with the pause before the next. */
  const pass = async (): Promise<number> => {
    const report = await scanOnce();
    const busy = report.recordingsEmitted > 0 || report.invalidKeys > 0 || report.recordsTooLarge > 0;
    log[busy || report.backlogHours > 0 ? 'info' : 'debug']({ ...report }, 'scan pass done');
    // Behind (a catch-up or a backfill): the next hours right away, not after a whole interval.
    return report.backlogHours > 0 ? Math.min(o.scanIntervalMs, BACKLOG_PAUSE_MS) : o.scanIntervalMs;
  };
  const loop = (): void => {
    if (stopped || failure !== undefined) return;
    inFlight = pass().then(
      (pauseMs) => {
        if (!stopped && failure === undefined) timer = setTimeout(loop, pauseMs);
      },
      (e: unknown) => {
        // Stopping (stop() or the caller's signal) ends a wait with ShutdownError: not a failure.
        if (e instanceof ShutdownError && abort.signal.aborted) return;
        fail(e);
      },
    );
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
      if (failure !== undefined) return `exports watch failed: ${describeError(failure)}`;
      const crashed = events?.crashed();
      if (crashed) return `S3 events consumer crashed: ${crashed}`;
      return ownConditions ? conditions.notReadyReason() : undefined;
    },
    failed,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      abort.abort();
      await inFlight.catch(() => undefined);
      await events?.stop();
      deps.signal?.removeEventListener('abort', onAbort);
    },
  };
}
