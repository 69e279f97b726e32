import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { fc, test } from '@fast-check/vitest';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { Models } from 'purecloud-platform-client-v2';
import {
  eventBodyText,
  notificationKeys,
  parseNotificationFrame,
} from '../../../src/enrich/genesys-envelope.ts';
import type {
  CallConversationEventBody,
  ConversationEventBody,
  DetailEventBody,
  NotificationEnvelope,
  PersistentConnectionBody,
  UserStationBody,
} from '../../../src/enrich/genesys-envelope.ts';
import * as F from '../../fixtures/genesys/frames.ts';

function parsed(frameText: string): NotificationEnvelope {
  const r = parseNotificationFrame(frameText);
  if (!r.ok) throw new Error(`expected a parse, got ${r.error.code}: ${r.error.reason}`);
  return r.value;
}

describe('parseNotificationFrame: control frames', () => {
  it('recognises heartbeats and pongs', () => {
    expect(parsed(F.text(F.heartbeat)).kind).toBe('heartbeat');
    expect(parsed(F.text(F.pong)).kind).toBe('pong');
  });

  it('keeps other channel.metadata messages as unknown', () => {
    expect(
      parsed(F.text({ topicName: 'channel.metadata', eventBody: { message: 'something new' } })).kind,
    ).toBe('unknown');
  });

  it('parses socket_closing with its system message', () => {
    const env = parsed(F.text(F.socketClosing));
    expect(env.kind).toBe('socket-closing');
    if (env.kind !== 'socket-closing') return;
    expect(env.body.reason).toBe('maintenance');
    expect(env.correlationId).toBe(F.IDS.correlation);
    expect(env.version).toBe('2');
  });

  it('parses no_longer_subscribed and token_revoked with their opaque ids', () => {
    const a = parsed(F.text(F.frame('v2.system.no_longer_subscribed.streaming-0-abc', {})));
    expect(a).toMatchObject({ kind: 'no-longer-subscribed', systemId: 'streaming-0-abc' });
    const b = parsed(F.text(F.frame('v2.system.token_revoked', { reason: 'revoked' })));
    expect(b).toMatchObject({ kind: 'token-revoked', systemId: undefined });
  });

  it('turns {"result":"404"} into channel-gone and 200/400 into subscribe results', () => {
    expect(parsed('{"result":"404"}')).toMatchObject({
      kind: 'channel-gone',
      result: '404',
      topicName: undefined,
    });
    expect(parsed('{"result":"200","status":"subscribed","correlationId":"abc-1"}')).toMatchObject({
      kind: 'subscribe-result',
      succeeded: true,
      status: 'subscribed',
      correlationId: 'abc-1',
    });
    expect(
      parsed('{"result":"400","status":"error","message":"Required data missing from subscribe request."}'),
    ).toMatchObject({
      kind: 'subscribe-result',
      succeeded: false,
      message: 'Required data missing from subscribe request.',
    });
  });

  it('keeps a well-formed envelope of another topic as unknown, with its metadata and raw text', () => {
    const t = F.text(
      F.frame(`v2.users.${F.IDS.agentUser}.presence`, { presenceDefinition: { id: 'x' } }, 'corr-7'),
    );
    expect(parsed(t)).toEqual({
      kind: 'unknown',
      raw: t,
      rawBody: { presenceDefinition: { id: 'x' } },
      rawMetadata: { CorrelationId: 'corr-7' },
      topicName: `v2.users.${F.IDS.agentUser}.presence`,
      version: '2',
      correlationId: 'corr-7',
    });
  });
});

describe('parseNotificationFrame: conversation events', () => {
  it('parses v2.users.{id}.conversations with every participant and call', () => {
    const t = F.text(F.userConversation());
    const env = parsed(t);
    expect(env.kind).toBe('user-conversation');
    if (env.kind !== 'user-conversation') return;
    expect(env.userId).toBe(F.IDS.agentUser);
    expect(env.raw).toBe(t);
    expect(env.topicName).toBe(`v2.users.${F.IDS.agentUser}.conversations`);
    expect(env.body.participants?.map((p) => p.id)).toEqual([
      F.IDS.customerParticipant,
      F.IDS.agentParticipant1,
      F.IDS.agentParticipant2,
    ]);
    const agent = env.body.participants?.[2]?.calls?.[0];
    expect(agent).toMatchObject({
      id: F.IDS.agentCall2,
      peerId: F.IDS.customerCall,
      publicIpAddress: '203.0.113.7',
    });
    // Unknown fields are stripped from the typed body (the raw frame keeps them).
    expect(env.body.participants?.[1]?.calls?.[0]).not.toHaveProperty('uuiData');
    expect(env.body.participants?.[1]?.calls?.[0]).toMatchObject({
      disconnectType: 'client',
      state: 'disconnected',
    });
  });

  it('parses the flat call topics per user and per queue', () => {
    const u = parsed(F.text(F.userConversationCalls()));
    expect(u).toMatchObject({ kind: 'user-conversation-calls', userId: F.IDS.agentUser });
    const q = parsed(F.text(F.queueConversationCalls()));
    expect(q).toMatchObject({ kind: 'queue-conversation-calls', queueId: F.IDS.queue });
    if (q.kind !== 'queue-conversation-calls') return;
    expect(q.body.participants?.[1]).toMatchObject({
      peer: F.IDS.customerCall,
      user: { id: F.IDS.agentUser },
    });
  });

  it('parses user detail start and end events', () => {
    expect(parsed(F.text(F.userDetailStart()))).toMatchObject({
      kind: 'user-detail-start',
      conversationId: F.IDS.conversation,
      body: { sessionId: F.IDS.agentCall2, participantId: F.IDS.agentParticipant2 },
    });
    expect(parsed(F.text(F.userDetailEnd()))).toMatchObject({
      kind: 'user-detail-end',
      body: { disconnectType: 'peer' },
    });
  });

  it('parses station and persistent-connection events', () => {
    expect(parsed(F.text(F.userStation()))).toMatchObject({
      kind: 'user-station',
      userId: F.IDS.agentUser,
      body: { associatedStation: { id: F.IDS.station } },
    });
    expect(parsed(F.text(F.persistentConnection()))).toMatchObject({
      kind: 'persistent-connection',
      body: { persistentState: 'CONNECTED', stationId: F.IDS.station },
    });
  });

  it('normalises upper-case ids to lower case and accepts explicit nulls', () => {
    const f = F.userConversation();
    const upper = F.text(f).replaceAll(F.IDS.agentUser, F.IDS.agentUser.toUpperCase());
    const env = parsed(upper.replace('"recordingState":"active"', '"recordingState":null'));
    expect(env).toMatchObject({ kind: 'user-conversation', userId: F.IDS.agentUser });
    if (env.kind !== 'user-conversation') return;
    expect(env.body.recordingState).toBeUndefined();
    expect(env.body.participants?.[1]?.userId).toBe(F.IDS.agentUser);
  });

  it('gives the evidence-log keys of each kind', () => {
    expect(notificationKeys(parsed(F.text(F.queueConversationCalls())))).toEqual({
      conversationId: F.IDS.conversation,
      entityId: F.IDS.queue,
    });
    expect(notificationKeys(parsed(F.text(F.userStation())))).toEqual({
      conversationId: undefined,
      entityId: F.IDS.agentUser,
    });
    expect(notificationKeys(parsed(F.text(F.heartbeat)))).toEqual({
      conversationId: undefined,
      entityId: undefined,
    });
  });
});

describe('parseNotificationFrame: malformed frames', () => {
  const fixture = JSON.parse(
    readFileSync(new URL('../../fixtures/genesys/malformed-frames.json', import.meta.url), 'utf8'),
  ) as { cases: { name: string; frame: string; code: string }[] };

  const rejected = fixture.cases.filter((c) => c.code !== 'participant-dropped');
  const partial = fixture.cases.filter((c) => c.code === 'participant-dropped');

  it.each(partial)('$name → kept, the participant dropped with the reason', ({ frame }) => {
    const r = parseNotificationFrame(frame);
    if (!r.ok || r.value.kind !== 'user-conversation')
      throw new Error('expected a user-conversation envelope');
    expect(r.value.body.participants).toEqual([]);
    expect(r.value.dropped).toHaveLength(1);
    expect(r.value.dropped[0]?.index).toBe(0);
    expect(r.value.dropped[0]?.reason).toMatch(/^eventBody\.participants\.0\./);
    expect(r.value.dropped[0]?.reason).not.toContain('yesterday');
    expect(r.value.dropped[0]?.reason).not.toContain('f00d');
  });

  it.each(rejected)('$name → $code', ({ frame, code }) => {
    const r = parseNotificationFrame(frame);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe(code);
    expect(r.error.reason.length).toBeGreaterThan(0);
    // No payload content in reasons: not the marker, not the ids, not the values.
    expect(r.error.reason).not.toContain('secret-token-abc');
    expect(r.error.reason).not.toContain(F.IDS.agentUser);
    expect(r.error.reason).not.toContain('AGENT_USER_ID');
    expect(r.error.reason).not.toContain('yesterday');
    expect(r.error.reason).not.toContain('oops');
  });

  it('names the failing path and the topic family of a bad body', () => {
    const f = F.userConversation();
    const r = parseNotificationFrame(F.text({ ...f, eventBody: { ...f.eventBody, id: 'not-a-uuid' } }));
    expect(r).toEqual({
      ok: false,
      error: {
        code: 'bad-event-body',
        reason: "eventBody.id failed check 'invalid_format'",
        topicFamily: 'v2.users.{id}.conversations',
      },
    });
  });

  it.each([
    ['v2.users.{id}.conversations', F.userConversation],
    ['v2.users.{id}.conversations.calls', F.userConversationCalls],
    ['v2.routing.queues.{id}.conversations.calls', F.queueConversationCalls],
  ] as const)('%s: one invalid participant is dropped, the others kept', (_family, make) => {
    const f = make();
    const participants = (f.eventBody.participants ?? []) as unknown as Record<string, unknown>[];
    const broken = participants.map((p, i) => (i === 1 ? { ...p, id: undefined } : p));
    const r = parseNotificationFrame(F.text({ ...f, eventBody: { ...f.eventBody, participants: broken } }));
    if (!r.ok || !('dropped' in r.value)) throw new Error('expected a conversation envelope');
    expect(r.value.dropped).toEqual([
      { index: 1, reason: "eventBody.participants.1.id failed check 'invalid_type'" },
    ]);
    expect(r.value.body.participants?.map((p) => p.id)).toEqual(
      participants.filter((_, i) => i !== 1).map((p) => p['id']),
    );
    const whole = parseNotificationFrame(F.text(f));
    expect(whole.ok && 'dropped' in whole.value && whole.value.dropped).toEqual([]);
  });
});

describe('parsed body types', () => {
  it('are assignable to the SDK models they stand for', () => {
    expectTypeOf<ConversationEventBody>().toExtend<Models.ConversationEventTopicConversation>();
    expectTypeOf<CallConversationEventBody>().toExtend<Models.ConversationCallEventTopicCallConversation>();
    expectTypeOf<CallConversationEventBody>().toExtend<Models.QueueConversationCallEventTopicCallConversation>();
    expectTypeOf<DetailEventBody>().toExtend<Models.UserStartDetailEventTopicUserStartEvent>();
    expectTypeOf<DetailEventBody>().toExtend<Models.UserEndDetailEventTopicUserEndEvent>();
    expectTypeOf<UserStationBody>().toExtend<Models.UserStationChangeTopicUserStations>();
    expectTypeOf<PersistentConnectionBody>().toExtend<Models.PersistentConnectionChangeTopicPersistentConnectionChangeEvent>();
  });
});

describe('eventBodyText: the body as JSON text, for the overlap dedupe', () => {
  const topicEnvelope = (t: string) => {
    const env = parsed(t);
    if (env.topicName === undefined) throw new Error('expected a topic frame');
    return env;
  };

  it('is the span of a frame laid out as Genesys sends it: what re-serialising the body gives', () => {
    for (const f of [
      F.userConversation(),
      F.userConversationCalls(),
      F.userDetailStart(),
      F.persistentConnection(),
    ]) {
      const t = F.text(f);
      const env = topicEnvelope(t);
      expect(eventBodyText(env)).toBe(JSON.stringify(f.eventBody));
      // A span of the frame, not a new serialisation.
      expect(t.indexOf(eventBodyText(env))).toBe(t.indexOf('"eventBody":') + '"eventBody":'.length);
    }
  });

  it('is the body as sent, whitespace and escapes included, when the frame has the compact layout', () => {
    const t = `{"topicName":"v2.users.${F.IDS.agentUser}.presence","version":"2","eventBody":{ "a" : "\\u00e9" },"metadata":{"CorrelationId":"c"}}`;
    expect(eventBodyText(topicEnvelope(t))).toBe('{ "a" : "\\u00e9" }');
  });

  it('re-serialises the body when the frame is laid out otherwise', () => {
    const f = F.userConversation();
    const reordered = JSON.stringify({
      metadata: f.metadata,
      eventBody: f.eventBody,
      topicName: f.topicName,
    });
    const pretty = JSON.stringify(f, null, 2);
    const extraKey = JSON.stringify({ ...f, extra: 1 });
    for (const t of [reordered, pretty, extraKey])
      expect(eventBodyText(topicEnvelope(t))).toBe(JSON.stringify(f.eventBody));
  });

  it('never takes text after a duplicate key for the body it overrides', () => {
    const head = `{"topicName":"v2.users.${F.IDS.agentUser}.presence","version":"2","eventBody":`;
    const tail = ',"metadata":{"CorrelationId":"c"}}';
    const a = parsed(`${head}{"a":1},"eventBody":{"b":2}${tail}`);
    const b = parsed(`${head}{"b":2}${tail}`);
    expect(a.topicName === undefined ? undefined : a.rawBody).toEqual({ b: 2 });
    if (a.topicName === undefined || b.topicName === undefined) throw new Error('expected topic frames');
    // Different texts for one body: at worst a duplicate is kept, never a different body dropped.
    expect(eventBodyText(a)).not.toBe(eventBodyText(b));
  });

  const bodies = fc.constantFrom<unknown>(
    { id: 1 },
    { id: 2 },
    { id: 1, x: [1, 2] },
    { x: [1, 2], id: 1 },
    { s: 'é"\\' },
    [],
    null,
  );
  const frameText = fc
    .tuple(
      bodies,
      fc.constantFrom('c1', 'c2'),
      fc.constantFrom<'compact' | 'pretty' | 'reordered' | 'spaced'>(
        'compact',
        'pretty',
        'reordered',
        'spaced',
      ),
    )
    .map(([eventBody, correlationId, layout]) => {
      const f = {
        topicName: 'v2.users.x.presence',
        version: '2',
        eventBody,
        metadata: { CorrelationId: correlationId },
      };
      if (layout === 'pretty') return JSON.stringify(f, null, 1);
      if (layout === 'reordered')
        return JSON.stringify({
          eventBody,
          topicName: f.topicName,
          version: f.version,
          metadata: f.metadata,
        });
      if (layout === 'spaced')
        return `{"topicName":"v2.users.x.presence","version":"2","eventBody": ${JSON.stringify(eventBody, null, 1)} ,"metadata":${JSON.stringify(f.metadata)}}`;
      return JSON.stringify(f);
    });
  test.prop([frameText, frameText])('equal texts only for equal bodies', (t1, t2) => {
    const a = parsed(t1);
    const b = parsed(t2);
    if (a.topicName === undefined || b.topicName === undefined) throw new Error('expected topic frames');
    if (eventBodyText(a) === eventBodyText(b)) expect(isDeepStrictEqual(a.rawBody, b.rawBody)).toBe(true);
    // Compact frames give what re-serialising gave before, so equal bodies (in key order, as before) still match
    // whatever their metadata: the channel overlap this serves.
    for (const [t, env] of [
      [t1, a],
      [t2, b],
    ] as const)
      if (t.startsWith('{"topicName"') && !t.includes('\n') && !t.includes(': '))
        expect(eventBodyText(env)).toBe(JSON.stringify(env.rawBody));
  });
});
