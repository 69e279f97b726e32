import { describe, expect, it } from 'vitest';
import type { Models } from 'purecloud-platform-client-v2';
import { logoutSuperseded, registerDirectoryRoutes } from '../../../../dev/emulator/platform/directory.ts';
import { MIN, T0, script, testContext } from './support.ts';

describe('GET /api/v2/users', () => {
  it('pages users sorted by name with navigation URIs', async () => {
    const ctx = testContext([]);
    registerDirectoryRoutes(ctx);
    const first = (await ctx.routes.call('GET', '/api/v2/users', { query: { pageSize: '2' } }))
      .body as Models.UserEntityListing;
    expect(first.entities?.map((u) => u.id)).toEqual(['user-a', 'user-b']);
    expect(first).toMatchObject({ pageSize: 2, pageNumber: 1, total: 3, pageCount: 2 });
    expect(first.nextUri).toBe('/api/v2/users?pageSize=2&pageNumber=2');
    expect(first.previousUri).toBeUndefined();
    const second = (
      await ctx.routes.call('GET', '/api/v2/users', { query: { pageSize: '2', pageNumber: '2' } })
    ).body as Models.UserEntityListing;
    expect(second.entities?.map((u) => u.id)).toEqual(['user-c']);
    expect(second.nextUri).toBeUndefined();
    expect(second.previousUri).toBe('/api/v2/users?pageSize=2&pageNumber=1');
    const byDefault = (await ctx.routes.call('GET', '/api/v2/users')).body as Models.UserEntityListing;
    expect(byDefault.pageSize).toBe(25);
    expect(byDefault.entities?.[0]).toMatchObject({
      email: 'ada@example.com',
      division: { id: 'div-1' },
      state: 'active',
    });
  });

  it('rejects a pageSize above 500 and malformed paging', async () => {
    const ctx = testContext([]);
    registerDirectoryRoutes(ctx);
    expect((await ctx.routes.call('GET', '/api/v2/users', { query: { pageSize: '501' } })).status).toBe(400);
    expect((await ctx.routes.call('GET', '/api/v2/users', { query: { pageNumber: '0' } })).status).toBe(400);
    expect((await ctx.routes.call('GET', '/api/v2/users', { query: { pageSize: 'x' } })).status).toBe(400);
    expect((await ctx.routes.call('GET', '/api/v2/users', { query: { pageSize: '500' } })).status).toBe(200);
  });
});

describe('stations over simulated time', () => {
  it('follows station changes from the scripts', async () => {
    const conv = script({
      start: T0 + 10 * MIN,
      userId: 'user-c',
      stationChanges: [
        { at: T0 + 10 * MIN, userId: 'user-c', stationId: 'st-webrtc-c' },
        { at: T0 + 30 * MIN, userId: 'user-c' },
      ],
    });
    const ctx = testContext([conv]);
    registerDirectoryRoutes(ctx);
    const station = async (): Promise<Models.UserStations> =>
      (await ctx.routes.call('GET', '/api/v2/users/user-c/station')).body as Models.UserStations;

    expect(await station()).toEqual({});
    await ctx.clock.advance(10 * MIN);
    const on = await station();
    expect(on.associatedStation).toMatchObject({
      id: 'st-webrtc-c',
      type: 'inin_webrtc_softphone',
      webRtcCallAppearances: 100,
    });
    expect(on.associatedStation?.associatedDate).toBe(new Date(T0 + 10 * MIN).toISOString());
    expect(on.effectiveStation?.id).toBe('st-webrtc-c');
    const st = (await ctx.routes.call('GET', '/api/v2/stations/st-webrtc-c')).body as Models.Station;
    expect(st).toMatchObject({ status: 'ASSOCIATED', userId: 'user-c', webRtcUserId: 'user-c' });

    await ctx.clock.advance(20 * MIN);
    const off = await station();
    expect(off.associatedStation).toBeUndefined();
    expect(off.lastAssociatedStation?.id).toBe('st-webrtc-c');
    const free = (await ctx.routes.call('GET', '/api/v2/stations/st-webrtc-c')).body as Models.Station;
    expect(free.status).toBe('AVAILABLE');
    expect(free.userId).toBeUndefined();
  });

  it("keeps a user on the desk while a later call's login holds it: an earlier call's logout does not end it", async () => {
    // Random traffic may give one hot-desk user overlapping calls: call 1 logs in at 10 min and out at 30,
    // call 2 logs in at 20 and out at 50. The platform keeps the user on the desk until 50.
    const hotDeskCall = (id: string, loginMin: number, logoutMin: number) =>
      script({
        id,
        start: T0 + loginMin * MIN,
        userId: 'user-c',
        stationChanges: [
          { at: T0 + loginMin * MIN, userId: 'user-c', stationId: 'st-webrtc-c' },
          { at: T0 + logoutMin * MIN, userId: 'user-c' },
        ],
      });
    const first = hotDeskCall('hot-desk-call-1', 10, 30);
    const second = hotDeskCall('hot-desk-call-2', 20, 50);
    const ctx = testContext([first, second]);
    registerDirectoryRoutes(ctx);
    const station = async () =>
      ((await ctx.routes.call('GET', '/api/v2/users/user-c/station')).body as Models.UserStations)
        .associatedStation?.id;
    expect(logoutSuperseded([first, second], first, 'user-c', T0 + 30 * MIN)).toBe(true);
    expect(logoutSuperseded([first, second], second, 'user-c', T0 + 50 * MIN)).toBe(false);
    expect(logoutSuperseded([first], first, 'user-c', T0 + 30 * MIN)).toBe(false);
    await ctx.clock.advance(35 * MIN);
    expect(await station()).toBe('st-webrtc-c');
    await ctx.clock.advance(20 * MIN);
    expect(await station()).toBeUndefined();
  });

  it('describes WebRTC and desk-phone stations, and 404s unknown ids', async () => {
    const ctx = testContext([]);
    registerDirectoryRoutes(ctx);
    const webrtc = (await ctx.routes.call('GET', '/api/v2/stations/st-webrtc-a')).body as Models.Station;
    expect(webrtc).toMatchObject({
      type: 'inin_webrtc_softphone',
      webRtcUserId: 'user-a',
      userId: 'user-a',
      webRtcPersistentEnabled: true,
      webRtcForceTurn: false,
      webRtcCallAppearances: 1,
      primaryEdge: { id: 'edge-1' },
    });
    const desk = (await ctx.routes.call('GET', '/api/v2/stations/st-desk')).body as Models.Station;
    expect(desk).toMatchObject({ type: 'inin_physical', lineAppearanceId: '2001', userId: 'user-b' });
    expect(desk.webRtcUserId).toBeUndefined();
    const user = (await ctx.routes.call('GET', '/api/v2/users/user-b/station')).body as Models.UserStations;
    expect(user.effectiveStation).toMatchObject({
      id: 'st-desk',
      type: 'inin_physical',
      associatedUser: { id: 'user-b' },
    });
    const missing = await ctx.routes.call('GET', '/api/v2/stations/nope');
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ status: 404, code: 'not.found' });
    expect((await ctx.routes.call('GET', '/api/v2/users/nope/station')).status).toBe(404);
  });
});
