/**
 * Scenario files (`--scenario`): JSON naming conversations of given kinds at given simulated times.
 * Validated with zod; an invalid file fails with one message naming every bad field.
 */
import { z } from 'zod';
import type { ConversationKind, ConversationScript, Scenario, SimOrg } from '../model.ts';
import { CONVERSATION_KINDS, buildConversation } from './conversation.ts';
import { createRng } from './rng.ts';

const isoDateTime = z.iso.datetime({
  offset: true,
  message: 'must be an ISO-8601 date-time, e.g. 2025-03-01T09:00:00Z',
});

const scenarioSchema = z
  .strictObject({
    seed: z.number().int('must be an integer').optional(),
    start: isoDateTime,
    conversations: z.array(
      z.strictObject({
        kind: z.enum(CONVERSATION_KINDS as [ConversationKind, ...ConversationKind[]], {
          message: `must be one of ${CONVERSATION_KINDS.join(', ')}`,
        }),
        at: isoDateTime,
        durationSeconds: z
          .number()
          .positive('must be > 0')
          .max(86_400, 'must be at most 86400 (one day)')
          .optional(),
      }),
    ),
  })
  .superRefine((s, ctx) => {
    const start = Date.parse(s.start);
    s.conversations.forEach((c, i) => {
      if (Date.parse(c.at) < start)
        ctx.addIssue({
          code: 'custom',
          path: ['conversations', i, 'at'],
          message: `must not be before start (${s.start})`,
        });
    });
  });

function pathText(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const part of path)
    out += typeof part === 'number' ? `[${part}]` : `${out === '' ? '' : '.'}${String(part)}`;
  return out === '' ? '(root)' : out;
}

/**
 * Validates a parsed JSON scenario.
 * @throws Error `Invalid scenario: conversations[0].kind: must be one of …` (every problem, `; `-separated).
 */
export function parseScenario(json: unknown): Scenario {
  const result = scenarioSchema.safeParse(json);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${pathText(issue.path)}: ${issue.message}`);
    throw new Error(`Invalid scenario: ${problems.join('; ')}`);
  }
  return result.data;
}

/**
 * Salt of the conversations' stream: the org is drawn from `createRng(seed)` too, and the same stream made the
 * first conversation's id equal to the org id, which no real org has (a key filter on either matched both).
 */
const CONVERSATIONS_SALT = 0x5bd1e995;

/** Builds the scenario's conversations in order, deterministically from `scenario.seed` (default 1). */
export function scriptsFromScenario(org: SimOrg, scenario: Scenario): ConversationScript[] {
  const rng = createRng(((scenario.seed ?? 1) ^ CONVERSATIONS_SALT) >>> 0);
  return scenario.conversations.map((c) =>
    buildConversation(
      org,
      rng,
      c.kind,
      Date.parse(c.at),
      c.durationSeconds === undefined ? {} : { durationSeconds: c.durationSeconds },
    ),
  );
}
