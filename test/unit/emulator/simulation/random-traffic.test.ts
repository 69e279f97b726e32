import { describe, expect, it } from 'vitest';
import { createOrg, createRng, randomConversations } from '../../../../dev/emulator/simulation/index.ts';
import { T0 } from './support.ts';

describe('randomConversations', () => {
  const org = createOrg(createRng(21));

  it('arrives at the requested mean rate over a long window', () => {
    const hours = 4;
    const scripts = randomConversations(org, createRng(3), T0, T0 + hours * 3_600_000, 2);
    const expected = hours * 60 * 2; // 480; Poisson sd ~22, so ±15% is over 3 sd
    expect(scripts.length).toBeGreaterThan(expected * 0.85);
    expect(scripts.length).toBeLessThan(expected * 1.15);
    const starts = scripts.map((s) => s.startTime);
    expect(starts).toEqual([...starts].sort((a, b) => a - b));
    for (const s of scripts) {
      expect(s.startTime).toBeGreaterThanOrEqual(T0);
      expect(s.startTime).toBeLessThan(T0 + hours * 3_600_000);
    }
    // A realistic mix: every kind of the mix appears, inbound ACD is the most common.
    const counts = new Map<string, number>();
    for (const s of scripts) counts.set(s.kind, (counts.get(s.kind) ?? 0) + 1);
    expect(counts.size).toBe(8);
    expect(Math.max(...counts.values())).toBe(counts.get('inbound-acd-webrtc'));
    // Some calls cross an hour boundary on their own.
    expect(
      scripts.some((s) => Math.floor(s.startTime / 3_600_000) !== Math.floor(s.endTime / 3_600_000)),
    ).toBe(true);
  });

  it('prefers free agents: at a low rate no routed agent is already on a call', () => {
    // A seed where every call finds a free agent (when all suitable agents are busy, the call still arrives).
    const scripts = randomConversations(org, createRng(5), T0, T0 + 2 * 3_600_000, 0.5);
    const byUser = new Map<string, Array<[number, number]>>();
    for (const s of scripts) {
      // The first leg is the agent the traffic generator chose (transfer targets are picked at random).
      for (const leg of s.groundTruth.slice(0, 1)) {
        if (leg.connectedTime === undefined || leg.userId === undefined) continue;
        byUser.set(leg.userId, [
          ...(byUser.get(leg.userId) ?? []),
          [leg.connectedTime, leg.disconnectedTime ?? s.endTime],
        ]);
      }
    }
    for (const spans of byUser.values()) {
      spans.sort((a, b) => a[0] - b[0]);
      for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).toBeGreaterThanOrEqual(spans[i - 1]![1]);
    }
  });

  it('is deterministic and validates its arguments', () => {
    const a = randomConversations(org, createRng(9), T0, T0 + 600_000, 3);
    expect(randomConversations(org, createRng(9), T0, T0 + 600_000, 3)).toEqual(a);
    expect(randomConversations(org, createRng(9), T0, T0 + 600_000, 0)).toEqual([]);
    expect(() => randomConversations(org, createRng(9), T0, T0 - 1, 1)).toThrow(/fromMs <= toMs/);
    expect(() => randomConversations(org, createRng(9), T0, T0 + 1, -1)).toThrow(/perMinute/);
    expect(() => randomConversations(org, createRng(9), T0, T0 + 365 * 86_400_000, 100)).toThrow(/more than/);
  });
});
