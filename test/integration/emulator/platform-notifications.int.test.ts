/**
 * The Notification API's REST half through the official SDK's NotificationsApi: channels, subscriptions,
 * limits, combined topics, the 20-channel quota and channel expiry (using the simulated clock).
 */
import { afterEach, describe, expect, it } from 'vitest';
import platformClient from 'purecloud-platform-client-v2';
import { startEmulator, type EmulatorOptions, type RunningEmulator } from '../../../dev/emulator/index.ts';
import { connectNotifications, hasTopic } from '../../../dev/emulator/platform/notifications-client.ts';

type ApiClient = typeof platformClient.ApiClient;
const CLIENT = { clientId: 'notif-test-client', clientSecret: 'notif-test-secret' };
const DAY = 24 * 3_600_000;

function sdkClient(port: number, extended = false): ApiClient {
  const Ctor = platformClient.ApiClient.constructor as new () => ApiClient;
  const client = new Ctor();
  client.setGateway({
    host: '127.0.0.1',
    protocol: 'http',
    port,
    path_params_login: '',
    path_params_api: '',
  });
  client.setReturnExtendedResponses(extended);
  return client;
}

async function failure(
  p: Promise<unknown>,
): Promise<{ status: number; body: { code?: string; message?: string } }> {
  try {
    await p;
  } catch (e) {
    return e as { status: number; body: { code?: string; message?: string } };
  }
  throw new Error('expected the call to fail');
}

let emu: RunningEmulator | undefined;
async function start(opts: Partial<EmulatorOptions> = {}) {
  const e = await startEmulator({ ...CLIENT, ...opts });
  emu = e;
  const client = sdkClient(e.port);
  const auth = await client.loginClientCredentialsGrant(CLIENT.clientId, CLIENT.clientSecret);
  const extended = sdkClient(e.port, true);
  extended.setAccessToken(auth.accessToken);
  return {
    e,
    client,
    api: new platformClient.NotificationsApi(client),
    ext: new platformClient.NotificationsApi(extended),
  };
}
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

/** Simulated time runs on in real time (speed 1), so times are checked against a window. */
function expectBetween(value: number, min: number, max: number): void {
  expect(value).toBeGreaterThanOrEqual(min);
  expect(value).toBeLessThanOrEqual(max);
}

const userTopic = (userId: string, suffix: string) => `v2.users.${userId}.${suffix}`;
const ids = (listing: { entities?: Array<{ id?: string }> }) => (listing.entities ?? []).map((t) => t.id);

describe('notification channels (SDK NotificationsApi)', () => {
  it('creates a channel with a ws connectUri on the emulator port and a 24 h expiry', async () => {
    const { e, api, ext } = await start();
    const before = e.clock.now();
    const ch = await api.postNotificationsChannels();
    expect(ch.connectUri).toBe(`ws://127.0.0.1:${e.port}/channels/${ch.id}`);
    expectBetween(Date.parse(ch.expires ?? ''), before + DAY, e.clock.now() + DAY);
    await ext.headNotificationsChannel(ch.id ?? '');
    expect((await failure(ext.headNotificationsChannel('streaming-0-doesnotexist'))).status).toBe(404);
  });

  it('lists channels of this token by default and of the whole OAuth client with includechannels=oauthclient', async () => {
    const { e, api } = await start();
    const mine = await api.postNotificationsChannels();
    const second = sdkClient(e.port);
    await second.loginClientCredentialsGrant(CLIENT.clientId, CLIENT.clientSecret);
    const otherToken = await new platformClient.NotificationsApi(second).postNotificationsChannels();
    expect(ids(await api.getNotificationsChannels())).toEqual([mine.id]);
    expect(ids(await api.getNotificationsChannels({ includechannels: 'token' }))).toEqual([mine.id]);
    expect(ids(await api.getNotificationsChannels({ includechannels: 'oauthclient' })).sort()).toEqual(
      [mine.id, otherToken.id].sort(),
    );
  });

  it('PUT replaces, POST adds, GET lists and DELETE removes subscriptions', async () => {
    const { e, api } = await start();
    const [u0, u1] = e.org.users;
    const ch = await api.postNotificationsChannels();
    const id = ch.id ?? '';
    const a = userTopic(u0?.id ?? '', 'conversations.calls');
    const b = userTopic(u1?.id ?? '', 'conversations.calls');
    const c = userTopic(u0?.id ?? '', 'station');
    expect(ids(await api.putNotificationsChannelSubscriptions(id, [{ id: a }, { id: b }]))).toEqual([a, b]);
    expect(ids(await api.postNotificationsChannelSubscriptions(id, [{ id: c }]))).toEqual([a, b, c]);
    expect(ids(await api.putNotificationsChannelSubscriptions(id, [{ id: c }]))).toEqual([c]);
    expect(ids(await api.getNotificationsChannelSubscriptions(id))).toEqual([c]);
    await api.deleteNotificationsChannelSubscriptions(id);
    expect(ids(await api.getNotificationsChannelSubscriptions(id))).toEqual([]);
  });

  it('rejects an invalid topic with 400, or per topic with ignoreErrors', async () => {
    const { e, api, ext } = await start();
    const ch = await api.postNotificationsChannels();
    const id = ch.id ?? '';
    const good = userTopic(e.org.users[0]?.id ?? '', 'conversations');
    const bad = ['v2.users.*.conversations', 'v2.nonsense.topic'];
    const err = await failure(
      ext.putNotificationsChannelSubscriptions(id, [{ id: good }, ...bad.map((t) => ({ id: t }))]),
    );
    expect(err.status).toBe(400);
    expect(ids(await api.getNotificationsChannelSubscriptions(id))).toEqual([]);

    const listing = await api.putNotificationsChannelSubscriptions(
      id,
      [{ id: good }, ...bad.map((t) => ({ id: t }))],
      {
        ignoreErrors: true,
      },
    );
    const byId = new Map((listing.entities ?? []).map((t) => [t.id, t]));
    expect(byId.get(good)?.state).toBe('Permitted');
    for (const t of bad) {
      expect(byId.get(t)?.state).toBe('Rejected');
      expect(byId.get(t)?.rejectionReason).toBeTruthy();
    }
    expect(ids(await api.getNotificationsChannelSubscriptions(id))).toEqual([good]);
  });

  it('allows 1,000 topics per channel and answers 400 to the 1,001st', async () => {
    const { api, ext } = await start();
    const ch = await api.postNotificationsChannels();
    const id = ch.id ?? '';
    const topics = Array.from({ length: 1_000 }, (_, i) => ({
      id: `v2.users.user-${i}.conversations.calls`,
    }));
    expect((await api.putNotificationsChannelSubscriptions(id, topics)).entities).toHaveLength(1_000);
    const over = await failure(
      ext.postNotificationsChannelSubscriptions(id, [{ id: 'v2.users.user-x.station' }]),
    );
    expect(over.status).toBe(400);
    expect(over.body.message).toMatch(/1000/);
    const put1001 = await failure(
      ext.putNotificationsChannelSubscriptions(id, [...topics, { id: 'v2.users.x.station' }]),
    );
    expect(put1001.status).toBe(400);
    expect((await api.getNotificationsChannelSubscriptions(id)).entities).toHaveLength(1_000);
  });

  it('counts a combined topic as one topic and delivers each expanded topic under its own name', async () => {
    const { e, api } = await start();
    const user = e.org.users[0]?.id ?? '';
    const combined = `v2.users.${user}?conversations&station&conversations.calls&persistentconnection`;
    const ch = await api.postNotificationsChannels();
    const id = ch.id ?? '';
    const fill = Array.from({ length: 999 }, (_, i) => ({ id: `v2.users.filler-${i}.station` }));
    const listing = await api.putNotificationsChannelSubscriptions(id, [...fill, { id: combined }]);
    expect(listing.entities).toHaveLength(1_000);
    expect(ids(listing)).toContain(combined);

    const socket = await connectNotifications(ch.connectUri ?? '');
    for (const suffix of ['conversations', 'station', 'conversations.calls', 'persistentconnection']) {
      const topicName = `v2.users.${user}.${suffix}`;
      expect(e.control.emit({ topicName, eventBody: { id: `body-${suffix}` } })).toBe(1);
      const msg = await socket.waitFor(hasTopic(topicName));
      expect(msg).toMatchObject({ topicName, version: '2', eventBody: { id: `body-${suffix}` } });
    }
    expect(e.control.emit({ topicName: `v2.users.${user}.presence`, eventBody: {} })).toBe(0);
    socket.close();
  });

  it('rejects a combined topic longer than 200 characters', async () => {
    const { api, ext } = await start();
    const ch = await api.postNotificationsChannels();
    const long = `v2.users.u1?${Array.from({ length: 25 }, () => 'station').join('&')}`;
    expect(long.length).toBeGreaterThan(200);
    expect(
      (await failure(ext.putNotificationsChannelSubscriptions(ch.id ?? '', [{ id: long }]))).status,
    ).toBe(400);
  });

  it('keeps 20 channels per OAuth client: the 21st evicts the oldest without a connection, else the oldest', async () => {
    const { api, ext } = await start();
    const channels = [];
    for (let i = 0; i < 20; i++) channels.push(await api.postNotificationsChannels());
    const connected = await connectNotifications(channels[0]?.connectUri ?? '');
    const twentyFirst = await api.postNotificationsChannels();
    // channels[0] is the oldest but connected, so channels[1] (oldest without a connection) goes.
    expect((await failure(ext.headNotificationsChannel(channels[1]?.id ?? ''))).status).toBe(404);
    await ext.headNotificationsChannel(channels[0]?.id ?? '');
    await ext.headNotificationsChannel(twentyFirst.id ?? '');
    const listed = ids(await api.getNotificationsChannels({ includechannels: 'oauthclient' }));
    expect(listed).toHaveLength(20);

    // With every channel connected, the oldest (channels[0]) is evicted and its socket told 404.
    const sockets = [];
    for (const ch of [...channels.slice(2), twentyFirst])
      sockets.push(await connectNotifications(ch.connectUri ?? ''));
    await api.postNotificationsChannels();
    expect(await connected.waitFor((m) => (m as { result?: string }).result === '404')).toEqual({
      result: '404',
    });
    await connected.closed;
    expect((await failure(ext.headNotificationsChannel(channels[0]?.id ?? ''))).status).toBe(404);
    for (const s of sockets) s.close();
  });

  it('expires a channel 24 h after the last subscribe; resubscribing extends it', async () => {
    const { e, api, ext } = await start({ tokenTtlSeconds: 7 * 24 * 3_600 });
    const topic = { id: userTopic(e.org.users[0]?.id ?? '', 'conversations.calls') };
    const kept = await api.postNotificationsChannels();
    const dropped = await api.postNotificationsChannels();
    await api.putNotificationsChannelSubscriptions(kept.id ?? '', [topic]);
    await api.putNotificationsChannelSubscriptions(dropped.id ?? '', [topic]);
    await e.control.advance(23 * 3_600_000);
    const before = e.clock.now();
    const renewed = await api.putNotificationsChannelSubscriptions(kept.id ?? '', [topic]);
    expect(ids(renewed)).toEqual([topic.id]);
    const listed = (await api.getNotificationsChannels()).entities?.find((c) => c.id === kept.id);
    expectBetween(Date.parse(listed?.expires ?? ''), before + DAY, e.clock.now() + DAY);
    await e.control.advance(2 * 3_600_000);
    expect((await failure(ext.headNotificationsChannel(dropped.id ?? ''))).status).toBe(404);
    await ext.headNotificationsChannel(kept.id ?? '');
    await e.control.advance(DAY);
    expect((await failure(ext.headNotificationsChannel(kept.id ?? ''))).status).toBe(404);
  });

  it("another client cannot see or use a client's channel", async () => {
    const { e, api } = await start({
      extraClients: [{ clientId: 'intruder', clientSecret: 'intruder-secret' }],
    });
    const ch = await api.postNotificationsChannels();
    const other = sdkClient(e.port, true);
    await other.loginClientCredentialsGrant('intruder', 'intruder-secret');
    const otherApi = new platformClient.NotificationsApi(other);
    expect((await failure(otherApi.headNotificationsChannel(ch.id ?? ''))).status).toBe(404);
    expect((await failure(otherApi.getNotificationsChannelSubscriptions(ch.id ?? ''))).status).toBe(404);
  });

  it('lists the available topics with description, permissions and transports', async () => {
    const { api } = await start();
    const topics = await api.getNotificationsAvailabletopics({
      expand: ['description', 'requiresPermissions', 'transports'],
    });
    const byId = new Map((topics.entities ?? []).map((t) => [t.id, t]));
    for (const id of [
      'v2.users.{id}.conversations',
      'v2.users.{id}.conversations.calls',
      'v2.routing.queues.{id}.conversations.calls',
      'v2.detail.events.conversation.{id}.user.start',
      'v2.detail.events.conversation.{id}.user.end',
      'v2.users.{id}.station',
      'v2.users.{id}.persistentconnection',
    ]) {
      const t = byId.get(id);
      expect(t?.description).toBeTruthy();
      expect(t?.requiresPermissions).toBeInstanceOf(Array);
      expect(t?.transports).toContain('All');
    }
  });
});
