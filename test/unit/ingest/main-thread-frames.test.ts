import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { createOrg, createRng, randomConversations } from '../../../dev/emulator/simulation/index.ts';
import { notificationFrameText, userTopicEvents } from '../../../dev/user-topic-events.ts';
import { parseNotificationFrame } from '../../../src/enrich/genesys-envelope.ts';
import type { NotificationEnvelope } from '../../../src/enrich/genesys-envelope.ts';
import { mayNeedMainThread } from '../../../src/ingest/main-thread-frames.ts';
import * as F from '../../fixtures/genesys/frames.ts';

/** The kinds the main thread acts on as they arrive: the channel's control frames, and the user-context events. */
const MAIN_THREAD_KINDS = new Set<NotificationEnvelope['kind']>([
  'heartbeat',
  'pong',
  'socket-closing',
  'no-longer-subscribed',
  'token-revoked',
  'channel-gone',
  'subscribe-result',
  'user-station',
  'persistent-connection',
]);

const kindOf = (text: string) => {
  const p = parseNotificationFrame(text);
  return p.ok ? p.value.kind : 'rejected';
};

/** Escapes every character of the text's JSON strings as \uXXXX, as a JSON encoder may. */
const escapeAll = (text: string) =>
  text.replace(/"((?:[^"\\]|\\.)*)"/g, (_, s: string) => {
    const decoded = JSON.parse(`"${s}"`) as string;
    return `"${[...decoded].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')}"`;
  });

const controlFrames = [
  F.text(F.heartbeat),
  F.text(F.pong),
  F.text(F.socketClosing),
  F.text(F.frame('v2.system.no_longer_subscribed.streaming-0-abc', {})),
  F.text(F.frame('v2.system.token_revoked', { reason: 'revoked' })),
  '{"result":"404"}',
  '{"result":"200","status":"subscribed","correlationId":"abc-1"}',
  F.text(F.userStation()),
  F.text(F.persistentConnection()),
];

describe('mayNeedMainThread', () => {
  it('is true for every control frame and user-context event, as sent and with every string escaped', () => {
    for (const text of controlFrames) {
      expect(MAIN_THREAD_KINDS.has(kindOf(text) as NotificationEnvelope['kind'])).toBe(true);
      expect(mayNeedMainThread(text)).toBe(true);
      const escaped = escapeAll(text);
      expect(kindOf(escaped)).toBe(kindOf(text));
      expect(mayNeedMainThread(escaped)).toBe(true);
    }
  });

  it('leaves the conversation events of a simulated day to the worker', () => {
    const T0 = Date.parse('2026-03-01T08:00:00Z');
    const org = createOrg(createRng(9), { users: 12 });
    const frames = userTopicEvents(randomConversations(org, createRng(9), T0, T0 + 3_600_000, 6)).map(
      (e, i) => notificationFrameText(e.topicName, e.eventBody, i),
    );
    const conversations = frames.filter((t) => kindOf(t).startsWith('user-conversation'));
    expect(conversations.length).toBeGreaterThan(100);
    expect(conversations.filter(mayNeedMainThread)).toEqual([]);
  });

  it('parses here a frame that names a second topic, even with its key escaped, and one laid out otherwise', () => {
    const data = F.text(F.userConversation());
    expect(mayNeedMainThread(data)).toBe(false);
    for (const text of [
      data.replace(/\}$/, ',"topicName":"v2.system.socket_closing"}'),
      data.replace(/\}$/, ',"topic\\u004eame":"v2.system.socket_closing"}'),
      ` ${data}`,
      data.replace('{"topicName":', '{"topicName" :'),
    ])
      expect(mayNeedMainThread(text)).toBe(true);
    // The escaped key is the same key to JSON.parse: the frame is a socket_closing.
    expect(kindOf(data.replace(/\}$/, ',"topic\\u004eame":"v2.system.socket_closing","eventBody":{}}'))).toBe(
      'socket-closing',
    );
  });

  test.prop([fc.constantFrom(...controlFrames), fc.string({ maxLength: 40 })])(
    'never misses a main-thread frame, whatever else it holds',
    (text, extra) => {
      const withExtra = text.replace(/\}$/, `,"x":${JSON.stringify(extra)}}`);
      if (!MAIN_THREAD_KINDS.has(kindOf(withExtra) as NotificationEnvelope['kind'])) return;
      expect(mayNeedMainThread(withExtra)).toBe(true);
    },
  );
});
