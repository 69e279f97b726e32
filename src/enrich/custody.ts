/**
 * The chain-of-custody timeline: what happened to a recording and its metadata, when, by whose clock, done by
 * whom, and where the evidence of it is (architecture.md "Chain of custody"; research/anchors.md §4.8).
 *
 * It is domain data built from the inputs the sink already holds (Kafka records, S3 object versions, API
 * answers), never from logs. Four clocks appear, and every entry says which one its time comes from:
 * - `genesys`: a timestamp Genesys wrote (conversation/leg times, job times), converted to UTC milliseconds;
 * - `custody-receive`: custody's clock when a notification or S3 event arrived;
 * - `s3-last-modified`: the S3 object's `LastModified`;
 * - `custody-process`: custody's clock when it did something (hashed, reconciled, wrote).
 * Which clocks an event may use is fixed per event type ({@link CUSTODY_EVENT_RULES}), so an entry cannot, for
 * example, present custody's receive time as the conversation's start.
 *
 * Entries are ordered by time, then by a fixed lifecycle rank, then by their canonical JSON, so the same set of
 * entries always gives the same timeline. Clocks differ, so the order is the order of the stated times, not a
 * claim of causality (an S3 `LastModified` can precede custody's receive time of the Genesys event that caused it).
 */
import { canonicalize } from './canonical-json.ts';
import { CUSTODY_EVENTS, CUSTODY_EVENT_RULES, custodyEntrySchema, isCustodyEntry } from './custody-entry.ts';
import type { CustodyEntry } from './custody-entry.ts';
import { err, ok } from './result.ts';
import type { Result } from './result.ts';

declare const timelineBrand: unique symbol;
/** A validated, sorted, de-duplicated timeline (only {@link buildCustodyTimeline} makes one). */
export type CustodyTimeline = readonly CustodyEntry[] & { readonly [timelineBrand]: true };

/** Why an entry was rejected; `index` is its position in the input. */
export type TimelineFailure = Readonly<{
  reason: 'malformed' | 'time-source-not-allowed' | 'actor-not-allowed' | 'out-of-order';
  index: number;
  detail: string;
}>;

/** Drops `undefined`-valued members so the entry is canonical JSON data (optional means absent, not undefined). */
function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

function normalizeEntry(entry: CustodyEntry): CustodyEntry {
  const evidence = entry.evidence;
  const normalized: CustodyEntry = {
    event: entry.event,
    at: entry.at,
    time_source: entry.time_source,
    actor: withoutUndefined(entry.actor),
    evidence:
      evidence === null
        ? null
        : 'api' in evidence
          ? { api: withoutUndefined(evidence.api) }
          : 'kafka' in evidence
            ? { kafka: { ...evidence.kafka } }
            : { s3: { ...evidence.s3 } },
  };
  const detail = entry.detail === undefined ? undefined : withoutUndefined(entry.detail);
  return detail === undefined || Object.keys(detail).length === 0 ? normalized : { ...normalized, detail };
}

function checkEntry(raw: unknown, index: number): Result<CustodyEntry, TimelineFailure> {
  let entry: CustodyEntry;
  if (isCustodyEntry(raw)) entry = raw;
  else {
    const parsed = custodyEntrySchema.safeParse(raw);
    if (!parsed.success) {
      const where = parsed.error.issues.map((i) => i.path.map(String).join('.') || '(entry)').join(', ');
      return err({ reason: 'malformed', index, detail: `entry ${index} invalid at: ${where}` });
    }
    entry = parsed.data as CustodyEntry;
  }
  const rule = CUSTODY_EVENT_RULES[entry.event];
  if (!rule.timeSources.includes(entry.time_source)) {
    return err({
      reason: 'time-source-not-allowed',
      index,
      detail: `${entry.event} cannot be timed by ${entry.time_source} (allowed: ${rule.timeSources.join(', ')})`,
    });
  }
  if (!rule.actors.includes(entry.actor.kind)) {
    return err({
      reason: 'actor-not-allowed',
      index,
      detail: `${entry.event} cannot be done by ${entry.actor.kind} (allowed: ${rule.actors.join(', ')})`,
    });
  }
  return ok(entry);
}

const RANK: ReadonlyMap<string, number> = new Map(CUSTODY_EVENTS.map((e, i) => [e, i]));

type Keyed = Readonly<{ entry: CustodyEntry; canonical: string }>;

function compareKeyed(a: Keyed, b: Keyed): number {
  if (a.entry.at !== b.entry.at) return a.entry.at < b.entry.at ? -1 : 1;
  const rank = (RANK.get(a.entry.event) ?? 0) - (RANK.get(b.entry.event) ?? 0);
  if (rank !== 0) return rank;
  if (a.canonical === b.canonical) return 0;
  return a.canonical < b.canonical ? -1 : 1;
}

/**
 * Validates, de-duplicates and orders custody entries.
 *
 * Order: `at`, then lifecycle rank ({@link CUSTODY_EVENTS}), then canonical JSON — a total order, so any
 * permutation of the same entries gives the same timeline. Entries equal as JSON data are kept once (replays
 * deliver the same record twice); entries that differ in any field are all kept, since each is evidence.
 * @returns the first invalid entry (by input position) as a failure.
 */
export function buildCustodyTimeline(
  entries: readonly CustodyEntry[],
): Result<CustodyTimeline, TimelineFailure> {
  const byCanonical = new Map<string, Keyed>();
  for (const [index, raw] of entries.entries()) {
    const entry = normalizeEntry(raw);
    const checked = checkEntry(entry, index);
    if (!checked.ok) return checked;
    const canonical = canonicalize(entry);
    if (!byCanonical.has(canonical)) byCanonical.set(canonical, { entry, canonical });
  }
  const sorted = [...byCanonical.values()].sort(compareKeyed).map((k) => k.entry);
  return ok(sorted as unknown as CustodyTimeline);
}

/**
 * Checks a timeline read back from a manifest: every entry valid for its event's rules, and strictly ordered by
 * the {@link buildCustodyTimeline} order (which also rules out duplicates).
 */
export function verifyTimeline(entries: readonly unknown[]): Result<CustodyTimeline, TimelineFailure> {
  let previous: Keyed | undefined;
  for (const [index, raw] of entries.entries()) {
    const checked = checkEntry(raw, index);
    if (!checked.ok) return checked;
    const current: Keyed = { entry: checked.value, canonical: canonicalize(raw) };
    if (previous !== undefined && compareKeyed(previous, current) >= 0) {
      return err({
        reason: 'out-of-order',
        index,
        detail: `entry ${index} (${current.entry.event} at ${current.entry.at}) is not after entry ${index - 1}`,
      });
    }
    previous = current;
  }
  return ok(entries as unknown as CustodyTimeline);
}
