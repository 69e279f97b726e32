import { describe, expect, it } from 'vitest';
import { GENESYS_LIMITS, planChannels, userTopics } from '../../../src/ingest/subscription-plan.ts';

const uid = (i: number) => `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;
const users = (n: number, from = 0) => Array.from({ length: n }, (_, i) => uid(from + i));

describe('userTopics', () => {
  it('combines the four per-user topics into one topic within 200 characters', () => {
    const [combined, ...rest] = userTopics(uid(1), true);
    expect(rest).toEqual([]);
    expect(combined).toBe(
      `v2.users.${uid(1)}?conversations&conversations.calls&station&persistentconnection`,
    );
    expect(combined!.length).toBeLessThanOrEqual(GENESYS_LIMITS.combinedTopicMaxChars);
  });

  it('lists them separately when combining is off', () => {
    expect(userTopics(uid(1), false)).toEqual([
      `v2.users.${uid(1)}.conversations`,
      `v2.users.${uid(1)}.conversations.calls`,
      `v2.users.${uid(1)}.station`,
      `v2.users.${uid(1)}.persistentconnection`,
    ]);
  });
});

describe('planChannels', () => {
  it('fills channels up to 1,000 topics each', () => {
    const r = planChannels(users(2500), GENESYS_LIMITS);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.shards.map((s) => s.length)).toEqual([1000, 1000, 500]);
    expect(new Set(r.value.shards.flat()).size).toBe(2500);
    expect(r.value.topicsPerShard.every((t) => t.length <= 1000)).toBe(true);
  });

  it('counts four topics per user without combined topics', () => {
    const r = planChannels(users(300), { ...GENESYS_LIMITS, combine: false });
    expect(r.ok && r.value.shards.map((s) => s.length)).toEqual([250, 50]);
  });

  it('fails clearly when one OAuth client cannot hold the org, keeping a spare channel for rotation', () => {
    expect(planChannels(users(19_000), GENESYS_LIMITS).ok).toBe(true);
    const r = planChannels(users(19_001), GENESYS_LIMITS);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe('too-many-users');
    expect(r.error.message).toMatch(
      /19001 users need 20 notification channels.*19 usable, 1 kept for rotation/,
    );
  });

  it('keeps existing users in their shard when users join and leave', () => {
    const first = planChannels(users(1500), GENESYS_LIMITS);
    if (!first.ok) throw new Error('plan failed');
    const leaving = new Set(users(200));
    const next = planChannels([...users(1300, 200), ...users(100, 5000)], GENESYS_LIMITS, first.value);
    if (!next.ok) throw new Error('plan failed');
    for (const [i, shard] of first.value.shards.entries()) {
      const stayed = shard.filter((u) => !leaving.has(u));
      expect(next.value.shards[i]).toEqual(expect.arrayContaining(stayed));
    }
    // The 100 newcomers fill the emptier shard rather than opening a new channel.
    expect(next.value.shards).toHaveLength(2);
    expect(next.value.shards[1]).toEqual(expect.arrayContaining(users(100, 5000)));
  });
});
