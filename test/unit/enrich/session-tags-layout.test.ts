/**
 * The legs of every snapshot custody holds keep V8's fast layout (members inside the object), whichever way they
 * were built: by merges, merged in place, joined by the sink, or unpacked. A leg built member by member goes to
 * dictionary mode, a hash table several times its size (bench/README.md, "Held snapshots: legs in dictionary
 * mode"), and ingest holds thousands of them through every major GC.
 */
import { setFlagsFromString } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { capturedSnapshots } from '../../../dev/captured-snapshots.ts';
import { createOrg, createRng, randomConversations } from '../../../dev/emulator/simulation/index.ts';
import {
  absorbOrStart,
  joinSnapshotTags,
  mergeSessionTags,
  newSnapshotChanges,
} from '../../../src/enrich/session-tags-merge.ts';
import { LEG_TAG_FIELDS } from '../../../src/enrich/session-tags.ts';
import type { SessionTagsSnapshot, TagObservation } from '../../../src/enrich/session-tags.ts';
import { packSnapshot, unpackSnapshot } from '../../../src/ingest/packed-snapshots.ts';
import { snapshotObservations } from '../../support/reference-merge.ts';

setFlagsFromString('--allow-natives-syntax');
// Compiled after the flag is set, so the V8 intrinsic parses.
const hasFastProperties = new Function('o', 'return %HasFastProperties(o)') as (o: object) => boolean;

const T0 = Date.parse('2026-03-02T08:00:00Z');
const org = createOrg(createRng(5), { users: 10 });
const snapshots = [
  ...capturedSnapshots(org, randomConversations(org, createRng(5), T0, T0 + 3_600_000, 3)).values(),
];

const slowLegs = (s: SessionTagsSnapshot): number => s.legs.filter((l) => !hasFastProperties(l)).length;

describe('held snapshots keep fast legs', () => {
  it('the probe tells a leg built member by member from one built whole', () => {
    const byMember: Record<string, unknown> = { legKey: 'p', participantId: 'p' };
    for (const f of LEG_TAG_FIELDS) byMember[f] = null;
    expect(hasFastProperties(byMember)).toBe(false);
    expect(hasFastProperties({ ...byMember })).toBe(true);
  });

  it('built by merges, merged in place, joined by the sink and unpacked', () => {
    expect(snapshots.length).toBeGreaterThan(10);
    for (const s of snapshots) {
      const observations: TagObservation[] = snapshotObservations(s);
      expect(slowLegs(mergeSessionTags(undefined, observations))).toBe(0);
      expect(slowLegs(mergeSessionTags(s, []))).toBe(0);
      let owned = absorbOrStart(undefined, observations.slice(0, 1), newSnapshotChanges());
      owned = absorbOrStart(owned, observations.slice(1), newSnapshotChanges());
      expect(slowLegs(owned)).toBe(0);
      expect(slowLegs(joinSnapshotTags(s, s))).toBe(0);
      expect(slowLegs(unpackSnapshot(packSnapshot(s)))).toBe(0);
    }
  });
});
