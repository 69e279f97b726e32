/**
 * The job ledger: one JSON object per recording bulk job custody ran, at `_custody/export-jobs/{jobId}.json` in
 * the export bucket. It is how the job's facts reach the recordings it covers, whichever process detects their
 * exports and however late (Genesys writes them at the job's export date, maybe long after the runner exited):
 *
 * - `custody exports run` writes it after every step (created; READY with the covered conversations, before it
 *   executes the job; each later state; the failed recordings; the recordings it published itself);
 * - `custody exports watch` reads every ledger and attaches the job's facts to the RecordingExport of any export
 *   whose conversation the job covers and whose objects were written after custody executed the job.
 *
 * Coverage is the conversations the job's query selects, listed with the synchronous analytics detail query using
 * the job's own interval and filters once the job is READY (the job API does not list them). The job's own
 * `totalConversations` is kept beside it, so a disagreement (analytics data arriving in between) is visible.
 *
 * Everything here is pure. Two writers of one ledger (a resumed run) merge with {@link mergeLedgers}, a join.
 */
import { z } from 'zod';
import type { ExportJobFacts } from '../kafka/avro-codec.ts';
import type { JobTotals, ObservedJobState } from './export-job-state.ts';
import { executedAtMs, exportJobFacts, isTerminalState, mergeObservedStates } from './export-job-state.ts';

export const LEDGER_FORMAT = 'custody.export-job-ledger/v1';

/** Where ledgers live in the export bucket (at its root, like the watcher's checkpoint). */
export const LEDGER_PREFIX = '_custody/export-jobs/';

/** A recording Genesys reported the job failed for. */
export type FailedRecording = Readonly<{ conversationId: string; recordingId: string }>;

/** The conversations the job covers. */
export type JobCoverage = Readonly<{
  /** custody's clock when the list was taken. */
  listedAtMs: number;
  /** What the analytics query reported as its total. */
  totalHits: number;
  /** The job's own `totalConversations` when the list was taken (null if it did not say). */
  jobTotalConversations: number | null;
  /** conversationId (lower case) → conversation start (epoch ms; names the export's hour folder). */
  conversations: Readonly<Record<string, number>>;
}>;

/** The ledger object. */
export type ExportJobLedger = Readonly<{
  format: typeof LEDGER_FORMAT;
  jobId: string;
  /** The job's `user.id` (with client credentials: the job's creator as Genesys reports it). */
  createdBy: string | null;
  runner: Readonly<{ instance: string; version: string }>;
  /** The request as posted. */
  request: Readonly<{
    action: string;
    actionDate: string | null;
    integrationId: string | null;
    interval: string;
  }>;
  states: readonly ObservedJobState[];
  totals: JobTotals | null;
  errorMessage: string | null;
  coverage: JobCoverage | null;
  failedRecordings: readonly FailedRecording[];
  /** `conversationId/recordingId` of the exports the runner itself published (detectedBy `job`). */
  published: readonly string[];
  /** custody's clock at the last write. */
  updatedAtMs: number;
}>;

const epochMs = z.number().int().min(0).max(8_640_000_000_000_000);
const text = z.string().min(1).max(4096);
const uuidish = z.string().regex(/^[0-9a-f-]{1,64}$/);

const ledgerSchema = z.strictObject({
  format: z.literal(LEDGER_FORMAT),
  jobId: text,
  createdBy: text.nullable(),
  runner: z.strictObject({ instance: text, version: text }),
  request: z.strictObject({
    action: text,
    actionDate: text.nullable(),
    integrationId: text.nullable(),
    interval: text,
  }),
  states: z.array(
    z.strictObject({
      state: text,
      observedAtMs: epochMs,
      genesys: z.strictObject({ field: z.literal('dateCreated'), atMs: z.number().int(), text }).nullable(),
    }),
  ),
  totals: z
    .strictObject({
      conversations: z.number().int().min(0),
      recordings: z.number().int().min(0),
      processed: z.number().int().min(0),
      skipped: z.number().int().min(0),
      failed: z.number().int().min(0),
    })
    .nullable(),
  errorMessage: z.string().max(4096).nullable(),
  coverage: z
    .strictObject({
      listedAtMs: epochMs,
      totalHits: z.number().int().min(0),
      jobTotalConversations: z.number().int().min(0).nullable(),
      conversations: z.record(uuidish, z.number().int()),
    })
    .nullable(),
  failedRecordings: z.array(z.strictObject({ conversationId: text, recordingId: text })),
  published: z.array(text),
  updatedAtMs: epochMs,
});

/** The ledger key of a job. */
export function ledgerKey(jobId: string): string {
  return `${LEDGER_PREFIX}${encodeURIComponent(jobId)}.json`;
}

/** Parses ledger bytes; a string says why they are not a ledger (field paths only, never content). */
export function parseLedger(bytes: Uint8Array): ExportJobLedger | string {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return 'not UTF-8 JSON';
  }
  const parsed = ledgerSchema.safeParse(json);
  if (parsed.success) return parsed.data;
  return `invalid at ${parsed.error.issues
    .slice(0, 3)
    .map((i) => i.path.map(String).join('.') || '(root)')
    .join(', ')}`;
}

function later<T>(a: T | null, b: T | null, aFirst: boolean): T | null {
  if (a === null) return b;
  if (b === null) return a;
  return aFirst ? b : a;
}

function lastObservedMs(l: ExportJobLedger): number {
  return Math.max(-1, ...l.states.map((s) => s.observedAtMs));
}

function mergeCoverage(a: JobCoverage | null, b: JobCoverage | null): JobCoverage | null {
  if (a === null) return b;
  if (b === null) return a;
  const first = a.listedAtMs <= b.listedAtMs ? a : b;
  return {
    ...first,
    totalHits: Math.max(a.totalHits, b.totalHits),
    conversations: { ...b.conversations, ...a.conversations },
  };
}

/**
 * Joins two versions of one job's ledger: every state observed by either (earliest observation each), the union
 * of covered conversations, failed and published recordings; totals and error message of the version that
 * observed the job last. Throws on ledgers of two jobs.
 */
export function mergeLedgers(a: ExportJobLedger, b: ExportJobLedger): ExportJobLedger {
  if (a.jobId !== b.jobId) throw new RangeError('mergeLedgers got ledgers of two jobs');
  const aFirst = lastObservedMs(a) <= lastObservedMs(b);
  const failed = new Map<string, FailedRecording>();
  for (const f of [...a.failedRecordings, ...b.failedRecordings])
    failed.set(`${f.conversationId}/${f.recordingId}`, f);
  return {
    format: LEDGER_FORMAT,
    jobId: a.jobId,
    createdBy: a.createdBy ?? b.createdBy,
    runner: a.runner,
    request: a.request,
    states: mergeObservedStates(a.states, b.states),
    totals: later(a.totals, b.totals, aFirst),
    errorMessage: later(a.errorMessage, b.errorMessage, aFirst),
    coverage: mergeCoverage(a.coverage, b.coverage),
    failedRecordings: [...failed.values()].sort((x, y) =>
      `${x.conversationId}/${x.recordingId}` < `${y.conversationId}/${y.recordingId}` ? -1 : 1,
    ),
    published: [...new Set([...a.published, ...b.published])].sort(),
    updatedAtMs: Math.max(a.updatedAtMs, b.updatedAtMs),
  };
}

/** Whether the job has reached a state after which it never changes. */
export function ledgerIsTerminal(l: ExportJobLedger): boolean {
  return l.states.some((s) => isTerminalState(s.state));
}

/** What the watcher keeps of a ledger to attribute exports (not the whole coverage list per ledger). */
export type LedgerAttribution = Readonly<{ facts: ExportJobFacts; executedAtMs: number }>;

/** The attribution of a ledger, once custody has seen the job executed; undefined before. */
export function ledgerAttribution(l: ExportJobLedger): LedgerAttribution | undefined {
  const executed = executedAtMs(l.states);
  if (executed === undefined) return undefined;
  return { facts: exportJobFacts(l.jobId, l.createdBy, l.states), executedAtMs: executed };
}

/**
 * The job an export belongs to, among the jobs covering its conversation: one custody saw executed before the
 * export's newest object was written (allowing `skewMs` between custody's clock and S3's LastModified, which has
 * one-second precision), the latest such job if several. Undefined when none qualifies, e.g. an export a retention
 * policy wrote before the job ran: attributing it to the job would be false.
 */
export function attributeExport(
  candidates: readonly LedgerAttribution[],
  objectLastModifiedMs: number,
  skewMs: number,
): ExportJobFacts | undefined {
  let best: LedgerAttribution | undefined;
  for (const c of candidates) {
    if (c.executedAtMs - skewMs > objectLastModifiedMs) continue;
    if (
      best === undefined ||
      c.executedAtMs > best.executedAtMs ||
      (c.executedAtMs === best.executedAtMs && c.facts.jobId > best.facts.jobId)
    ) {
      best = c;
    }
  }
  return best?.facts;
}
