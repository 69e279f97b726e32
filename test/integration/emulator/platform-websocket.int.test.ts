/**
 * The notification WebSocket: heartbeats, ping/pong, subscribe over the socket, socket_closing and
 * reconnection, one socket per channel, expiry, token death and the absence of durability.
 */
import { afterEach, describe, expect, it } from 'vitest';
import platformClient from 'purecloud-platform-client-v2';
import { startEmulator, type EmulatorOptions, type RunningEmulator } from '../../../dev/emulator/index.ts';
import { connectNotifications, hasTopic } from '../../../dev/emulator/platform/notifications-client.ts';

type ApiClient = typeof platformClient.ApiClient;
const CLIENT = { clientId: 'ws-test-client', clientSecret: 'ws-test-secret' };
const HEARTBEAT = { topicName: 'channel.metadata', eventBody: { message: 'WebSocket Heartbeat' } };

let emu: RunningEmulator | undefined;
async function start(opts: Partial<EmulatorOptions> = {}) {
  const e = await startEmulator({ ...CLIENT, ...opts });
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
  const api = new platformClient.NotificationsApi(client);
  const user = e.org.users[0]?.id ?? '';
  const topic = `v2.users.${user}.conversations.calls`;
  /** A channel subscribed to `topic`. */
  const channel = async () => {
    const ch = await api.postNotificationsChannels();
    await api.putNotificationsChannelSubscriptions(ch.id ?? '', [{ id: topic }]);
    return { id: ch.id ?? '', uri: ch.connectUri ?? '' };
  };
  return { e, api, client, topic, channel };
}
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

const isHeartbeat = (m: unknown) => JSON.stringify(m) === JSON.stringify(HEARTBEAT);

describe('notification WebSocket', () => {
  it('sends a heartbeat every heartbeatIntervalMs of simulated time and answers ping with pong', async () => {
    const { e, channel } = await start({ heartbeatIntervalMs: 30_000 });
    const ch = await channel();
    const s = await connectNotifications(ch.uri);
    await e.control.advance(95_000);
    await s.waitFor((m) => s.messages.filter(isHeartbeat).length === 3 && isHeartbeat(m));
    expect(s.messages.filter(isHeartbeat)).toHaveLength(3);

    s.send({ message: 'ping' });
    expect(await s.waitFor((m) => JSON.stringify(m).includes('pong'))).toEqual({
      topicName: 'channel.metadata',
      eventBody: { message: 'pong' },
    });

    e.control.pauseHeartbeats(ch.id);
    await e.control.advance(120_000);
    e.control.resumeHeartbeats(ch.id);
    await e.control.advance(30_000);
    await s.waitFor((m) => s.messages.filter(isHeartbeat).length === 4 && isHeartbeat(m));
    expect(s.messages.filter(isHeartbeat)).toHaveLength(4);
    s.close();
  });

  it('sends heartbeats as simulated time passes for real (speed 3600: 30 s simulated ≈ 8 ms real)', async () => {
    const { channel } = await start({ speed: 3_600, heartbeatIntervalMs: 30_000 });
    const ch = await channel();
    const s = await connectNotifications(ch.uri);
    await s.waitFor((m) => isHeartbeat(m) && s.messages.filter(isHeartbeat).length >= 3, {
      timeoutMs: 3_000,
    });
    s.close();
  });

  it('delivers events in the Genesys envelope and records what each socket saw', async () => {
    const { e, channel, topic } = await start();
    const ch = await channel();
    const s = await connectNotifications(ch.uri);
    e.control.emit({ topicName: topic, eventBody: { id: 'conv-1' } });
    e.control.emit({ topicName: topic, eventBody: { id: 'conv-2' } });
    const second = (await s.waitFor((m) => JSON.stringify(m).includes('conv-2'))) as {
      metadata: { CorrelationId: string };
    };
    const events = s.messages.filter(hasTopic(topic));
    expect(events).toHaveLength(2);
    expect(events[0]).toMatchObject({ topicName: topic, version: '2', eventBody: { id: 'conv-1' } });
    expect(second.metadata.CorrelationId).toMatch(/^[0-9a-f-]{36}$/);
    const log = e.control.deliveries({ channelId: ch.id, kind: 'event' });
    expect(log.map((d) => d.message)).toEqual(events);
    expect(log.every((d) => d.delivered)).toBe(true);
    s.close();
  });

  it('subscribes and unsubscribes over the socket', async () => {
    const { e, api } = await start();
    const ch = await api.postNotificationsChannels();
    const s = await connectNotifications(ch.connectUri ?? '');
    const station = `v2.users.${e.org.users[1]?.id}.station`;
    s.send({ message: 'subscribe', topics: [station], correlationId: 'sub-1' });
    expect(await s.waitFor((m) => JSON.stringify(m).includes('sub-1'))).toMatchObject({
      result: '200',
      status: 'subscribed',
      correlationId: 'sub-1',
    });
    expect((await api.getNotificationsChannelSubscriptions(ch.id ?? '')).entities?.map((t) => t.id)).toEqual([
      station,
    ]);
    s.send({ message: 'subscribe', correlationId: 'sub-2' });
    expect(await s.waitFor((m) => JSON.stringify(m).includes('sub-2'))).toMatchObject({
      result: '400',
      status: 'failed',
    });
    s.send({ message: 'subscribe', topics: ['v2.bogus'], correlationId: 'sub-3' });
    expect(await s.waitFor((m) => JSON.stringify(m).includes('sub-3'))).toMatchObject({
      result: '400',
      status: 'failed',
    });
    s.send({ message: 'unsubscribe', topics: [station], correlationId: 'unsub-1' });
    expect(await s.waitFor((m) => JSON.stringify(m).includes('unsub-1'))).toMatchObject({ result: '200' });
    expect(e.control.emit({ topicName: station, eventBody: {} })).toBe(0);
    s.close();
  });

  it('sends socket_closing, then closes the socket after the grace period', async () => {
    const { e, channel } = await start({ socketClosingGraceMs: 60_000 });
    const ch = await channel();
    const s = await connectNotifications(ch.uri);
    expect(e.control.sendSocketClosing(ch.id)).toBe(true);
    const closing = await s.waitFor(hasTopic('v2.system.socket_closing'));
    expect(closing).toMatchObject({
      version: '2',
      eventBody: { channelId: ch.id, systemTopicType: 'socket_closing' },
    });
    await e.control.advance(59_000);
    expect(s.isOpen()).toBe(true);
    await e.control.advance(2_000);
    expect((await s.closed).code).toBe(1001);
  });

  it('after socket_closing the client reconnects to the same connectUri and keeps receiving events', async () => {
    const { e, channel, topic } = await start();
    const ch = await channel();
    const first = await connectNotifications(ch.uri);
    e.control.sendSocketClosing(ch.id);
    await first.waitFor(hasTopic('v2.system.socket_closing'));
    const second = await connectNotifications(ch.uri);
    await first.closed;
    await e.control.advance(61_000);
    expect(second.isOpen()).toBe(true);
    e.control.emit({ topicName: topic, eventBody: { id: 'after-reconnect' } });
    await second.waitFor(hasTopic(topic));
    expect(first.messages.filter(hasTopic(topic))).toHaveLength(0);
    second.close();
  });

  it('a second WebSocket on the same channel disconnects the first', async () => {
    const { e, channel, topic } = await start();
    const ch = await channel();
    const first = await connectNotifications(ch.uri);
    const second = await connectNotifications(ch.uri);
    await first.closed;
    e.control.emit({ topicName: topic, eventBody: { id: 'x' } });
    await second.waitFor(hasTopic(topic));
    expect(first.messages.filter(hasTopic(topic))).toHaveLength(0);
    second.close();
  });

  it('sends the 404 message and closes when the channel expires; a new socket to it gets 404 too', async () => {
    const { e, channel } = await start({ channelTtlMs: 3_600_000, heartbeatIntervalMs: 600_000 });
    const ch = await channel();
    const s = await connectNotifications(ch.uri);
    await e.control.advance(3_600_001);
    expect(await s.waitFor((m) => (m as { result?: string }).result === '404')).toEqual({ result: '404' });
    await s.closed;
    const late = await connectNotifications(ch.uri).catch(() => undefined);
    if (late) {
      expect(await late.waitFor((m) => (m as { result?: string }).result === '404')).toEqual({
        result: '404',
      });
      await late.closed;
    }
  });

  it('loses events published while no socket is connected (no durability)', async () => {
    const { e, channel, topic } = await start();
    const ch = await channel();
    const first = await connectNotifications(ch.uri);
    e.control.emit({ topicName: topic, eventBody: { id: 'before' } });
    await first.waitFor(hasTopic(topic));
    expect(e.control.dropSocket(ch.id)).toBe(true);
    expect((await first.closed).code).toBe(1006);
    expect(e.control.emit({ topicName: topic, eventBody: { id: 'while-down' } })).toBe(0);
    const second = await connectNotifications(ch.uri);
    e.control.emit({ topicName: topic, eventBody: { id: 'after' } });
    await second.waitFor((m) => JSON.stringify(m).includes('"after"'));
    expect(
      second.messages.filter(hasTopic(topic)).map((m) => (m as { eventBody: { id: string } }).eventBody.id),
    ).toEqual(['after']);
    const lost = e.control.deliveries({ channelId: ch.id, delivered: false });
    expect(lost.map((d) => (d.message as { eventBody: { id: string } }).eventBody.id)).toEqual([
      'while-down',
    ]);
    second.close();
  });

  it('removes a channel with the token that subscribed it: token_revoked then 404', async () => {
    const { e, channel } = await start();
    const ch = await channel();
    const s = await connectNotifications(ch.uri);
    e.control.revokeTokens();
    await s.waitFor(hasTopic(`v2.system.token_revoked.${ch.id}`));
    await s.waitFor((m) => (m as { result?: string }).result === '404');
    await s.closed;
    expect(e.control.channels().find((c) => c.id === ch.id)).toBeUndefined();
  });

  it('no_longer_subscribed drops topics server-side and tells the socket', async () => {
    const { e, channel, topic } = await start();
    const ch = await channel();
    const s = await connectNotifications(ch.uri);
    expect(e.control.noLongerSubscribed(ch.id)).toEqual([topic]);
    expect(await s.waitFor(hasTopic(`v2.system.no_longer_subscribed.${ch.id}`))).toMatchObject({
      eventBody: { channelId: ch.id, data: { topics: [topic] } },
    });
    expect(e.control.emit({ topicName: topic, eventBody: {} })).toBe(0);
    s.close();
  });
});
