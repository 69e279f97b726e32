/**
 * The hand-written body guards (hot path) against the zod schemas (the specification): for valid fixture bodies and
 * for bodies with fields replaced by hostile values, both must give the same verdict, the same first failing path
 * and check, and the same cleaned body. And through parseNotificationFrame, a rejected frame still says why.
 */
import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import type { BodyGuard } from '../../../src/enrich/genesys-body-guards.ts';
import {
  guardCallConversationEventBody,
  guardConversationEventBody,
  guardDetailEventBody,
  guardPersistentConnectionBody,
  guardSystemMessageBody,
  guardUserStationBody,
} from '../../../src/enrich/genesys-body-guards.ts';
import {
  callConversationEventBody,
  conversationEventBody,
  detailEventBody,
  persistentConnectionBody,
  systemMessageBody,
  userStationBody,
} from '../../../src/enrich/genesys-event-bodies.ts';
import { parseNotificationFrame } from '../../../src/enrich/genesys-envelope.ts';
import * as F from '../../fixtures/genesys/frames.ts';

type Pair = { name: string; schema: z.ZodType; guard: BodyGuard<unknown>; valid: unknown[] };

const PAIRS: Pair[] = [
  {
    name: 'user conversation',
    schema: conversationEventBody,
    guard: guardConversationEventBody,
    valid: [F.userConversation().eventBody, F.multiCallConversation().eventBody],
  },
  {
    name: 'call conversation',
    schema: callConversationEventBody,
    guard: guardCallConversationEventBody,
    valid: [F.userConversationCalls().eventBody, F.queueConversationCalls().eventBody],
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
    valid: [F.persistentConnection().eventBody],
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
const UUID = '0c5e3f0e-1d2b-4c7a-9e2f-0a1b2c3d4e5f';
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
  '',
  'x',
  'not-a-uuid',
  UUID.toUpperCase(),
  UUID,
  'x'.repeat(257),
  'x'.repeat(1024),
  'x'.repeat(1025),
  '2022-07-04T20:04:12.131Z',
  '2022-07-04T20:04:12+02:00',
  '2022-13-04T20:04:12Z',
  '2022-02-31T20:04:12Z',
  '2022-07-04 20:04:12Z',
  [],
  [null],
  {},
  { id: UUID },
  { id: 'nope' },
  new Array(1001).fill({ id: UUID }),
  new Array(1001).fill(7),
];

describe('body guards agree with the zod schemas', () => {
  for (const pair of PAIRS) {
    it(`${pair.name}: valid fixtures pass with the same cleaned body`, () => {
      for (const body of pair.valid) {
        const r = pair.guard(body);
        expect(r.ok).toBe(true);
        expect(r).toEqual(viaZod(pair.schema, body));
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

describe('rejected frames keep their reasons', () => {
  const body = F.userConversation();
  const withBody = (eventBody: unknown) => F.text({ ...body, eventBody });
  const cases: [string, unknown, string][] = [
    [
      'a participant id that is not a UUID',
      replaced(body.eventBody, ['participants', 0, 'id'], 'p-1'),
      "eventBody.participants.0.id failed check 'invalid_format'",
    ],
    [
      'a call time that is not ISO-8601',
      replaced(body.eventBody, ['participants', 1, 'calls', 0, 'connectedTime'], 'yesterday'),
      "eventBody.participants.1.calls.0.connectedTime failed check 'invalid_format'",
    ],
    [
      'a call time that is no date',
      replaced(body.eventBody, ['participants', 1, 'calls', 0, 'connectedTime'], '2022-13-04T20:04:12Z'),
      "eventBody.participants.1.calls.0.connectedTime failed check 'custom'",
    ],
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
      'a missing conversation id',
      replaced(body.eventBody, ['id'], DELETE),
      "eventBody.id failed check 'invalid_type'",
    ],
    [
      'a recording flag that is a string',
      replaced(body.eventBody, ['participants', 1, 'calls', 0, 'recording'], 'yes'),
      "eventBody.participants.1.calls.0.recording failed check 'invalid_type'",
    ],
  ];
  for (const [what, eventBody, reason] of cases)
    it(`rejects ${what}: ${reason}`, () => {
      expect(parseNotificationFrame(withBody(eventBody))).toEqual({
        ok: false,
        error: { code: 'bad-event-body', reason, topicFamily: 'v2.users.{id}.conversations' },
      });
    });

  it('rejects a detail event with a negative or fractional event time', () => {
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
