/**
 * The session-tags merges as first written: every capture a new immutable tag, joined with the exported `joinTag`.
 * The reference the faster merges in src/enrich/session-tags-merge.ts (fresh tags updated in place, captures built
 * only when they win) are held equal to.
 */
import { expect } from 'vitest';
import { capturedUpdates } from '../../dev/captured-snapshots.ts';
import { createOrg, createRng, randomConversations } from '../../dev/emulator/simulation/index.ts';
import { joinTag } from '../../src/enrich/session-tags-merge.ts';
import { LEG_TAG_FIELDS } from '../../src/enrich/session-tags.ts';
import type {
  LegTagField,
  LegTags,
  SessionTagsSnapshot,
  Tag,
  TagObservation,
  TagSource,
} from '../../src/enrich/session-tags.ts';

type AnyTag = Tag<string | number | boolean>;
type Leg = { legKey: string; participantId: string } & Record<LegTagField, AnyTag | null>;

const orderOf = (f: LegTagField): 'newest' | 'earliest' =>
  f === 'persistentConnectionState' ? 'earliest' : 'newest';

function join(into: Leg, f: LegTagField, t: AnyTag | null): void {
  if (t === null) return;
  const current = into[f];
  into[f] = current === null ? t : joinTag(current, t, orderOf(f));
}

function emptyLeg(legKey: string, participantId: string): Leg {
  const leg = { legKey, participantId } as Leg;
  for (const f of LEG_TAG_FIELDS) leg[f] = null;
  return leg;
}

function copyLegs(snapshot: SessionTagsSnapshot | undefined): Map<string, Leg> {
  const legs = new Map<string, Leg>();
  for (const leg of snapshot?.legs ?? []) {
    const seen = legs.get(leg.legKey);
    if (seen === undefined) legs.set(leg.legKey, { ...(leg as Leg) });
    else for (const f of LEG_TAG_FIELDS) join(seen, f, leg[f] as AnyTag | null);
  }
  return legs;
}

function legOf(legs: Map<string, Leg>, legKey: string, participantId: string): Leg {
  let into = legs.get(legKey);
  if (into === undefined) {
    into = emptyLeg(legKey, participantId);
    legs.set(legKey, into);
  }
  return into;
}

const sorted = (legs: Map<string, Leg>): LegTags[] =>
  // Each field holds tags of its own value type; Leg only erases that correlation.
  [...legs.values()].sort((a, b) =>
    a.legKey < b.legKey ? -1 : a.legKey > b.legKey ? 1 : 0,
  ) as unknown as LegTags[];

function withField(s: TagSource, field: string | undefined): TagSource {
  return field === undefined ? s : { ...s, field };
}

/** mergeSessionTags as first written. */
export function referenceMerge(
  snapshot: SessionTagsSnapshot | undefined,
  observations: readonly TagObservation[],
): SessionTagsSnapshot {
  const conversationId = snapshot?.conversationId ?? observations[0]?.conversationId;
  if (conversationId === undefined) throw new RangeError('nothing to merge');
  const legs = copyLegs(snapshot);
  for (const o of observations) {
    if (o.conversationId !== conversationId) throw new RangeError('two conversations');
    const into = legOf(legs, o.legKey, o.participantId);
    for (const f of LEG_TAG_FIELDS) {
      const value = o.fields[f];
      if (value === undefined) continue;
      join(into, f, {
        value,
        provenance: o.provenance,
        source: withField(o.source, o.fieldPaths?.[f]),
        observedAt: o.observedAt,
        capturedAt: o.receivedAt,
        firstCapturedAt: o.receivedAt,
      });
    }
  }
  return { conversationId, legs: sorted(legs) };
}

/**
 * How the sink first joined snapshots: the incoming snapshot folded as the observations a capture of each tag gives
 * (one received at its `capturedAt`, one at its `firstCapturedAt` when that differs; one empty observation per leg
 * keeps legs without a field).
 */
export function snapshotObservations(snapshot: SessionTagsSnapshot): TagObservation[] {
  const out: TagObservation[] = [];
  for (const leg of snapshot.legs) {
    const base = {
      conversationId: snapshot.conversationId,
      legKey: leg.legKey,
      participantId: leg.participantId,
    };
    out.push({
      ...base,
      provenance: 'live',
      source: { kind: 'user-context', topicName: null, correlationId: null, api: null, field: null },
      observedAt: null,
      receivedAt: 0,
      fields: {},
    });
    for (const field of LEG_TAG_FIELDS) {
      const tag = leg[field];
      if (tag === null) continue;
      const fields = { [field]: tag.value };
      const common = { ...base, provenance: tag.provenance, source: tag.source, observedAt: tag.observedAt };
      out.push({ ...common, receivedAt: tag.capturedAt, fields });
      if (tag.firstCapturedAt !== tag.capturedAt)
        out.push({ ...common, receivedAt: tag.firstCapturedAt, fields });
    }
  }
  return out;
}

/** joinSnapshotTags as first written (see {@link snapshotObservations}). */
export function referenceJoin(
  stored: SessionTagsSnapshot | undefined,
  incoming: SessionTagsSnapshot,
): SessionTagsSnapshot {
  return referenceMerge(stored, snapshotObservations(incoming));
}

/** Freezes a value and everything reachable from it: an in-place update of a shared tag then throws. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

type Fold = (previous: SessionTagsSnapshot | undefined, update: SessionTagsSnapshot) => SessionTagsSnapshot;

/**
 * Folds every session-tags update of five minutes of simulated conversations (seeded; in receive order, all
 * conversations interleaved) with `fold` and with `reference`, expecting equal snapshots after each update; returns
 * both final snapshots per conversation.
 */
export function foldEveryUpdate(
  seed: number,
  fold: Fold,
  reference: Fold,
): { fast: Map<string, SessionTagsSnapshot>; slow: Map<string, SessionTagsSnapshot> } {
  const T0 = Date.parse('2026-03-02T08:00:00Z');
  const org = createOrg(createRng(seed), { users: 12 });
  const updates = capturedUpdates(org, randomConversations(org, createRng(seed), T0, T0 + 300_000, 6));
  expect(updates.length).toBeGreaterThan(50);
  const fast = new Map<string, SessionTagsSnapshot>();
  const slow = new Map<string, SessionTagsSnapshot>();
  for (const u of updates) {
    fast.set(u.conversationId, fold(fast.get(u.conversationId), u.snapshot));
    slow.set(u.conversationId, reference(slow.get(u.conversationId), u.snapshot));
    expect(fast.get(u.conversationId)).toEqual(slow.get(u.conversationId));
  }
  return { fast, slow };
}
