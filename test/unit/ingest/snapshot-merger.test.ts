import { describe, expect, it } from 'vitest';
import { createOrg, createRng, randomConversations } from '../../../dev/emulator/simulation/index.ts';
import { notificationFrameText, userTopicEvents } from '../../../dev/user-topic-events.ts';
import { mergeSessionTags } from '../../../src/enrich/session-tags-merge.ts';
import { notificationSource } from '../../../src/enrich/session-tags.ts';
import type { TagObservation } from '../../../src/enrich/session-tags.ts';
import { packSnapshot } from '../../../src/ingest/packed-snapshots.ts';
import type { Merged } from '../../../src/ingest/snapshot-merger.ts';
import { SnapshotMerger } from '../../../src/ingest/snapshot-merger.ts';
import { singleObjectCodecFor } from '../../../src/kafka/avro-codec.ts';
import type { RecordFraming } from '../../../src/kafka/avro-codec.ts';

const T0 = Date.parse('2026-03-01T08:00:00Z');
const org = createOrg(createRng(9), { users: 8 });
const frames = userTopicEvents(randomConversations(org, createRng(9), T0, T0 + 900_000, 6)).map((e, i) =>
  notificationFrameText(e.topicName, e.eventBody, i),
);
const CONV = '7a1e8c3d-2b4f-4c6a-9d8e-1f2a3b4c5d6e';
const LEG = 'd7230894-5770-4bb2-b41d-b2765e5cd5b0';
const USER = '3c9f1e27-0b5d-4e8a-a1c2-7d6e5f4a3b2c';

function observation(at: number, fields: TagObservation['fields']): TagObservation {
  return {
    conversationId: CONV,
    legKey: LEG,
    participantId: LEG,
    provenance: 'reconciled',
    source: notificationSource('v2.users.x.conversations', `c-${at}`),
    observedAt: at,
    receivedAt: at,
    fields,
  };
}

function merger(
  restored?: ConstructorParameters<typeof SnapshotMerger>[0]['restored'],
  snapshotFraming?: RecordFraming,
) {
  const merged: Merged[] = [];
  const failures: Error[] = [];
  const m = new SnapshotMerger(
    { restored, now: T0, ...(snapshotFraming ? { snapshotFraming } : {}) },
    { merged: (x) => merged.push(x), housekept: () => {}, failure: (e) => failures.push(e) },
  );
  return { m, merged, failures };
}

describe('SnapshotMerger', () => {
  it('numbers items in order, merges every frame, and drains', async () => {
    const { m, merged, failures } = merger();
    try {
      const seqs = frames.map((f, i) => m.frame(i % 5 === 0 ? null : f, T0 + i));
      expect(seqs).toEqual([...frames.keys()]);
      expect(m.unmerged).toBe(frames.length);
      await m.drain();
      expect(m.unmerged).toBe(0);
      expect(merged.at(-1)?.through).toBe(frames.length - 1);
      // Replies come in order, each through a later item.
      for (let i = 1; i < merged.length; i++)
        expect(merged[i]!.through).toBeGreaterThan(merged[i - 1]!.through);
      const written = merged.flatMap((x) => x.snapshots);
      expect(written.length).toBeGreaterThan(0);
      expect(failures).toEqual([]);
    } finally {
      await m.close();
    }
  });

  it('merges API observations as an item, answers queries after the items before them', async () => {
    const { m } = merger();
    try {
      m.observations([observation(T0, { userId: USER, purpose: 'agent' })], T0);
      // Asked right after posting: the answer still sees the observation.
      expect(await m.activeFor([USER], T0 - 1, T0 + 1)).toEqual([CONV]);
      expect((await m.copyOf(CONV))?.legs[0]?.purpose?.value).toBe('agent');
      await m.drain();
      expect(m.usersOf(CONV)).toEqual([USER]);
    } finally {
      await m.close();
    }
  });

  it('starts from restored snapshots, and knows their users before any reply', async () => {
    const snapshot = mergeSessionTags(undefined, [observation(T0, { userId: USER, purpose: 'agent' })]);
    const { m } = merger(
      new Map([[CONV, { packed: packSnapshot(snapshot), userIds: [USER], lastCapturedAt: T0 }]]),
    );
    try {
      expect(m.usersOf(CONV)).toEqual([USER]);
      expect(await m.copyOf(CONV)).toEqual(snapshot);
    } finally {
      await m.close();
    }
  });

  it("given the encoder's framing, hands over the changed snapshots encoded: records that decode to the held ones", async () => {
    const codec = singleObjectCodecFor('session-tags.v1');
    const { m, merged, failures } = merger(undefined, codec.framing);
    try {
      frames.forEach((f, i) => m.frame(f, T0 + i));
      await m.drain();
      expect(merged.every((x) => x.snapshots.length === 0)).toBe(true);
      const last = new Map<string, Buffer>();
      for (const { encoded } of merged)
        encoded?.conversationIds.forEach((id, i) =>
          last.set(
            id,
            Buffer.from(encoded.bytes.subarray(i === 0 ? 0 : encoded.ends[i - 1], encoded.ends[i])),
          ),
        );
      expect(last.size).toBeGreaterThan(0);
      // Each conversation's last record is its snapshot as the worker holds it now.
      for (const [id, bytes] of last) expect(codec.decode(bytes)).toEqual(await m.copyOf(id));
      expect(failures).toEqual([]);
    } finally {
      await m.close();
    }
  });

  it('fails once, with the reason, when the framing offered is not for the session-tags schema', async () => {
    const { m, failures } = merger(undefined, singleObjectCodecFor('notification.v1').framing);
    try {
      m.frame(frames[0] as string, T0);
      await expect(m.drain()).rejects.toThrow(/not for its schema/);
      expect(failures).toHaveLength(1);
    } finally {
      await m.close();
    }
  });

  it('reports a worker that fails once, and refuses what waited on it', async () => {
    // A restored snapshot that does not inflate: the worker fails when the query makes it unpack.
    const { m, failures } = merger(
      new Map([[CONV, { packed: Buffer.from('not a deflate stream'), userIds: [USER], lastCapturedAt: T0 }]]),
    );
    try {
      await expect(m.copyOf(CONV)).rejects.toThrow();
      expect(failures).toHaveLength(1);
      await expect(m.drain()).rejects.toBe(failures[0]);
      await expect(m.activeFor([USER], 0, T0)).rejects.toBe(failures[0]);
      // Posting after the failure is a no-op, not a crash.
      m.frame(null, T0);
      expect(failures).toHaveLength(1);
    } finally {
      await m.close();
    }
  });
});
