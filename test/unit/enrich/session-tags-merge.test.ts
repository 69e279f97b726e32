import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import {
  joinTag,
  materialForm,
  mergeSessionTags,
  snapshotChanged,
  snapshotDigest,
} from '../../../src/enrich/session-tags-merge.ts';
import { apiSource, LEG_TAG_FIELDS, notificationSource } from '../../../src/enrich/session-tags.ts';
import type { SessionTagsSnapshot, Tag, TagObservation } from '../../../src/enrich/session-tags.ts';

const CONV = '7a1e8c3d-2b4f-4c6a-9d8e-1f2a3b4c5d6e';
const P1 = 'd7230894-5770-4bb2-b41d-b2765e5cd5b0';
const P2 = '3c9f1e27-0b5d-4e8a-a1c2-7d6e5f4a3b2c';

function obs(partial: Partial<TagObservation> & Pick<TagObservation, 'fields'>): TagObservation {
  return {
    conversationId: CONV,
    legKey: P1,
    participantId: P1,
    provenance: 'live',
    source: notificationSource('v2.users.x.conversations', 'c-1'),
    observedAt: 1_000,
    receivedAt: 2_000,
    ...partial,
  };
}

describe('mergeSessionTags', () => {
  it('builds legs sorted by leg key, absent fields null', () => {
    const s = mergeSessionTags(undefined, [
      obs({ legKey: P2, participantId: P2, fields: { purpose: 'agent' } }),
      obs({ fields: { purpose: 'customer' } }),
    ]);
    expect(s.conversationId).toBe(CONV);
    expect(s.legs.map((l) => l.legKey)).toEqual([P2, P1].sort());
    expect(s.legs.find((l) => l.legKey === P1)?.peerId).toBeNull();
    expect(s.legs.find((l) => l.legKey === P1)?.purpose).toEqual({
      value: 'customer',
      provenance: 'live',
      source: notificationSource('v2.users.x.conversations', 'c-1'),
      observedAt: 1_000,
      capturedAt: 2_000,
      firstCapturedAt: 2_000,
    });
  });

  it('takes the value with the latest Genesys time, and the earliest capture time', () => {
    const s = mergeSessionTags(undefined, [
      obs({ observedAt: 5_000, receivedAt: 9_000, fields: { recordingState: 'paused' } }),
      obs({ observedAt: 1_000, receivedAt: 3_000, fields: { recordingState: 'active' } }),
    ]);
    expect(s.legs[0]?.recordingState).toMatchObject({
      value: 'paused',
      capturedAt: 9_000,
      firstCapturedAt: 3_000,
    });
  });

  it('breaks a tie in Genesys time by receive time (a state change without a new timestamp)', () => {
    const s = mergeSessionTags(undefined, [
      obs({ receivedAt: 7_000, fields: { recordingState: 'active' } }),
      obs({ receivedAt: 4_000, fields: { recordingState: 'none' } }),
    ]);
    expect(s.legs[0]?.recordingState?.value).toBe('active');
  });

  it('never downgrades live to reconciled, even when the reconciled value is newer', () => {
    const liveObs = obs({ observedAt: 1_000, receivedAt: 5_000, fields: { provider: 'Edge' } });
    const repaired = obs({
      provenance: 'reconciled',
      source: apiSource('analytics'),
      observedAt: 99_000,
      receivedAt: 1_000,
      fields: { provider: 'Other', disconnectedTime: 98_000 },
    });
    const s = mergeSessionTags(undefined, [repaired, liveObs]);
    expect(s.legs[0]?.provider).toMatchObject({ value: 'Edge', provenance: 'live', firstCapturedAt: 5_000 });
    expect(s.legs[0]?.disconnectedTime).toMatchObject({ value: 98_000, provenance: 'reconciled' });
  });

  it('merges into an existing snapshot exactly as merging everything at once', () => {
    const a = obs({ fields: { purpose: 'agent' } });
    const b = obs({
      receivedAt: 3_000,
      observedAt: 2_000,
      fields: { connectedTime: 2_000, purpose: 'user' },
    });
    expect(mergeSessionTags(mergeSessionTags(undefined, [a]), [b])).toEqual(
      mergeSessionTags(undefined, [a, b]),
    );
  });

  it('throws on observations of another conversation (the shell groups by key)', () => {
    const other = obs({ conversationId: 'another', fields: {} });
    expect(() => mergeSessionTags(undefined, [obs({ fields: {} }), other])).toThrow(RangeError);
    expect(() => mergeSessionTags(undefined, [])).toThrow(RangeError);
  });

  it('joins only the leg fields an observation carries: other keys, own or inherited, are ignored', () => {
    // A fields object as a decoder may build it: an instance whose prototype has enumerable members.
    class DecodedFields {
      purpose = 'agent';
      notALegField = 'x';
    }
    (DecodedFields.prototype as unknown as Record<string, unknown>)['clone'] = () => undefined;
    const fields = new DecodedFields() as unknown as TagObservation['fields'];
    const s = mergeSessionTags(undefined, [obs({ fields })]);
    expect(s).toEqual(mergeSessionTags(undefined, [obs({ fields: { purpose: 'agent' } })]));
    expect(Object.keys(s.legs[0] ?? {})).toEqual(['legKey', 'participantId', ...LEG_TAG_FIELDS]);
  });

  it('does not mutate its inputs', () => {
    const s1 = mergeSessionTags(undefined, [obs({ fields: { purpose: 'agent' } })]);
    const copy = structuredClone(s1);
    mergeSessionTags(s1, [obs({ observedAt: 9_000, fields: { purpose: 'user' } })]);
    expect(s1).toEqual(copy);
  });
});

describe('joinTag', () => {
  const base: Tag<string> = {
    value: 'a',
    provenance: 'live',
    source: notificationSource('t', undefined),
    observedAt: null,
    capturedAt: 10,
    firstCapturedAt: 10,
  };
  it('ranks a capture with a Genesys time above one without', () => {
    const timed = { ...base, value: 'b', observedAt: 1, capturedAt: 5, firstCapturedAt: 5 };
    expect(joinTag(base, timed)).toEqual({ ...timed, firstCapturedAt: 5 });
    expect(joinTag(timed, base)).toEqual({ ...timed, firstCapturedAt: 5 });
  });

  it('keeps the earliest capture for fields that describe the leg at connect time', () => {
    const atConnect = { ...base, value: 'ACTIVE_CALL', observedAt: 1 };
    const after = { ...base, value: 'PERSISTED', observedAt: 2, capturedAt: 20, firstCapturedAt: 20 };
    expect(joinTag(atConnect, after, 'earliest').value).toBe('ACTIVE_CALL');
    expect(joinTag(after, atConnect, 'earliest').value).toBe('ACTIVE_CALL');
    expect(joinTag(after, atConnect).value).toBe('PERSISTED');
    const s = mergeSessionTags(undefined, [
      obs({ fields: { persistentConnectionState: 'PERSISTED' }, observedAt: 2000 }),
      obs({ fields: { persistentConnectionState: 'ACTIVE_CALL' }, observedAt: 1000 }),
    ]);
    expect(s.legs[0]?.persistentConnectionState?.value).toBe('ACTIVE_CALL');
  });
});

describe('snapshotChanged / snapshotDigest', () => {
  const s1 = mergeSessionTags(undefined, [obs({ fields: { purpose: 'agent' } })]);

  it('reports a first snapshot and a changed value', () => {
    expect(snapshotChanged(undefined, s1)).toBe(true);
    const s2 = mergeSessionTags(s1, [obs({ observedAt: 5_000, fields: { purpose: 'user' } })]);
    expect(snapshotChanged(s1, s2)).toBe(true);
    expect(snapshotDigest(s1)).not.toBe(snapshotDigest(s2));
  });

  it('ignores a repeat of the same value from a later frame, which the digest still sees', () => {
    const s2 = mergeSessionTags(s1, [
      obs({ receivedAt: 8_000, source: notificationSource('t', 'c-2'), fields: { purpose: 'agent' } }),
    ]);
    expect(s2.legs[0]?.purpose?.capturedAt).toBe(8_000);
    expect(snapshotChanged(s1, s2)).toBe(false);
    expect(snapshotDigest(s1)).not.toBe(snapshotDigest(s2));
  });

  it('reports an earlier first capture and a new leg', () => {
    const earlier = mergeSessionTags(s1, [
      obs({ observedAt: 0, receivedAt: 500, fields: { purpose: 'old' } }),
    ]);
    expect(earlier.legs[0]?.purpose).toMatchObject({ value: 'agent', firstCapturedAt: 500 });
    expect(snapshotChanged(s1, earlier)).toBe(true);
    const withLeg = mergeSessionTags(s1, [obs({ legKey: P2, participantId: P2, fields: {} })]);
    expect(snapshotChanged(s1, withLeg)).toBe(true);
  });

  it('gives the same digest for deep-equal snapshots', () => {
    expect(snapshotDigest(structuredClone(s1))).toBe(snapshotDigest(s1));
    expect(snapshotDigest(s1)).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('mergeSessionTags: a stated address beats one mapped from ani/dnis, whatever arrives first', () => {
  const stated = obs({
    fields: { selfAddress: 'sip:agent@localhost' },
    observedAt: 1_000,
    receivedAt: 2_000,
  });
  const mapped = obs({
    fields: { selfAddress: 'tel:+18005550199' },
    fieldPaths: { selfAddress: 'dnis' },
    source: notificationSource('v2.users.x.conversations.calls', 'c-2'),
    // Same or later Genesys time and later arrival: on EventBridge the order of topics is not kept.
    observedAt: 1_500,
    receivedAt: 3_000,
  });

  it('keeps the stated address in both orders and says which field it came from', () => {
    for (const order of [
      [stated, mapped],
      [mapped, stated],
    ]) {
      const leg = mergeSessionTags(undefined, order).legs[0];
      expect(leg?.selfAddress?.value).toBe('sip:agent@localhost');
      expect(leg?.selfAddress?.source.field).toBeNull();
    }
  });

  it('still takes the newest of two mapped values', () => {
    const newer = obs({
      fields: { selfAddress: 'tel:+18005550100' },
      fieldPaths: { selfAddress: 'ani' },
      observedAt: 1_600,
    });
    const leg = mergeSessionTags(undefined, [newer, mapped]).legs[0];
    expect(leg?.selfAddress?.value).toBe('tel:+18005550100');
  });
});

describe('snapshotChanged walks the snapshots exactly as comparing their material forms would', () => {
  // Few distinct values, so that equal and nearly equal snapshots are common.
  const observation = fc
    .record({
      legKey: fc.constantFrom(P1, P2, 'b', 'a'),
      provenance: fc.constantFrom<TagObservation['provenance']>('live', 'reconciled'),
      observedAt: fc.constantFrom(null, 1_000, 2_000),
      receivedAt: fc.constantFrom(1_000, 2_000, 3_000),
      correlationId: fc.constantFrom('c-1', 'c-2'),
      purpose: fc.constantFrom(undefined, 'agent', 'customer'),
      connectedTime: fc.constantFrom(undefined, 0, -0, 5, 5.5),
      recording: fc.constantFrom(undefined, true, false),
      state: fc.constantFrom(undefined, 'true', '5', 'connected'),
    })
    .map((r) =>
      obs({
        legKey: r.legKey,
        participantId: r.legKey === 'a' ? P2 : P1,
        provenance: r.provenance,
        observedAt: r.observedAt,
        receivedAt: r.receivedAt,
        source: notificationSource('v2.users.x.conversations', r.correlationId),
        fields: {
          purpose: r.purpose,
          connectedTime: r.connectedTime,
          recording: r.recording,
          state: r.state,
        },
      }),
    );
  const snapshot = fc
    .array(observation, { minLength: 1, maxLength: 5 })
    .map((os) => mergeSessionTags(undefined, os));

  test.prop([snapshot, snapshot])('on generated pairs', (a, b) => {
    expect(snapshotChanged(a, b)).toBe(materialForm(a) !== materialForm(b));
  });

  type Edit =
    | 'provenance'
    | 'as-string'
    | 'value'
    | 'first'
    | 'captured'
    | 'observed'
    | 'source'
    | 'null'
    | 'participant';
  /** `s` with one tag (or leg) edited: materially or not, so that both answers are exercised. */
  function edited(s: SessionTagsSnapshot, pick: number, edit: Edit): SessionTagsSnapshot {
    const legs = s.legs.map((l) => ({ ...l }));
    const leg = legs[pick % legs.length] as unknown as Record<string, unknown> & { participantId: string };
    if (edit === 'participant') {
      leg.participantId = `${leg.participantId}x`;
      return { ...s, legs };
    }
    const fields = LEG_TAG_FIELDS.filter((f) => leg[f] !== null);
    const f = fields[pick % Math.max(1, fields.length)];
    if (f === undefined) return s;
    const t = leg[f] as Tag<string | number | boolean>;
    const changes: Record<Exclude<Edit, 'participant'>, unknown> = {
      provenance: { ...t, provenance: t.provenance === 'live' ? 'reconciled' : 'live' },
      'as-string': { ...t, value: String(t.value) },
      value: { ...t, value: `${String(t.value)}!` },
      first: { ...t, firstCapturedAt: t.firstCapturedAt + 1 },
      captured: { ...t, capturedAt: t.capturedAt + 1 },
      observed: { ...t, observedAt: (t.observedAt ?? 0) + 1 },
      source: { ...t, source: notificationSource('v2.users.y.conversations', 'c-9') },
      null: null,
    };
    leg[f] = changes[edit] as never;
    return { ...s, legs };
  }
  const edit = fc.constantFrom<Edit>(
    'provenance',
    'as-string',
    'value',
    'first',
    'captured',
    'observed',
    'source',
    'null',
    'participant',
  );

  test.prop([snapshot, fc.nat(), edit])('on a snapshot and the same with one tag edited', (a, pick, e) => {
    const b = edited(a, pick, e);
    expect(snapshotChanged(a, b)).toBe(materialForm(a) !== materialForm(b));
    expect(snapshotChanged(b, a)).toBe(materialForm(a) !== materialForm(b));
    expect(snapshotChanged(a, { ...a, legs: [...a.legs] })).toBe(false);
  });

  test.prop([snapshot, fc.array(observation, { maxLength: 3 })])(
    'on a snapshot and its merge with more',
    (a, more) => {
      const b = mergeSessionTags(a, more);
      expect(snapshotChanged(a, b)).toBe(materialForm(a) !== materialForm(b));
      // Legs in another order (a restored snapshot need not be sorted) compare the same.
      const shuffled = { ...a, legs: [...a.legs].reverse() };
      expect(snapshotChanged(shuffled, b)).toBe(materialForm(a) !== materialForm(b));
      expect(snapshotChanged(b, shuffled)).toBe(materialForm(a) !== materialForm(b));
    },
  );
});
