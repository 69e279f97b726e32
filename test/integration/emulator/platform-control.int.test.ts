/**
 * The control API over HTTP, and the emulator end to end: scheduled conversation scripts reach a
 * subscriber exactly as the scripts say (order, topics, bodies), and random traffic flows with time.
 */
import { afterEach, describe, expect, it } from 'vitest';
import platformClient from 'purecloud-platform-client-v2';
import type { Scenario, ScriptedEvent } from '../../../dev/emulator/model.ts';
import { startEmulator, type EmulatorOptions, type RunningEmulator } from '../../../dev/emulator/index.ts';
import { connectNotifications, hasTopic } from '../../../dev/emulator/platform/notifications-client.ts';

type ApiClient = typeof platformClient.ApiClient;
const CLIENT = { clientId: 'control-test-client', clientSecret: 'control-test-secret' };

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
  return { e, api: new platformClient.NotificationsApi(client) };
}
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

async function control(e: RunningEmulator, method: string, path: string, body?: unknown) {
  const res = await fetch(`${e.baseUrl}/__control${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('control API over HTTP (no OAuth)', () => {
  it('reads and advances the clock, emits events, injects faults and lists channels and deliveries', async () => {
    const { e, api } = await start({ startTime: Date.UTC(2026, 2, 1, 9), speed: 1 });
    const t0 = (await control(e, 'GET', '/clock')).body['now'] as number;
    const advanced = await control(e, 'POST', '/advance', { ms: 3_600_000 });
    expect(advanced.body['now']).toBeGreaterThanOrEqual(t0 + 3_600_000);
    expect((await control(e, 'POST', '/advance', { ms: -5 })).status).toBe(400);

    const ch = await api.postNotificationsChannels();
    const topic = `v2.users.${e.org.users[0]?.id}.conversations`;
    await api.putNotificationsChannelSubscriptions(ch.id ?? '', [{ id: topic }]);
    const s = await connectNotifications(ch.connectUri ?? '');
    const emitted = await control(e, 'POST', '/emit', { topicName: topic, eventBody: { id: 'via-http' } });
    expect(emitted.body).toEqual({ delivered: 1 });
    await s.waitFor(hasTopic(topic));

    const channels = (await control(e, 'GET', '/channels')).body['entities'] as Array<{
      id: string;
      connected: boolean;
    }>;
    expect(channels).toEqual([expect.objectContaining({ id: ch.id, connected: true, topics: [topic] })]);
    const deliveries = (await control(e, 'GET', `/deliveries?channelId=${ch.id}&kind=event`)).body[
      'entities'
    ];
    expect(deliveries).toEqual([expect.objectContaining({ topicName: topic, delivered: true })]);

    const fault = await control(e, 'POST', '/faults', {
      pathPrefix: '/api/v2/notifications',
      status: 500,
      count: 1,
    });
    expect(fault.status).toBe(200);
    await expect(api.getNotificationsAvailabletopics()).rejects.toMatchObject({ status: 500 });
    await api.getNotificationsAvailabletopics();
    expect((await control(e, 'POST', '/faults', { pathPrefix: 'no-slash', status: 500 })).status).toBe(400);

    expect((await control(e, 'POST', `/channels/${ch.id}/socket-closing`)).status).toBe(200);
    await s.waitFor(hasTopic('v2.system.socket_closing'));
    expect((await control(e, 'POST', `/channels/${ch.id}/drop-socket`)).status).toBe(200);
    await s.closed;
    expect((await control(e, 'POST', `/channels/${ch.id}/expire`)).status).toBe(200);
    expect((await control(e, 'POST', `/channels/${ch.id}/expire`)).status).toBe(404);
    expect((await control(e, 'POST', '/tokens/revoke', {})).body).toEqual({ revoked: 1 });
  });

  it('socket_closing with refuseReconnect: the connectUri answers 503 while the old socket keeps delivering', async () => {
    const { e, api } = await start({ startTime: Date.UTC(2026, 2, 1, 9), speed: 1 });
    const ch = await api.postNotificationsChannels();
    const topic = `v2.users.${e.org.users[0]?.id}.conversations`;
    await api.putNotificationsChannelSubscriptions(ch.id ?? '', [{ id: topic }]);
    const s = await connectNotifications(ch.connectUri ?? '');
    const closing = await control(e, 'POST', `/channels/${ch.id}/socket-closing`, { refuseReconnect: true });
    expect(closing.status).toBe(200);
    await s.waitFor(hasTopic('v2.system.socket_closing'));
    await expect(connectNotifications(ch.connectUri ?? '')).rejects.toThrow(/503/);
    expect(
      (await control(e, 'POST', '/emit', { topicName: topic, eventBody: { id: 'still' } })).body,
    ).toEqual({
      delivered: 1,
    });
    await s.waitFor(hasTopic(topic));
    expect(
      (await control(e, 'POST', `/channels/${ch.id}/socket-closing`, { refuseReconnect: 'yes' })).status,
    ).toBe(400);
  });

  it('schedules a conversation of a given kind now and reports it in the ground truth', async () => {
    const { e } = await start({ startTime: Date.UTC(2026, 2, 1, 9) });
    const res = await control(e, 'POST', '/conversations', { kind: 'outbound-webrtc', durationSeconds: 60 });
    expect(res.status).toBe(200);
    const id = res.body['conversationId'];
    const truth = (await control(e, 'GET', '/ground-truth')).body['entities'] as Array<{
      conversationId: string;
    }>;
    expect(truth.map((t) => t.conversationId)).toEqual([id]);
    expect(e.conversations.get(String(id))?.kind).toBe('outbound-webrtc');
    expect((await control(e, 'POST', '/conversations', { kind: 'no-such-kind' })).status).toBe(400);
  });
});

describe('conversation scripts reach subscribers as scripted', () => {
  it('a subscriber to every user, queue and detail topic sees exactly the scripted events, in order', async () => {
    const startIso = '2026-03-02T09:58:00.000Z';
    const at = (min: number) => new Date(Date.parse(startIso) + min * 60_000).toISOString();
    const scenario: Scenario = {
      seed: 7,
      start: startIso,
      conversations: [
        { kind: 'inbound-acd-webrtc', at: at(1), durationSeconds: 120 },
        { kind: 'outbound-webrtc', at: at(2), durationSeconds: 90 },
        { kind: 'blind-transfer', at: at(3) },
        { kind: 'persistent-connection', at: at(4) },
        { kind: 'hour-boundary', at: at(1) },
      ],
    };
    const { e, api } = await start({ scenario, heartbeatIntervalMs: 3_600_000 });
    const scripts = e.control.groundTruth();
    expect(scripts).toHaveLength(5);

    const topics = [
      ...e.org.users.map(
        (u) => `v2.users.${u.id}?conversations&conversations.calls&station&persistentconnection`,
      ),
      ...e.org.queues.map((q) => `v2.routing.queues.${q.id}.conversations.calls`),
      ...scripts.flatMap((s) => [
        `v2.detail.events.conversation.${s.conversationId}.user.start`,
        `v2.detail.events.conversation.${s.conversationId}.user.end`,
      ]),
    ];
    const ch = await api.postNotificationsChannels();
    await api.putNotificationsChannelSubscriptions(
      ch.id ?? '',
      topics.map((id) => ({ id })),
    );
    const s = await connectNotifications(ch.connectUri ?? '');

    const subscribed = new Set(e.control.channels()[0]?.topics.flatMap((t) => expand(t)));
    const expected: ScriptedEvent[] = scripts
      .flatMap((sc) => sc.events)
      .filter((ev) => subscribed.has(ev.topicName))
      .map((ev, i) => ({ ev, i }))
      .sort((a, b) => a.ev.at - b.ev.at || a.i - b.i)
      .map(({ ev }) => ev);
    expect(expected.length).toBeGreaterThan(20);
    // Every scripted topic is one the channel could subscribe to.
    for (const ev of scripts.flatMap((sc) => sc.events)) expect(subscribed.has(ev.topicName)).toBe(true);

    const end = Math.max(...scripts.map((sc) => sc.endTime));
    await e.control.advance(end - e.clock.now() + 60_000);
    await s.waitFor(
      () => s.messages.filter((m) => !hasTopic('channel.metadata')(m)).length >= expected.length,
      {
        timeoutMs: 5_000,
      },
    );
    const received = s.messages.filter((m) => !hasTopic('channel.metadata')(m)) as Array<{
      topicName: string;
      eventBody: unknown;
      metadata: { CorrelationId: string };
    }>;
    expect(received.map((m) => [m.topicName, m.eventBody])).toEqual(
      expected.map((ev) => [ev.topicName, ev.eventBody]),
    );
    expect(new Set(received.map((m) => m.metadata.CorrelationId)).size).toBe(received.length);
    expect(e.control.deliveries({ channelId: ch.id, kind: 'event' }).map((d) => d.message)).toEqual(received);
    s.close();
  });

  it("sends no logout of a hot-desk user while a later call's login holds the desk (overlapping calls)", async () => {
    const { e, api } = await start({ speed: 0.001, rate: 0, startTime: Date.UTC(2026, 2, 3, 12) });
    const user = e.org.users.find((u) => u.stationId === undefined);
    if (user === undefined) throw new Error('the org has a user without a station (the hot-desk user)');
    const topic = `v2.users.${user.id}.station`;
    const ch = await api.postNotificationsChannels();
    await api.putNotificationsChannelSubscriptions(ch.id ?? '', [{ id: topic }]);
    const s = await connectNotifications(ch.connectUri ?? '');
    const t0 = e.clock.now();
    const first = e.control.scheduleConversation('sip-desk-phone', {
      userId: user.id,
      startTime: t0 + 60_000,
      durationSeconds: 300,
    });
    e.control.scheduleConversation('sip-desk-phone', {
      userId: user.id,
      startTime: t0 + 120_000,
      durationSeconds: 1_800,
    });
    const firstLogout = first.stationChanges.find((c) => c.stationId === undefined);
    expect(firstLogout).toBeDefined();
    await e.control.advance(3 * 3_600_000);
    const sent = e.control.deliveries({ channelId: ch.id, kind: 'event' }).map((d) => ({
      at: d.at,
      login:
        (d.message as { eventBody?: { associatedStation?: unknown } }).eventBody?.associatedStation !==
        undefined,
    }));
    // Two logins (one per call) and one logout, after the second call: not the first call's.
    expect(sent.map((x) => x.login)).toEqual([true, true, false]);
    expect(sent[2]?.at).toBeGreaterThan(firstLogout?.at ?? Infinity);
    s.close();
  });

  it('random mode generates conversations as simulated time passes', async () => {
    const { e } = await start({ rate: 2, seed: 3, startTime: Date.UTC(2026, 2, 3, 12) });
    expect(e.conversations.started(e.clock.now())).toHaveLength(0);
    await e.control.advance(30 * 60_000);
    const started = e.conversations.started(e.clock.now());
    expect(started.length).toBeGreaterThan(20);
    expect(started.length).toBeLessThan(150);
    expect(e.conversations.all().length).toBeGreaterThanOrEqual(started.length);
  });
});

/** Expands a (possibly combined) topic the way the emulator does. */
function expand(topic: string): string[] {
  const q = topic.indexOf('?');
  if (q < 0) return [topic];
  return topic
    .slice(q + 1)
    .split('&')
    .map((s) => `${topic.slice(0, q)}.${s}`);
}
