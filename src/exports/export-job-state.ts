/**
 * The pure rules of running a Genesys recording bulk export job (research genesys.md §1.6): the request custody
 * posts, which states it has observed and when, how it reads the platform's refusals, and its back-off. No I/O and
 * no clock: the runner (export-job-runner.ts) passes every time in.
 *
 * Times. The job API states one Genesys time, `dateCreated`; every other state change is only visible by polling,
 * so each observed state carries custody's clock at the poll that first showed it (`observedAtMs`), and the first
 * state also carries Genesys's `dateCreated`, labelled as such. A state that began and ended between two polls is
 * never seen and never invented.
 */
import type { Models } from 'purecloud-platform-client-v2';
import { GenesysApiError } from '../genesys/platform-client.ts';
import type { ExportJobFacts } from '../kafka/avro-codec.ts';
import { isAnyGenesysEnum, isGenesysEnum } from '../enrich/genesys-enum.ts';

/** Job states (Java SDK `RecordingJob.StateEnum`), in lifecycle order. */
export const JOB_STATES = ['PENDING', 'READY', 'PROCESSING', 'FULFILLED', 'FAILED', 'CANCELLED'] as const;
export type JobState = (typeof JOB_STATES)[number];

/** States after which a job never changes again. */
const TERMINAL: ReadonlySet<string> = new Set(['FULFILLED', 'FAILED', 'CANCELLED']);

/** Whether Genesys will not move the job any further. */
export function isTerminalState(state: string): boolean {
  return TERMINAL.has(state.toUpperCase());
}

/** A Genesys timestamp for a state, kept with the field it came from and its text as given. */
export type GenesysTime = Readonly<{ field: 'dateCreated'; atMs: number; text: string }>;

/** One job state as custody observed it. */
export type ObservedJobState = Readonly<{
  /** As Genesys reported it (a state unknown to custody is kept, not dropped). */
  state: string;
  /** custody's clock (epoch ms) at the call that first showed this state. */
  observedAtMs: number;
  /** Genesys's own time of this state, when the API gives one (only `dateCreated`, for the first state). */
  genesys: GenesysTime | null;
}>;

function rank(state: string): number {
  const i = (JOB_STATES as readonly string[]).indexOf(state.toUpperCase());
  return i < 0 ? JOB_STATES.length : i;
}

/**
 * Adds what one API answer shows to the observed states: a new entry when the job's state differs from the last
 * one observed (or none was). The first entry gets the job's `dateCreated`. Returns `states` itself when nothing
 * changed.
 */
export function observeJobState(
  states: readonly ObservedJobState[],
  job: Pick<Models.RecordingJob, 'state' | 'dateCreated'>,
  nowMs: number,
): readonly ObservedJobState[] {
  if (states.some((s) => isGenesysEnum(s.state, job.state))) return states;
  const created = job.dateCreated === undefined ? Number.NaN : Date.parse(job.dateCreated);
  const genesys: GenesysTime | null =
    states.length === 0 && job.dateCreated !== undefined && Number.isFinite(created)
      ? { field: 'dateCreated', atMs: created, text: job.dateCreated }
      : null;
  return [...states, { state: job.state, observedAtMs: nowMs, genesys }];
}

/**
 * Joins two observation lists of the same job (two writers of one ledger, a resumed run): each state once, at its
 * earliest observation, in time order (ties in lifecycle order). Commutative and idempotent.
 */
export function mergeObservedStates(
  a: readonly ObservedJobState[],
  b: readonly ObservedJobState[],
): ObservedJobState[] {
  const byState = new Map<string, ObservedJobState>();
  for (const s of [...a, ...b]) {
    const prev = byState.get(s.state);
    if (
      prev === undefined ||
      s.observedAtMs < prev.observedAtMs ||
      (s.observedAtMs === prev.observedAtMs && prev.genesys === null && s.genesys !== null)
    ) {
      byState.set(s.state, s);
    }
  }
  return [...byState.values()].sort(
    (x, y) =>
      x.observedAtMs - y.observedAtMs || rank(x.state) - rank(y.state) || (x.state < y.state ? -1 : 1),
  );
}

/** When custody saw the job executed: its PROCESSING observation, else its first terminal one; undefined before. */
export function executedAtMs(states: readonly ObservedJobState[]): number | undefined {
  const processing = states.find((s) => isGenesysEnum(s.state, 'PROCESSING'));
  if (processing) return processing.observedAtMs;
  return states.find((s) => isAnyGenesysEnum(s.state, ['FULFILLED', 'FAILED']))?.observedAtMs;
}

/** The job facts a RecordingExport carries (custody's observation times only, as the Avro contract says). */
export function exportJobFacts(
  jobId: string,
  createdBy: string | null,
  states: readonly ObservedJobState[],
): ExportJobFacts {
  return {
    jobId,
    createdBy,
    states: states.map((s) => ({ state: s.state, observedAtMs: s.observedAtMs })),
  };
}

/** How the runner must treat a failed job call. */
export type JobCallFailure =
  /** The org already has two PENDING/PROCESSING jobs: wait and try again. */
  | 'org-job-limit'
  /** Only the job's creator may execute it: fatal for this client. */
  | 'not-creator'
  /** Anything else: fatal (transient failures were already retried by the API client). */
  | 'fatal';

/**
 * Classifies a job call failure. The refusal of a third concurrent job is recognised by Genesys's documented
 * wording ("a maximum of two concurrent jobs"); its status and error code are UNCONFIRMED (the emulator answers
 * 400 `bad.request`), so the status is not relied on.
 */
export function classifyJobFailure(e: unknown): JobCallFailure {
  if (!(e instanceof GenesysApiError)) return 'fatal';
  if (
    e.status !== undefined &&
    e.status >= 400 &&
    e.status < 500 &&
    /concurrent\s+jobs?/i.test(e.apiMessage)
  ) {
    return 'org-job-limit';
  }
  if (e.status === 403) return 'not-creator';
  return 'fatal';
}

/**
 * Exponential back-off with "equal jitter": half of `min(maxMs, baseMs · 2^attempt)` plus a random part of the
 * other half, so instances waiting on the same limit spread out but never retry sooner than half the step.
 * @param random a number in [0, 1).
 */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, random: number): number {
  const step = Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(0, attempt), 30));
  return Math.round(step / 2 + (step / 2) * Math.min(Math.max(random, 0), 1));
}

/** What to export: the interval of conversation starts/overlaps, where and when. */
export type ExportJobRequest = Readonly<{
  /** Conversations overlapping `fromMs … toMs` (the analytics interval semantics). */
  fromMs: number;
  toMs: number;
  /** The aws-s3-recording-bulk-actions integration that writes to the bucket. */
  integrationId: string;
  /** When Genesys writes the exports (`actionDate`, epoch ms). */
  actionDateMs: number;
  includeScreenRecordings?: boolean;
  includeRecordingsWithSensitiveData?: boolean;
  /** Narrower selections, passed through to the job's `conversationQuery`. */
  conversationFilters?: Models.ConversationDetailQueryFilter[];
  segmentFilters?: Models.SegmentDetailQueryFilter[];
}>;

/** Why a request cannot be posted (checked before any call). */
export function invalidRequestReason(r: ExportJobRequest): string | undefined {
  if (!Number.isFinite(r.fromMs) || !Number.isFinite(r.toMs)) return 'from and to must be valid instants';
  if (r.toMs <= r.fromMs) return 'to must be after from';
  if (!Number.isFinite(r.actionDateMs)) return 'actionDate must be a valid instant';
  if (r.integrationId.trim() === '') return 'integrationId is required for an EXPORT job';
  return undefined;
}

/** The `RecordingJobsQuery` of an EXPORT job (the official tutorial's shape). */
export function exportJobQuery(r: ExportJobRequest): Models.RecordingJobsQuery {
  const conversationQuery: Models.AsyncConversationQuery = {
    interval: `${new Date(r.fromMs).toISOString()}/${new Date(r.toMs).toISOString()}`,
    order: 'asc',
    orderBy: 'conversationStart',
    ...(r.conversationFilters?.length ? { conversationFilters: r.conversationFilters } : {}),
    ...(r.segmentFilters?.length ? { segmentFilters: r.segmentFilters } : {}),
  };
  return {
    action: 'EXPORT',
    actionDate: new Date(r.actionDateMs).toISOString(),
    integrationId: r.integrationId,
    includeScreenRecordings: r.includeScreenRecordings ?? true,
    includeRecordingsWithSensitiveData: r.includeRecordingsWithSensitiveData ?? false,
    conversationQuery,
  };
}

/** The job's recording counts, once its query has run (READY and later). */
export type JobTotals = Readonly<{
  conversations: number;
  recordings: number;
  processed: number;
  skipped: number;
  failed: number;
}>;

/** The totals of a job answer; null while the query has not run (`totalConversations` absent). */
export function jobTotals(job: Models.RecordingJob): JobTotals | null {
  if (job.totalConversations === undefined) return null;
  return {
    conversations: job.totalConversations,
    recordings: job.totalRecordings ?? 0,
    processed: job.totalProcessedRecordings ?? 0,
    skipped: job.totalSkippedRecordings ?? 0,
    failed: job.totalFailedRecordings ?? 0,
  };
}
