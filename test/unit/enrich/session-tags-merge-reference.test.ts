import { test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { mergeSessionTags } from '../../../src/enrich/session-tags-merge.ts';
import type { SessionTagsSnapshot } from '../../../src/enrich/session-tags.ts';
import {
  deepFreeze,
  foldEveryUpdate,
  referenceMerge,
  snapshotObservations,
} from '../../support/reference-merge.ts';
import { CONV, tagObservationBatch } from '../../support/tag-observation-arbitrary.ts';

/**
 * mergeSessionTags builds a capture only when it wins and updates the tags it built itself in place; the reference
 * joins a new immutable tag per capture. Few distinct values, times and sources, so ties (equal times, the same
 * frame's sources, a stated against a mapped address) are common.
 */
describe('mergeSessionTags equals joining an immutable tag per capture', () => {
  const batch = tagObservationBatch;

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
