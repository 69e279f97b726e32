/**
 * Parses one untrusted Genesys Notification API WebSocket text frame into a typed envelope (style guide §6.4:
 * parse once, at the edge; after this no code sees `unknown`).
 *
 * Shapes (research/genesys.md §2.4–2.5, §2.8, §2.10): every event is `{ topicName, version, eventBody,
 * metadata: { CorrelationId } }`; control frames are `channel.metadata` heartbeats/pongs, `v2.system.*` topics and
 * bare `{"result":"NNN",...}` answers to socket-level subscribe requests and dead channels.
 *
 * Ids taken from topics and bodies must be Genesys ids (UUIDs, normalised to lower case) because they later become
 * Kafka keys and S3 key parts. Failure reasons name a JSON path and a check, never payload content.
 */
import { err, ok } from './result.ts';
import type { Result } from './result.ts';
import type { BodyGuard, BodyIssue, Shell } from './genesys-body-guards.ts';
import {
  guardCallConversationEventShell,
  guardCallEventParticipant,
  guardConversationEventParticipant,
  guardConversationEventShell,
  guardDetailEventBody,
  guardPersistentConnectionBody,
  guardSystemMessageBody,
  guardUserStationBody,
} from './genesys-body-guards.ts';
import { UUID_RE } from './genesys-formats.ts';
import type {
  CallConversationEventBody,
  ConversationEventBody,
  DetailEventBody,
  PersistentConnectionBody,
  SystemMessageBody,
  UserStationBody,
} from './genesys-event-bodies.ts';

export type {
  CallConversationEventBody,
  ConversationEventBody,
  ConversationEventCall,
  DetailEventBody,
  PersistentConnectionBody,
  SystemMessageBody,
  UserStationBody,
} from './genesys-event-bodies.ts';
/** Machine-readable failure codes of {@link parseNotificationFrame}. */
export type EnvelopeFailureCode =
  'not-json' | 'not-an-envelope' | 'bad-topic-name' | 'bad-metadata' | 'bad-event-body' | 'id-mismatch';

/** Why a frame was rejected. `reason` is for humans and never contains payload content. */
export type EnvelopeFailure = Readonly<{
  code: EnvelopeFailureCode;
  reason: string;
  /** The topic family (template with `{id}`), when it was recognised. */
  topicFamily?: string;
}>;

/** Fields every topic envelope keeps. `raw` is the exact text received (the evidence). */
type TopicMeta = Readonly<{
  raw: string;
  /** The eventBody exactly as parsed from the frame, before validation (for identity, e.g. duplicate checks). */
  rawBody: unknown;
  /** The envelope's metadata as parsed (an object or undefined); see {@link eventBodyText}. */
  rawMetadata: Readonly<Record<string, unknown>> | undefined;
  topicName: string;
  version: string | undefined;
  correlationId: string | undefined;
}>;

/** Fields of the bare `{"result":...}` frames, which have no topic. */
type ResultMeta = Readonly<{
  raw: string;
  topicName: undefined;
  version: undefined;
  correlationId: string | undefined;
  /** The 3-digit status as sent, e.g. "200", "400", "404". */
  result: string;
  status: string | undefined;
  message: string | undefined;
}>;

/** A parsed notification frame: one variant per kind custody acts on, plus `unknown` for any other topic. */
export type NotificationEnvelope =
  | (TopicMeta & Readonly<{ kind: 'heartbeat' }>)
  | (TopicMeta & Readonly<{ kind: 'pong' }>)
  | (TopicMeta & Readonly<{ kind: 'socket-closing'; body: SystemMessageBody }>)
  | (TopicMeta &
      Readonly<{ kind: 'no-longer-subscribed'; systemId: string | undefined; body: SystemMessageBody }>)
  | (TopicMeta & Readonly<{ kind: 'token-revoked'; systemId: string | undefined; body: SystemMessageBody }>)
  | (ResultMeta & Readonly<{ kind: 'channel-gone' }>)
  | (ResultMeta & Readonly<{ kind: 'subscribe-result'; succeeded: boolean }>)
  | (TopicMeta &
      Readonly<{
        kind: 'user-conversation';
        userId: string;
        body: ConversationEventBody;
        dropped: readonly DroppedParticipant[];
      }>)
  | (TopicMeta &
      Readonly<{
        kind: 'user-conversation-calls';
        userId: string;
        body: CallConversationEventBody;
        dropped: readonly DroppedParticipant[];
      }>)
  | (TopicMeta &
      Readonly<{
        kind: 'queue-conversation-calls';
        queueId: string;
        body: CallConversationEventBody;
        dropped: readonly DroppedParticipant[];
      }>)
  | (TopicMeta & Readonly<{ kind: 'user-detail-start'; conversationId: string; body: DetailEventBody }>)
  | (TopicMeta & Readonly<{ kind: 'user-detail-end'; conversationId: string; body: DetailEventBody }>)
  | (TopicMeta & Readonly<{ kind: 'user-station'; userId: string; body: UserStationBody }>)
  | (TopicMeta & Readonly<{ kind: 'persistent-connection'; userId: string; body: PersistentConnectionBody }>)
  | (TopicMeta & Readonly<{ kind: 'unknown' }>);

/**
 * A participant of a conversation event that failed validation and was left out, so that one bad participant does
 * not cost the frame's other legs. `reason` names the JSON path and the check, never payload content.
 */
export type DroppedParticipant = Readonly<{ index: number; reason: string }>;

type ConversationParticipant = NonNullable<ConversationEventBody['participants']>[number];
type CallParticipant = NonNullable<CallConversationEventBody['participants']>[number];

/** The `kind` discriminator of {@link NotificationEnvelope}. */
export type NotificationKind = NotificationEnvelope['kind'];

/** Whether `s` is a Genesys id (a UUID in 8-4-4-4-12 hex form, any case). */
export function isGenesysId(s: string): boolean {
  return UUID_RE.test(s);
}

// Topic names are dotted identifiers; anything else (spaces, slashes, control characters) is rejected before it
// can reach a log line, a Kafka header or an S3 key.
const TOPIC_NAME_RE = /^[A-Za-z0-9_.-]{1,512}$/;
// CorrelationIds are opaque (EventBridge appends "-archival"); printable ASCII, bounded.
const CORRELATION_ID_RE = /^[\x21-\x7e]{1,256}$/;
const VERSION_RE = /^[A-Za-z0-9.]{1,16}$/;
const SYSTEM_ID_RE = /^[A-Za-z0-9_-]{1,128}$/;
const RESULT_RE = /^[0-9]{3}$/;

const HEARTBEAT_MESSAGE = 'WebSocket Heartbeat';
const PONG_MESSAGE = 'pong';

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function fail(
  code: EnvelopeFailureCode,
  reason: string,
  topicFamily?: string,
): Result<never, EnvelopeFailure> {
  return err(topicFamily === undefined ? { code, reason } : { code, reason, topicFamily });
}

/**
 * Describes a failed check by path and check only (the words zod used, which the body schemas specify); never the
 * value, which could echo input.
 */
function describeIssue(issue: BodyIssue, prefix: string): string {
  const path = [prefix, ...issue.path.map((p) => String(p))].join('.');
  return `${path} failed check '${issue.code}'`;
}

function shortString(v: unknown, max: number): string | undefined {
  return typeof v === 'string' && v.length <= max ? v : undefined;
}

function parseResultFrame(
  raw: string,
  frame: Record<string, unknown>,
): Result<NotificationEnvelope, EnvelopeFailure> {
  const result = frame['result'];
  if (typeof result !== 'string' || !RESULT_RE.test(result)) {
    return fail('not-an-envelope', 'result is not a 3-digit status string');
  }
  const correlationId = frame['correlationId'];
  if (
    correlationId !== undefined &&
    (typeof correlationId !== 'string' || !CORRELATION_ID_RE.test(correlationId))
  ) {
    return fail('bad-metadata', 'correlationId is not a printable string of at most 256 characters');
  }
  const meta = {
    raw,
    topicName: undefined,
    version: undefined,
    correlationId,
    result,
    status: shortString(frame['status'], 64),
    message: shortString(frame['message'], 1024),
  } as const;
  // 404 means the channel is gone (expired, evicted by the 20-channel quota, or its token expired): rebuild it.
  if (result === '404') return ok({ ...meta, kind: 'channel-gone' });
  return ok({ ...meta, kind: 'subscribe-result', succeeded: result.startsWith('2') });
}

type TopicRoute =
  | {
      family: string;
      kind: 'user-conversation' | 'user-conversation-calls' | 'user-station' | 'persistent-connection';
    }
  | { family: string; kind: 'queue-conversation-calls' }
  | { family: string; kind: 'user-detail-start' | 'user-detail-end' };

// Known families with a Genesys id in the topic. The id segment is matched loosely ([^.]+) so that a known family
// with a bad id is reported as `bad-topic-name` rather than silently passing as `unknown`.
const ROUTES: readonly (readonly [RegExp, TopicRoute])[] = [
  [
    /^v2\.users\.([^.]+)\.conversations$/,
    { family: 'v2.users.{id}.conversations', kind: 'user-conversation' },
  ],
  [
    /^v2\.users\.([^.]+)\.conversations\.calls$/,
    { family: 'v2.users.{id}.conversations.calls', kind: 'user-conversation-calls' },
  ],
  [
    /^v2\.routing\.queues\.([^.]+)\.conversations\.calls$/,
    { family: 'v2.routing.queues.{id}.conversations.calls', kind: 'queue-conversation-calls' },
  ],
  [
    /^v2\.detail\.events\.conversation\.([^.]+)\.user\.start$/,
    { family: 'v2.detail.events.conversation.{id}.user.start', kind: 'user-detail-start' },
  ],
  [
    /^v2\.detail\.events\.conversation\.([^.]+)\.user\.end$/,
    { family: 'v2.detail.events.conversation.{id}.user.end', kind: 'user-detail-end' },
  ],
  [/^v2\.users\.([^.]+)\.station$/, { family: 'v2.users.{id}.station', kind: 'user-station' }],
  [
    /^v2\.users\.([^.]+)\.persistentconnection$/,
    { family: 'v2.users.{id}.persistentconnection', kind: 'persistent-connection' },
  ],
];

function parseBody<T>(guard: BodyGuard<T>, body: unknown, family: string): Result<T, EnvelopeFailure> {
  if (!isRecord(body)) return fail('bad-event-body', 'eventBody is not an object', family);
  const parsed = guard(body);
  if (!parsed.ok) return fail('bad-event-body', describeIssue(parsed.issue, 'eventBody'), family);
  return ok(parsed.value);
}

/**
 * Parses a conversation body whose participants are validated one by one: the body's own fields must be valid,
 * and each participant that is not is dropped and reported instead of failing the frame.
 */
function parseBodyTolerant<T extends { participants?: readonly P[] | undefined }, P>(
  shellGuard: BodyGuard<Shell<T>>,
  participantGuard: BodyGuard<P>,
  body: unknown,
  family: string,
): Result<{ body: T; dropped: DroppedParticipant[] }, EnvelopeFailure> {
  const b = parseBody(shellGuard, body, family);
  if (!b.ok) return b;
  const raw = b.value.participants;
  if (raw === undefined) return ok({ body: b.value as T, dropped: [] });
  const kept: P[] = [];
  const dropped: DroppedParticipant[] = [];
  for (let index = 0; index < raw.length; index++) {
    const parsed = participantGuard(raw[index]);
    if (parsed.ok) kept.push(parsed.value);
    else dropped.push({ index, reason: describeIssue(parsed.issue, `eventBody.participants.${index}`) });
  }
  // Each kept participant passed the same checks the strict body type is derived from.
  return ok({ body: { ...b.value, participants: kept } as unknown as T, dropped });
}

function parseSystemTopic(
  meta: TopicMeta,
  body: unknown,
  prefix: 'v2.system.no_longer_subscribed' | 'v2.system.token_revoked',
): Result<NotificationEnvelope, EnvelopeFailure> {
  const family = `${prefix}.{id}`;
  const rest = meta.topicName.slice(prefix.length);
  let systemId: string | undefined;
  if (rest.length > 0) {
    // The id's meaning (channel? token?) is UNCONFIRMED (research/genesys.md §2.5), so it is only bounded.
    systemId = rest.slice(1);
    if (!rest.startsWith('.') || !SYSTEM_ID_RE.test(systemId)) {
      return fail('bad-topic-name', 'system topic id has an unexpected form', family);
    }
  }
  const parsed = parseBody(guardSystemMessageBody, body ?? {}, family);
  if (!parsed.ok) return parsed;
  const kind = prefix === 'v2.system.no_longer_subscribed' ? 'no-longer-subscribed' : 'token-revoked';
  return ok({ ...meta, kind, systemId, body: parsed.value });
}

function parseRoutedTopic(
  meta: TopicMeta,
  route: TopicRoute,
  id: string,
  body: unknown,
): Result<NotificationEnvelope, EnvelopeFailure> {
  if (!isGenesysId(id)) return fail('bad-topic-name', 'the id in the topic name is not a UUID', route.family);
  const entityId = id.toLowerCase();
  switch (route.kind) {
    case 'user-conversation': {
      const b = parseBodyTolerant<ConversationEventBody, ConversationParticipant>(
        guardConversationEventShell,
        guardConversationEventParticipant,
        body,
        route.family,
      );
      return b.ok ? ok({ ...meta, kind: route.kind, userId: entityId, ...b.value }) : b;
    }
    case 'user-conversation-calls': {
      const b = parseBodyTolerant<CallConversationEventBody, CallParticipant>(
        guardCallConversationEventShell,
        guardCallEventParticipant,
        body,
        route.family,
      );
      return b.ok ? ok({ ...meta, kind: route.kind, userId: entityId, ...b.value }) : b;
    }
    case 'queue-conversation-calls': {
      const b = parseBodyTolerant<CallConversationEventBody, CallParticipant>(
        guardCallConversationEventShell,
        guardCallEventParticipant,
        body,
        route.family,
      );
      return b.ok ? ok({ ...meta, kind: route.kind, queueId: entityId, ...b.value }) : b;
    }
    case 'user-detail-start':
    case 'user-detail-end': {
      const b = parseBody(guardDetailEventBody, body, route.family);
      if (!b.ok) return b;
      if (b.value.conversationId !== entityId) {
        return fail(
          'id-mismatch',
          'eventBody.conversationId differs from the conversation id in the topic',
          route.family,
        );
      }
      return ok({ ...meta, kind: route.kind, conversationId: entityId, body: b.value });
    }
    case 'user-station': {
      const b = parseBody(guardUserStationBody, body, route.family);
      if (!b.ok) return b;
      const owner = b.value.associatedStation?.associatedUser?.id;
      if (owner !== undefined && owner !== entityId) {
        return fail(
          'id-mismatch',
          'associatedStation.associatedUser.id differs from the user id in the topic',
          route.family,
        );
      }
      return ok({ ...meta, kind: route.kind, userId: entityId, body: b.value });
    }
    case 'persistent-connection': {
      const b = parseBody(guardPersistentConnectionBody, body, route.family);
      if (!b.ok) return b;
      if (b.value.userId !== undefined && b.value.userId !== entityId) {
        return fail('id-mismatch', 'eventBody.userId differs from the user id in the topic', route.family);
      }
      return ok({ ...meta, kind: route.kind, userId: entityId, body: b.value });
    }
  }
}

/**
 * Parses one WebSocket text frame.
 *
 * Never throws. A frame of a topic custody does not model is `{ kind: 'unknown' }` (kept, not an error), so new
 * topics reach the evidence log. Known topics get their body validated (every id a UUID, every timestamp ISO-8601);
 * a known topic with a malformed body is a failure, because extraction relies on those fields.
 */
export function parseNotificationFrame(text: string): Result<NotificationEnvelope, EnvelopeFailure> {
  let frame: unknown;
  try {
    frame = JSON.parse(text);
  } catch {
    // The parser's message quotes the input, so it is not passed on.
    return fail('not-json', 'frame is not valid JSON');
  }
  if (!isRecord(frame)) return fail('not-an-envelope', 'frame is not a JSON object');
  if (frame['topicName'] === undefined && frame['result'] !== undefined) return parseResultFrame(text, frame);

  const topicName = frame['topicName'];
  if (typeof topicName !== 'string') return fail('not-an-envelope', 'topicName is missing or not a string');
  if (!TOPIC_NAME_RE.test(topicName))
    return fail('bad-topic-name', 'topicName has characters outside [A-Za-z0-9_.-] or is too long');

  const version = frame['version'];
  if (version !== undefined && (typeof version !== 'string' || !VERSION_RE.test(version))) {
    return fail('bad-metadata', 'version is not a short alphanumeric string');
  }
  const metadata = frame['metadata'];
  if (metadata !== undefined && !isRecord(metadata)) return fail('bad-metadata', 'metadata is not an object');
  const correlationId = metadata?.['CorrelationId'];
  if (
    correlationId !== undefined &&
    (typeof correlationId !== 'string' || !CORRELATION_ID_RE.test(correlationId))
  ) {
    return fail('bad-metadata', 'metadata.CorrelationId is not a printable string of at most 256 characters');
  }
  const body = frame['eventBody'];
  const meta: TopicMeta = {
    raw: text,
    rawBody: body,
    rawMetadata: metadata,
    topicName,
    version,
    correlationId,
  };

  if (topicName === 'channel.metadata') {
    const message = isRecord(body) ? body['message'] : undefined;
    if (message === HEARTBEAT_MESSAGE) return ok({ ...meta, kind: 'heartbeat' });
    if (message === PONG_MESSAGE) return ok({ ...meta, kind: 'pong' });
    return ok({ ...meta, kind: 'unknown' });
  }
  if (topicName === 'v2.system.socket_closing') {
    const b = parseBody(guardSystemMessageBody, body ?? {}, topicName);
    return b.ok ? ok({ ...meta, kind: 'socket-closing', body: b.value }) : b;
  }
  for (const prefix of ['v2.system.no_longer_subscribed', 'v2.system.token_revoked'] as const) {
    if (topicName === prefix || topicName.startsWith(`${prefix}.`))
      return parseSystemTopic(meta, body, prefix);
  }
  for (const [re, route] of ROUTES) {
    const m = re.exec(topicName);
    if (m?.[1] !== undefined) return parseRoutedTopic(meta, route, m[1], body);
  }
  return ok({ ...meta, kind: 'unknown' });
}

/**
 * The eventBody of a topic frame as JSON text, for identity checks (the overlap dedupe hashes it): the exact span of
 * the raw frame when the frame is laid out as Genesys sends it — compact, `{"topicName":…,"version":…,"eventBody":
 * <body>,"metadata":{…}}` — else the parsed body re-serialised (`JSON.stringify` keeps key order), as before.
 *
 * The layout is checked, not assumed: the frame must start with its own topicName and version and end with its own
 * metadata, each serialised from what was parsed. Then the body JSON.parse read is whatever lies between, so two
 * frames of one topic with equal spans have equal bodies — the span never makes two different bodies look the same.
 * It spares re-serialising every frame's body (a few kB), the costliest step of the dedupe.
 */
export function eventBodyText(
  meta: Pick<TopicMeta, 'raw' | 'rawBody' | 'rawMetadata' | 'topicName' | 'version'>,
): string {
  const { raw } = meta;
  const head =
    meta.version === undefined
      ? `{"topicName":${JSON.stringify(meta.topicName)},"eventBody":`
      : `{"topicName":${JSON.stringify(meta.topicName)},"version":${JSON.stringify(meta.version)},"eventBody":`;
  const tail = meta.rawMetadata === undefined ? '}' : `,"metadata":${JSON.stringify(meta.rawMetadata)}}`;
  if (
    meta.rawBody !== undefined &&
    raw.length > head.length + tail.length &&
    raw.startsWith(head) &&
    raw.endsWith(tail)
  )
    return raw.slice(head.length, raw.length - tail.length);
  return JSON.stringify(meta.rawBody ?? null);
}

/**
 * The keys the evidence log record carries: the conversation the frame is about (when the topic or body names
 * exactly one) and the entity id in the topic (user, queue or conversation id).
 */
export function notificationKeys(envelope: NotificationEnvelope): {
  conversationId: string | undefined;
  entityId: string | undefined;
} {
  switch (envelope.kind) {
    case 'user-conversation':
    case 'user-conversation-calls':
      return { conversationId: envelope.body.id, entityId: envelope.userId };
    case 'queue-conversation-calls':
      return { conversationId: envelope.body.id, entityId: envelope.queueId };
    case 'user-detail-start':
    case 'user-detail-end':
      return { conversationId: envelope.conversationId, entityId: envelope.conversationId };
    case 'user-station':
    case 'persistent-connection':
      return { conversationId: undefined, entityId: envelope.userId };
    case 'heartbeat':
    case 'pong':
    case 'socket-closing':
    case 'no-longer-subscribed':
    case 'token-revoked':
    case 'channel-gone':
    case 'subscribe-result':
    case 'unknown':
      return { conversationId: undefined, entityId: undefined };
    default: {
      const _exhaustive: never = envelope;
      return _exhaustive;
    }
  }
}
