/**
 * Runs one Genesys recording bulk EXPORT job through its lifecycle (research genesys.md §1.6):
 * POST → poll until READY → PUT `{state:"PROCESSING"}` → poll until FULFILLED, FAILED or CANCELLED → the recordings
 * it failed for.
 *
 * Platform rules it respects:
 * - At most two jobs per org may be PENDING or PROCESSING. A POST (or the PUT that moves a READY job to
 *   PROCESSING) refused for that reason is retried after an exponential back-off with jitter, each wait logged;
 *   other custody runs and other tools share the limit, so waiting is the only correct answer. A READY job does
 *   not count against the limit, so waiting at READY cannot deadlock the org.
 * - Only the job's creator may execute it: the same {@link RecordingJobsApi} instance (one OAuth client) creates
 *   and executes. A 403 on execute (e.g. resuming another client's job) is fatal and says why.
 *
 * Polling starts at `pollIntervalMs` and backs off (×2 with jitter, up to `maxPollIntervalMs`) while the state does
 * not change; a change resets it. Hooks let the caller persist progress (the job ledger) before each next step;
 * they are awaited, so the job is never executed before its coverage is stored. A run can resume a job by id
 * (after a crash, from its ledger): it continues from whatever state the job is in.
 */
import type { Models } from 'purecloud-platform-client-v2';
import type { Logger } from '../observability/logger.ts';
import type { FailedRecording } from './export-job-ledger.ts';
import { isGenesysEnum } from '../enrich/genesys-enum.ts';
import type { JobTotals, ObservedJobState } from './export-job-state.ts';
import {
  backoffMs,
  classifyJobFailure,
  isTerminalState,
  jobTotals,
  observeJobState,
} from './export-job-state.ts';
import type { RecordingJobsApi } from './export-jobs-api.ts';

/** Why a job run stopped without a final state (the job itself may still be alive: resume it). */
export class ExportJobError extends Error {
  readonly code:
    | 'CUSTODY_SINK_EXPORT_JOB_NOT_CREATOR'
    | 'CUSTODY_SINK_EXPORT_JOB_TIMEOUT'
    | 'CUSTODY_SINK_EXPORT_JOB_ABORTED'
    | 'CUSTODY_SINK_EXPORT_JOB_INVALID';
  readonly retriable: boolean;
  readonly jobId: string | undefined;
  constructor(code: ExportJobError['code'], message: string, jobId?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ExportJobError';
    this.code = code;
    this.jobId = jobId;
    this.retriable = code === 'CUSTODY_SINK_EXPORT_JOB_TIMEOUT' || code === 'CUSTODY_SINK_EXPORT_JOB_ABORTED';
  }
}

export type JobRunnerDeps = Readonly<{
  api: RecordingJobsApi;
  /** custody's clock (epoch ms). */
  now: () => number;
  /** Waits `ms`; rejects when `signal` aborts. Default: setTimeout. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** [0, 1); default Math.random (jitter only). */
  random?: () => number;
  log: Logger;
  /** Stops waiting (the job is left as it is; resume it later). */
  signal?: AbortSignal;
}>;

export type JobRunnerOptions = Readonly<{
  /** First pause between two GETs of the job (ms). */
  pollIntervalMs: number;
  /** Longest pause between two GETs (ms). */
  maxPollIntervalMs: number;
  /** First wait after the org's two-job limit refused a POST or PUT (ms), doubled per refusal. */
  orgLimitBackoffMs: number;
  /** Longest such wait (ms). */
  maxOrgLimitBackoffMs: number;
  /** Give up (CUSTODY_SINK_EXPORT_JOB_TIMEOUT; resumable) when the job is not final this long after the start. */
  timeoutMs: number;
}>;

export const DEFAULT_JOB_RUNNER_OPTIONS: JobRunnerOptions = {
  pollIntervalMs: 2_000, // the official tutorial polls every 2 s
  maxPollIntervalMs: 30_000,
  orgLimitBackoffMs: 5_000,
  maxOrgLimitBackoffMs: 120_000,
  timeoutMs: 6 * 3_600_000, // "up to an hour for 500K conversations" per the tutorial, with margin
};

/** What is known of the job after each step. */
export type JobProgress = Readonly<{
  jobId: string;
  createdBy: string | null;
  job: Models.RecordingJob;
  states: readonly ObservedJobState[];
  totals: JobTotals | null;
}>;

/** Called as the job moves on; awaited (a rejection stops the run). */
export type JobRunnerHooks = Readonly<{
  /** After the POST was accepted (or a resumed job was first read). */
  onCreated?: (p: JobProgress) => Promise<void>;
  /** The job is READY and about to be executed: persist what must exist before exports can appear. */
  beforeExecute?: (p: JobProgress) => Promise<void>;
  /** After every newly observed state. */
  onState?: (p: JobProgress) => Promise<void>;
}>;

/** The job's end as custody saw it. */
export type ExportJobOutcome = Readonly<{
  jobId: string;
  createdBy: string | null;
  finalState: string;
  states: readonly ObservedJobState[];
  totals: JobTotals | null;
  errorMessage: string | null;
  failedRecordings: readonly FailedRecording[];
  /** How often the org's two-job limit made the run wait. */
  orgLimitWaits: number;
}>;

/** Start a new job from a query, or resume an existing one (its previously observed states, if any). */
export type JobTarget =
  | Readonly<{ create: Models.RecordingJobsQuery }>
  | Readonly<{ resume: string; states?: readonly ObservedJobState[] }>;

/** Waits `ms` (setTimeout); rejects with the signal's reason when it aborts. */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(done, ms);
    function done(): void {
      signal?.removeEventListener('abort', abort);
      resolve();
    }
    function abort(): void {
      clearTimeout(timer);
      reject(signal?.reason);
    }
    signal?.addEventListener('abort', abort, { once: true });
  });
}

/** Runs (or resumes) one job to a final state. See the module comment. */
export async function runExportJob(
  deps: JobRunnerDeps,
  target: JobTarget,
  options: JobRunnerOptions = DEFAULT_JOB_RUNNER_OPTIONS,
  hooks: JobRunnerHooks = {},
): Promise<ExportJobOutcome> {
  const { api, now, log } = deps;
  const random = deps.random ?? Math.random;
  const deadline = now() + options.timeoutMs;
  let orgLimitWaits = 0;
  let orgAttempt = 0;
  let jobId: string | undefined;

  const sleep = async (ms: number): Promise<void> => {
    if (now() + ms > deadline) {
      throw new ExportJobError(
        'CUSTODY_SINK_EXPORT_JOB_TIMEOUT',
        `recording job ${jobId ?? '(not created)'} not final after ${options.timeoutMs} ms; resume it later`,
        jobId,
      );
    }
    try {
      await (deps.sleep ?? abortableSleep)(ms, deps.signal);
    } catch (e) {
      throw new ExportJobError(
        'CUSTODY_SINK_EXPORT_JOB_ABORTED',
        'stopped while waiting for the job',
        jobId,
        {
          cause: e,
        },
      );
    }
  };
  const waitForOrgLimit = async (step: 'create' | 'execute'): Promise<void> => {
    const waitMs = backoffMs(orgAttempt++, options.orgLimitBackoffMs, options.maxOrgLimitBackoffMs, random());
    orgLimitWaits++;
    log.warn(
      { jobId, step, waitMs, refusals: orgLimitWaits },
      'Genesys refused: the org already runs its maximum of two pending/processing recording jobs; waiting before retrying',
    );
    await sleep(waitMs);
  };

  let job: Models.RecordingJob;
  let states: readonly ObservedJobState[];
  if ('create' in target) {
    for (;;) {
      try {
        job = await api.createJob(target.create);
        break;
      } catch (e) {
        if (classifyJobFailure(e) !== 'org-job-limit') throw e;
        await waitForOrgLimit('create');
      }
    }
    states = observeJobState([], job, now());
  } else {
    jobId = target.resume;
    job = await api.getJob(target.resume);
    states = observeJobState(target.states ?? [], job, now());
  }
  if (job.id === undefined || job.id === '') {
    throw new ExportJobError('CUSTODY_SINK_EXPORT_JOB_INVALID', 'Genesys answered a job without an id');
  }
  jobId = job.id;
  const id = job.id;
  const createdBy = job.user?.id ?? null;
  const progress = (): JobProgress => ({ jobId: id, createdBy, job, states, totals: jobTotals(job) });
  log.info({ jobId: id, createdBy, state: job.state }, 'recording export job created');
  await hooks.onCreated?.(progress());

  let executed = states.some((s) => isGenesysEnum(s.state, 'PROCESSING') || isTerminalState(s.state));
  let pollAttempt = 0;
  const note = async (next: Models.RecordingJob): Promise<void> => {
    job = next;
    const before = states;
    states = observeJobState(states, next, now());
    if (states !== before) {
      pollAttempt = 0;
      log.info({ jobId: id, state: next.state, totals: jobTotals(next) }, 'recording export job state');
      await hooks.onState?.(progress());
    }
  };

  while (!isTerminalState(job.state)) {
    if (isGenesysEnum(job.state, 'READY') && !executed) {
      await hooks.beforeExecute?.(progress());
      try {
        await note(await api.executeJob(id));
        executed = true;
        orgAttempt = 0;
        log.info({ jobId: id }, 'recording export job executed');
        continue;
      } catch (e) {
        const kind = classifyJobFailure(e);
        if (kind === 'not-creator') {
          throw new ExportJobError(
            'CUSTODY_SINK_EXPORT_JOB_NOT_CREATOR',
            `recording job ${id} was created by ${createdBy ?? 'another user'}; Genesys lets only its creator execute it (use that OAuth client)`,
            id,
            { cause: e },
          );
        }
        if (kind === 'org-job-limit') {
          await waitForOrgLimit('execute');
        } else {
          // An earlier run may have executed it already (crash after the PUT): only a job still READY is an error.
          const fresh = await api.getJob(id);
          if (isGenesysEnum(fresh.state, 'READY')) throw e;
          executed = true;
          await note(fresh);
          continue;
        }
      }
    } else {
      await sleep(backoffMs(pollAttempt++, options.pollIntervalMs * 2, options.maxPollIntervalMs, random()));
    }
    await note(await api.getJob(id));
  }

  const totals = jobTotals(job);
  const failedRecordings: FailedRecording[] = [];
  if (isGenesysEnum(job.state, 'FAILED') || (totals?.failed ?? 0) > 0) {
    for await (const f of api.failedRecordings(id)) {
      if (f.conversation?.id && f.recording?.id) {
        failedRecordings.push({ conversationId: f.conversation.id, recordingId: f.recording.id });
      }
    }
  }
  log[isGenesysEnum(job.state, 'FULFILLED') ? 'info' : 'error'](
    { jobId: id, state: job.state, totals, failedRecordings: failedRecordings.length },
    'recording export job finished',
  );
  return {
    jobId: id,
    createdBy,
    finalState: job.state,
    states,
    totals,
    errorMessage: job.errorMessage ?? null,
    failedRecordings,
    orgLimitWaits,
  };
}
