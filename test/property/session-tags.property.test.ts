import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { mergeSessionTags, snapshotChanged, snapshotDigest } from '../../src/enrich/session-tags-merge.ts';
import { LEG_TAG_FIELDS, apiSource, notificationSource } from '../../src/enrich/session-tags.ts';
import type { LegFieldValues, TagObservation } from '../../src/enrich/session-tags.ts';
import { singleObjectCodecFor } from '../../src/kafka/avro-codec.ts';

const CONV = '7a1e8c3d-2b4f-4c6a-9d8e-1f2a3b4c5d6e';
const P1 = 'd7230894-5770-4bb2-b41d-b2765e5cd5b0';
const P2 = '3c9f1e27-0b5d-4e8a-a1c2-7d6e5f4a3b2c';
const C1 = 'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d';

// Small domains on purpose: collisions in leg, time, source and value are where merge bugs live.
const legArb = fc.constantFrom(
  { legKey: P1, participantId: P1 },
  { legKey: P2, participantId: P2 },
  { legKey: `${P1}/${C1}`, participantId: P1 },
);
const sourceArb = fc.constantFrom(
  notificationSource(`v2.users.${P1}.conversations`, 'corr-1'),
  notificationSource(`v2.users.${P1}.conversations`, 'corr-2'),
  notificationSource(`v2.detail.events.conversation.${CONV}.user.start`, undefined),
  apiSource('analytics'),
  apiSource('conversations'),
);
const word = fc.constantFrom('a', 'b', 'c');
const fieldsArb: fc.Arbitrary<LegFieldValues> = fc.record(
  {
    communicationId: fc.constantFrom(C1, P2),
    userId: word,
    purpose: word,
    provider: word,
    publicIpAddress: fc.constantFrom('203.0.113.7', '198.51.100.1'),
    connectedTime: fc.integer({ min: 0, max: 5 }),
    disconnectedTime: fc.integer({ min: 0, max: 5 }),
    recording: fc.boolean(),
    isWebRtc: fc.boolean(),
  },
  { requiredKeys: [] },
);
const observationArb: fc.Arbitrary<TagObservation> = fc
  .record({
    leg: legArb,
    provenance: fc.constantFrom('live' as const, 'reconciled' as const),
    source: sourceArb,
    observedAt: fc.option(fc.integer({ min: 0, max: 4 }), { nil: null }),
    receivedAt: fc.integer({ min: 0, max: 6 }),
    fields: fieldsArb,
  })
  .map(({ leg, ...rest }) => ({ conversationId: CONV, ...leg, ...rest }));

const observationsArb = fc.array(observationArb, { minLength: 1, maxLength: 25 });

/** The same observations, permuted, with some of them repeated. */
const rearrangedArb = observationsArb.chain((obs) =>
  fc.array(fc.nat({ max: obs.length - 1 }), { maxLength: 10 }).chain((dupIdx) => {
    const all = [...obs, ...dupIdx.map((i) => obs[i] as TagObservation)];
    return fc.tuple(
      fc.constant(obs),
      fc.shuffledSubarray(all, { minLength: all.length, maxLength: all.length }),
    );
  }),
);

describe('mergeSessionTags properties', () => {
  test.prop([rearrangedArb])(
    'any permutation or duplication gives a deep-equal snapshot',
    ([obs, rearranged]) => {
      expect(mergeSessionTags(undefined, rearranged)).toEqual(mergeSessionTags(undefined, obs));
    },
  );

  test.prop([rearrangedArb, fc.nat()])(
    'merging in two batches equals merging at once',
    ([obs, rearranged], cut) => {
      const at = 1 + (cut % rearranged.length);
      const first = mergeSessionTags(undefined, rearranged.slice(0, at));
      expect(mergeSessionTags(first, rearranged.slice(at))).toEqual(mergeSessionTags(undefined, obs));
      expect(
        snapshotChanged(mergeSessionTags(first, rearranged.slice(at)), mergeSessionTags(undefined, obs)),
      ).toBe(false);
    },
  );

  test.prop([observationsArb])('merging the same observations again changes nothing (idempotent)', (obs) => {
    const once = mergeSessionTags(undefined, obs);
    const twice = mergeSessionTags(once, obs);
    expect(twice).toEqual(once);
    expect(snapshotDigest(twice)).toBe(snapshotDigest(once));
  });

  test.prop([observationsArb])(
    'a field seen live is live, with a live value and the earliest live capture',
    (obs) => {
      const snap = mergeSessionTags(undefined, obs);
      for (const leg of snap.legs) {
        for (const f of LEG_TAG_FIELDS) {
          const carriers = obs.filter((o) => o.legKey === leg.legKey && o.fields[f] !== undefined);
          const tag = leg[f];
          if (carriers.length === 0) {
            expect(tag).toBeNull();
            continue;
          }
          const live = carriers.filter((o) => o.provenance === 'live');
          const winners = live.length > 0 ? live : carriers;
          expect(tag?.provenance).toBe(live.length > 0 ? 'live' : 'reconciled');
          expect(winners.map((o) => o.fields[f])).toContain(tag?.value);
          expect(tag?.firstCapturedAt).toBe(Math.min(...winners.map((o) => o.receivedAt)));
        }
      }
    },
  );

  test.prop([observationsArb, fc.array(observationArb, { maxLength: 10 })])(
    'reconciled observations never change a live field',
    (obs, later) => {
      const before = mergeSessionTags(undefined, obs);
      const repaired = later.map((o) => ({ ...o, provenance: 'reconciled' as const }));
      const after = mergeSessionTags(before, repaired);
      for (const leg of before.legs) {
        const afterLeg = after.legs.find((l) => l.legKey === leg.legKey);
        for (const f of LEG_TAG_FIELDS) {
          if (leg[f]?.provenance === 'live') expect(afterLeg?.[f]).toEqual(leg[f]);
        }
      }
    },
  );

  test.prop([observationsArb])(
    'every merged snapshot round-trips through Avro single-object encoding',
    (obs) => {
      const codec = singleObjectCodecFor('session-tags.v1');
      const snap = mergeSessionTags(undefined, obs);
      const back = codec.decode(codec.encode(snap));
      expect(back).toEqual(snap);
      expect(snapshotDigest(back)).toBe(snapshotDigest(snap));
    },
  );
});
