import { describe, expect, it } from 'vitest';
import { createOrg, createRng } from '../../../../dev/emulator/simulation/index.ts';

describe('createOrg', () => {
  it('is deterministic per seed', () => {
    expect(createOrg(createRng(1))).toEqual(createOrg(createRng(1)));
    expect(createOrg(createRng(1)).orgId).not.toBe(createOrg(createRng(2)).orgId);
  });

  it('has 12 users and 3 queues by default, each user in 1–2 known queues', () => {
    const org = createOrg(createRng(3));
    expect(org.users).toHaveLength(12);
    expect(org.queues).toHaveLength(3);
    const queueIds = new Set(org.queues.map((q) => q.id));
    for (const user of org.users) {
      expect(user.queueIds.length).toBeGreaterThanOrEqual(1);
      expect(user.queueIds.length).toBeLessThanOrEqual(2);
      for (const q of user.queueIds) expect(queueIds.has(q)).toBe(true);
      expect(user.divisionId).toBe(org.divisionId);
      expect(user.email).toMatch(/@example\.com$/);
    }
  });

  it.each([1, 2, 3, 4, 5])(
    'seed %i: has every station type, a persistent WebRTC user and a user without a station',
    (seed) => {
      const org = createOrg(createRng(seed));
      const stationOf = (id: string | undefined) => org.stations.find((s) => s.id === id);
      const types = org.users.map((u) => stationOf(u.stationId)?.type);
      expect(types).toContain('inin_webrtc_softphone');
      expect(types).toContain('inin_physical');
      expect(types).toContain('inin_remote');
      expect(types).toContain(undefined);
      expect(types.filter((t) => t === 'inin_webrtc_softphone').length).toBeGreaterThan(org.users.length / 2);
      const persistent = org.users
        .map((u) => stationOf(u.stationId))
        .filter((s) => s?.webRtcPersistentEnabled === true);
      expect(persistent.length).toBeGreaterThanOrEqual(1);
      for (const s of persistent) {
        expect(s?.type).toBe('inin_webrtc_softphone');
        expect(s?.webRtcCallAppearances).toBe(1);
      }
      // WebRTC stations belong to exactly one user, who is on it.
      for (const s of org.stations.filter((st) => st.type === 'inin_webrtc_softphone')) {
        expect(org.users.filter((u) => u.stationId === s.id).map((u) => u.id)).toEqual([s.userId]);
      }
      // A free hot-desk phone exists.
      expect(org.stations.some((s) => s.type === 'inin_physical' && s.userId === undefined)).toBe(true);
    },
  );

  it('rejects orgs too small to build every kind', () => {
    expect(() => createOrg(createRng(1), { users: 3 })).toThrow(/users must be an integer >= 6/);
    expect(() => createOrg(createRng(1), { queues: 0 })).toThrow(/queues/);
    expect(createOrg(createRng(1), { users: 40, queues: 5 }).users).toHaveLength(40);
  });
});
