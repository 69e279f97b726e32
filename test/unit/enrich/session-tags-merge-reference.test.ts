import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { mergeSessionTags } from '../../../src/enrich/session-tags-merge.ts';
import type { SessionTagsSnapshot, TagObservation } from '../../../src/enrich/session-tags.ts';
import {
  deepFreeze,
  foldEveryUpdate,
  referenceMerge,
  snapshotObservations,
} from '../../support/reference-merge.ts';

const CONV = '0b6f3a52-9e1d-4c77-8a20-5d4e3c2b1a09';

/**
 * mergeSessionTags builds a capture only when it wins and updates the tags it built itself in place; the reference
 * joins a new immutable tag per capture. Few distinct values, times and sources, so ties (equal times, the same
 * frame's sources, a stated against a mapped address) are common.
 */
describe('mergeSessionTags equals joining an immutable tag per capture', () => {
  const observation = fc
    .record({
      legKey: fc.constantFrom('leg-a', 'leg-b'),
      participantId: fc.constantFrom('p-1', 'p-2'),
      provenance: fc.constantFrom<TagObservation['provenance']>('live', 'reconciled'),
      source: fc.constantFrom(
        { kind: 'notification' as const, topicName: 't.a', correlationId: 'c-1', api: null, field: null },
        { kind: 'notification' as const, topicName: 't.a', correlationId: 'c-2', api: null, field: null },
        { kind: 'api' as const, topicName: null, correlationId: null, api: 'analytics', field: null },
      ),
      observedAt: fc.constantFrom(null, 1_000, 2_000),
      receivedAt: fc.constantFrom(-0, 0, 1_000, 2_000, 3_000),
      purpose: fc.constantFrom(undefined, 'agent', 'customer'),
      selfAddress: fc.constantFrom(undefined, 'sip:a', 'tel:+1'),
      selfPath: fc.constantFrom(undefined, 'ani', 'address'),
      persistentConnectionState: fc.constantFrom(undefined, 'ACTIVE', 'PERSISTED'),
      recording: fc.constantFrom(undefined, true, false),
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
        ...(o.recording === undefined ? {} : { recording: o.recording }),
        ...(o.connectedTime === undefined ? {} : { connectedTime: o.connectedTime }),
      },
      ...(o.selfPath === undefined || o.selfAddress === undefined
        ? {}
        : { fieldPaths: { selfAddress: o.selfPath } }),
    }));
  const batch = fc.array(observation, { minLength: 1, maxLength: 12 });

  test.prop([batch])('one batch', (obs) => {
    deepFreeze(obs);
    expect(mergeSessionTags(undefined, obs)).toEqual(referenceMerge(undefined, obs));
  });

  test.prop([batch, batch, batch])(
    'batches merged in turn, each result frozen before the next',
    (a, b, c) => {
      deepFreeze([a, b, c]);
      let fast: SessionTagsSnapshot | undefined;
      let slow: SessionTagsSnapshot | undefined;
      for (const obs of [a, b, c]) {
        fast = deepFreeze(mergeSessionTags(fast, obs));
        slow = referenceMerge(slow, obs);
        expect(fast).toEqual(slow);
      }
    },
  );

  test.prop([batch, batch])('into a snapshot with repeated leg keys (joined into the first)', (a, b) => {
    const s = referenceMerge(undefined, a);
    const t = referenceMerge(undefined, b);
    const repeated = deepFreeze({ conversationId: CONV, legs: [...s.legs, ...t.legs] });
    expect(mergeSessionTags(repeated, [])).toEqual(referenceMerge(repeated, []));
    expect(mergeSessionTags(repeated, b)).toEqual(referenceMerge(repeated, b));
  });

  it('on every update of simulated conversations, as ingest and the sink merge them', () => {
    // Each update's captures as observations, merged into the running snapshot (ingest's batches), frozen.
    const merged =
      (merge: typeof mergeSessionTags) =>
      (prev: SessionTagsSnapshot | undefined, s: SessionTagsSnapshot): SessionTagsSnapshot =>
        deepFreeze(merge(prev, deepFreeze(snapshotObservations(s))));
    foldEveryUpdate(11, merged(mergeSessionTags), merged(referenceMerge));
  }, 30_000);
});
