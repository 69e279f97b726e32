import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import {
  absorbInto,
  absorbOrStart,
  absorbSessionTags,
  changedMaterially,
  forEachConversationRun,
  mergeSessionTags,
  newSnapshotChanges,
  newOwnedSnapshot,
  ownSnapshot,
  snapshotChanged,
} from '../../../src/enrich/session-tags-merge.ts';
import type { OwnedSnapshot } from '../../../src/enrich/session-tags-merge.ts';
import type { SessionTagsSnapshot, TagObservation } from '../../../src/enrich/session-tags.ts';
import { deepFreeze, foldEveryUpdate, snapshotObservations } from '../../support/reference-merge.ts';
import { CONV, tagObservationBatch } from '../../support/tag-observation-arbitrary.ts';

/**
 * absorbSessionTags (ingest's merge into the snapshot it owns, in place) against mergeSessionTags (pure, the
 * specification): the same snapshot afterwards, and `changed` exactly when snapshotChanged says so.
 */
const batch = tagObservationBatch;

/** One live observation of leg-a from a frame received (and observed) at `receivedAt`. */
const live = (
  receivedAt: number,
  fields: TagObservation['fields'],
  conversationId = CONV,
): TagObservation => ({
  conversationId,
  legKey: 'leg-a',
  participantId: 'p-1',
  provenance: 'live',
  source: { kind: 'notification', topicName: 't.a', correlationId: null, api: null, field: null },
  observedAt: receivedAt,
  receivedAt,
  fields,
});

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

  test.prop([batch, fc.array(batch, { minLength: 1, maxLength: 6 })])(
    'merges noted in one record of changes, observation by observation, say what one merge of them all says',
    (first, rest) => {
      // Ingest merges each frame as it arrives and writes the snapshot once per batch: the changes it notes between
      // two writes must answer as absorbSessionTags of the whole batch at once (A → B → A is no change).
      deepFreeze([first, rest]);
      const written = mergeSessionTags(undefined, first);
      const owned = newOwnedSnapshot(first);
      const changes = newSnapshotChanges();
      for (const obs of rest) for (const o of obs) absorbInto(owned, [o], changes);
      const expected = mergeSessionTags(written, rest.flat());
      expect(owned).toEqual(expected);
      expect(changedMaterially(changes)).toBe(snapshotChanged(written, expected));
    },
  );

  it('a field that goes A → B → A over several merges noted together is no change', () => {
    const held = (value: boolean, at: number) => live(at, { held: value });
    const owned = newOwnedSnapshot([held(false, 1_000)]);
    const changes = newSnapshotChanges();
    absorbInto(owned, [held(true, 2_000)], changes);
    expect(changedMaterially(changes)).toBe(true);
    absorbInto(owned, [held(false, 3_000)], changes);
    expect(changedMaterially(changes)).toBe(false);
    const added = newSnapshotChanges();
    absorbInto(owned, [{ ...held(true, 4_000), legKey: 'leg-b', participantId: 'p-2' }], added);
    expect(added.legAdded).toBe(true);
    expect(changedMaterially(added)).toBe(true);
  });

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
    const confirm = (at: number) => live(at, { purpose: 'agent', held: false });
    const owned = newOwnedSnapshot([confirm(1_000)]);
    const tag = owned.legs[0]?.purpose;
    expect(absorbSessionTags(owned, [confirm(2_000), confirm(3_000)])).toBe(false);
    expect(owned.legs[0]?.purpose).toBe(tag);
    expect(tag).toMatchObject({ value: 'agent', capturedAt: 3_000, firstCapturedAt: 1_000 });
  });

  it('a field that goes A → B → A within one batch is no change', () => {
    const held = (value: boolean, at: number) => live(at, { held: value });
    const owned = newOwnedSnapshot([held(false, 1_000)]);
    expect(absorbSessionTags(owned, [held(true, 2_000), held(false, 3_000)])).toBe(false);
    expect(absorbSessionTags(owned, [held(true, 4_000)])).toBe(true);
  });

  it('refuses an observation of another conversation', () => {
    const owned = newOwnedSnapshot([live(1, { purpose: 'agent' })]);
    expect(() => absorbSessionTags(owned, [live(2, {}, 'another-conversation')])).toThrow(RangeError);
  });

  it('on every update of simulated conversations, as ingest merges them', () => {
    // Each update's captures as observations: absorbed into the owned snapshot, and merged purely beside it.
    const changes: boolean[] = [];
    const absorbed = (prev: SessionTagsSnapshot | undefined, s: SessionTagsSnapshot): SessionTagsSnapshot => {
      const obs = deepFreeze(snapshotObservations(s));
      if (prev === undefined) return newOwnedSnapshot(obs);
      const before = structuredClone(prev);
      const changed = absorbSessionTags(prev as OwnedSnapshot, obs);
      expect(changed).toBe(snapshotChanged(before, prev));
      changes.push(changed);
      return prev;
    };
    foldEveryUpdate(11, absorbed, (prev, s) => mergeSessionTags(prev, snapshotObservations(s)));
    // Both answers occur, so the comparison above is not vacuous.
    expect(changes).toContain(true);
    expect(changes).toContain(false);
  }, 30_000);
});

describe('absorbOrStart and forEachConversationRun, as ingest merges a frame', () => {
  it('starts a snapshot when there is none (a change), and merges into the one there is', () => {
    const first = [live(1_000, { purpose: 'agent' })];
    const started = newSnapshotChanges();
    const owned = absorbOrStart(undefined, first, started);
    expect(owned).toEqual(mergeSessionTags(undefined, first));
    expect(changedMaterially(started)).toBe(true);
    const again = newSnapshotChanges();
    expect(absorbOrStart(owned, [live(2_000, { purpose: 'agent' })], again)).toBe(owned);
    expect(changedMaterially(again)).toBe(false);
  });

  it('gives each run of one conversation in order, the array itself when it is all one', () => {
    const runs = (obs: readonly TagObservation[]) => {
      const out: Array<[string, readonly TagObservation[]]> = [];
      forEachConversationRun(obs, (id, run) => out.push([id, run]));
      return out;
    };
    const a1 = live(1, {}, 'a');
    const a2 = live(2, {}, 'a');
    const b = live(3, {}, 'b');
    const a3 = live(4, {}, 'a');
    const one = [a1, a2];
    expect(runs(one)).toEqual([['a', one]]);
    expect(runs(one)[0]?.[1]).toBe(one);
    expect(runs([a1, a2, b, a3])).toEqual([
      ['a', [a1, a2]],
      ['b', [b]],
      ['a', [a3]],
    ]);
    expect(runs([])).toEqual([]);
  });
});
