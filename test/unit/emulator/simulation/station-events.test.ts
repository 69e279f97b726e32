import { describe, expect, it } from 'vitest';
import { createOrg, createRng, stationEvents } from '../../../../dev/emulator/simulation/index.ts';
import { stationLogoutUser } from '../../../../dev/emulator/simulation/station-events.ts';

describe('stationEvents', () => {
  const org = createOrg(createRng(11));
  const user = org.users[5];
  const desk = org.stations.find((s) => s.type === 'inin_physical' && s.userId === undefined);

  it('publishes associatedStation on login and an empty body on logout, in time order', () => {
    if (user === undefined || desk === undefined) throw new Error('org layout');
    const events = stationEvents(org, [
      { at: 2000, userId: user.id },
      { at: 1000, userId: user.id, stationId: desk.id },
    ]);
    expect(events.map((e) => e.at)).toEqual([1000, 2000]);
    expect(events[0]?.topicName).toBe(`v2.users.${user.id}.station`);
    expect(events[0]?.eventBody).toEqual({
      associatedStation: { id: desk.id, name: desk.name, associatedUser: { id: user.id } },
    });
    expect(events[1]?.eventBody).toEqual({});
  });

  it('tells a logout (the user it logs out) from a login and from other topics', () => {
    if (user === undefined || desk === undefined) throw new Error('org layout');
    const [login, logout] = stationEvents(org, [
      { at: 1000, userId: user.id, stationId: desk.id },
      { at: 2000, userId: user.id },
    ]);
    expect(login && stationLogoutUser(login)).toBeUndefined();
    expect(logout && stationLogoutUser(logout)).toBe(user.id);
    expect(
      stationLogoutUser({ topicName: `v2.users.${user.id}.conversations`, eventBody: {} }),
    ).toBeUndefined();
  });

  it('rejects unknown users and stations', () => {
    expect(() => stationEvents(org, [{ at: 1, userId: 'nobody' }])).toThrow(/unknown user/);
    expect(() => stationEvents(org, [{ at: 1, userId: user?.id ?? '', stationId: 'nope' }])).toThrow(
      /unknown station/,
    );
  });
});
