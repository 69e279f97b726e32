import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import {
  absorbSessionTags,
  mergeSessionTags,
  newOwnedSnapshot,
  ownSnapshot,
  snapshotChanged,
} from '../../../src/enrich/session-tags-merge.ts';
import type { SessionTagsSnapshot, TagObservation } from '../../../src/enrich/session-tags.ts';
import { deepFreeze } from '../../support/reference-merge.ts';

const CONV = '0b6f3a52-9e1d-4c77-8a20-5d4e3c2b1a09';

/**
 * absorbSessionTags (ingest's merge into the snapshot it owns, in place) against mergeSessionTags (pure, the
 * specification): the same snapshot afterwards, and `changed` exactly when snapshotChanged says so. Few distinct
 * values, times and sources, so ties, provenance upgrades and a field going A → B → A within one batch are common.
 */
const observation = fc
  .record({
    legKey: fc.constantFrom('leg-a', 'leg-b', 'leg-c'),
    participantId: fc.constantFrom('p-1', 'p-2'),
    provenance: fc.constantFrom<TagObservation['provenance']>('live', 'reconciled'),
    source: fc.constantFrom(
      { kind: 'notification' as const, topicName: 't.a', correlationId: 'c-1', api: null, field: null },
      { kind: 'notification' as const, topicName: 't.b', correlationId: null, api: null, field: null },
      { kind: 'api' as const, topicName: null, correlationId: null, api: 'analytics', field: null },
    ),
    observedAt: fc.constantFrom(null, 1_000, 2_000),
    receivedAt: fc.constantFrom(-0, 0, 1_000, 2_000, 3_000),
    purpose: fc.constantFrom(undefined, 'agent', 'customer'),
    selfAddress: fc.constantFrom(undefined, 'sip:a', 'tel:+1'),
    selfPath: fc.constantFrom(undefined, 'ani', 'address'),
    persistentConnectionState: fc.constantFrom(undefined, 'ACTIVE', 'PERSISTED'),
    held: fc.constantFrom(undefined, true, false),
    connectedTime: fc.constantFrom(undefined, 5, 6),
  })
  .map((o): TagObservation => ({
    conversationId: CONV,
    legKey: o.legKey,
    participantId: o.participantId,
    provenance: o.provenance,
    source: { ...o.source },
    observedAt: o.observedAt,
    receivedAt: o.receivedAt,
    fields: {
      ...(o.purpose === undefined ? {} : { purpose: o.purpose }),
      ...(o.selfAddress === undefined ? {} : { selfAddress: o.selfAddress }),
      ...(o.persistentConnectionState === undefined
        ? {}
        : { persistentConnectionState: o.persistentConnectionState }),
      ...(o.held === undefined ? {} : { held: o.held }),
      ...(o.connectedTime === undefined ? {} : { connectedTime: o.connectedTime }),
    },
    ...(o.selfPath === undefined || o.selfAddress === undefined
      ? {}
      : { fieldPaths: { selfAddress: o.selfPath } }),
  }));
const batch = fc.array(observation, { minLength: 1, maxLength: 12 });

describe('absorbSessionTags equals mergeSessionTags, in place', () => {
  test.prop([batch, fc.array(batch, { minLength: 1, maxLength: 5 })])(
    'batch after batch: the same snapshot, and changed exactly when snapshotChanged',
    (first, rest) => {
      deepFreeze([first, rest]);
      let pure = mergeSessionTags(undefined, first);
      const owned = newOwnedSnapshot(first);
      expect(owned).toEqual(pure);
      for (const obs of rest) {
        const next = mergeSessionTags(pure, obs);
        const changed = absorbSessionTags(owned, obs);
        expect(owned).toEqual(next);
        expect(changed).toBe(snapshotChanged(pure, next));
        pure = next;
      }
    },
  );

  test.prop([batch, batch])('into a snapshot decoded elsewhere (its own objects)', (a, b) => {
    deepFreeze([a, b]);
    const written = mergeSessionTags(undefined, a);
    const owned = ownSnapshot(structuredClone(written));
    const next = mergeSessionTags(written, b);
    expect(absorbSessionTags(owned, b)).toBe(snapshotChanged(written, next));
    expect(owned).toEqual(next);
  });

  test.prop([batch, batch, batch])(
    'legs out of order or repeated are normalised first, as mergeSessionTags does',
    (a, b, c) => {
      deepFreeze([a, b, c]);
      const legsA = mergeSessionTags(undefined, a).legs;
      const legsB = mergeSessionTags(undefined, b).legs;
      const odd: SessionTagsSnapshot = { conversationId: CONV, legs: [...legsB, ...legsA].reverse() };
      const expected = mergeSessionTags(odd, c);
      const owned = ownSnapshot(structuredClone(odd));
      const normalised = structuredClone(owned);
      expect(absorbSessionTags(owned, c)).toBe(snapshotChanged(normalised, expected));
      expect(owned).toEqual(expected);
    },
  );

  it('reports no change when a batch only re-confirms values, and updates their capture in place', () => {
    const at = (receivedAt: number): TagObservation => ({
      conversationId: CONV,
      legKey: 'leg-a',
      participantId: 'p-1',
      provenance: 'live',
      source: { kind: 'notification', topicName: 't.a', correlationId: null, api: null, field: null },
      observedAt: receivedAt,
      receivedAt,
      fields: { purpose: 'agent', held: false },
    });
    const owned = newOwnedSnapshot([at(1_000)]);
    const tag = owned.legs[0]?.purpose;
    expect(absorbSessionTags(owned, [at(2_000), at(3_000)])).toBe(false);
    expect(owned.legs[0]?.purpose).toBe(tag);
    expect(tag).toMatchObject({ value: 'agent', capturedAt: 3_000, firstCapturedAt: 1_000 });
  });

  it('a field that goes A → B → A within one batch is no change', () => {
    const held = (value: boolean, receivedAt: number): TagObservation => ({
      conversationId: CONV,
      legKey: 'leg-a',
      participantId: 'p-1',
      provenance: 'live',
      source: { kind: 'notification', topicName: 't.a', correlationId: null, api: null, field: null },
      observedAt: receivedAt,
      receivedAt,
      fields: { held: value },
    });
    const owned = newOwnedSnapshot([held(false, 1_000)]);
    expect(absorbSessionTags(owned, [held(true, 2_000), held(false, 3_000)])).toBe(false);
    expect(absorbSessionTags(owned, [held(true, 4_000)])).toBe(true);
  });

  it('refuses an observation of another conversation', () => {
    const owned = newOwnedSnapshot([
      {
        conversationId: CONV,
        legKey: 'leg-a',
        participantId: 'p-1',
        provenance: 'live',
        source: { kind: 'notification', topicName: 't.a', correlationId: null, api: null, field: null },
        observedAt: null,
        receivedAt: 1,
        fields: { purpose: 'agent' },
      },
    ]);
    const other = { ...owned.legs[0], conversationId: 'other' };
    expect(() =>
      absorbSessionTags(owned, [
        {
          conversationId: other.conversationId,
          legKey: 'leg-a',
          participantId: 'p-1',
          provenance: 'live',
          source: { kind: 'notification', topicName: 't.a', correlationId: null, api: null, field: null },
          observedAt: null,
          receivedAt: 2,
          fields: {},
        },
      ]),
    ).toThrow(RangeError);
  });
});
