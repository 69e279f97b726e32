/**
 * The hand-written body guards (hot path) against the zod schemas (the specification): for valid bodies, for bodies
 * with a field replaced by a hostile value, for generated bodies and for any JSON, both must give the same verdict,
 * the same first failing path and check, and the same cleaned body. And through parseNotificationFrame, a rejected
 * frame or a dropped participant still says why.
 */
import { fc, test } from '@fast-check/vitest';
import type { Models } from 'purecloud-platform-client-v2';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import type { BodyGuard } from '../../../src/enrich/genesys-body-guards.ts';
import {
  guardCallConversationEventBody,
  guardCallConversationEventShell,
  guardCallEventParticipant,
  guardConversationEventBody,
  guardConversationEventParticipant,
  guardConversationEventShell,
  guardDetailEventBody,
  guardPersistentConnectionBody,
  guardSystemMessageBody,
  guardUserStationBody,
} from '../../../src/enrich/genesys-body-guards.ts';
import {
  callConversationEventBody,
  callConversationEventShell,
  callEventParticipant,
  conversationEventBody,
  conversationEventParticipant,
  conversationEventShell,
  detailEventBody,
  persistentConnectionBody,
  systemMessageBody,
  userStationBody,
} from '../../../src/enrich/genesys-event-bodies.ts';
import { parseNotificationFrame } from '../../../src/enrich/genesys-envelope.ts';
import * as F from '../../fixtures/genesys/frames.ts';

const UUID = '0c5e3f0e-1d2b-4c7a-9e2f-0a1b2c3d4e5f';
const UUID_UPPER = '6F1D2C3B-4A59-4E8F-9A0B-1C2D3E4F5A6B';

/** A conversation-event call leg with every field custody reads (so every field is exercised below). */
const fullCall: Models.ConversationEventTopicCall = {
  id: UUID_UPPER,
  state: 'connected',
  disconnectType: 'client',
  held: true,
  confined: false,
  muted: false,
  errorInfo: { code: 'error.ininedgecontrol.session.inactive' },
  direction: 'inbound',
  self: { addressRaw: 'sip:agent@localhost', addressNormalized: 'sip:agent@localhost' },
  other: { addressRaw: 'tel:+14155550100', addressNormalized: 'tel:+14155550100' },
  provider: 'Edge',
  peerId: UUID,
  connectedTime: '2026-03-02T10:00:30.000Z',
  disconnectedTime: '2026-03-02T10:05:00.000Z',
  startHoldTime: '2026-03-02T10:01:00.000+01:00',
  recording: true,
  recordingState: 'active',
  publicIpAddress: '203.0.113.7',
};
const fullConversationParticipant: Models.ConversationEventTopicParticipant = {
  id: UUID,
  userId: UUID_UPPER,
  purpose: 'agent',
  address: 'sip:agent@localhost',
  startAcwTime: '2026-03-02T10:05:00.000Z',
  endAcwTime: '2026-03-02T10:06:00.000Z',
  calls: [fullCall],
};
const fullConversation: Models.ConversationEventTopicConversation = {
  id: UUID,
  participants: [fullConversationParticipant],
  recordingState: 'active',
};
const fullCallParticipant: Models.ConversationCallEventTopicCallMediaParticipant = {
  id: UUID,
  purpose: 'agent',
  state: 'disconnected',
  disconnectType: 'transfer',
  held: false,
  confined: true,
  muted: true,
  errorInfo: { code: 'x' },
  startAcwTime: '2026-03-02T10:05:00.000Z',
  endAcwTime: '2026-03-02T10:06:00.000Z',
  direction: 'outbound',
  address: 'sip:agent@localhost',
  ani: 'tel:+14155550100',
  dnis: 'tel:+18005550199',
  startTime: '2026-03-02T09:59:50.000Z',
  connectedTime: '2026-03-02T10:00:00.000Z',
  endTime: '2026-03-02T10:05:00.000Z',
  startHoldTime: '2026-03-02T10:01:00.000Z',
  user: { id: UUID_UPPER },
  queue: { id: UUID },
  provider: 'Edge',
  peer: UUID,
  recording: false,
  recordingState: 'none',
  publicIpAddress: '203.0.113.7',
};
const fullCallConversation: Models.ConversationCallEventTopicCallConversation = {
  id: UUID_UPPER,
  participants: [fullCallParticipant],
  recordingState: 'none',
};

type Pair = { name: string; schema: z.ZodType; guard: BodyGuard<unknown>; valid: unknown[] };

const conversations = [F.userConversation().eventBody, F.multiCallConversation().eventBody, fullConversation];
const callConversations = [
  F.userConversationCalls().eventBody,
  F.queueConversationCalls().eventBody,
  F.userConversationCallsHeld().eventBody,
  F.userConversationCallsWrappedUp().eventBody,
  F.userConversationCallsAniDnisOnly().eventBody,
  fullCallConversation,
];

const PAIRS: Pair[] = [
  {
    name: 'user conversation',
    schema: conversationEventBody,
    guard: guardConversationEventBody,
    valid: conversations,
  },
  {
    name: 'user conversation (shell)',
    schema: conversationEventShell,
    guard: guardConversationEventShell,
    valid: conversations,
  },
  {
    name: 'conversation participant',
    schema: conversationEventParticipant,
    guard: guardConversationEventParticipant,
    valid: conversations.flatMap((c) => c.participants ?? []),
  },
  {
    name: 'call conversation',
    schema: callConversationEventBody,
    guard: guardCallConversationEventBody,
    valid: callConversations,
  },
  {
    name: 'call conversation (shell)',
    schema: callConversationEventShell,
    guard: guardCallConversationEventShell,
    valid: callConversations,
  },
  {
    name: 'call participant',
    schema: callEventParticipant,
    guard: guardCallEventParticipant,
    valid: callConversations.flatMap((c) => c.participants ?? []),
  },
  {
    name: 'detail event',
    schema: detailEventBody,
    guard: guardDetailEventBody,
    valid: [F.userDetailStart().eventBody, F.userDetailEnd().eventBody],
  },
  {
    name: 'user station',
    schema: userStationBody,
    guard: guardUserStationBody,
    valid: [F.userStation().eventBody],
  },
  {
    name: 'persistent connection',
    schema: persistentConnectionBody,
    guard: guardPersistentConnectionBody,
    valid: [{ ...F.persistentConnection().eventBody, errorInfo: { code: 'x' } }],
  },
  {
    name: 'system message',
    schema: systemMessageBody,
    guard: guardSystemMessageBody,
    valid: [F.socketClosing.eventBody],
  },
];

/** What zod says, in the guard's terms. */
function viaZod(schema: z.ZodType, body: unknown): unknown {
  const r = schema.safeParse(body);
  if (r.success) return { ok: true, value: r.data };
  const issue = r.error.issues[0];
  return {
    ok: false,
    issue: { path: issue?.path.map((p) => (typeof p === 'symbol' ? String(p) : p)), code: issue?.code },
  };
}

/** Every path to a value inside `v` (object keys and array indexes), the root excluded. */
function paths(v: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  // Long arrays (the 1,001-item hostile values) are replaced whole, not walked into.
  if (typeof v !== 'object' || v === null || (Array.isArray(v) && v.length > 8)) return [];
  const entries: [string | number, unknown][] = Array.isArray(v)
    ? v.map((x, i) => [i, x])
    : Object.entries(v as Record<string, unknown>);
  return entries.flatMap(([k, x]) => [[...prefix, k], ...paths(x, [...prefix, k])]);
}

function replaced(v: unknown, path: readonly (string | number)[], value: unknown): unknown {
  const copy = structuredClone(v) as Record<string | number, unknown>;
  let at = copy;
  for (const k of path.slice(0, -1)) at = at[k] as Record<string | number, unknown>;
  const last = path[path.length - 1] as string | number;
  if (value === DELETE) delete at[last];
  else at[last] = value;
  return copy;
}

const DELETE = Symbol('delete');
/** Values that break (or exercise the edges of) each check: types, formats, bounds, nulls, case. */
const HOSTILE: unknown[] = [
  DELETE,
  null,
  0,
  -1,
  1.5,
  2 ** 60,
  -(2 ** 60),
  Number.MAX_SAFE_INTEGER,
  true,
  false,
  '',
  'x',
  'not-a-uuid',
  UUID.toUpperCase(),
  UUID,
  ` ${UUID}`,
  'x'.repeat(257),
  'x'.repeat(1024),
  'x'.repeat(1025),
  '2022-07-04T20:04:12.131Z',
  '2022-07-04T20:04:12+02:00',
  '2022-07-04T20:04:12.1234567891Z',
  '2022-13-04T20:04:12Z',
  '2022-02-31T20:04:12Z',
  '2022-07-04 20:04:12Z',
  [],
  [null],
  [{}],
  {},
  { id: UUID },
  { id: 'nope' },
  { code: 7 },
  { addressRaw: 'x'.repeat(1025) },
  new Array(1000).fill(7),
  new Array(1001).fill({ id: UUID }),
  new Array(1001).fill(7),
];

/** A body shaped like `v` whose values are, at random, kept, hostile, any JSON, or left out. */
function shapedLike(v: unknown, depth = 0): fc.Arbitrary<unknown> {
  const other = fc.oneof(
    fc.constantFrom(...HOSTILE.filter((h) => h !== DELETE)),
    fc.jsonValue({ maxDepth: 2 }),
  );
  if (depth > 4 || typeof v !== 'object' || v === null)
    return fc.oneof({ weight: 3, arbitrary: fc.constant(v) }, other);
  if (Array.isArray(v)) {
    const items = v.slice(0, 3).map((x) => shapedLike(x, depth + 1));
    return fc.oneof(
      { weight: 3, arbitrary: items.length === 0 ? fc.constant([]) : fc.tuple(...items) },
      other,
    );
  }
  const entries = Object.entries(v as Record<string, unknown>);
  const fields = fc.tuple(
    ...entries.map(([k, x]) =>
      fc.oneof(
        { weight: 4, arbitrary: shapedLike(x, depth + 1).map((y) => [k, y] as const) },
        { weight: 1, arbitrary: fc.constant(undefined) },
      ),
    ),
  );
  const obj = fields.map((kvs) => Object.fromEntries(kvs.filter((kv) => kv !== undefined)));
  return fc.oneof({ weight: 3, arbitrary: obj }, other);
}

describe('body guards agree with the zod schemas', () => {
  for (const pair of PAIRS) {
    it(`${pair.name}: valid bodies pass with the same cleaned body`, () => {
      for (const body of pair.valid) {
        const r = pair.guard(body);
        expect(r.ok).toBe(true);
        expect(r).toStrictEqual(viaZod(pair.schema, body));
      }
    });

    it(`${pair.name}: every field replaced by every hostile value gives the same verdict and reason`, () => {
      let rejected = 0;
      for (const body of pair.valid)
        for (const path of paths(body))
          for (const value of HOSTILE) {
            const mutated = replaced(body, path, value);
            const expected = viaZod(pair.schema, mutated);
            expect({ path, value: String(value).slice(0, 40), got: pair.guard(mutated) }).toEqual({
              path,
              value: String(value).slice(0, 40),
              got: expected,
            });
            if (!(expected as { ok: boolean }).ok) rejected++;
          }
      // The mutations must actually exercise rejections, or this test proves nothing.
      expect(rejected).toBeGreaterThan(10);
    });

    test.prop([fc.oneof(...pair.valid.map((b) => shapedLike(b)))])(
      `${pair.name}: generated bodies of the same shape give the same answer`,
      (body) => {
        expect(pair.guard(body)).toEqual(viaZod(pair.schema, body));
      },
    );

    test.prop([
      fc.constantFrom(...pair.valid),
      fc.array(fc.tuple(fc.nat(), fc.oneof(fc.constantFrom(...HOSTILE), fc.jsonValue())), {
        minLength: 1,
        maxLength: 4,
      }),
    ])(`${pair.name}: several random replacements give the same answer`, (body, edits) => {
      let mutated = body;
      for (const [i, value] of edits) {
        const ps = paths(mutated);
        if (ps.length === 0) break;
        mutated = replaced(mutated, ps[i % ps.length] as (string | number)[], value);
      }
      expect(pair.guard(mutated)).toEqual(viaZod(pair.schema, mutated));
    });

    test.prop([fc.jsonValue()])(`${pair.name}: any JSON value gives the same answer`, (value) => {
      expect(pair.guard(value)).toEqual(viaZod(pair.schema, value));
    });
  }
});

describe('rejected frames and dropped participants keep their reasons', () => {
  const body = F.userConversation();
  const withBody = (eventBody: unknown) => F.text({ ...body, eventBody });
  const failures: [string, unknown, string][] = [
    [
      'a state of 1,025 characters',
      replaced(body.eventBody, ['recordingState'], 'x'.repeat(1025)),
      "eventBody.recordingState failed check 'too_big'",
    ],
    [
      'participants that are not a list',
      replaced(body.eventBody, ['participants'], { a: 1 }),
      "eventBody.participants failed check 'invalid_type'",
    ],
    [
      '1,001 participants',
      replaced(body.eventBody, ['participants'], new Array(1001).fill(7)),
      "eventBody.participants failed check 'too_big'",
    ],
    [
      'a missing conversation id',
      replaced(body.eventBody, ['id'], DELETE),
      "eventBody.id failed check 'invalid_type'",
    ],
  ];
  for (const [what, eventBody, reason] of failures)
    it(`rejects ${what}: ${reason}`, () => {
      expect(parseNotificationFrame(withBody(eventBody))).toEqual({
        ok: false,
        error: { code: 'bad-event-body', reason, topicFamily: 'v2.users.{id}.conversations' },
      });
    });

  const drops: [string, unknown, string][] = [
    [
      'a participant id that is not a UUID',
      replaced(body.eventBody, ['participants', 0, 'id'], 'p-1'),
      "eventBody.participants.0.id failed check 'invalid_format'",
    ],
    [
      'a call time that is not ISO-8601',
      replaced(body.eventBody, ['participants', 1, 'calls', 0, 'disconnectedTime'], 'yesterday'),
      "eventBody.participants.1.calls.0.disconnectedTime failed check 'invalid_format'",
    ],
    [
      'a call time that is no date',
      replaced(body.eventBody, ['participants', 1, 'calls', 0, 'disconnectedTime'], '2022-13-04T20:04:12Z'),
      "eventBody.participants.1.calls.0.disconnectedTime failed check 'custom'",
    ],
    [
      'a held flag that is a string',
      replaced(body.eventBody, ['participants', 2, 'calls', 0, 'held'], 'yes'),
      "eventBody.participants.2.calls.0.held failed check 'invalid_type'",
    ],
    [
      'an error code that is a number',
      replaced(body.eventBody, ['participants', 2, 'calls', 0, 'errorInfo'], { code: 5 }),
      "eventBody.participants.2.calls.0.errorInfo.code failed check 'invalid_type'",
    ],
  ];
  for (const [what, eventBody, reason] of drops)
    it(`drops ${what} and keeps the others: ${reason}`, () => {
      const r = parseNotificationFrame(withBody(eventBody));
      if (!r.ok || r.value.kind !== 'user-conversation') throw new Error('expected a user-conversation');
      expect(r.value.dropped).toEqual([{ index: Number(/participants\.(\d+)/.exec(reason)?.[1]), reason }]);
      expect(r.value.body.participants).toHaveLength(2);
    });

  it('rejects a detail event with a negative, fractional or too large event time', () => {
    const detail = F.userDetailStart();
    for (const [eventTime, check] of [
      [-5, 'too_small'],
      [1.5, 'invalid_type'],
      [2 ** 60, 'too_big'],
    ] as const) {
      const r = parseNotificationFrame(F.text({ ...detail, eventBody: { ...detail.eventBody, eventTime } }));
      expect(r).toEqual({
        ok: false,
        error: {
          code: 'bad-event-body',
          reason: `eventBody.eventTime failed check '${check}'`,
          topicFamily: 'v2.detail.events.conversation.{id}.user.start',
        },
      });
    }
  });
});
