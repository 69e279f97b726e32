/**
 * Merging session-tag observations into a per-conversation snapshot, and deciding whether a snapshot changed.
 *
 * The merge is a join-semilattice: every leg field is joined independently with {@link joinTag}, which is
 * commutative, associative and idempotent. Hence any permutation or duplication of the same observations, and any
 * split of them into batches (merging a batch into the snapshot of an earlier batch), yields a deep-equal snapshot.
 * That is what makes replays from Kafka, at-least-once redelivery and late REST repairs safe.
 */
import { createHash } from 'node:crypto';
import { LEG_TAG_FIELDS } from './session-tags.ts';
import type {
  LegFieldValueTypes,
  LegTagField,
  LegTags,
  Provenance,
  SessionTagsSnapshot,
  Tag,
  TagObservation,
  TagSource,
} from './session-tags.ts';

const LEG_TAG_FIELD_SET: ReadonlySet<string> = new Set(LEG_TAG_FIELDS);

type MutableLeg = { legKey: string; participantId: string } & {
  [K in LegTagField]: Tag<LegFieldValueTypes[K]> | null;
};

function cmp(a: string | number, b: string | number): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Source keys already computed, for {@link snapshotDigest}: a snapshot's tags share their source objects. */
const sourceKeys = new WeakMap<TagSource, string>();

function sourceKey(s: TagSource): string {
  let key = sourceKeys.get(s);
  if (key === undefined) {
    key = JSON.stringify([s.kind, s.topicName, s.correlationId, s.api, s.field]);
    sourceKeys.set(s, key);
  }
  return key;
}

/**
 * A source with the payload field a value was read from. One object per (source, field), shared by every tag read
 * that way: a frame's observations share their source, so {@link compareSources} and {@link sourceKey} often meet
 * the same object.
 */
const withField = new WeakMap<TagSource, Map<string, TagSource>>();

function sourceWithField(s: TagSource, field: string): TagSource {
  let byField = withField.get(s);
  if (byField === undefined) {
    byField = new Map();
    withField.set(s, byField);
  }
  let derived = byField.get(field);
  if (derived === undefined) {
    derived = { ...s, field };
    byField.set(field, derived);
  }
  return derived;
}

function valueKey(v: string | number | boolean): string {
  return `${typeof v}:${String(v)}`;
}

/**
 * Whether a UTF-16 code unit begins its text inside a JSON string with itself: not escaped (a backslash is, but as
 * two backslashes) and not a surrogate (escaped when lone).
 */
function plainInJson(c: number): boolean {
  return c >= 0x20 && c !== 0x22 && (c < 0xd800 || c > 0xdfff);
}

/**
 * `cmp(JSON.stringify(x), JSON.stringify(y))` for two members of a source key. Two strings that first differ in a
 * code unit JSON writes as itself compare as those code units: their common prefix is written the same in both (a
 * surrogate at its end is lone in both, the next unit being no surrogate). So do a string and its proper prefix,
 * below. Anything else (an escape or a surrogate at the difference, `null`) goes through JSON.
 */
function compareMember(x: string | null, y: string | null): number {
  if (x === y) return 0;
  if (x !== null && y !== null) {
    const n = Math.min(x.length, y.length);
    let i = 0;
    while (i < n && x.charCodeAt(i) === y.charCodeAt(i)) i++;
    if (i < n) {
      const cx = x.charCodeAt(i);
      const cy = y.charCodeAt(i);
      if (plainInJson(cx) && plainInJson(cy)) return cx < cy ? -1 : 1;
    } else if (x.length !== y.length) {
      // One is a proper prefix of the other (a topic and its subtopic: `….conversations` and
      // `….conversations.calls`). Where the shorter's JSON closes with `"`, the longer's goes on with its next unit
      // as itself, or with `\\` (an escape; also a high surrogate ending the shorter, lone there, is escaped where
      // the longer has it raw): only a space or `!` is below `"`.
      const next = (x.length > y.length ? x : y).charCodeAt(n);
      const shorterFirst = next !== 0x20 && next !== 0x21;
      return shorterFirst === x.length < y.length ? -1 : 1;
    }
  }
  return cmp(JSON.stringify(x), JSON.stringify(y));
}

/**
 * `cmp(sourceKey(a), sourceKey(b))`, without building either key: the keys are JSON arrays of the same members, and
 * a JSON string or `null` is never a proper prefix of another, so the keys compare as the JSON texts of their first
 * differing member do ({@link compareMember}). A cumulative snapshot re-sends every capture, so a merge mostly ranks
 * a tag against its own earlier copy, whose source (decoded from another record) is a new object: sourceKey's cache
 * would miss; and frames received in the same millisecond tie up to their sources.
 */
export function compareSources(a: TagSource, b: TagSource): number {
  if (a === b) return 0;
  if (a === lastCompared.a && b === lastCompared.b) return lastCompared.result;
  const result =
    compareMember(a.kind, b.kind) ||
    compareMember(a.topicName ?? null, b.topicName ?? null) ||
    compareMember(a.correlationId ?? null, b.correlationId ?? null) ||
    compareMember(a.api ?? null, b.api ?? null) ||
    compareMember(a.field ?? null, b.field ?? null);
  lastCompared.a = a;
  lastCompared.b = b;
  lastCompared.result = result;
  return result;
}

/**
 * The last pair {@link compareSources} ranked. A frame's fields without a payload path share its source, and a
 * leg's fields mostly share the one of the frame that last set them, so a merge ranks the same pair field after field
 * (sources are never changed once built).
 */
const lastCompared: { a: TagSource | undefined; b: TagSource | undefined; result: number } = {
  a: undefined,
  b: undefined,
  result: 0,
};

/**
 * Payload fields whose value custody maps to a leg's own or far address by the call's direction (the calling and
 * called numbers; legAddresses in session-tags-extract.ts): an address a payload states for the leg itself
 * (`self`/`other`, `address`, `addressSelf`) outranks them whatever the order of arrival, since EventBridge (and
 * frames on different topics) arrive in no guaranteed order.
 */
const MAPPED_ADDRESS_FIELDS: ReadonlySet<string> = new Set([
  'ani',
  'dnis',
  'sessionDnis',
  'addressFrom',
  'addressTo',
]);

function explicitnessOf(s: TagSource): number {
  return s.field !== null && MAPPED_ADDRESS_FIELDS.has(s.field) ? 0 : 1;
}

/**
 * Total order on the candidate values of one field *within one provenance*: a stated address beats a mapped one
 * ({@link explicitnessOf}), then later Genesys-side time wins (an
 * observation without one ranks below any with one), then later custody receive time (Genesys delivers a leg's
 * updates in order, and several updates can share the same leg timestamps, e.g. a recording-state change), then the
 * evidence pointer and the value themselves, only so that the order is total and the result deterministic.
 */
function rankTags<T extends string | number | boolean>(a: Tag<T>, b: Tag<T>): number {
  return rankCandidate(a, b.value, b.source, b.observedAt, b.capturedAt);
}

/**
 * Joins two captures of the same field. The rule, and why:
 * 1. `live` beats `reconciled`, whatever the times: a value witnessed on the live feed is the primary evidence;
 *    a REST/analytics read is a later reconstruction. So a live field is never downgraded to reconciled and a
 *    reconciled value never overwrites a live one (it only fills fields the live feed never carried).
 * 2. Within one provenance, the value of the highest-ranked capture wins ({@link rankTags}: newest Genesys state),
 *    or for the fields that describe the leg at connect time, the lowest-ranked (earliest).
 * 3. `firstCapturedAt` is the minimum receive time over the captures of the winning provenance, so it says when
 *    custody first held this field with this provenance (the value itself may have changed since; every version is
 *    in the evidence log).
 * Each step is a max or a min over a total order, so the join is commutative, associative and idempotent.
 */
export function joinTag<T extends string | number | boolean>(
  a: Tag<T>,
  b: Tag<T>,
  order: 'newest' | 'earliest' = 'newest',
): Tag<T> {
  if (a.provenance !== b.provenance) return a.provenance === 'live' ? a : b;
  const rank = rankTags(a, b);
  const winner = (order === 'newest' ? rank >= 0 : rank <= 0) ? a : b;
  const first = Math.min(a.firstCapturedAt, b.firstCapturedAt);
  return winner.firstCapturedAt === first ? winner : { ...winner, firstCapturedAt: first };
}

/**
 * Fields that describe the leg as it was set up, not as it ends: the user's persistent-connection state is attached
 * to every frame of the leg with the user's *current* state, which after the call is e.g. PERSISTED; the evidence a
 * legal team asks for is the state the call connected with, so the earliest capture (by the same total order) wins.
 */
const AT_CONNECT_FIELDS: ReadonlySet<LegTagField> = new Set(['persistentConnectionState']);

/**
 * A leg with the fields of `from` (none: every field null), built as one literal naming every member in schema
 * order: V8 then keeps the leg's 34 members inside the object. Built member by member (32 keyed stores), a leg went
 * to dictionary mode, a hash table of ~1.3 KB: 40 % of a snapshot ingest holds, all of it marked by every major GC,
 * and a hash lookup for every field a merge reads.
 */
function newLeg(legKey: string, participantId: string, from?: LegTags): MutableLeg {
  return {
    legKey,
    participantId,
    communicationId: from?.communicationId ?? null,
    userId: from?.userId ?? null,
    purpose: from?.purpose ?? null,
    direction: from?.direction ?? null,
    stationId: from?.stationId ?? null,
    stationType: from?.stationType ?? null,
    isWebRtc: from?.isWebRtc ?? null,
    peerId: from?.peerId ?? null,
    provider: from?.provider ?? null,
    selfAddress: from?.selfAddress ?? null,
    otherAddress: from?.otherAddress ?? null,
    publicIpAddress: from?.publicIpAddress ?? null,
    connectedTime: from?.connectedTime ?? null,
    disconnectedTime: from?.disconnectedTime ?? null,
    recordingState: from?.recordingState ?? null,
    recording: from?.recording ?? null,
    persistentConnectionState: from?.persistentConnectionState ?? null,
    state: from?.state ?? null,
    disconnectType: from?.disconnectType ?? null,
    held: from?.held ?? null,
    confined: from?.confined ?? null,
    muted: from?.muted ?? null,
    everHeld: from?.everHeld ?? null,
    everConfined: from?.everConfined ?? null,
    everMuted: from?.everMuted ?? null,
    startHoldTime: from?.startHoldTime ?? null,
    startAcwTime: from?.startAcwTime ?? null,
    endAcwTime: from?.endAcwTime ?? null,
    edgeId: from?.edgeId ?? null,
    protocolCallId: from?.protocolCallId ?? null,
    errorCode: from?.errorCode ?? null,
    clientIpSourceSeen: from?.clientIpSourceSeen ?? null,
  };
}

type AnyTag = Tag<string | number | boolean>;

/**
 * Tags a merge in progress has built and not yet returned: referenced by one field of one leg only, so a later
 * capture of that field updates them in place. A cumulative snapshot re-captures most fields in every frame, and a
 * new tag object (often two: the winner, then its copy with the earlier first capture) per field per frame was a
 * large part of ingest's allocation (test/unit/enrich/session-tags-merge-reference.test.ts holds the result equal to
 * joining immutable tags with {@link joinTag}).
 */
interface FreshTags {
  has(tag: AnyTag): boolean;
  add(tag: AnyTag): void;
}

/** Every tag of a snapshot its caller owns ({@link absorbSessionTags}): all of them are updated in place. */
const OWNED: FreshTags = { has: () => true, add: () => undefined };

/** {@link rankTags} of `current` against a candidate given by its parts (built only when it wins). */
function rankCandidate(
  current: AnyTag,
  value: string | number | boolean,
  source: TagSource,
  observedAt: number | null,
  capturedAt: number,
): number {
  return (
    cmp(explicitnessOf(current.source), explicitnessOf(source)) ||
    cmp(current.observedAt ?? -Infinity, observedAt ?? -Infinity) ||
    cmp(current.capturedAt, capturedAt) ||
    compareSources(current.source, source) ||
    (current.value === value ? 0 : cmp(valueKey(current.value), valueKey(value)))
  );
}

/**
 * Joins one capture (a value with its provenance, source and times) into a leg's field: exactly
 * `joinTag(into[field], capture, order)`, with the capture and the result built only when they differ from what the
 * field holds, and fresh tags (see {@link FreshTags}) updated in place. Returns whether the field changed materially
 * (its value, provenance or `firstCapturedAt`: what {@link snapshotChanged} compares).
 */
function joinCapture(
  into: MutableLeg,
  field: LegTagField,
  fresh: FreshTags,
  value: string | number | boolean,
  provenance: Provenance,
  source: TagSource,
  observedAt: number | null,
  capturedAt: number,
  firstCapturedAt: number,
): boolean {
  const slot = into as Record<LegTagField, AnyTag | null>;
  const current = slot[field];
  let first = firstCapturedAt;
  if (current !== null) {
    if (current.provenance !== provenance) {
      if (current.provenance === 'live') return false;
    } else {
      const rank = rankCandidate(current, value, source, observedAt, capturedAt);
      const currentWins = AT_CONNECT_FIELDS.has(field) ? rank <= 0 : rank >= 0;
      const min = Math.min(current.firstCapturedAt, firstCapturedAt);
      if (currentWins) {
        if (current.firstCapturedAt === min) return false;
        const changed = jsonNumber(current.firstCapturedAt) !== jsonNumber(min);
        if (fresh.has(current)) (current as { firstCapturedAt: number }).firstCapturedAt = min;
        else {
          const copy = { ...current, firstCapturedAt: min };
          fresh.add(copy);
          slot[field] = copy;
        }
        return changed;
      }
      if (firstCapturedAt !== min) first = min;
      const changed =
        !sameMaterialValue(current.value, value) || jsonNumber(current.firstCapturedAt) !== jsonNumber(first);
      if (fresh.has(current)) {
        const t = current as { -readonly [K in keyof AnyTag]: AnyTag[K] };
        // An equal value is usually another frame's copy of the same text: keeping the old one lets the copy die young.
        if (t.value !== value) t.value = value;
        t.source = source;
        t.observedAt = observedAt;
        t.capturedAt = capturedAt;
        t.firstCapturedAt = first;
        return changed;
      }
      const tag: AnyTag = { value, provenance, source, observedAt, capturedAt, firstCapturedAt: first };
      fresh.add(tag);
      slot[field] = tag;
      return changed;
    }
  }
  const tag: AnyTag = { value, provenance, source, observedAt, capturedAt, firstCapturedAt: first };
  fresh.add(tag);
  slot[field] = tag;
  return true;
}

/**
 * Each field's material form (value, provenance, `firstCapturedAt`) as it was before a capture first changed it,
 * flat: [leg, field, value, provenance, firstCapturedAt, …], with nulls for a field that held nothing.
 */
type MaterialBefore = (MutableLeg | LegTagField | string | number | boolean | null)[];

/**
 * Joins one observation into a leg: only the fields it carries (joining a field with "not observed" leaves it as it
 * is, so the other fields need no work). With `before`, notes there each field a capture changed materially, as it
 * was before its first change ({@link absorbSessionTags}).
 */
function joinObservation(
  into: MutableLeg,
  o: TagObservation,
  fresh: FreshTags,
  before?: MaterialBefore,
): void {
  const slot = into as Record<LegTagField, AnyTag | null>;
  // The observation's own fields, not all 32 of a leg: an observation carries a third of them, and reading an absent
  // one is a lookup on fields objects of many shapes. Fields join independently, so their order does not matter.
  for (const key in o.fields) {
    if (!LEG_TAG_FIELD_SET.has(key)) continue;
    const f = key as LegTagField;
    const value = o.fields[f];
    if (value === undefined) continue;
    const path = o.fieldPaths?.[f];
    const source = path === undefined ? o.source : sourceWithField(o.source, path);
    if (before === undefined) {
      joinCapture(into, f, fresh, value, o.provenance, source, o.observedAt, o.receivedAt, o.receivedAt);
      continue;
    }
    // Read before the join: it may change the tag in place.
    const current = slot[f];
    const v = current?.value ?? null;
    const p = current?.provenance ?? null;
    const first = current?.firstCapturedAt ?? null;
    if (!joinCapture(into, f, fresh, value, o.provenance, source, o.observedAt, o.receivedAt, o.receivedAt))
      continue;
    let seen = false;
    for (let i = 0; i < before.length; i += 5) if (before[i] === into && before[i + 1] === f) seen = true;
    if (!seen) before.push(into, f, v, p, first);
  }
}

/** Whether a field noted in `before` differs materially now (a change and its undoing in one batch is none). */
function changedSince(before: MaterialBefore): boolean {
  for (let i = 0; i < before.length; i += 5) {
    const now = (before[i] as Record<LegTagField, AnyTag | null>)[before[i + 1] as LegTagField];
    const v = before[i + 2] as string | number | boolean | null;
    if (v === null || now === null) return true;
    if (
      !sameMaterialValue(v, now.value) ||
      before[i + 3] !== now.provenance ||
      jsonNumber(before[i + 4] as number) !== jsonNumber(now.firstCapturedAt)
    )
      return true;
  }
  return false;
}

/**
 * Folds observations into a conversation's snapshot (or into an empty one when `snapshot` is undefined).
 *
 * Deterministic and order-insensitive (see the module comment and {@link joinTag}): for any observations O and any
 * split O = O1 ∪ O2, `merge(merge(undefined, O1), O2)` deep-equals `merge(undefined, O)` and does not depend on the
 * order or multiplicity of the elements. Legs are sorted by `legKey`. Pure; never mutates its inputs.
 *
 * @throws {RangeError} when an observation belongs to another conversation than the snapshot/the others, or when
 *   there is neither a snapshot nor an observation. Both are programming errors: the shell groups by conversation.
 */
export function mergeSessionTags(
  snapshot: SessionTagsSnapshot | undefined,
  observations: readonly TagObservation[],
): SessionTagsSnapshot {
  const conversationId = snapshot?.conversationId ?? observations[0]?.conversationId;
  if (conversationId === undefined)
    throw new RangeError('mergeSessionTags needs a snapshot or an observation');
  const fresh: FreshTags = new Set();
  const legs = copyLegs(snapshot, fresh);
  for (const o of observations) {
    if (o.conversationId !== conversationId) {
      throw new RangeError('mergeSessionTags got observations of more than one conversation');
    }
    joinObservation(legIn(legs, o.legKey, o.participantId), o, fresh);
  }
  return { conversationId, legs: sortedLegs(legs) };
}

/**
 * A snapshot owned by its holder, merged into in place: ingest keeps one per conversation in flight and folds every
 * batch's observations into it. {@link mergeSessionTags} copies the legs and builds a new tag for every field a
 * frame re-captures (a later `capturedAt`), so each batch turned thousands of long-lived tags into garbage and the
 * major GCs that collect it took a core from the broker beside ingest (bench/README.md, "Tags merged in place").
 */
export type OwnedSnapshot = SessionTagsSnapshot & { readonly owned: unique symbol };

/**
 * Takes ownership of `snapshot` for {@link absorbSessionTags}: the caller must not read it (nor anything of it) as
 * the value it had once it changes, nor share its tags with another snapshot that outlives the next absorb. A
 * snapshot whose legs are not sorted by unique leg keys is normalised as {@link mergeSessionTags} would.
 */
export function ownSnapshot(snapshot: SessionTagsSnapshot): OwnedSnapshot {
  const legs = snapshot.legs;
  for (let i = 1; i < legs.length; i++)
    if (cmp((legs[i - 1] as LegTags).legKey, (legs[i] as LegTags).legKey) >= 0)
      return mergeSessionTags(snapshot, []) as OwnedSnapshot;
  return snapshot as OwnedSnapshot;
}

/** A new owned snapshot from observations (`mergeSessionTags(undefined, observations)`, whose tags are all new). */
export function newOwnedSnapshot(observations: readonly TagObservation[]): OwnedSnapshot {
  return mergeSessionTags(undefined, observations) as OwnedSnapshot;
}

/**
 * Merges observations into an owned snapshot in place: afterwards it deep-equals what
 * `mergeSessionTags(before, observations)` returns, and the result is whether it changed materially
 * (`snapshotChanged(before, after)`). A re-captured field updates its tag's times and source where it lies, and the
 * legs array is replaced only when a leg is added. test/unit/enrich/session-tags-absorb.test.ts holds both equal.
 *
 * @throws {RangeError} when an observation belongs to another conversation (a programming error, as in
 *   {@link mergeSessionTags}); observations before it are merged.
 */
export function absorbSessionTags(snapshot: OwnedSnapshot, observations: readonly TagObservation[]): boolean {
  const changes = newSnapshotChanges();
  absorbInto(snapshot, observations, changes);
  return changedMaterially(changes);
}

/**
 * What merges into an owned snapshot changed since it was created: each field a merge changed, as it was before its
 * first change, and whether a leg was added. Several merges into one record of changes say together what
 * {@link absorbSessionTags} of all their observations at once would (a field that went A → B → A is no change).
 */
export interface SnapshotChanges {
  legAdded: boolean;
  /** A MaterialBefore: opaque outside this module. */
  readonly before: unknown[];
}

export function newSnapshotChanges(): SnapshotChanges {
  return { legAdded: false, before: [] };
}

/** Whether the snapshot changed materially over the merges noted in `changes` (`snapshotChanged(then, now)`). */
export function changedMaterially(changes: SnapshotChanges): boolean {
  return changes.legAdded || changedSince(changes.before as MaterialBefore);
}

/**
 * {@link absorbSessionTags}, noting what changed in `changes` (which may hold earlier merges into the same snapshot)
 * instead of answering whether it changed.
 *
 * @throws {RangeError} as {@link absorbSessionTags}.
 */
export function absorbInto(
  snapshot: OwnedSnapshot,
  observations: readonly TagObservation[],
  changes: SnapshotChanges,
): void {
  let legs = snapshot.legs as MutableLeg[];
  for (const o of observations) {
    if (o.conversationId !== snapshot.conversationId) {
      throw new RangeError('absorbSessionTags got an observation of another conversation');
    }
    let into: MutableLeg | undefined;
    for (const leg of legs) if (leg.legKey === o.legKey) into = leg;
    if (into === undefined) {
      into = newLeg(o.legKey, o.participantId);
      legs = [...legs, into].sort((a, b) => cmp(a.legKey, b.legKey));
      (snapshot as { legs: readonly LegTags[] }).legs = legs;
      changes.legAdded = true;
    }
    // Once a leg is added the snapshot has changed: no field needs noting any more.
    joinObservation(into, o, OWNED, changes.legAdded ? undefined : (changes.before as MaterialBefore));
  }
}

/**
 * {@link absorbInto} `snapshot`, or, when there is none yet, a new owned snapshot of the observations (noted as a
 * change). Returns the snapshot merged into.
 */
export function absorbOrStart(
  snapshot: OwnedSnapshot | undefined,
  observations: readonly TagObservation[],
  changes: SnapshotChanges,
): OwnedSnapshot {
  if (snapshot !== undefined) {
    absorbInto(snapshot, observations, changes);
    return snapshot;
  }
  changes.legAdded = true;
  return newOwnedSnapshot(observations);
}

/**
 * Calls `each` with every run of consecutive observations of one conversation, in order (a frame's observations are
 * usually all of one conversation: then `each` gets the array itself, not a copy).
 */
export function forEachConversationRun(
  observations: readonly TagObservation[],
  each: (conversationId: string, run: readonly TagObservation[]) => void,
): void {
  let from = 0;
  for (let i = 1; i <= observations.length; i++) {
    const id = (observations[from] as TagObservation).conversationId;
    if (i < observations.length && (observations[i] as TagObservation).conversationId === id) continue;
    each(id, from === 0 && i === observations.length ? observations : observations.slice(from, i));
    from = i;
  }
}

/** A snapshot's legs as mutable copies by leg key (a leg repeated is joined into the first). */
function copyLegs(snapshot: SessionTagsSnapshot | undefined, fresh: FreshTags): Map<string, MutableLeg> {
  const legs = new Map<string, MutableLeg>();
  for (const leg of snapshot?.legs ?? []) {
    const seen = legs.get(leg.legKey);
    if (seen === undefined) {
      // Joining a leg into an empty one gives its fields as they are: copied, without a join per field.
      legs.set(leg.legKey, newLeg(leg.legKey, leg.participantId, leg));
    } else for (const f of LEG_TAG_FIELDS) joinTagInto(seen, f, leg[f] as AnyTag | null, fresh);
  }
  return legs;
}

/** `into[field] = joinTag(into[field], t)` (null: not captured), by {@link joinCapture}. */
function joinTagInto(into: MutableLeg, field: LegTagField, t: AnyTag | null, fresh: FreshTags): void {
  if (t === null) return;
  if ((into as Record<LegTagField, AnyTag | null>)[field] === null) {
    // Shared with the snapshot it came from, so not fresh: never updated in place.
    (into as Record<LegTagField, AnyTag | null>)[field] = t;
    return;
  }
  joinCapture(
    into,
    field,
    fresh,
    t.value,
    t.provenance,
    t.source,
    t.observedAt,
    t.capturedAt,
    t.firstCapturedAt,
  );
}

/** The leg of that key, added empty when the merge has none yet. */
function legIn(legs: Map<string, MutableLeg>, legKey: string, participantId: string): MutableLeg {
  let into = legs.get(legKey);
  if (into === undefined) {
    into = newLeg(legKey, participantId);
    legs.set(legKey, into);
  }
  return into;
}

function sortedLegs(legs: Map<string, MutableLeg>): MutableLeg[] {
  return [...legs.values()].sort((a, b) => cmp(a.legKey, b.legKey));
}

/**
 * Joins a snapshot into another, tag by tag: exactly `mergeSessionTags(stored, observations)` where each of
 * `incoming`'s tags is folded as the observations of it a capture would give (one received at its `capturedAt`,
 * one at its `firstCapturedAt` when that differs, in that order), and every incoming leg is kept even without a
 * field. Without building those observations: the sink joins every session-tags record (a cumulative snapshot,
 * 10–30 per call) into its state, and building them was ~30 % of that (test/unit/sink/join-snapshots.test.ts holds
 * the two equal).
 *
 * @throws {RangeError} when the snapshots belong to different conversations.
 */
export function joinSnapshotTags(
  stored: SessionTagsSnapshot | undefined,
  incoming: SessionTagsSnapshot,
): SessionTagsSnapshot {
  if (stored !== undefined && stored.conversationId !== incoming.conversationId) {
    throw new RangeError('joinSnapshotTags got snapshots of two conversations');
  }
  const fresh: FreshTags = new Set();
  const legs = copyLegs(stored, fresh);
  for (const leg of incoming.legs) {
    const into = legIn(legs, leg.legKey, leg.participantId);
    for (const f of LEG_TAG_FIELDS) {
      const t = leg[f] as AnyTag | null;
      if (t === null) continue;
      if (into[f] === null && t.firstCapturedAt === t.capturedAt) {
        // The two captures are one, and joined into nothing they give the tag as it is: shared, not fresh.
        (into as Record<LegTagField, AnyTag | null>)[f] = t;
        continue;
      }
      joinCapture(into, f, fresh, t.value, t.provenance, t.source, t.observedAt, t.capturedAt, t.capturedAt);
      if (t.firstCapturedAt !== t.capturedAt) {
        const at = t.firstCapturedAt;
        joinCapture(into, f, fresh, t.value, t.provenance, t.source, t.observedAt, at, at);
      }
    }
  }
  return { conversationId: incoming.conversationId, legs: sortedLegs(legs) };
}

function tagForm(t: Tag<string | number | boolean> | null, material: boolean): unknown {
  if (t === null) return null;
  if (material) return [valueKey(t.value), t.provenance, t.firstCapturedAt];
  return [
    valueKey(t.value),
    t.provenance,
    t.firstCapturedAt,
    t.observedAt,
    t.capturedAt,
    sourceKey(t.source),
  ];
}

function canonicalForm(s: SessionTagsSnapshot, material: boolean): string {
  const legs = [...s.legs]
    .sort((a, b) => cmp(a.legKey, b.legKey))
    .map((l) => [l.legKey, l.participantId, ...LEG_TAG_FIELDS.map((f) => tagForm(l[f], material))]);
  return JSON.stringify([s.conversationId, legs]);
}

/** SHA-256 (hex) over every field of the snapshot in a fixed order; equal snapshots give equal digests. */
export function snapshotDigest(snapshot: SessionTagsSnapshot): string {
  return createHash('sha256').update(canonicalForm(snapshot, false)).digest('hex');
}

/**
 * The material form of a snapshot (legs sorted; per field: value, provenance, `firstCapturedAt`): what
 * {@link snapshotChanged} compares, as text. The specification of a material change; the comparison itself walks
 * the two snapshots without building it.
 */
export function materialForm(s: SessionTagsSnapshot): string {
  return canonicalForm(s, true);
}

/** How JSON.stringify writes a number (so the walk below agrees with {@link materialForm} on every input). */
function jsonNumber(n: number): number | null {
  return Number.isFinite(n) ? n : null;
}

/** Whether two values of a field are the same in {@link materialForm} (type and text). */
function sameMaterialValue(a: string | number | boolean, b: string | number | boolean): boolean {
  return a === b || (typeof a === typeof b && String(a) === String(b));
}

function sameMaterialTag(a: AnyTag | null, b: AnyTag | null): boolean {
  if (a === null || b === null) return a === b;
  return (
    (a === b || (sameMaterialValue(a.value, b.value) && a.provenance === b.provenance)) &&
    jsonNumber(a.firstCapturedAt) === jsonNumber(b.firstCapturedAt)
  );
}

function byLegKey(legs: readonly LegTags[]): readonly LegTags[] {
  for (let i = 1; i < legs.length; i++)
    if (cmp((legs[i - 1] as LegTags).legKey, (legs[i] as LegTags).legKey) > 0)
      return [...legs].sort((a, b) => cmp(a.legKey, b.legKey));
  return legs;
}

/**
 * Whether `next` differs materially from `previous`: a leg, a value, a provenance or a `firstCapturedAt` changed.
 * Churn in which frame last confirmed an unchanged value (`capturedAt`, `observedAt`, `source`) is not a change,
 * so ingest does not re-produce a snapshot for every repeated event; that churn stays in the evidence log.
 * Equivalent to comparing {@link materialForm}s (a unit test checks it), without serialising either snapshot.
 */
export function snapshotChanged(
  previous: SessionTagsSnapshot | undefined,
  next: SessionTagsSnapshot,
): boolean {
  if (previous === undefined) return true;
  if (previous.conversationId !== next.conversationId || previous.legs.length !== next.legs.length)
    return true;
  const a = byLegKey(previous.legs);
  const b = byLegKey(next.legs);
  for (let i = 0; i < a.length; i++) {
    const la = a[i] as LegTags;
    const lb = b[i] as LegTags;
    if (la.legKey !== lb.legKey || la.participantId !== lb.participantId) return true;
    for (const f of LEG_TAG_FIELDS)
      if (!sameMaterialTag(la[f] as AnyTag | null, lb[f] as AnyTag | null)) return true;
  }
  return false;
}
