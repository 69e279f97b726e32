import { describe, expect, it } from 'vitest';
import { mergeSessionTags } from '../../../src/enrich/session-tags-merge.ts';
import { notificationSource } from '../../../src/enrich/session-tags.ts';
import type { TagObservation } from '../../../src/enrich/session-tags.ts';
import { HeldSnapshots } from '../../../src/ingest/held-snapshots.ts';
import { packSnapshot } from '../../../src/ingest/packed-snapshots.ts';

const C1 = '7a1e8c3d-2b4f-4c6a-9d8e-1f2a3b4c5d6e';
const C2 = '1b2c3d4e-5f60-4718-8293-a4b5c6d7e8f9';
const P1 = 'd7230894-5770-4bb2-b41d-b2765e5cd5b0';
const U1 = '3c9f1e27-0b5d-4e8a-a1c2-7d6e5f4a3b2c';
const U2 = '0e1d2c3b-4a59-4687-9f8e-7d6c5b4a3921';

function obs(receivedAt: number, fields: TagObservation['fields'], conversationId = C1): TagObservation {
  return {
    conversationId,
    legKey: P1,
    participantId: P1,
    provenance: 'live',
    source: notificationSource(`v2.users.${U1}.conversations`, `c-${receivedAt}`),
    observedAt: receivedAt - 500,
    receivedAt,
    fields,
  };
}

describe('HeldSnapshots', () => {
  it('writes a snapshot with the batch that takes the last frame merged into it, once', () => {
    const held = new HeldSnapshots(undefined, 0);
    const a = held.absorb([obs(1_000, { purpose: 'agent' })], 1_000);
    const b = held.absorb([obs(2_000, { userId: U1 })], 2_000);
    expect(a).toEqual([C1]);
    expect(b).toEqual([C1]);
    // The first frame's batch: the second frame, merged into the same snapshot, is still queued.
    expect(held.seal(a)).toEqual([]);
    const sealed = held.seal(b);
    expect(sealed.map((s) => s.conversationId)).toEqual([C1]);
    expect(sealed[0]?.snapshot.legs[0]?.purpose?.value).toBe('agent');
    expect(sealed[0]?.snapshot.legs[0]?.userId?.value).toBe(U1);
    // Nothing merged since: nothing to write.
    expect(held.seal([])).toEqual([]);
  });

  it('writes nothing when the merges since the last write changed nothing material', () => {
    const held = new HeldSnapshots(undefined, 0);
    held.seal(held.absorb([obs(1_000, { purpose: 'agent' })], 1_000));
    // The same value again, captured later: the capture time moves, nothing material does.
    expect(held.seal(held.absorb([obs(3_000, { purpose: 'agent' })], 3_000))).toEqual([]);
    expect(held.seal(held.absorb([obs(4_000, { purpose: 'customer' })], 4_000))).toHaveLength(1);
  });

  it('notes the users a conversation names and finds it for a gap by them', () => {
    const held = new HeldSnapshots(undefined, 0);
    held.seal(held.absorb([obs(1_000, { userId: U1, disconnectedTime: 1_200 })], 1_000));
    held.seal(held.absorb([obs(1_500, { userId: U2 }, C2)], 1_500));
    expect([...held.usersOf(C1)]).toEqual([U1]);
    expect([...held.usersOf('not-held')]).toEqual([]);
    expect(held.activeFor([U1], 0, 2_000)).toEqual([C1]);
    expect(held.activeFor([U1, U2], 0, 2_000).sort()).toEqual([C1, C2].sort());
    // Last heard from before the gap: not active in it.
    expect(held.activeFor([U1], 1_100, 2_000)).toEqual([]);
    // Heard from after the gap's end, with a leg not disconnected: still active in it.
    expect(held.activeFor([U2], 1_000, 1_200)).toEqual([C2]);
    // Heard from after the gap's end, its only leg disconnected: not known to have been active in it.
    expect(held.activeFor([U1], 500, 800)).toEqual([]);
  });

  it('keeps a conversation with frames in the queue past its idle time, and forgets it once sealed', () => {
    const held = new HeldSnapshots(undefined, 0);
    const touched = held.absorb([obs(1_000, { purpose: 'agent' })], 1_000);
    held.forgetIdle(5_000);
    expect(held.size).toBe(1);
    held.seal(touched);
    held.forgetIdle(5_000);
    expect(held.size).toBe(0);
    expect(held.copyOf(C1)).toBeUndefined();
  });

  it('packs quiet snapshots and merges into them unpacked, as if never packed', async () => {
    const held = new HeldSnapshots(undefined, 0);
    const plain = new HeldSnapshots(undefined, 0);
    for (const h of [held, plain]) h.seal(h.absorb([obs(1_000, { purpose: 'agent', userId: U1 })], 1_000));
    expect(await held.packQuiet(() => 2_000)).toBe(1);
    // Only what is quiet and sealed: packed once.
    expect(await held.packQuiet(() => 2_000)).toBe(0);
    expect(held.copyOf(C1)).toEqual(plain.copyOf(C1));
    const next = [obs(3_000, { purpose: 'customer' })];
    expect(held.seal(held.absorb(next, 3_000))).toEqual(plain.seal(plain.absorb(next, 3_000)));
  });

  it('does not pack a snapshot with frames in the queue', async () => {
    const held = new HeldSnapshots(undefined, 0);
    const touched = held.absorb([obs(1_000, { purpose: 'agent' })], 1_000);
    expect(await held.packQuiet(() => 2_000)).toBe(0);
    expect(held.seal(touched)).toHaveLength(1);
  });

  it('starts from restored conversations, packed, dated by their last capture', () => {
    const restoredSnapshot = mergeSessionTags(undefined, [obs(1_000, { purpose: 'agent', userId: U1 })]);
    const held = new HeldSnapshots(
      new Map([[C1, { packed: packSnapshot(restoredSnapshot), userIds: [U1], lastCapturedAt: 1_000 }]]),
      50_000,
    );
    expect(held.copyOf(C1)).toEqual(restoredSnapshot);
    expect([...held.usersOf(C1)]).toEqual([U1]);
    expect(held.activeFor([U1], 900, 2_000)).toEqual([C1]);
    // A change merged into the restored snapshot is written whole.
    const sealed = held.seal(held.absorb([obs(2_000, { purpose: 'customer' })], 2_000));
    expect(sealed[0]?.snapshot.legs[0]?.userId?.value).toBe(U1);
    expect(sealed[0]?.snapshot.legs[0]?.purpose?.value).toBe('customer');
  });

  it('copies: changing the copy does not change what is held', () => {
    const held = new HeldSnapshots(undefined, 0);
    held.seal(held.absorb([obs(1_000, { purpose: 'agent' })], 1_000));
    const copy = held.copyOf(C1) as unknown as { legs: Array<{ purpose: unknown }> };
    copy.legs[0]!.purpose = null;
    expect(held.copyOf(C1)?.legs[0]?.purpose?.value).toBe('agent');
  });
});
