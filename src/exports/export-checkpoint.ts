/**
 * The exports watcher's checkpoint: what it already emitted, per hour folder, so a restart (or the next pass)
 * emits only what is new. Pure data and functions; {@link ./export-checkpoint-store.ts} keeps it in S3.
 *
 * Shape (JSON, `format` versioned):
 * - `hours[folder]` — keyed by the listed hour folder exactly as in S3 (`{prefix/}{org}/year=…/hour=H/`):
 *   `emitted[conversationId/recordingId]` = the pair last emitted; `pending[…]` = when a lone object was first
 *   seen (the pairing grace survives restarts); `invalid` = keys already dead-lettered (each exactly once).
 * - `ranges` — backfill requests not finished yet (`nextHourMs` is the first hour not yet listed), including the
 *   catch-up ranges the watcher adds itself (below).
 * - `windowFromHourMs` — the high-water hour: the start of the scan window of the latest pass. Every hour from
 *   it on is listed again by a later pass: by that pass's window, or, for hours that slid out of the window in
 *   between (the watcher was down, or a pass took long), by a catch-up range that pass adds from this hour on.
 *   Absent in checkpoints written before it existed (then `writtenAtMs - lookback` stands in for it).
 *
 * Hours that left the scan window are pruned once they have no pending lone objects and no unfinished range
 * covers them; a later backfill of such an hour emits its recordings again (downstream is idempotent).
 */
import { z } from 'zod';
import type { EmittedFile, EmittedPair } from './export-emission.ts';

export const CHECKPOINT_FORMAT = 'custody.exports-watch.checkpoint.v1';

/** What the watcher remembers of one hour folder. */
export type HourState = {
  /** Start of the partition hour (UTC epoch ms), for pruning. */
  hourMs: number;
  emitted: Record<string, EmittedPair>;
  pending: Record<string, number>;
  invalid: string[];
};

/** A backfill request: list hours `fromHourMs … toHourMs` (inclusive); `nextHourMs` is the progress. */
export type RangeRequest = { fromHourMs: number; toHourMs: number; nextHourMs: number };

/** The whole checkpoint. */
export type Checkpoint = {
  format: typeof CHECKPOINT_FORMAT;
  watcher: string;
  /** Instance that last wrote it, and when (its clock): named in conflict warnings. */
  writer: string | null;
  writtenAtMs: number | null;
  hours: Record<string, HourState>;
  ranges: RangeRequest[];
  /** The high-water hour (see the module comment); null/absent before the first pass. */
  windowFromHourMs?: number | null;
};

const HOUR_MS = 3_600_000;
const epochMs = z.number().int().nonnegative();
const fileSchema = z.object({
  etag: z.string().min(1),
  versionId: z.string().nullable(),
  lastModifiedMs: epochMs,
});
const pairSchema = z.object({ audio: fileSchema.nullable(), metadata: fileSchema.nullable() });
const hourSchema = z.object({
  hourMs: epochMs.refine((v) => v % HOUR_MS === 0, 'not the start of an hour'),
  emitted: z.record(z.string(), pairSchema),
  pending: z.record(z.string(), epochMs),
  invalid: z.array(z.string()),
});
const checkpointSchema = z.object({
  format: z.literal(CHECKPOINT_FORMAT),
  watcher: z.string().min(1),
  writer: z.string().nullable(),
  writtenAtMs: epochMs.nullable(),
  hours: z.record(z.string().endsWith('/'), hourSchema),
  ranges: z.array(z.object({ fromHourMs: epochMs, toHourMs: epochMs, nextHourMs: epochMs })),
  windowFromHourMs: epochMs.refine((v) => v % HOUR_MS === 0, 'not the start of an hour').nullish(),
});

/** An empty checkpoint for a watcher. */
export function emptyCheckpoint(watcher: string): Checkpoint {
  return {
    format: CHECKPOINT_FORMAT,
    watcher,
    writer: null,
    writtenAtMs: null,
    hours: {},
    ranges: [],
    windowFromHourMs: null,
  };
}

/** Validates a checkpoint read from storage; `error` names the first problems (never the content). */
export function parseCheckpoint(
  json: unknown,
): { ok: true; value: Checkpoint } | { ok: false; error: string } {
  const parsed = checkpointSchema.safeParse(json);
  if (parsed.success) return { ok: true, value: parsed.data };
  const issues = parsed.error.issues
    .slice(0, 3)
    .map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`);
  return { ok: false, error: issues.join('; ') };
}

/** A deep copy (the watcher mutates its working copy; inputs of the pure functions are never mutated). */
export function cloneCheckpoint(c: Checkpoint): Checkpoint {
  return structuredClone(c);
}

function newestModified(pair: EmittedPair): number {
  return Math.max(pair.audio?.lastModifiedMs ?? -1, pair.metadata?.lastModifiedMs ?? -1);
}

function mergeHour(ours: HourState, theirs: HourState): HourState {
  const emitted: Record<string, EmittedPair> = { ...theirs.emitted };
  for (const [rec, pair] of Object.entries(ours.emitted)) {
    const other = emitted[rec];
    // Both emitted something; keep the newer objects' pair (ties: ours).
    if (other === undefined || newestModified(pair) >= newestModified(other)) emitted[rec] = pair;
  }
  // The earlier alone-since wins; a stale pending mark is harmless (the next pass clears it).
  const pending: Record<string, number> = { ...theirs.pending };
  for (const [rec, since] of Object.entries(ours.pending))
    pending[rec] = Math.min(pending[rec] ?? since, since);
  return {
    hourMs: ours.hourMs,
    emitted,
    pending,
    invalid: [...new Set([...theirs.invalid, ...ours.invalid])].sort(),
  };
}

/**
 * Merges our checkpoint into one another writer stored meanwhile (after a conditional write failed): the union
 * of hours, emitted pairs, pending objects, invalid keys and ranges. Nothing either writer emitted is forgotten,
 * so neither re-emits the other's work more than once. Pure.
 */
export function mergeCheckpoints(ours: Checkpoint, theirs: Checkpoint): Checkpoint {
  const hours: Record<string, HourState> = structuredClone(theirs.hours);
  for (const [folder, hour] of Object.entries(ours.hours)) {
    const other = hours[folder];
    hours[folder] = other === undefined ? structuredClone(hour) : mergeHour(hour, other);
  }
  const ranges = new Map<string, RangeRequest>();
  for (const r of [...theirs.ranges, ...ours.ranges]) {
    const id = `${r.fromHourMs}-${r.toHourMs}`;
    const prev = ranges.get(id);
    // Hours either writer listed are done for both: they share the same S3 state.
    ranges.set(
      id,
      prev === undefined ? { ...r } : { ...r, nextHourMs: Math.max(prev.nextHourMs, r.nextHourMs) },
    );
  }
  // The later high-water hour: the writer that set it added the catch-up range below it, kept in the union.
  const marks = [ours.windowFromHourMs, theirs.windowFromHourMs].filter(
    (m): m is number => typeof m === 'number',
  );
  return {
    ...ours,
    hours,
    ranges: [...ranges.values()].filter((r) => r.nextHourMs <= r.toHourMs),
    windowFromHourMs: marks.length === 0 ? null : Math.max(...marks),
  };
}

/**
 * Drops hours before `windowStartMs` that have no pending lone object and are not part of an unfinished range.
 * @returns a new checkpoint and the folders dropped.
 */
export function pruneCheckpoint(
  c: Checkpoint,
  windowStartMs: number,
): { checkpoint: Checkpoint; pruned: string[] } {
  const pruned: string[] = [];
  const hours: Record<string, HourState> = {};
  const inRange = (hourMs: number) => c.ranges.some((r) => hourMs >= r.nextHourMs && hourMs <= r.toHourMs);
  for (const [folder, hour] of Object.entries(c.hours)) {
    const keep = hour.hourMs >= windowStartMs || Object.keys(hour.pending).length > 0 || inRange(hour.hourMs);
    if (keep) hours[folder] = hour;
    else pruned.push(folder);
  }
  return { checkpoint: { ...c, hours }, pruned };
}

/** The hour state of a folder, created empty on first use (mutates `c`: for the watcher's working copy). */
export function hourStateOf(c: Checkpoint, folder: string, hourMs: number): HourState {
  let hour = c.hours[folder];
  if (hour === undefined) {
    hour = { hourMs, emitted: {}, pending: {}, invalid: [] };
    c.hours[folder] = hour;
  }
  return hour;
}

/** Records an emitted pair (mutates the working copy) and clears the recording's pending mark. */
export function recordEmitted(hour: HourState, recording: string, pair: EmittedPair): void {
  hour.emitted[recording] = pair;
  delete hour.pending[recording];
}

/** Whether `pair` is exactly what was last emitted for the recording. */
export function isSameEmitted(hour: HourState | undefined, recording: string, pair: EmittedPair): boolean {
  const prev = hour?.emitted[recording];
  if (prev === undefined) return false;
  const same = (a: EmittedFile | null, b: EmittedFile | null) =>
    a === null || b === null ? a === b : a.etag === b.etag && a.versionId === b.versionId;
  return same(prev.audio, pair.audio) && same(prev.metadata, pair.metadata);
}

/** Truncates epoch ms to the start of its UTC hour. */
export function hourStart(ms: number): number {
  return Math.floor(ms / HOUR_MS) * HOUR_MS;
}

export { HOUR_MS };
