/**
 * The emulator's directory endpoints through the official SDK: UsersApi.getUsers paging,
 * UsersApi.getUserStation over simulated time, and StationsApi.getStation for WebRTC and desk phones.
 */
import { afterEach, describe, expect, it } from 'vitest';
import platformClient from 'purecloud-platform-client-v2';
import { startEmulator, type EmulatorOptions, type RunningEmulator } from '../../../dev/emulator/index.ts';

type ApiClient = typeof platformClient.ApiClient;
const CLIENT = { clientId: 'data-dir-client', clientSecret: 'data-dir-secret' };
const START = '2025-03-04T08:00:00.000Z';

interface ErrorBody {
  readonly status?: number;
  readonly code?: string;
  readonly message?: string;
}

/** The Genesys error body an SDK call rejects with (without extended responses). */
async function failure(p: Promise<unknown>): Promise<ErrorBody> {
  try {
    await p;
  } catch (e) {
    return e as ErrorBody;
  }
  throw new Error('expected the call to fail');
}

let emu: RunningEmulator | undefined;
async function start(opts: Partial<EmulatorOptions> = {}) {
  // Simulated time barely moves on its own (speed 0.001): the tests move it with clock.advance.
  const e = await startEmulator({ ...CLIENT, speed: 0.001, ...opts });
  emu = e;
  const Ctor = platformClient.ApiClient.constructor as new () => ApiClient;
  const client = new Ctor();
  client.setGateway({
    host: '127.0.0.1',
    protocol: 'http',
    port: e.port,
    path_params_login: '',
    path_params_api: '',
  });
  await client.loginClientCredentialsGrant(CLIENT.clientId, CLIENT.clientSecret);
  return { e, users: new platformClient.UsersApi(client), stations: new platformClient.StationsApi(client) };
}
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

describe('UsersApi.getUsers', () => {
  it('pages through every user with Genesys listing fields', async () => {
    const { e, users } = await start({ users: 12, scenario: { start: START, conversations: [] } });
    const first = await users.getUsers({ pageSize: 5 });
    expect(first).toMatchObject({ pageSize: 5, pageNumber: 1, total: 12, pageCount: 3 });
    expect(first.entities).toHaveLength(5);
    expect(first.nextUri).toContain('pageNumber=2');
    expect(first.previousUri).toBeUndefined();
    const seen = [...(first.entities ?? [])];
    for (let n = 2; n <= 3; n++)
      seen.push(...((await users.getUsers({ pageSize: 5, pageNumber: n })).entities ?? []));
    expect(seen.map((u) => u.id).sort()).toEqual(e.org.users.map((u) => u.id).sort());
    const last = await users.getUsers({ pageSize: 5, pageNumber: 3 });
    expect(last.entities).toHaveLength(2);
    expect(last.nextUri).toBeUndefined();
    expect(last.previousUri).toContain('pageNumber=2');
    const u0 = e.org.users[0];
    const entity = seen.find((u) => u.id === u0?.id);
    expect(entity).toMatchObject({ name: u0?.name, email: u0?.email, division: { id: u0?.divisionId } });
    expect((await users.getUsers()).pageSize).toBe(25);
    expect((await failure(users.getUsers({ pageSize: 501 }))).status).toBe(400);
  });
});

describe('stations', () => {
  it('describes a WebRTC softphone and a desk phone, and 404s unknown ids', async () => {
    const { e, users, stations } = await start({ scenario: { start: START, conversations: [] } });
    const webRtc = e.org.stations.find((s) => s.type === 'inin_webrtc_softphone' && s.userId !== undefined);
    const desk = e.org.stations.find(
      (s) => s.type === 'inin_physical' && e.org.users.some((u) => u.stationId === s.id),
    );
    if (!webRtc || !desk) throw new Error('the simulated org lacks a WebRTC or desk-phone station');
    const webRtcUser = e.org.users.find((u) => u.stationId === webRtc.id);
    const deskUser = e.org.users.find((u) => u.stationId === desk.id);

    const w = await stations.getStation(webRtc.id);
    expect(w).toMatchObject({
      id: webRtc.id,
      type: 'inin_webrtc_softphone',
      webRtcUserId: webRtc.userId,
      userId: webRtcUser?.id,
      status: 'ASSOCIATED',
      webRtcPersistentEnabled: webRtc.webRtcPersistentEnabled,
      webRtcForceTurn: false,
    });
    expect(w.webRtcCallAppearances).toBe(webRtc.webRtcCallAppearances);
    const d = await stations.getStation(desk.id);
    expect(d).toMatchObject({ id: desk.id, type: 'inin_physical', userId: deskUser?.id });
    expect(d.webRtcUserId).toBeFalsy();
    expect(d.primaryEdge?.id).toBe(desk.primaryEdgeId);

    const us = await users.getUserStation(webRtcUser?.id ?? '');
    expect(us.effectiveStation).toMatchObject({
      id: webRtc.id,
      type: 'inin_webrtc_softphone',
      associatedUser: { id: webRtcUser?.id },
    });
    expect(us.associatedStation?.id).toBe(webRtc.id);
    expect(us.defaultStation?.id).toBe(webRtc.id);
    expect((await users.getUserStation(deskUser?.id ?? '')).effectiveStation?.type).toBe('inin_physical');

    const missing = await failure(stations.getStation('00000000-0000-0000-0000-000000000000'));
    expect(missing.status).toBe(404);
    expect(missing).toMatchObject({ code: 'not.found', status: 404 });
    expect((await failure(users.getUserStation('nobody'))).status).toBe(404);
  });

  it('follows hot-desk station changes of scripted conversations over simulated time', async () => {
    const at = (m: number) => new Date(Date.parse(START) + m * 60_000).toISOString();
    const { e, users, stations } = await start({
      scenario: {
        start: START,
        seed: 7,
        conversations: [0, 1, 2, 3, 4, 5].map((i) => ({
          kind: 'sip-desk-phone' as const,
          at: at(5 + i * 20),
          durationSeconds: 120,
        })),
      },
    });
    const script = e.conversations.all().find((s) => s.stationChanges.some((c) => c.stationId !== undefined));
    if (!script) throw new Error('no scripted hot-desk login (change the seed)');
    const login = script.stationChanges.find((c) => c.stationId !== undefined);
    const logout = script.stationChanges.find(
      (c) => c.userId === login?.userId && c.stationId === undefined && c.at > (login?.at ?? 0),
    );
    if (!login?.stationId || !logout) throw new Error('expected a login and a logout');

    const before = await users.getUserStation(login.userId);
    expect(before.associatedStation).toBeUndefined();
    await e.clock.advance(login.at - e.clock.now());
    const during = await users.getUserStation(login.userId);
    expect(during.associatedStation).toMatchObject({ id: login.stationId, type: 'inin_physical' });
    expect(during.associatedStation?.associatedDate).toBe(new Date(login.at).toISOString());
    expect((await stations.getStation(login.stationId)).userId).toBe(login.userId);
    await e.clock.advance(logout.at - e.clock.now());
    const after = await users.getUserStation(login.userId);
    expect(after.associatedStation).toBeUndefined();
    expect(after.lastAssociatedStation?.id).toBe(login.stationId);
    expect((await stations.getStation(login.stationId)).status).toBe('AVAILABLE');
  });
});
