/**
 * The notification topic catalogue and topic validation: concrete topics (`v2.users.{id}.conversations`
 * with a real id), combined topics (`v2.users.{id}?conversations&station`, ≤ 200 characters, expanding to
 * one concrete topic per suffix) and the `GET /api/v2/notifications/availabletopics` listing.
 */
import type { Models } from 'purecloud-platform-client-v2';

interface TopicTemplate {
  readonly id: string;
  readonly description: string;
  readonly requiresPermissions: readonly string[];
  readonly transports: readonly string[];
  readonly pattern: RegExp;
}

/** An entity id inside a topic: no dots, no wildcards (WebSocket topics need concrete ids). */
const ID = '[A-Za-z0-9_-]+';

function template(
  id: string,
  description: string,
  requiresPermissions: readonly string[] = [],
  transports: readonly string[] = ['All'],
): TopicTemplate {
  const source = id
    .split('.')
    .map((seg) => (seg === '{id}' ? ID : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('\\.');
  return { id, description, requiresPermissions, transports, pattern: new RegExp(`^${source}$`) };
}

const CONVERSATION_VIEW = ['conversation:communication:view'];
const DETAIL_VIEW = ['analytics:conversationDetail:view'];

/** Every topic the emulator accepts. Permissions are listed as documentation only and never enforced. */
export const TOPIC_CATALOGUE: readonly TopicTemplate[] = [
  template(
    'v2.users.{id}.conversations',
    "A user's conversations of every media type (participants with calls[]).",
    CONVERSATION_VIEW,
  ),
  template(
    'v2.users.{id}.conversations.calls',
    "A user's call conversations (flat call participants).",
    CONVERSATION_VIEW,
  ),
  template(
    'v2.users.{id}.conversationsummary',
    "Counts of a user's active conversations.",
    CONVERSATION_VIEW,
  ),
  template('v2.users.{id}.station', 'Station association changes of a user.', ['telephony:station:view']),
  template('v2.users.{id}.persistentconnection', "Persistent connection state of a user's WebRTC station.", [
    'telephony:station:view',
  ]),
  template('v2.users.{id}.presence', "A user's presence.", []),
  template('v2.users.{id}.routingStatus', "A user's routing status.", []),
  template(
    'v2.routing.queues.{id}.conversations',
    'Conversations of a queue (every media type).',
    CONVERSATION_VIEW,
  ),
  template('v2.routing.queues.{id}.conversations.calls', 'Call conversations of a queue.', CONVERSATION_VIEW),
  template(
    'v2.detail.events.conversation.{id}.user.start',
    'A user segment of a conversation started.',
    DETAIL_VIEW,
  ),
  template(
    'v2.detail.events.conversation.{id}.user.end',
    'A user segment of a conversation ended.',
    DETAIL_VIEW,
  ),
  template('v2.detail.events.conversation.{id}.customer.start', 'A customer segment started.', DETAIL_VIEW),
  template('v2.detail.events.conversation.{id}.customer.end', 'A customer segment ended.', DETAIL_VIEW),
  template('v2.detail.events.conversation.{id}.acd.start', 'An ACD segment started.', DETAIL_VIEW),
  template('v2.detail.events.conversation.{id}.acd.end', 'An ACD segment ended.', DETAIL_VIEW),
];

/** Longest combined topic the real service accepts. */
export const MAX_COMBINED_TOPIC_LENGTH = 200;

export interface TopicRules {
  /** Whether combined-topic suffixes may contain dots (`?conversations.calls`). UNCONFIRMED; default true. */
  readonly allowDottedSuffixes: boolean;
}

export type TopicCheck =
  { readonly ok: true; readonly topics: readonly string[] } | { readonly ok: false; readonly reason: string };

const SUFFIX = /^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*)*$/;

/** True when `topic` is one concrete topic of the catalogue. */
export function isKnownTopic(topic: string): boolean {
  return TOPIC_CATALOGUE.some((t) => t.pattern.test(topic));
}

/**
 * Validates one requested topic. A plain topic expands to itself; a combined topic
 * (`prefix?suffix1&suffix2`) to `prefix.suffix1`, `prefix.suffix2`, … — all must be known topics.
 */
export function checkTopic(requested: string, rules: TopicRules): TopicCheck {
  if (requested.length === 0) return { ok: false, reason: 'Topic is empty' };
  const q = requested.indexOf('?');
  if (q < 0) {
    if (requested.length > 500) return { ok: false, reason: 'Topic is too long' };
    return isKnownTopic(requested)
      ? { ok: true, topics: [requested] }
      : { ok: false, reason: 'Topic not found' };
  }
  if (requested.length > MAX_COMBINED_TOPIC_LENGTH) {
    return { ok: false, reason: `Combined topic exceeds ${MAX_COMBINED_TOPIC_LENGTH} characters` };
  }
  const prefix = requested.slice(0, q);
  const suffixes = requested.slice(q + 1).split('&');
  if (prefix === '' || suffixes.some((s) => !SUFFIX.test(s))) {
    return { ok: false, reason: 'Combined topic is malformed' };
  }
  if (!rules.allowDottedSuffixes && suffixes.some((s) => s.includes('.'))) {
    return { ok: false, reason: 'Combined topic suffixes may not contain dots' };
  }
  const topics = [...new Set(suffixes.map((s) => `${prefix}.${s}`))];
  const unknown = topics.find((t) => !isKnownTopic(t));
  if (unknown !== undefined)
    return { ok: false, reason: `Combined topic expands to an unknown topic: ${unknown}` };
  return { ok: true, topics };
}

/** The availabletopics listing: every field is always present, whatever `expand` asks for. */
export function availableTopics(): Models.AvailableTopicEntityListing {
  return {
    entities: TOPIC_CATALOGUE.map((t) => ({
      id: t.id,
      description: t.description,
      requiresPermissions: [...t.requiresPermissions],
      requiresCurrentUser: false,
      requiresCurrentUserOrPermission: t.id.startsWith('v2.users.'),
      enforced: false,
      visibility: 'Public',
      transports: [...t.transports],
      topicParameters: ['id'],
      publicApiTemplateUriPaths: [],
    })),
  };
}
