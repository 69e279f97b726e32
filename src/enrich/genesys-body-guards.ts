/**
 * Hand-written validators of the Genesys event bodies, for the ingest hot path: the same rules as the zod schemas in
 * genesys-event-bodies.ts (which stay the specification and the source of the types), at a fraction of the cost per
 * frame. A guard answers with the cleaned body (known fields only, ids lower-cased, null → undefined) or with the
 * first failing path and the zod issue code of its check, so a rejection reads exactly as it does with zod:
 * `eventBody.participants.0.calls.0.connectedTime failed check 'invalid_format'`.
 *
 * Checks and their codes (as zod 4 reports them): wrong JSON type → `invalid_type`; id not a UUID or instant not
 * ISO-8601 → `invalid_format`; instant that is no date → `custom`; text over 1,024 characters (system channel ids
 * over 256), arrays over 1,000 items, integers over 2^53−1 → `too_big`; negative event time → `too_small`.
 * test/unit/enrich/genesys-body-guards.test.ts compares every guard with its schema on fixtures, on every field
 * replaced by hostile values and on generated JSON, so the two cannot drift apart unnoticed.
 */
import { ISO_INSTANT_RE, UUID_RE } from './genesys-formats.ts';
import { parseInstantMs } from './instant-ms.ts';
import type {
  CallConversationEventBody,
  ConversationEventBody,
  ConversationEventCall,
  DetailEventBody,
  PersistentConnectionBody,
  SystemMessageBody,
  UserStationBody,
} from './genesys-event-bodies.ts';

/** The first check a body failed: where (keys and array indexes below the value checked) and which check. */
export type BodyIssue = Readonly<{
  path: readonly (string | number)[];
  code: 'invalid_type' | 'invalid_format' | 'custom' | 'too_big' | 'too_small';
}>;

export type BodyGuard<T> = (
  body: unknown,
) => { readonly ok: true; readonly value: T } | { readonly ok: false; readonly issue: BodyIssue };

/** Returned by a field check that failed; the issue is in the walk. */
const INVALID: unique symbol = Symbol('invalid');
type Checked<T> = T | typeof INVALID;

/**
 * The first issue found. Its path is built on the way back up (each object or array level puts its key or index in
 * front), so a valid body, the common case, costs no path bookkeeping at all.
 */
interface Walk {
  issue: { path: (string | number)[]; code: BodyIssue['code'] } | undefined;
}
type Check<T> = (v: unknown, walk: Walk) => Checked<T>;

function reject(walk: Walk, code: BodyIssue['code']): typeof INVALID {
  walk.issue ??= { path: [], code };
  return INVALID;
}

const string =
  (max: number): Check<string> =>
  (v, walk) => {
    if (typeof v !== 'string') return reject(walk, 'invalid_type');
    return v.length > max ? reject(walk, 'too_big') : v;
  };

/** Free text from Genesys (states, providers, addresses), at most 1,024 characters. */
const text = string(1024);

/** A Genesys id (UUID), lower-cased. */
const genesysId: Check<string> = (v, walk) => {
  if (typeof v !== 'string') return reject(walk, 'invalid_type');
  return UUID_RE.test(v) ? v.toLowerCase() : reject(walk, 'invalid_format');
};

/** An ISO-8601 instant, kept as sent. */
const isoInstant: Check<string> = (v, walk) => {
  if (typeof v !== 'string') return reject(walk, 'invalid_type');
  if (!ISO_INSTANT_RE.test(v)) return reject(walk, 'invalid_format');
  return Number.isFinite(parseInstantMs(v)) ? v : reject(walk, 'custom');
};

const boolean: Check<boolean> = (v, walk) => (typeof v === 'boolean' ? v : reject(walk, 'invalid_type'));

/** A non-negative safe integer (zod: `z.number().int().nonnegative()`). */
const epochMs: Check<number> = (v, walk) => {
  if (typeof v !== 'number' || !Number.isInteger(v)) return reject(walk, 'invalid_type');
  if (v > Number.MAX_SAFE_INTEGER) return reject(walk, 'too_big');
  return v < 0 ? reject(walk, 'too_small') : v;
};

/** Any value, unchecked (participants the envelope parser validates one by one). */
const anything: Check<unknown> = (v) => v;

/** Absent or null → undefined; else the inner check. */
const optional =
  <T>(check: Check<T>): Check<T | undefined> =>
  (v, walk) =>
    v === undefined || v === null ? undefined : check(v, walk);

const array =
  <T>(item: Check<T>, max: number): Check<T[]> =>
  (v, walk) => {
    if (!Array.isArray(v)) return reject(walk, 'invalid_type');
    // zod checks the length before the items: an over-long list is reported as too_big, whatever its items.
    if (v.length > max) return reject(walk, 'too_big');
    if (item === anything) return v.slice() as T[];
    const out: T[] = new Array<T>(v.length);
    for (let i = 0; i < v.length; i++) {
      const r = item(v[i], walk);
      if (r === INVALID) {
        walk.issue?.path.unshift(i);
        return INVALID;
      }
      out[i] = r;
    }
    return out;
  };

type Shape<T> = { readonly [K in keyof T]-?: Check<T[K]> };

/** An object with these fields (others are dropped); absent optional fields stay absent. */
function object<T>(shape: Shape<T>): Check<T> {
  const keys = Object.keys(shape);
  const checks = Object.values(shape) as Check<unknown>[];
  return (v, walk) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return reject(walk, 'invalid_type');
    const input = v as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    // Fields in the schema's order, stopping at the first failure: the first issue zod would report.
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string;
      const check = checks[i] as Check<unknown>;
      const r = check(input[key], walk);
      if (r === INVALID) {
        walk.issue?.path.unshift(key);
        return INVALID;
      }
      if (r !== undefined) out[key] = r;
    }
    return out as T;
  };
}

function guard<T>(check: Check<T>): BodyGuard<T> {
  return (body) => {
    const walk: Walk = { issue: undefined };
    const r = check(body, walk);
    return r === INVALID
      ? { ok: false, issue: walk.issue ?? { path: [], code: 'invalid_type' } }
      : { ok: true, value: r };
  };
}

// --- bodies (field for field, in the same order, as in genesys-event-bodies.ts) ---------------------------------

type ConversationParticipant = NonNullable<ConversationEventBody['participants']>[number];
type CallParticipant = NonNullable<CallConversationEventBody['participants']>[number];
type Address = NonNullable<ConversationEventCall['self']>;
type ErrorInfo = NonNullable<ConversationEventCall['errorInfo']>;
type Station = NonNullable<UserStationBody['associatedStation']>;
/** A conversation body whose participants are not checked yet. */
export type Shell<T extends { participants?: unknown }> = Omit<T, 'participants'> & {
  participants?: unknown[] | undefined;
};

const eventAddress = object<Address>({ addressRaw: optional(text), addressNormalized: optional(text) });
const errorInfo = object<ErrorInfo>({ code: optional(text) });
const entityRef = object<{ id: string }>({ id: genesysId });

const conversationEventCall = object<ConversationEventCall>({
  id: genesysId,
  state: optional(text),
  disconnectType: optional(text),
  held: optional(boolean),
  confined: optional(boolean),
  muted: optional(boolean),
  errorInfo: optional(errorInfo),
  direction: optional(text),
  self: optional(eventAddress),
  other: optional(eventAddress),
  provider: optional(text),
  peerId: optional(genesysId),
  connectedTime: optional(isoInstant),
  disconnectedTime: optional(isoInstant),
  startHoldTime: optional(isoInstant),
  recording: optional(boolean),
  recordingState: optional(text),
  publicIpAddress: optional(text),
});

const conversationEventParticipant = object<ConversationParticipant>({
  id: genesysId,
  userId: optional(genesysId),
  purpose: optional(text),
  address: optional(text),
  startAcwTime: optional(isoInstant),
  endAcwTime: optional(isoInstant),
  calls: optional(array(conversationEventCall, 1000)),
});

export const guardConversationEventBody = guard(
  object<ConversationEventBody>({
    id: genesysId,
    participants: optional(array(conversationEventParticipant, 1000)),
    recordingState: optional(text),
  }),
);
export const guardConversationEventShell = guard(
  object<Shell<ConversationEventBody>>({
    id: genesysId,
    participants: optional(array(anything, 1000)),
    recordingState: optional(text),
  }),
);
export const guardConversationEventParticipant = guard(conversationEventParticipant);

const callEventParticipant = object<CallParticipant>({
  id: genesysId,
  purpose: optional(text),
  state: optional(text),
  disconnectType: optional(text),
  held: optional(boolean),
  confined: optional(boolean),
  muted: optional(boolean),
  errorInfo: optional(errorInfo),
  startAcwTime: optional(isoInstant),
  endAcwTime: optional(isoInstant),
  direction: optional(text),
  address: optional(text),
  ani: optional(text),
  dnis: optional(text),
  startTime: optional(isoInstant),
  connectedTime: optional(isoInstant),
  endTime: optional(isoInstant),
  startHoldTime: optional(isoInstant),
  user: optional(entityRef),
  queue: optional(entityRef),
  provider: optional(text),
  peer: optional(genesysId),
  recording: optional(boolean),
  recordingState: optional(text),
  publicIpAddress: optional(text),
});

export const guardCallConversationEventBody = guard(
  object<CallConversationEventBody>({
    id: genesysId,
    participants: optional(array(callEventParticipant, 1000)),
    recordingState: optional(text),
  }),
);
export const guardCallConversationEventShell = guard(
  object<Shell<CallConversationEventBody>>({
    id: genesysId,
    participants: optional(array(anything, 1000)),
    recordingState: optional(text),
  }),
);
export const guardCallEventParticipant = guard(callEventParticipant);

export const guardDetailEventBody = guard(
  object<DetailEventBody>({
    eventTime: epochMs,
    conversationId: genesysId,
    participantId: genesysId,
    sessionId: optional(genesysId),
    mediaType: optional(text),
    provider: optional(text),
    direction: optional(text),
    addressTo: optional(text),
    addressFrom: optional(text),
    ani: optional(text),
    dnis: optional(text),
    userId: optional(genesysId),
    queueId: optional(genesysId),
    disconnectType: optional(text),
  }),
);

export const guardUserStationBody = guard(
  object<UserStationBody>({
    associatedStation: optional(
      object<Station>({
        id: optional(genesysId),
        name: optional(text),
        associatedUser: optional(object<NonNullable<Station['associatedUser']>>({ id: optional(genesysId) })),
      }),
    ),
  }),
);

export const guardPersistentConnectionBody = guard(
  object<PersistentConnectionBody>({
    stationId: optional(genesysId),
    userId: optional(genesysId),
    persistentState: optional(text),
    eventTime: optional(isoInstant),
    errorInfo: optional(errorInfo),
  }),
);

export const guardSystemMessageBody = guard(
  object<SystemMessageBody>({
    channelId: optional(string(256)),
    systemTopicType: optional(text),
    reason: optional(text),
    message: optional(text),
  }),
);
