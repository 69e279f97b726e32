/**
 * Event bodies and REST views built from the current state of a {@link CallConversation}: each call
 * returns fresh objects, so every published event carries the full conversation as it was at that
 * instant. Field sets follow the SDK models (Models.*); only fields the platform fills for a plain voice
 * call are set.
 */
import type { Models } from 'purecloud-platform-client-v2';
import type { CallConversation, Leg } from './call-state.ts';
import { isUserLeg } from './call-state.ts';
import { ACD_TRANSFER_SOURCE, AGENT_MEDIA_ROLES, VOICE_PROVIDER, WRAPUP_PROMPT } from './conventions.ts';

export const iso = (ms: number): string => new Date(ms).toISOString();

const opt = <K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> =>
  value === undefined ? {} : ({ [key]: value } as Record<K, V>);

function divisionIds(
  conv: CallConversation,
  divisionId: string,
): Array<{ division: { id: string }; entities: Array<{ id: string }> }> {
  const ids = new Set<string>();
  for (const leg of conv.legs) {
    if (leg.queueId !== undefined) ids.add(leg.queueId);
    if (leg.userId !== undefined) ids.add(leg.userId);
  }
  return [{ division: { id: divisionId }, entities: [...ids].map((id) => ({ id })) }];
}

/** The conversation's `address` on event bodies: the external party's number (real bodies carry no divisions). */
function conversationAddress(conv: CallConversation): string | undefined {
  return conv.legs.find((l) => l.purpose === 'customer' || l.purpose === 'external')?.address;
}

/** Fields real agent legs carry: media roles, and on ACD calls the queue's prompts and settings. */
function agentFields(leg: Leg) {
  if (!isUserLeg(leg)) return {};
  const acd = leg.purpose === 'agent' && leg.queueId !== undefined;
  return {
    mediaRoles: [...AGENT_MEDIA_ROLES],
    ...(acd ? { wrapupPrompt: WRAPUP_PROMPT } : {}),
    ...opt('startAcwTime', leg.startAcwTime === undefined ? undefined : iso(leg.startAcwTime)),
    ...opt('endAcwTime', leg.endAcwTime === undefined ? undefined : iso(leg.endAcwTime)),
    ...opt(
      'wrapup',
      leg.wrapup === undefined
        ? undefined
        : {
            code: leg.wrapup.code,
            durationSeconds: leg.wrapup.durationSeconds,
            endTime: iso(leg.wrapup.endTime),
          },
    ),
  };
}

/** Call-level fields of an agent leg on an ACD call. */
function acdCallFields(leg: Leg) {
  if (leg.purpose !== 'agent' || leg.queueId === undefined) return {};
  return {
    queueMediaSettings: {
      alertingTimeoutSeconds: Math.round((leg.alertingTimeoutMs ?? 8000) / 1000),
      enableAutoAnswer: false,
    },
    transferSource: ACD_TRANSFER_SOURCE,
  };
}

/** `v2.users.{id}.conversations`: participants with nested calls[]. */
export function conversationEventBody(
  conv: CallConversation,
  _divisionId: string,
): Models.ConversationEventTopicConversation {
  return {
    id: conv.conversationId,
    participants: conv.legs.map((leg) => ({
      id: leg.participantId,
      ...opt('connectedTime', leg.connectedTime === undefined ? undefined : iso(leg.connectedTime)),
      ...opt('endTime', leg.disconnectedTime === undefined ? undefined : iso(leg.disconnectedTime)),
      ...opt('userId', leg.userId),
      name: leg.name,
      ...opt('queueId', leg.queueId),
      purpose: leg.purpose,
      ...opt('consultParticipantId', leg.consultParticipantId),
      address: leg.address,
      wrapupRequired: leg.wrapupRequired,
      ...opt('alertingTimeoutMs', leg.alertingTimeoutMs),
      ...agentFields(leg),
      attributes: {},
      calls: [
        {
          id: leg.communicationId,
          state: leg.state,
          initialState: leg.initialState,
          recording: leg.recording,
          recordingState: leg.recordingState,
          muted: false,
          confined: leg.confined,
          held: leg.held,
          securePause: false,
          ...opt('disconnectType', leg.disconnectType),
          ...opt('startHoldTime', leg.startHoldTime === undefined ? undefined : iso(leg.startHoldTime)),
          direction: leg.direction,
          self: { ...leg.self },
          other: { ...leg.other },
          provider: VOICE_PROVIDER,
          ...opt('peerId', leg.peerId),
          ...opt('connectedTime', leg.connectedTime === undefined ? undefined : iso(leg.connectedTime)),
          ...opt(
            'disconnectedTime',
            leg.disconnectedTime === undefined ? undefined : iso(leg.disconnectedTime),
          ),
          ...acdCallFields(leg),
          ...opt('publicIpAddress', leg.publicIpAddress),
        },
      ],
    })),
    recordingState: conv.recordingState,
    securePause: false,
    ...opt('address', conversationAddress(conv)),
  };
}

/** One flat participant as on `v2.users.{id}.conversations.calls` and the queue topic. */
function flatParticipant(leg: Leg): Models.ConversationCallEventTopicCallMediaParticipant {
  return {
    id: leg.participantId,
    name: leg.name,
    address: leg.address,
    startTime: iso(leg.startTime),
    ...opt('connectedTime', leg.connectedTime === undefined ? undefined : iso(leg.connectedTime)),
    ...opt('endTime', leg.disconnectedTime === undefined ? undefined : iso(leg.disconnectedTime)),
    ...opt('startHoldTime', leg.startHoldTime === undefined ? undefined : iso(leg.startHoldTime)),
    purpose: leg.purpose,
    state: leg.state,
    initialState: leg.initialState,
    direction: leg.direction,
    ...opt('disconnectType', leg.disconnectType),
    held: leg.held,
    wrapupRequired: leg.wrapupRequired,
    ...opt('user', leg.userId === undefined ? undefined : { id: leg.userId }),
    ...opt('queue', leg.queueId === undefined ? undefined : { id: leg.queueId }),
    attributes: {},
    ...opt('alertingTimeoutMs', leg.alertingTimeoutMs),
    provider: VOICE_PROVIDER,
    ...opt('peer', leg.peerId),
    muted: false,
    confined: leg.confined,
    recording: leg.recording,
    recordingState: leg.recordingState,
    securePause: false,
    ani: leg.ani,
    dnis: leg.dnis,
    ...opt('consultParticipantId', leg.consultParticipantId),
    ...agentFields(leg),
    ...acdCallFields(leg),
    ...opt('publicIpAddress', leg.publicIpAddress),
  };
}

/** `v2.users.{id}.conversations.calls`: the flat call view. */
export function callEventBody(
  conv: CallConversation,
  _divisionId: string,
): Models.ConversationCallEventTopicCallConversation {
  return {
    id: conv.conversationId,
    participants: conv.legs.map(flatParticipant),
    recordingState: conv.recordingState,
    securePause: false,
    ...opt('address', conversationAddress(conv)),
  };
}

/** `v2.routing.queues.{id}.conversations.calls`: the same flat view, published to the queue. */
export function queueCallEventBody(
  conv: CallConversation,
  _divisionId: string,
): Models.QueueConversationCallEventTopicCallConversation {
  return {
    id: conv.conversationId,
    participants: conv.legs.map(flatParticipant),
    recordingState: conv.recordingState,
    securePause: false,
    ...opt('address', conversationAddress(conv)),
  };
}

/** REST `GET /api/v2/conversations/calls/{id}` (no publicIpAddress, no initialState in this model). */
export function restCallSnapshot(conv: CallConversation, divisionId: string): Models.CallConversation {
  return {
    id: conv.conversationId,
    participants: conv.legs.map((leg) => ({
      id: leg.participantId,
      name: leg.name,
      address: leg.address,
      startTime: iso(leg.startTime),
      ...opt('startAlertingTime', leg.initialState === 'alerting' ? iso(leg.startTime) : undefined),
      ...opt('connectedTime', leg.connectedTime === undefined ? undefined : iso(leg.connectedTime)),
      ...opt('endTime', leg.disconnectedTime === undefined ? undefined : iso(leg.disconnectedTime)),
      ...opt('startHoldTime', leg.startHoldTime === undefined ? undefined : iso(leg.startHoldTime)),
      purpose: leg.purpose,
      state: leg.state,
      direction: leg.direction,
      ...opt('disconnectType', leg.disconnectType),
      held: leg.held,
      wrapupRequired: leg.wrapupRequired,
      ...opt(
        'user',
        leg.userId === undefined ? undefined : { id: leg.userId, selfUri: `/api/v2/users/${leg.userId}` },
      ),
      ...opt(
        'queue',
        leg.queueId === undefined
          ? undefined
          : { id: leg.queueId, selfUri: `/api/v2/routing/queues/${leg.queueId}` },
      ),
      attributes: {},
      ...opt('alertingTimeoutMs', leg.alertingTimeoutMs),
      provider: VOICE_PROVIDER,
      ...opt('peer', leg.peerId),
      muted: false,
      confined: leg.confined,
      recording: leg.recording,
      recordingState: leg.recordingState,
      ani: leg.ani,
      dnis: leg.dnis,
      ...opt('consultParticipantId', leg.consultParticipantId),
      ...agentFields(leg),
      ...opt(
        'transferSource',
        leg.purpose === 'agent' && leg.queueId !== undefined ? ACD_TRANSFER_SOURCE : undefined,
      ),
      securePause: false,
    })),
    recordingState: conv.recordingState,
    securePause: false,
    divisions: divisionIds(conv, divisionId),
    selfUri: `/api/v2/conversations/calls/${conv.conversationId}`,
  };
}

function detailCommon(conv: CallConversation, leg: Leg, at: number, divisionId: string) {
  return {
    eventTime: at,
    conversationId: conv.conversationId,
    participantId: leg.participantId,
    sessionId: leg.communicationId,
    mediaType: 'VOICE',
    provider: VOICE_PROVIDER,
    direction: leg.direction,
    ani: leg.ani,
    dnis: leg.dnis,
    ...opt('userId', leg.userId),
    divisionId,
    ...opt('queueId', leg.queueId),
  };
}

/** `v2.detail.events.conversation.{id}.user.start`, when a user leg starts (alerting or dialing). */
export function userStartEvent(
  conv: CallConversation,
  leg: Leg,
  at: number,
  divisionId: string,
): Models.UserStartDetailEventTopicUserStartEvent {
  return detailCommon(conv, leg, at, divisionId);
}

/** `v2.detail.events.conversation.{id}.user.end`, when a user leg disconnects, with its durations. */
export function userEndEvent(
  conv: CallConversation,
  leg: Leg,
  at: number,
  divisionId: string,
): Models.UserEndDetailEventTopicUserEndEvent {
  const connected = leg.connectedTime;
  const ringEnd = connected ?? at;
  const held = leg.holds.reduce((sum, h) => sum + ((h.end ?? at) - h.start), 0);
  return {
    ...detailCommon(conv, leg, at, divisionId),
    ...opt('disconnectType', leg.disconnectType),
    interactingDurationMs: connected === undefined ? 0 : at - connected - held,
    heldDurationMs: held,
    alertingDurationMs: leg.initialState === 'alerting' ? ringEnd - leg.startTime : 0,
    contactingDurationMs: 0,
    dialingDurationMs: leg.initialState === 'dialing' ? ringEnd - leg.startTime : 0,
  };
}

/** `v2.users.{id}.persistentconnection`. */
export function persistentConnectionEvent(
  userId: string,
  stationId: string,
  persistentState: 'ACTIVE_CALL' | 'PERSISTED' | 'DISCONNECTED',
  at: number,
): Models.PersistentConnectionChangeTopicPersistentConnectionChangeEvent {
  return { stationId, userId, persistentState, eventTime: iso(at) };
}
