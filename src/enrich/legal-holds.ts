/**
 * Legal holds of one conversation, as events on `custody.legal-holds.v1` (one compacted key per conversation and
 * matter) fold them: per matter, every hold and release event seen, and from them the manifest's
 * `legal_hold_status` and the chain-of-custody entries.
 *
 * Pure. The merge is a join (union of events by request id, ordered by requested time then request id), so
 * replays, duplicates, late events and two sink instances that each saw some of them converge; "the latest event
 * per matter" is the last of that order, which does not depend on arrival order.
 */
import { z } from 'zod';
import { canonicalize } from './canonical-json.ts';
import { toCustodyInstant } from './custody-entry.ts';
import type { CustodyActor, CustodyEntry } from './custody-entry.ts';
import type { LegalHoldInput, ManifestHoldMatter } from './manifest.ts';

/** The Kafka record an event was read from (its evidence in the chain of custody). */
export type HoldPointer = Readonly<{ topic: string; partition: number; offset: string }>;

/** One hold or release, as the sink keeps it. */
export type HoldEvent = Readonly<{
  action: 'hold' | 'release';
  requestedAtMs: number;
  requestId: string;
  requestedBy: string;
  reason: string | null;
  /** The custody process (instance, version) that produced the event. */
  instance: string;
  version: string;
  source: HoldPointer | null;
}>;

/** A conversation's holds: by matter id, its events in order (oldest first). */
export type LegalHoldsState = Readonly<{
  format: typeof HOLDS_FORMAT;
  matters: Readonly<Record<string, readonly HoldEvent[]>>;
}>;

export const HOLDS_FORMAT = 'custody.sink.legal-holds/v1';

/** A matter id: what a legal team's docket or matter system uses, kept to characters safe in a Kafka key. */
export const MATTER_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/** Who requested (an OS user, an e-mail address, a service name). */
export const REQUESTER = /^[^\p{Cc}]{1,256}$/u;
export const MAX_REASON_CHARS = 1024;

const epochMs = z.number().int().min(0).max(8_640_000_000_000_000);
const nonEmpty = z.string().min(1).max(4096);

const holdEventSchema = z.strictObject({
  action: z.enum(['hold', 'release']),
  requestedAtMs: epochMs,
  requestId: nonEmpty,
  requestedBy: z.string().regex(REQUESTER),
  reason: z.string().min(1).max(MAX_REASON_CHARS).nullable(),
  instance: nonEmpty,
  version: nonEmpty,
  source: z
    .strictObject({
      topic: nonEmpty,
      partition: z.number().int().nonnegative(),
      offset: z.string().regex(/^(0|[1-9]\d{0,18})$/),
    })
    .nullable(),
});

/** The schema of a stored holds state (validated when read back from the changelog). */
export const legalHoldsStateSchema = z.strictObject({
  format: z.literal(HOLDS_FORMAT),
  matters: z.record(z.string().regex(MATTER_ID), z.array(holdEventSchema).max(10_000)),
});

function cmp(a: string | number, b: string | number): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Event order: requested time, then request id, then (only to be total) the whole event. */
export function compareHoldEvents(a: HoldEvent, b: HoldEvent): number {
  return (
    cmp(a.requestedAtMs, b.requestedAtMs) ||
    cmp(a.requestId, b.requestId) ||
    cmp(canonicalize(a), canonicalize(b))
  );
}

function pointerOrder(a: HoldPointer | null, b: HoldPointer | null): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? 1 : -1;
  return (
    cmp(a.topic, b.topic) ||
    cmp(a.partition, b.partition) ||
    cmp(a.offset.length, b.offset.length) ||
    cmp(a.offset, b.offset)
  );
}

/** One request seen twice (a retried send): the copy read first from Kafka (lowest pointer) wins. */
function pickDuplicate(a: HoldEvent, b: HoldEvent): HoldEvent {
  return (pointerOrder(a.source, b.source) || compareHoldEvents(a, b)) <= 0 ? a : b;
}

function mergeEvents(a: readonly HoldEvent[], b: readonly HoldEvent[]): HoldEvent[] {
  const byRequest = new Map<string, HoldEvent>();
  for (const e of [...a, ...b]) {
    const before = byRequest.get(e.requestId);
    byRequest.set(e.requestId, before === undefined ? e : pickDuplicate(before, e));
  }
  return [...byRequest.values()].sort(compareHoldEvents);
}

/** Joins two holds states of one conversation. */
export function mergeLegalHolds(
  a: LegalHoldsState | null | undefined,
  b: LegalHoldsState | null | undefined,
): LegalHoldsState | null {
  if (a === null || a === undefined) return b ?? null;
  if (b === null || b === undefined) return a;
  const matters: Record<string, readonly HoldEvent[]> = { ...a.matters };
  for (const [matter, events] of Object.entries(b.matters)) {
    matters[matter] = mergeEvents(matters[matter] ?? [], events);
  }
  return { format: HOLDS_FORMAT, matters: sortKeys(matters) };
}

function sortKeys<V>(record: Record<string, V>): Record<string, V> {
  return Object.fromEntries(Object.entries(record).sort(([x], [y]) => cmp(x, y)));
}

/** The holds state one event stands for. */
export function holdsStateOf(matterId: string, event: HoldEvent): LegalHoldsState {
  return { format: HOLDS_FORMAT, matters: { [matterId]: [event] } };
}

/** One matter's current hold, derived from its events. */
export type MatterHold = Readonly<{
  matter: string;
  status: 'on' | 'released';
  /** The hold that started the current (or last) holding period. */
  applied: HoldEvent;
  /** The latest hold event of that period (its reason is the one shown). */
  latestHold: HoldEvent;
  released: HoldEvent | null;
}>;

/**
 * Each matter's hold: `on` when its latest event is a hold, `released` when it is a release that follows a hold.
 * A matter that only ever released (nothing to release) is left out.
 */
export function matterHolds(state: LegalHoldsState | null | undefined): MatterHold[] {
  const out: MatterHold[] = [];
  for (const [matter, events] of Object.entries(state?.matters ?? {})) {
    let applied: HoldEvent | undefined;
    let latestHold: HoldEvent | undefined;
    let last: MatterHold | undefined;
    for (const e of events) {
      if (e.action === 'hold') {
        if (applied === undefined) applied = e;
        latestHold = e;
        last = { matter, status: 'on', applied, latestHold, released: null };
      } else if (applied !== undefined && latestHold !== undefined) {
        last = { matter, status: 'released', applied, latestHold, released: e };
        applied = undefined;
        latestHold = undefined;
      }
    }
    if (last !== undefined) out.push(last);
  }
  return out.sort((x, y) => cmp(x.matter, y.matter));
}

/** Whether any matter holds the conversation now. */
export function isHeld(state: LegalHoldsState | null | undefined): boolean {
  return matterHolds(state).some((m) => m.status === 'on');
}

/** The matters holding the conversation now, other than `except`. */
export function otherHoldingMatters(state: LegalHoldsState | null | undefined, except: string): string[] {
  return matterHolds(state)
    .filter((m) => m.status === 'on' && m.matter !== except)
    .map((m) => m.matter);
}

function at(ms: number): string {
  return toCustodyInstant(new Date(ms)) ?? '1970-01-01T00:00:00.000Z';
}

function manifestMatter(m: MatterHold): ManifestHoldMatter {
  return {
    matter: m.matter,
    status: m.status,
    applied_at: at(m.applied.requestedAtMs),
    applied_by: m.applied.requestedBy,
    released_at: m.released === null ? null : at(m.released.requestedAtMs),
    released_by: m.released?.requestedBy ?? null,
    reason: m.latestHold.reason,
  };
}

/**
 * The manifest's legal-hold input. `on` names the matter holding longest (ties: the smaller matter id);
 * `released` names the matter released last. `enforced` says whether S3 Object Lock holds match the status.
 */
export function legalHoldInputOf(
  state: LegalHoldsState | null | undefined,
  source: string,
  enforced: boolean,
): LegalHoldInput {
  const holds = matterHolds(state);
  if (holds.length === 0) return { status: 'none', source };
  const matters = holds.map(manifestMatter);
  const on = holds
    .filter((m) => m.status === 'on')
    .sort((x, y) => cmp(x.applied.requestedAtMs, y.applied.requestedAtMs) || cmp(x.matter, y.matter));
  const first = on[0];
  if (first !== undefined) {
    return {
      status: 'on',
      matter: first.matter,
      applied_at: at(first.applied.requestedAtMs),
      source,
      matters,
      enforced,
    };
  }
  const last = holds
    .filter((m) => m.released !== null)
    .sort(
      (x, y) =>
        cmp(y.released?.requestedAtMs ?? 0, x.released?.requestedAtMs ?? 0) || cmp(y.matter, x.matter),
    )[0];
  if (last === undefined || last.released === null) return { status: 'none', source };
  return {
    status: 'released',
    matter: last.matter,
    applied_at: at(last.applied.requestedAtMs),
    released_at: at(last.released.requestedAtMs),
    source,
    matters,
    enforced,
  };
}

/** The chain-of-custody entries of the holds: one per hold or release event, timed by the requester's clock. */
export function legalHoldCustodyEntries(state: LegalHoldsState | null | undefined): CustodyEntry[] {
  const out: CustodyEntry[] = [];
  for (const [matter, events] of Object.entries(state?.matters ?? {})) {
    for (const e of events) {
      const when = toCustodyInstant(new Date(e.requestedAtMs));
      if (when === undefined) continue;
      const actor: CustodyActor = {
        kind: 'custody',
        component: 'custody-hold',
        version: e.version,
        instance: e.instance,
      };
      out.push({
        event: e.action === 'hold' ? 'legal_hold_applied' : 'legal_hold_released',
        at: when,
        time_source: 'custody-process',
        actor,
        evidence:
          e.source === null
            ? null
            : { kafka: { topic: e.source.topic, partition: e.source.partition, offset: e.source.offset } },
        detail: {
          matter,
          requested_by: e.requestedBy,
          ...(e.reason === null ? {} : { reason: e.reason }),
        },
      });
    }
  }
  return out;
}
