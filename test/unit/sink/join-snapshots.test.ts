import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { capturedUpdates } from '../../../dev/captured-snapshots.ts';
import { createOrg, createRng, randomConversations } from '../../../dev/emulator/simulation/index.ts';
import {
  compareSources,
  joinSnapshotTags,
  mergeSessionTags,
} from '../../../src/enrich/session-tags-merge.ts';
import { LEG_TAG_FIELDS } from '../../../src/enrich/session-tags.ts';
import type {
  LegTagField,
  SessionTagsSnapshot,
  Tag,
  TagObservation,
  TagSource,
} from '../../../src/enrich/session-tags.ts';

/**
 * How the sink joined snapshots before it joined them tag by tag: the incoming snapshot as observations
 * `mergeSessionTags` folds. Each tag becomes two observations of the same value, one received at its `capturedAt`,
 * one at its `firstCapturedAt`; one empty observation per leg keeps legs that have no field yet.
 */
function snapshotObservations(snapshot: SessionTagsSnapshot): TagObservation[] {
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

const reference = (a: SessionTagsSnapshot | undefined, b: SessionTagsSnapshot): SessionTagsSnapshot =>
  mergeSessionTags(a, snapshotObservations(b));

const CONV = '5d3b1f0a-0c1e-4b8e-9a51-2f7c3d9e8a10';

describe('joinSnapshotTags equals folding the incoming snapshot as observations', () => {
  // Few distinct values, so ties (the same capture re-sent, equal times) are common; times in any order, including
  // a first capture after the last (which the observation fold does not give back as it was).
  const tag = fc
    .record({
      value: fc.constantFrom<string | number | boolean>('x', 'y', 5, true, false),
      provenance: fc.constantFrom<'live' | 'reconciled'>('live', 'reconciled'),
      source: fc.constantFrom(
        { kind: 'notification' as const, topicName: 't.a', correlationId: 'c-1', api: null, field: null },
        { kind: 'notification' as const, topicName: 't.a', correlationId: 'c-2', api: null, field: 'ani' },
        {
          kind: 'notification' as const,
          topicName: 't.a',
          correlationId: 'c-2',
          api: null,
          field: 'address',
        },
        { kind: 'api' as const, topicName: null, correlationId: null, api: 'analytics', field: null },
      ),
      observedAt: fc.constantFrom(null, 1_000, 2_000),
      capturedAt: fc.constantFrom(1_000, 2_000, 3_000),
      firstCapturedAt: fc.constantFrom(500, 1_000, 2_000, 3_000),
    })
    // A fresh copy of the source each time, as decoding gives.
    .map((t): Tag<string | number | boolean> => ({ ...t, source: { ...t.source } }));
  const fields: LegTagField[] = [
    'purpose',
    'selfAddress',
    'connectedTime',
    'persistentConnectionState',
    'recording',
  ];
  const leg = fc
    .record({
      legKey: fc.constantFrom('leg-a', 'leg-b', 'leg-c'),
      participantId: fc.constantFrom('p-1', 'p-2'),
      tags: fc.array(fc.option(tag, { nil: null }), { minLength: fields.length, maxLength: fields.length }),
    })
    .map((l) => {
      const out: Record<string, unknown> = { legKey: l.legKey, participantId: l.participantId };
      for (const f of LEG_TAG_FIELDS) out[f] = null;
      fields.forEach((f, i) => (out[f] = l.tags[i] ?? null));
      return out as unknown as SessionTagsSnapshot['legs'][number];
    });
  // Legs may repeat a key (joined into the first), as no schema forbids.
  const snapshot = fc
    .array(leg, { maxLength: 4 })
    .map((legs): SessionTagsSnapshot => ({ conversationId: CONV, legs }));

  test.prop([fc.option(snapshot, { nil: undefined }), snapshot])('on generated snapshots', (a, b) => {
    // The fold had nothing to fold for a first snapshot without legs, and threw (stopping the sink on a record
    // its validation accepted); the join gives the empty snapshot.
    if (a === undefined && b.legs.length === 0) expect(joinSnapshotTags(a, b)).toEqual(b);
    else expect(joinSnapshotTags(a, b)).toEqual(reference(a, b));
  });

  test.prop([snapshot, snapshot, snapshot])('folded in sequence', (a, b, c) => {
    expect(joinSnapshotTags(joinSnapshotTags(a, b), c)).toEqual(reference(reference(a, b), c));
  });

  it('on every update of simulated conversations, in order and against the final snapshot', () => {
    const T0 = Date.parse('2026-03-02T08:00:00Z');
    const org = createOrg(createRng(5), { users: 12 });
    const updates = capturedUpdates(org, randomConversations(org, createRng(5), T0, T0 + 900_000, 6));
    expect(updates.length).toBeGreaterThan(50);
    const fast = new Map<string, SessionTagsSnapshot>();
    const slow = new Map<string, SessionTagsSnapshot>();
    for (const u of updates) {
      const copy = JSON.parse(JSON.stringify(u.snapshot)) as SessionTagsSnapshot; // decoded: no shared objects
      fast.set(u.conversationId, joinSnapshotTags(fast.get(u.conversationId), copy));
      slow.set(u.conversationId, reference(slow.get(u.conversationId), copy));
      expect(fast.get(u.conversationId)).toEqual(slow.get(u.conversationId));
    }
    for (const [id, s] of fast) expect(joinSnapshotTags(s, s)).toEqual(reference(slow.get(id), s));
  });

  it('refuses snapshots of two conversations, as the fold does', () => {
    const a: SessionTagsSnapshot = { conversationId: CONV, legs: [] };
    const b: SessionTagsSnapshot = { conversationId: 'other', legs: [] };
    expect(() => joinSnapshotTags(a, b)).toThrow(RangeError);
  });
});

describe('compareSources orders sources as their JSON keys do', () => {
  const text = fc.constantFrom<string | null>(
    null,
    '',
    'ab',
    'ab!',
    'ab ',
    'abc',
    '"',
    '\\',
    '\u0000',
    'é',
    '\ud800',
    'z',
  );
  const source = fc.record({
    kind: fc.constantFrom<TagSource['kind']>('notification', 'api', 'user-context'),
    topicName: text,
    correlationId: text,
    api: text,
    field: text,
  });
  const key = (s: TagSource): string =>
    JSON.stringify([s.kind, s.topicName, s.correlationId, s.api, s.field]);
  const sign = (n: number): number => Math.sign(n);
  test.prop([source, source])('on generated pairs', (a, b) => {
    const k = key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0;
    expect(sign(compareSources(a, b))).toBe(k);
    expect(sign(compareSources(b, a))).toBe(-k);
    expect(compareSources(a, { ...a })).toBe(0);
  });
});
