/**
 * What a `custody backfill` covers, and the names derived from it. Pure: no clock, no I/O.
 *
 * A range selects recordings by their export hour folder (`year=/month=/day=/hour=`: the hour, UTC, in which the
 * conversation began), a list selects conversations by id. The job id is derived from the scope, so running the
 * same backfill again continues it (resumable) and, once done, changes nothing (idempotent).
 */
import { createHash } from 'node:crypto';

export type BackfillScope =
  | Readonly<{ kind: 'range'; fromMs: number; toMs: number }>
  | Readonly<{ kind: 'conversations'; ids: readonly string[] }>;

const HOUR_MS = 3_600_000;
const CONVERSATION_ID = /^[0-9a-fA-F-]{8,64}$/;
const JOB_ID = /^[A-Za-z0-9._-]{1,64}$/;

export function hourStartMs(ms: number): number {
  return Math.floor(ms / HOUR_MS) * HOUR_MS;
}

/** Validates a scope: a range with from < to, or 1 or more well-formed conversation ids (deduplicated, sorted). */
export function checkScope(scope: BackfillScope): BackfillScope | string {
  if (scope.kind === 'range') {
    if (!Number.isFinite(scope.fromMs) || !Number.isFinite(scope.toMs)) return 'the range needs two times';
    if (scope.fromMs >= scope.toMs) return '--from must be before --to';
    return scope;
  }
  const ids = [...new Set(scope.ids.map((id) => id.trim()).filter((id) => id !== ''))].sort();
  if (ids.length === 0) return 'no conversation id given';
  const bad = ids.find((id) => !CONVERSATION_ID.test(id));
  if (bad !== undefined) return `not a conversation id: ${JSON.stringify(bad.slice(0, 80))}`;
  return { kind: 'conversations', ids };
}

/** The job id a scope gets unless one is given: the same scope, the same job (so a rerun resumes). */
export function defaultJobId(scope: BackfillScope): string {
  const text =
    scope.kind === 'range'
      ? `range:${new Date(scope.fromMs).toISOString()}/${new Date(scope.toMs).toISOString()}`
      : `conversations:${[...scope.ids].sort().join(',')}`;
  return `bf-${createHash('sha256').update(text).digest('hex').slice(0, 16)}`;
}

export function checkJobId(id: string): string | undefined {
  return JOB_ID.test(id) ? undefined : 'a job id is 1–64 letters, digits, ".", "_" or "-"';
}

/** The backfill's consumer group: its own, so its offsets never move the live sink's. */
export function backfillGroupId(sinkGroupId: string, jobId: string): string {
  return `${sinkGroupId}.backfill.${jobId}`;
}

/**
 * Whether a recording belongs to the scope: in range mode by the start of its export hour folder (an hour folder
 * overlapping the range counts), in list mode by conversation.
 */
export function inScope(scope: BackfillScope, conversationId: string, partitionHour: string): boolean {
  if (scope.kind === 'conversations') return scope.ids.includes(conversationId);
  const hour = Date.parse(partitionHour);
  return Number.isFinite(hour) && hour + HOUR_MS > scope.fromMs && hour < scope.toMs;
}

/** When the replay of the input topics starts: `lookbackMs` before the range (tags precede their exports). */
export function replayStartMs(scope: BackfillScope, lookbackMs: number): number | undefined {
  return scope.kind === 'range' ? hourStartMs(scope.fromMs) - lookbackMs : undefined;
}
