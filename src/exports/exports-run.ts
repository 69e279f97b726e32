/**
 * `custody exports run`: creates and executes a Genesys recording bulk EXPORT job for an interval of
 * conversations, records its facts for the recordings it covers, and (with `wait`) publishes its exports.
 *
 * Steps, each persisted in the job ledger (`_custody/export-jobs/{jobId}.json`, export-job-ledger.ts) before the
 * next, so a crash loses nothing and `resumeJobId` continues where it stopped:
 * 1. POST the job (waiting out the org's two-job limit), ledger written with its first state.
 * 2. When READY: list the conversations its query covers (analytics detail query, same interval and filters) into
 *    the ledger, then execute it with the same OAuth client (Genesys: only the creator may).
 * 3. Poll to FULFILLED / FAILED / CANCELLED; every state custody observes goes into the ledger with custody's
 *    clock (and Genesys's `dateCreated` for the first).
 * 4. Recordings Genesys lists as failed go to the dead-letter topic (their exports will never come), once each.
 * 5. With `wait`: publish each covered export as it lands (detectedBy `job`, with the job facts; an object
 *    published alone after the pairing grace is published again with its sibling when that lands). Either way
 *    `custody exports watch` attaches the job facts to every covered export it detects, through the ledger, so the
 *    sink's manifests get `export_job_created/executed/fulfilled` custody events.
 *
 * Why both paths. FULFILLED only means the exports are scheduled: Genesys writes them at the export date, which
 * may come after this process has exited, so the facts must live somewhere durable that the long-running watcher
 * reads (the ledger in S3, beside the watcher's own checkpoint; restart-safe for both processes, no new topic).
 * But a job usually exports old conversations, into hour folders outside the watcher's scan window; the run knows
 * exactly which folders, so with `wait` it finds and publishes them itself. The two may publish the same export;
 * the sink merges them (same job: union of observed states), so that is harmless.
 *
 * Why no Avro change. recording-export.v1's `job` field already carries id, creator and observed states. Genesys's
 * own `dateCreated` stays in the ledger (and this run's report) rather than in a new field: a changed schema
 * has a new single-object fingerprint, and decoders resolve only the current one, so records already on the topic
 * would become unreadable.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { RecordProducer } from '../kafka/record-producer.ts';
import { componentLogger } from '../observability/logger.ts';
import type { Logger } from '../observability/logger.ts';
import { CUSTODY_VERSION } from '../version.ts';
import type { CollectReport } from './export-job-collector.ts';
import { collectJobExports } from './export-job-collector.ts';
import type { ExportJobLedger, JobCoverage } from './export-job-ledger.ts';
import { LEDGER_FORMAT, ledgerKey } from './export-job-ledger.ts';
import { S3JobLedgerStore } from './export-job-ledger-store.ts';
import type { JobProgress, JobRunnerOptions, JobTarget } from './export-job-runner.ts';
import {
  abortableSleep,
  DEFAULT_JOB_RUNNER_OPTIONS,
  ExportJobError,
  runExportJob,
} from './export-job-runner.ts';
import type { JobTotals, ObservedJobState } from './export-job-state.ts';
import { exportJobQuery, invalidRequestReason } from './export-job-state.ts';
import type { RecordingJobsApi } from './export-jobs-api.ts';
import type { ExportsWatchEncoders } from './export-records.ts';
import { failedJobRecordingDeadLetter } from './export-records.ts';
import { DependencyWaits } from './export-retry.ts';
import type { DayHourPadding } from './export-window.ts';

export type ExportsRunDeps = Readonly<{
  /** One OAuth client for the whole run (it creates and must execute the job). */
  api: RecordingJobsApi;
  s3: S3Client;
  producer: RecordProducer;
  encoders: ExportsWatchEncoders;
  log: Logger;
  /** custody's clock (epoch ms); default Date.now. */
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Aborting stops waiting; the ledger holds the progress for `resumeJobId`. */
  signal?: AbortSignal;
}>;

export type ExportsRunOptions = Readonly<{
  /** Conversations overlapping `from … to` (ignored with `resumeJobId`). */
  from?: Date | number;
  to?: Date | number;
  /** The aws-s3-recording-bulk-actions integration writing to `bucket` (ignored with `resumeJobId`). */
  integrationId?: string;
  /** When Genesys should write the exports; default now. */
  actionDate?: Date | number;
  /**
   * Include screen recordings (default false: custody's manifests cover call audio, `.opus`; Genesys's default is
   * true, and screen-recording files, whose format is UNCONFIRMED, would never match and make `wait` time out).
   */
  includeScreenRecordings?: boolean;
  /** Continue an earlier run's job (after a crash or timeout) instead of creating one. */
  resumeJobId?: string;
  /** Also wait for the exports and publish them (detectedBy `job`). */
  wait: boolean;
  /** Export bucket (S3_BUCKET); the ledger is written there too. */
  bucket: string;
  /** Export prefix before `{orgId}` (CUSTODY_EXPORTS_PREFIX). */
  prefix: string;
  dayHourPadding: DayHourPadding;
  topics: Readonly<{ recordingExports: string; dlq: string }>;
  instance: string;
  version?: string;
  job?: Partial<JobRunnerOptions>;
  collect?: Partial<CollectTuning>;
}>;

/** Tuning of the `wait` phase. */
export type CollectTuning = Readonly<{
  intervalMs: number;
  /** How long after the export date (or now, if later) to keep waiting. */
  timeoutMs: number;
  pairGraceMs: number;
  skewMs: number;
  s3Concurrency: number;
}>;

export const DEFAULT_COLLECT_TUNING: CollectTuning = {
  intervalMs: 60_000,
  timeoutMs: 2 * 3_600_000,
  pairGraceMs: 10 * 60_000,
  skewMs: 5 * 60_000,
  s3Concurrency: 8,
};

/** What the run did. */
export type ExportsRunReport = Readonly<{
  jobId: string;
  createdBy: string | null;
  finalState: string;
  states: readonly ObservedJobState[];
  totals: JobTotals | null;
  errorMessage: string | null;
  orgLimitWaits: number;
  coveredConversations: number;
  failedRecordings: number;
  ledger: Readonly<{ bucket: string; key: string }>;
  /** Null without `wait`. */
  exports: CollectReport | null;
}>;

const ms = (v: Date | number | undefined): number => (v instanceof Date ? v.getTime() : (v ?? Number.NaN));

/** Runs `custody exports run`. See the module comment. Rejects with ExportJobError or GenesysApiError. */
export async function runExportsRun(
  deps: ExportsRunDeps,
  options: ExportsRunOptions,
): Promise<ExportsRunReport> {
  const now = deps.now ?? Date.now;
  const version = options.version ?? CUSTODY_VERSION;
  const log = componentLogger(deps.log, 'exports', { component: 'exports-run' });
  const store = new S3JobLedgerStore(deps.s3, options.bucket);

  let target: JobTarget;
  let postedInterval: string | undefined;
  let actionDate: string | null = null;
  if (options.resumeJobId !== undefined) {
    const stored = await store.read(options.resumeJobId);
    target = { resume: options.resumeJobId, states: stored?.ledger.states };
    log.info({ jobId: options.resumeJobId, ledger: stored !== undefined }, 'resuming recording export job');
  } else {
    const request = {
      fromMs: ms(options.from),
      toMs: ms(options.to),
      integrationId: options.integrationId ?? '',
      actionDateMs: options.actionDate === undefined ? now() : ms(options.actionDate),
      includeScreenRecordings: options.includeScreenRecordings ?? false,
    };
    const invalid = invalidRequestReason(request);
    if (invalid !== undefined) throw new ExportJobError('CUSTODY_SINK_EXPORT_JOB_INVALID', invalid);
    const query = exportJobQuery(request);
    postedInterval = query.conversationQuery?.interval;
    actionDate = query.actionDate ?? null;
    target = { create: query };
  }

  let ledger: ExportJobLedger | undefined;
  const save = async (patch: Partial<ExportJobLedger>): Promise<void> => {
    if (ledger === undefined) return;
    ledger = await store.save({ ...ledger, ...patch, updatedAtMs: now() });
  };
  const fromProgress = (p: JobProgress): Partial<ExportJobLedger> => ({ states: p.states, totals: p.totals });
  const listCoverage = async (p: JobProgress): Promise<JobCoverage> => {
    const query = p.job.recordingJobsQuery?.conversationQuery;
    if (query === undefined)
      throw new ExportJobError('CUSTODY_SINK_EXPORT_JOB_INVALID', 'job has no query', p.jobId);
    const conversations: Record<string, number> = {};
    let totalHits = 0;
    for await (const page of deps.api.coveredConversations(query)) {
      totalHits = page.totalHits;
      for (const c of page.conversations) conversations[c.conversationId] = c.conversationStartMs;
    }
    const coverage: JobCoverage = {
      listedAtMs: now(),
      totalHits,
      jobTotalConversations: p.totals?.conversations ?? null,
      conversations,
    };
    const listed = Object.keys(conversations).length;
    if (coverage.jobTotalConversations !== null && coverage.jobTotalConversations !== listed) {
      log.warn(
        { jobId: p.jobId, listed, jobTotalConversations: coverage.jobTotalConversations },
        'analytics lists a different number of conversations than the job counted (analytics data still arriving?)',
      );
    }
    return coverage;
  };

  const outcome = await runExportJob(
    { api: deps.api, now, sleep: deps.sleep, log, signal: deps.signal },
    target,
    { ...DEFAULT_JOB_RUNNER_OPTIONS, ...options.job },
    {
      onCreated: async (p) => {
        const q = p.job.recordingJobsQuery;
        ledger = {
          format: LEDGER_FORMAT,
          jobId: p.jobId,
          createdBy: p.createdBy,
          runner: { instance: options.instance, version },
          request: {
            action: q?.action ?? 'EXPORT',
            actionDate: q?.actionDate ?? actionDate,
            integrationId: q?.integrationId ?? options.integrationId ?? null,
            interval: q?.conversationQuery?.interval ?? postedInterval ?? '',
          },
          states: p.states,
          totals: p.totals,
          errorMessage: null,
          coverage: null,
          failedRecordings: [],
          published: [],
          updatedAtMs: now(),
        };
        await save({});
      },
      beforeExecute: async (p) => {
        // Exports can appear as soon as the job runs: the watcher must be able to attribute them by then.
        await save({ ...fromProgress(p), coverage: ledger?.coverage ?? (await listCoverage(p)) });
      },
      onState: (p) => save(fromProgress(p)),
    },
  );
  if (ledger === undefined)
    throw new ExportJobError('CUSTODY_SINK_EXPORT_JOB_INVALID', 'no ledger', outcome.jobId);
  const before: ExportJobLedger = ledger;
  if (before.coverage === null && outcome.finalState !== 'CANCELLED') {
    log.warn({ jobId: outcome.jobId }, 'job was executed before custody listed its coverage; listing it now');
    const job = await deps.api.getJob(outcome.jobId);
    await save({ coverage: await listCoverage({ ...outcome, job, totals: outcome.totals }) });
  }

  // Dead letters before the ledger: a crash in between re-sends them rather than losing them.
  const known = new Set(before.failedRecordings.map((f) => `${f.conversationId}/${f.recordingId}`));
  const fresh = outcome.failedRecordings.filter((f) => !known.has(`${f.conversationId}/${f.recordingId}`));
  await deps.producer.send(
    fresh.map((f) =>
      failedJobRecordingDeadLetter({
        encoders: deps.encoders,
        topic: options.topics.dlq,
        jobId: outcome.jobId,
        jobState: outcome.finalState,
        conversationId: f.conversationId,
        recordingId: f.recordingId,
        reason: `Genesys recording job ${outcome.jobId} (${outcome.finalState}) failed for this recording${
          outcome.errorMessage ? `: ${outcome.errorMessage.slice(0, 500)}` : ''
        }; it will not be exported`,
        nowMs: now(),
        instance: options.instance,
      }),
    ),
  );
  if (fresh.length > 0) {
    log.error({ jobId: outcome.jobId, failedRecordings: fresh.length }, 'failed recordings dead-lettered');
  }
  await save({
    states: outcome.states,
    totals: outcome.totals,
    errorMessage: outcome.errorMessage,
    failedRecordings: outcome.failedRecordings,
  });

  let exports: CollectReport | null = null;
  const saved: ExportJobLedger = ledger;
  if (options.wait && outcome.finalState !== 'CANCELLED') {
    const tuning = { ...DEFAULT_COLLECT_TUNING, ...options.collect };
    const exportAt = saved.request.actionDate === null ? now() : Date.parse(saved.request.actionDate);
    const untilExportDate = Number.isFinite(exportAt) ? Math.max(0, exportAt - now()) : 0;
    exports = await collectJobExports(
      {
        s3: deps.s3,
        producer: deps.producer,
        encoders: deps.encoders,
        log,
        now,
        sleep: (t) => (deps.sleep ?? abortableSleep)(t, deps.signal),
        // S3 throttling or a broker restarting while the exports land: waited out, not the end of the run.
        retry: new DependencyWaits({ log, signal: deps.signal }).run,
      },
      {
        bucket: options.bucket,
        prefix: options.prefix,
        dayHourPadding: options.dayHourPadding,
        topic: options.topics.recordingExports,
        dlqTopic: options.topics.dlq,
        detector: { instance: options.instance, version },
        intervalMs: tuning.intervalMs,
        timeoutMs: tuning.timeoutMs + untilExportDate,
        pairGraceMs: tuning.pairGraceMs,
        skewMs: tuning.skewMs,
        s3Concurrency: tuning.s3Concurrency,
      },
      saved,
      (published) => save({ published }),
    );
  }
  const final: ExportJobLedger = ledger;
  return {
    jobId: outcome.jobId,
    createdBy: outcome.createdBy,
    finalState: outcome.finalState,
    states: outcome.states,
    totals: outcome.totals,
    errorMessage: outcome.errorMessage,
    orgLimitWaits: outcome.orgLimitWaits,
    coveredConversations: Object.keys(final.coverage?.conversations ?? {}).length,
    failedRecordings: outcome.failedRecordings.length,
    ledger: { bucket: options.bucket, key: ledgerKey(outcome.jobId) },
    exports,
  };
}
