import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { compareSources, joinSnapshotTags } from '../../../src/enrich/session-tags-merge.ts';
import { LEG_TAG_FIELDS } from '../../../src/enrich/session-tags.ts';
import type { LegTagField, SessionTagsSnapshot, Tag, TagSource } from '../../../src/enrich/session-tags.ts';
import { deepFreeze, foldEveryUpdate, referenceJoin } from '../../support/reference-merge.ts';

const reference = referenceJoin;

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
    // Frozen: the join updates only the tags it built itself in place, never one it was given.
    deepFreeze([a, b]);
    // The fold had nothing to fold for a first snapshot without legs, and threw (stopping the sink on a record
    // its validation accepted); the join gives the empty snapshot.
    if (a === undefined && b.legs.length === 0) expect(joinSnapshotTags(a, b)).toEqual(b);
    else expect(joinSnapshotTags(a, b)).toEqual(reference(a, b));
  });

  test.prop([snapshot, snapshot, snapshot])('folded in sequence', (a, b, c) => {
    deepFreeze([a, b, c]);
    expect(joinSnapshotTags(joinSnapshotTags(a, b), c)).toEqual(reference(reference(a, b), c));
  });

  it('on every update of simulated conversations, in order and against the final snapshot', () => {
    // Each update as decoded: no objects shared with the simulation or with earlier updates.
    const decoded = (s: SessionTagsSnapshot): SessionTagsSnapshot => JSON.parse(JSON.stringify(s));
    const { fast, slow } = foldEveryUpdate(
      5,
      (prev, s) => joinSnapshotTags(prev, decoded(s)),
      (prev, s) => reference(prev, decoded(s)),
    );
    for (const [id, s] of fast) expect(joinSnapshotTags(s, s)).toEqual(reference(slow.get(id), s));
  }, 30_000);

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
    '\ud83d\ude00',
    '\ud83dx',
    '\ud83d\ude01',
    'ab\u001f',
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
    expect(sign(compareSources(a, b))).toBe(k); // 0 - k: never -0, which toBe tells from 0
    expect(sign(compareSources(b, a))).toBe(0 - k);
    expect(compareSources(a, { ...a })).toBe(0);
  });

  // Strings over a few code units (escaped ones, both halves of a surrogate pair, ones below '"'): shared prefixes,
  // lone and paired surrogates and escapes at the first difference are all common.
  const unit = fc.constantFrom(
    'a',
    'b',
    '!',
    ' ',
    '"',
    '\\',
    '\u0000',
    '\u001f',
    '\ud83d',
    '\ude00',
    'é',
    '~',
  );
  const member = fc.option(fc.string({ unit, maxLength: 6 }), { nil: null });
  const sharing = fc
    .tuple(fc.string({ unit, maxLength: 4 }), member, member)
    .map(([prefix, x, y]) => [x === null ? null : prefix + x, y === null ? null : prefix + y] as const);
  test.prop([sharing, sharing])('on generated strings that share prefixes', ([t1, t2], [c1, c2]) => {
    const a: TagSource = { kind: 'notification', topicName: t1, correlationId: c1, api: null, field: null };
    const b: TagSource = { kind: 'notification', topicName: t2, correlationId: c2, api: null, field: null };
    const k = key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0;
    expect(sign(compareSources(a, b))).toBe(k); // 0 - k: never -0, which toBe tells from 0
    expect(sign(compareSources(b, a))).toBe(0 - k);
  });
});
