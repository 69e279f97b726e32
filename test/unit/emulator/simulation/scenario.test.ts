import { describe, expect, it } from 'vitest';
import {
  createOrg,
  createRng,
  parseScenario,
  scriptsFromScenario,
} from '../../../../dev/emulator/simulation/index.ts';

const valid = {
  seed: 5,
  start: '2025-03-01T09:00:00Z',
  conversations: [
    { kind: 'inbound-acd-webrtc', at: '2025-03-01T09:00:10Z' },
    { kind: 'consult-transfer', at: '2025-03-01T09:02:00Z', durationSeconds: 300 },
    { kind: 'hour-boundary', at: '2025-03-01T09:40:00+00:00' },
  ],
};

describe('parseScenario', () => {
  it('accepts a valid scenario', () => {
    expect(parseScenario(valid)).toEqual(valid);
    expect(parseScenario({ start: valid.start, conversations: [] })).toEqual({
      start: valid.start,
      conversations: [],
    });
  });

  it('names the bad field for an unknown kind', () => {
    const bad = {
      ...valid,
      conversations: [valid.conversations[0], { kind: 'video-call', at: '2025-03-01T09:05:00Z' }],
    };
    expect(() => parseScenario(bad)).toThrow(
      /^Invalid scenario: conversations\[1\]\.kind: must be one of inbound-acd-webrtc/,
    );
  });

  it('names the bad field for invalid dates, durations and order', () => {
    expect(() => parseScenario({ ...valid, start: 'yesterday' })).toThrow(
      /start: must be an ISO-8601 date-time/,
    );
    expect(() =>
      parseScenario({ ...valid, conversations: [{ kind: 'unrecorded', at: '2025-13-01T00:00:00Z' }] }),
    ).toThrow(/conversations\[0\]\.at: must be an ISO-8601 date-time/);
    expect(() =>
      parseScenario({ ...valid, conversations: [{ kind: 'unrecorded', at: '2025-03-01T08:00:00Z' }] }),
    ).toThrow(/conversations\[0\]\.at: must not be before start/);
    expect(() =>
      parseScenario({
        ...valid,
        conversations: [{ kind: 'unrecorded', at: valid.start, durationSeconds: 0 }],
      }),
    ).toThrow(/conversations\[0\]\.durationSeconds: must be > 0/);
    expect(() => parseScenario({ ...valid, seed: 1.5 })).toThrow(/seed: must be an integer/);
    expect(() => parseScenario({ ...valid, extra: true })).toThrow(/Invalid scenario: .*extra/);
    expect(() => parseScenario(null)).toThrow(/^Invalid scenario: \(root\)/);
  });

  it('reports every problem at once', () => {
    expect(() => parseScenario({ start: 'x', conversations: [{ kind: 'nope', at: 'y' }] })).toThrow(
      /start: .*; conversations\[0\]\.kind: .*; conversations\[0\]\.at: /,
    );
  });
});

describe('scriptsFromScenario', () => {
  const org = createOrg(createRng(8));

  it('builds the listed conversations at their times, deterministically from the seed', () => {
    const scenario = parseScenario(valid);
    const scripts = scriptsFromScenario(org, scenario);
    expect(scripts.map((s) => s.kind)).toEqual(['inbound-acd-webrtc', 'consult-transfer', 'hour-boundary']);
    expect(scripts[0]?.startTime).toBe(Date.parse('2025-03-01T09:00:10Z'));
    expect(scripts[1]?.endTime).toBe(Date.parse('2025-03-01T09:07:00Z'));
    expect(new Date(scripts[2]?.startTime ?? 0).toISOString()).toMatch(/^2025-03-01T09:59:/);
    expect(scriptsFromScenario(org, scenario)).toEqual(scripts);
    const other = scriptsFromScenario(org, { ...scenario, seed: 6 });
    expect(other.map((s) => s.conversationId)).not.toEqual(scripts.map((s) => s.conversationId));
  });

  it('never gives a conversation the id of the org made from the same seed (as the emulator makes both)', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const sameSeedOrg = createOrg(createRng(seed));
      const ids = scriptsFromScenario(sameSeedOrg, { ...parseScenario(valid), seed }).flatMap((s) => [
        s.conversationId,
        ...s.recordings.map((r) => r.recordingId),
      ]);
      expect(ids).not.toContain(sameSeedOrg.orgId);
    }
  });
});
