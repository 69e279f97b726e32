import { describe, expect, it } from 'vitest';
import { capturedSnapshots, capturedUpdates } from '../../../dev/captured-snapshots.ts';
import { createOrg, createRng, randomConversations } from '../../../dev/emulator/simulation/index.ts';

const T0 = Date.parse('2026-03-02T08:00:00Z');

describe('capturedUpdates (bench:sink with BENCH_TAG_UPDATES=each)', () => {
  const org = createOrg(createRng(11), { users: 12 });
  const scripts = randomConversations(org, createRng(11), T0, T0 + 600_000, 6);
  const finals = capturedSnapshots(org, scripts);
  const updates = capturedUpdates(org, scripts);

  it('ends each conversation on the snapshot capturedSnapshots gives it', () => {
    const last = new Map(updates.map((u) => [u.conversationId, u.snapshot]));
    expect([...last.keys()].sort()).toEqual([...finals.keys()].sort());
    for (const [id, snapshot] of finals) expect(last.get(id)).toEqual(snapshot);
  });

  it('sends several updates per conversation, in the order they were received, conversations interleaved', () => {
    expect(updates.length).toBeGreaterThan(2 * finals.size);
    const times = updates.map((u) => u.receivedAtMs);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    // Interleaved: some conversation's updates are not all next to each other.
    const runs = updates.filter(
      (u, i) => i === 0 || updates[i - 1]?.conversationId !== u.conversationId,
    ).length;
    expect(runs).toBeGreaterThan(finals.size);
  });
});
