/**
 * Recording bulk jobs (`/api/v2/recording/jobs`), with the real lifecycle (research genesys.md §1.6):
 * POST → PENDING while the conversation query runs → READY (totals known) → PUT `{state:'PROCESSING'}`
 * by the creating OAuth client → PROCESSING → FULFILLED (or FAILED, with failed recordings); DELETE →
 * CANCELLED. At most two jobs per org are PENDING or PROCESSING at once.
 *
 * An EXPORT job only *schedules* exports (each recording's `exportDate`); the S3 write happens when that
 * date comes (exports.ts). A DELETE job fails for recordings of deletion-protected conversations.
 *
 * UNCONFIRMED choices: the first state is PENDING (the tutorial's comment says PROCESSING); a third
 * concurrent job is refused with 400 `bad.request`; executing another client's job is 403
 * `not.authorized`; a job with any failed recording ends FAILED; `actionAge` counts from the recording's
 * creation, taken as its media end.
 */
import { randomUUID } from 'node:crypto';
import type { Models } from 'purecloud-platform-client-v2';
import type { SimRecording } from '../model.ts';
import { apiError } from './context.ts';
import type { ApiRequest, ApiResponse, PlatformContext } from './context.ts';
import { recordingExists } from './conversations.ts';
import { pageListing, readPaging } from './directory.ts';
import { recordingLedger } from './export-ledger.ts';
import { parseDetailQuery, runDetailQuery } from './export-query.ts';
import type { DetailQuery } from './export-query.ts';

export interface RecordingJobOptions {
  /** Simulated ms the job's conversation query runs before READY (default 10 s). */
  readonly queryDelayMs?: number;
  /** Simulated ms execution takes, PROCESSING → FULFILLED (default 10 s). */
  readonly executeDelayMs?: number;
  /** Jobs per org that may be PENDING or PROCESSING at once (default 2, the documented limit). */
  readonly maxConcurrentJobs?: number;
}

type JobState = 'PENDING' | 'READY' | 'PROCESSING' | 'FULFILLED' | 'FAILED' | 'CANCELLED';
type JobAction = 'EXPORT' | 'DELETE' | 'ARCHIVE';
const STATES: readonly JobState[] = ['PENDING', 'READY', 'PROCESSING', 'FULFILLED', 'FAILED', 'CANCELLED'];
const ACTIONS: readonly JobAction[] = ['EXPORT', 'DELETE', 'ARCHIVE'];
const DAY_MS = 86_400_000;

interface Job {
  readonly id: string;
  readonly seq: number;
  readonly owner: string;
  readonly action: JobAction;
  readonly request: Models.RecordingJobsQuery;
  readonly query: DetailQuery;
  readonly dateCreated: number;
  state: JobState;
  /** Set once the query has run (READY). */
  conversations?: number;
  recordings: SimRecording[];
  processed: number;
  skipped: number;
  failed: Models.RecordingJobFailedRecording[];
  errorMessage?: string;
  cancelTimer?: () => void;
}

/** Registers the recording bulk job routes. */
export function registerRecordingJobRoutes(ctx: PlatformContext, opts: RecordingJobOptions = {}): void {
  const queryDelayMs = opts.queryDelayMs ?? 10_000;
  const executeDelayMs = opts.executeDelayMs ?? 10_000;
  const maxConcurrent = opts.maxConcurrentJobs ?? 2;
  const ledger = recordingLedger(ctx);
  const jobs = new Map<string, Job>();
  let seq = 0;

  const active = (): number =>
    [...jobs.values()].filter((j) => j.state === 'PENDING' || j.state === 'PROCESSING').length;
  const tooMany = (): ApiResponse =>
    apiError(
      400,
      'bad.request',
      `Each organization can run up to a maximum of ${maxConcurrent} concurrent jobs that are either in pending or processing state`,
    );

  const runQuery = (job: Job): void => {
    job.cancelTimer = undefined;
    if (job.state !== 'PENDING') return;
    const now = ctx.clock.now();
    const scripts = runDetailQuery(ctx.conversations.all(), job.query, now);
    const includeScreen = job.request.includeScreenRecordings ?? true;
    job.conversations = scripts.length;
    job.recordings = scripts.flatMap((s) =>
      s.recordings.filter((r) => recordingExists(r, now) && (includeScreen || r.mediaSubtype !== 'Screen')),
    );
    job.state = 'READY';
  };

  const execute = (job: Job): void => {
    job.cancelTimer = undefined;
    if (job.state !== 'PROCESSING') return;
    const now = ctx.clock.now();
    for (const rec of job.recordings) {
      const at = job.request.actionDate
        ? Date.parse(job.request.actionDate)
        : rec.endTime + (job.request.actionAge ?? 0) * DAY_MS;
      const retention = ledger.retention(rec);
      const deleted = retention.deleteDate !== undefined && retention.deleteDate <= now;
      if (job.action === 'DELETE') {
        if (ledger.isProtected(rec.conversationId)) {
          job.failed.push({
            conversation: { id: rec.conversationId, selfUri: `/api/v2/conversations/${rec.conversationId}` },
            recording: {
              id: rec.recordingId,
              selfUri: `/api/v2/conversations/${rec.conversationId}/recordings/${rec.recordingId}`,
            },
          });
          continue;
        }
        ledger.setDeleteDate(rec.recordingId, at);
        if (job.request.clearExport) ledger.setExportDate(rec.recordingId, undefined);
        // A pending export due after the deletion is moved to the delete date (RecordingJobsQuery.action).
        else if (
          retention.exportDate !== undefined &&
          retention.exportedDate === undefined &&
          retention.exportDate > at
        ) {
          ledger.setExportDate(rec.recordingId, at);
        }
      } else if (deleted) {
        job.skipped++;
        continue;
      } else if (job.action === 'EXPORT') {
        // "If the operation will cause the delete date ... to be older than the export date, the
        // export date will be adjusted to the delete date."
        const exportAt = retention.deleteDate !== undefined ? Math.min(at, retention.deleteDate) : at;
        ledger.setExportDate(rec.recordingId, exportAt);
      } else {
        ledger.setArchiveDate(rec.recordingId, at);
      }
      job.processed++;
    }
    if (job.failed.length > 0) {
      job.state = 'FAILED';
      job.errorMessage = `${job.failed.length} recording(s) could not be processed (deletion protection)`;
    } else {
      job.state = 'FULFILLED';
    }
  };

  ctx.routes.add('POST', '/api/v2/recording/jobs', (req) => {
    const parsed = parseJobRequest(ctx, req.body);
    if (typeof parsed === 'string') return apiError(400, 'bad.request', parsed);
    if (active() >= maxConcurrent) return tooMany();
    const job: Job = {
      id: randomUUID(),
      seq: seq++,
      owner: ownerOf(req),
      action: parsed.action,
      request: parsed.request,
      query: parsed.query,
      dateCreated: ctx.clock.now(),
      state: 'PENDING',
      recordings: [],
      processed: 0,
      skipped: 0,
      failed: [],
    };
    jobs.set(job.id, job);
    job.cancelTimer = ctx.clock.at(job.dateCreated + queryDelayMs, () => runQuery(job));
    return { status: 202, body: jobView(job) };
  });

  ctx.routes.add('GET', '/api/v2/recording/jobs', (req) => listJobs(req, [...jobs.values()]));

  ctx.routes.add('GET', '/api/v2/recording/jobs/:jobId', (req) => {
    const job = jobs.get(req.params.jobId ?? '');
    if (!job) return jobNotFound(req);
    return { status: 200, body: jobView(job) };
  });

  ctx.routes.add('PUT', '/api/v2/recording/jobs/:jobId', (req) => {
    const job = jobs.get(req.params.jobId ?? '');
    if (!job) return jobNotFound(req);
    const state =
      typeof req.body === 'object' && req.body !== null
        ? (req.body as Record<string, unknown>).state
        : undefined;
    if (state !== 'PROCESSING') return apiError(400, 'bad.request', 'state must be PROCESSING');
    if (job.owner !== ownerOf(req)) {
      return apiError(
        403,
        'not.authorized',
        'A job must be executed by the same user whom originally created the job',
      );
    }
    if (job.state !== 'READY') {
      return apiError(400, 'bad.request', `Job is ${job.state}; only a READY job can be executed`);
    }
    if (active() >= maxConcurrent) return tooMany();
    job.state = 'PROCESSING';
    job.cancelTimer = ctx.clock.at(ctx.clock.now() + executeDelayMs, () => execute(job));
    return { status: 202, body: jobView(job) };
  });

  ctx.routes.add('DELETE', '/api/v2/recording/jobs/:jobId', (req) => {
    const job = jobs.get(req.params.jobId ?? '');
    if (!job) return jobNotFound(req);
    if (job.state === 'FULFILLED' || job.state === 'FAILED' || job.state === 'CANCELLED') {
      return apiError(400, 'bad.request', `Job is ${job.state} and can no longer be cancelled`);
    }
    job.cancelTimer?.();
    job.cancelTimer = undefined;
    job.state = 'CANCELLED';
    return { status: 204 };
  });

  ctx.routes.add('GET', '/api/v2/recording/jobs/:jobId/failedrecordings', (req) => {
    const job = jobs.get(req.params.jobId ?? '');
    if (!job) return jobNotFound(req);
    const paging = readPaging(req.query, 100);
    if ('status' in paging) return paging;
    const listing: Models.FailedRecordingEntityListing = pageListing(
      job.failed,
      paging,
      `/api/v2/recording/jobs/${job.id}/failedrecordings`,
      req.query,
    );
    return { status: 200, body: listing };
  });
}

function ownerOf(req: ApiRequest): string {
  // With client credentials the job's "user" is the OAuth client.
  return req.clientId ?? 'anonymous';
}

function jobNotFound(req: ApiRequest): ApiResponse {
  return apiError(404, 'not.found', `Recording job ${(req.params.jobId ?? '').slice(0, 100)} not found`);
}

function jobView(job: Job): Models.RecordingJob {
  const done = job.state === 'FULFILLED' || job.state === 'FAILED';
  return {
    id: job.id,
    // With client credentials the job's user is the OAuth client, which has no /users resource.
    user: { id: job.owner },
    state: job.state,
    recordingJobsQuery: job.request,
    dateCreated: new Date(job.dateCreated).toISOString(),
    ...(job.conversations !== undefined
      ? { totalConversations: job.conversations, totalRecordings: job.recordings.length }
      : {}),
    totalSkippedRecordings: job.skipped,
    totalFailedRecordings: job.failed.length,
    totalProcessedRecordings: job.processed,
    percentProgress: done ? 100 : 0,
    ...(job.errorMessage ? { errorMessage: job.errorMessage } : {}),
    failedRecordings: `/api/v2/recording/jobs/${job.id}/failedrecordings`,
    selfUri: `/api/v2/recording/jobs/${job.id}`,
  };
}

function listJobs(req: ApiRequest, all: readonly Job[]): ApiResponse {
  const paging = readPaging(req.query, 100);
  if ('status' in paging) return paging;
  const state = req.query.get('state');
  if (state !== null && !STATES.includes(state as JobState)) {
    return apiError(400, 'bad.request', `state must be one of ${STATES.join(', ')}`);
  }
  const jobType = req.query.get('jobType');
  if (jobType !== null && !ACTIONS.includes(jobType as JobAction)) {
    return apiError(400, 'bad.request', `jobType must be one of ${ACTIONS.join(', ')}`);
  }
  const sortBy = req.query.get('sortBy') ?? 'dateCreated';
  if (sortBy !== 'dateCreated' && sortBy !== 'userId') {
    return apiError(400, 'bad.request', 'sortBy must be userId or dateCreated');
  }
  const mine = req.query.get('showOnlyMyJobs') === 'true';
  const owner = ownerOf(req);
  const selected = all
    .filter((j) => (state === null || j.state === state) && (jobType === null || j.action === jobType))
    .filter((j) => !mine || j.owner === owner)
    .sort(
      (a, b) =>
        (sortBy === 'userId' ? a.owner.localeCompare(b.owner) : 0) ||
        a.dateCreated - b.dateCreated ||
        a.seq - b.seq,
    );
  const listing: Models.RecordingJobEntityListing = pageListing(
    selected.map(jobView),
    paging,
    '/api/v2/recording/jobs',
    req.query,
  );
  return { status: 200, body: listing };
}

interface ParsedJob {
  readonly action: JobAction;
  readonly request: Models.RecordingJobsQuery;
  readonly query: DetailQuery;
}

/** Validates a `RecordingJobsQuery`; returns the 400 message when invalid. */
function parseJobRequest(ctx: PlatformContext, body: unknown): ParsedJob | string {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return 'body must be a RecordingJobsQuery object';
  const b = body as Record<string, unknown>;
  const action = b.action;
  if (typeof action !== 'string' || !ACTIONS.includes(action as JobAction)) {
    return `action must be one of ${ACTIONS.join(', ')}`;
  }
  const hasDate = b.actionDate !== undefined;
  const hasAge = b.actionAge !== undefined;
  if (hasDate === hasAge) return 'exactly one of actionDate and actionAge is required';
  if (hasDate && (typeof b.actionDate !== 'string' || !Number.isFinite(Date.parse(b.actionDate)))) {
    return 'actionDate must be an ISO-8601 date-time';
  }
  if (hasAge && !(Number.isInteger(b.actionAge) && (b.actionAge as number) >= 0)) {
    return 'actionAge must be a non-negative integer (days)';
  }
  for (const flag of [
    'includeRecordingsWithSensitiveData',
    'includeScreenRecordings',
    'includePolicyBasedRecordings',
    'includeSnippetRecordings',
    'clearExport',
  ]) {
    if (b[flag] !== undefined && typeof b[flag] !== 'boolean') return `${flag} must be a boolean`;
  }
  if (b.clearExport === true && action !== 'DELETE') return 'clearExport is only valid for the DELETE action';
  if (action === 'EXPORT') {
    if (typeof b.integrationId !== 'string' || b.integrationId === '') {
      return 'integrationId is required for the EXPORT action';
    }
    if (b.integrationId !== ctx.org.integrationId) {
      return `integration ${b.integrationId.slice(0, 100)} is not an aws-s3-recording-bulk-actions-integration of this organization`;
    }
  }
  if (b.agedConversationInterval !== undefined) {
    return 'the emulator does not model agedConversationInterval (conversations older than 5 years)';
  }
  if (b.conversationQuery === undefined) return 'conversationQuery is required';
  const query = parseDetailQuery(b.conversationQuery);
  if (typeof query === 'string') return `conversationQuery: ${query}`;
  const request: Models.RecordingJobsQuery = {
    action,
    ...(hasDate
      ? { actionDate: new Date(Date.parse(b.actionDate as string)).toISOString() }
      : { actionAge: b.actionAge as number }),
    ...(typeof b.integrationId === 'string' ? { integrationId: b.integrationId } : {}),
    includeRecordingsWithSensitiveData:
      (b.includeRecordingsWithSensitiveData as boolean | undefined) ?? false,
    includeScreenRecordings: (b.includeScreenRecordings as boolean | undefined) ?? true,
    includePolicyBasedRecordings: (b.includePolicyBasedRecordings as boolean | undefined) ?? true,
    includeSnippetRecordings: (b.includeSnippetRecordings as boolean | undefined) ?? true,
    ...(action === 'DELETE' ? { clearExport: (b.clearExport as boolean | undefined) ?? false } : {}),
    conversationQuery: b.conversationQuery as Models.AsyncConversationQuery,
  };
  return { action: action as JobAction, request, query };
}
