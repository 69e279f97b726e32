/**
 * buildConversation: runs a conversation kind's timeline and turns every instant into what the platform
 * publishes and serves — user and queue topic events carrying the full conversation, detail events,
 * persistent-connection events, REST snapshots — then adds analytics, recordings and the ground truth.
 *
 * Timing: `startTime` is the first participant's start; `endTime` is the last disconnect (analytics
 * `conversationEnd`). Agent legs turn `terminated` after their after-call work, so those events (and a
 * hot-desk logout) come up to about a minute after `endTime`.
 *
 * Detail events (UNCONFIRMED timing): `user.start` when a user leg starts alerting/dialing, `user.end`
 * when it disconnects. Persistent connection: a user on a persistent WebRTC station gets `ACTIVE_CALL`
 * when a leg starts while none is active and `PERSISTED` when the last active leg ends (the session stays
 * up for the next conversation). No `errorInfo` case is simulated.
 */
import type {
  ConversationKind,
  ConversationScript,
  GroundTruthLeg,
  ScriptedEvent,
  SimOrg,
} from '../model.ts';
import type { Rng } from './rng.ts';
import type { KindContext, KindPlan } from './kind-context.ts';
import { CallConversation, isEnded, isUserLeg } from './call-state.ts';
import {
  callEventBody,
  conversationEventBody,
  persistentConnectionEvent,
  queueCallEventBody,
  restCallSnapshot,
  userEndEvent,
  userStartEvent,
} from './event-bodies.ts';
import { buildAnalytics } from './analytics.ts';
import { VOICE_PROVIDER } from './conventions.ts';
import { buildRecordings } from './recordings.ts';
import { stationEvents } from './station-events.ts';
import {
  hourBoundary,
  inboundAcdWebRtc,
  persistentConnection,
  sameAgentMultipleLegs,
  sipDeskPhone,
  unrecorded,
} from './kinds-inbound.ts';
import { outboundWebRtc } from './kinds-outbound.ts';
import { blindTransfer, consultTransfer } from './kinds-transfer.ts';

export const CONVERSATION_KINDS: readonly ConversationKind[] = [
  'inbound-acd-webrtc',
  'outbound-webrtc',
  'blind-transfer',
  'consult-transfer',
  'same-agent-multiple-legs',
  'persistent-connection',
  'sip-desk-phone',
  'unrecorded',
  'hour-boundary',
];

const BUILDERS: Readonly<Record<ConversationKind, (ctx: KindContext) => KindPlan>> = {
  'inbound-acd-webrtc': inboundAcdWebRtc,
  'outbound-webrtc': outboundWebRtc,
  'blind-transfer': blindTransfer,
  'consult-transfer': consultTransfer,
  'same-agent-multiple-legs': sameAgentMultipleLegs,
  'persistent-connection': persistentConnection,
  'sip-desk-phone': sipDeskPhone,
  unrecorded,
  'hour-boundary': hourBoundary,
};

/** Default delay between a conversation's end and its analytics being queryable. */
export const DEFAULT_ANALYTICS_LAG_MS = 5 * 60_000;

export interface BuildOptions {
  /** Approximate length from start to last disconnect (default: random 1–8 minutes). */
  readonly durationSeconds?: number;
  readonly analyticsLagMs?: number;
  /** The user who takes or places the call; must be on a station the kind needs. */
  readonly userId?: string;
}

/**
 * Builds one conversation of `kind` starting at `startMs` (hour-boundary may start later, see its doc).
 * Pure: all ids and random choices come from `rng`.
 * @throws Error when `userId` does not fit the kind or an option is invalid.
 */
export function buildConversation(
  org: SimOrg,
  rng: Rng,
  kind: ConversationKind,
  startMs: number,
  opts: BuildOptions = {},
): ConversationScript {
  const builder = BUILDERS[kind];
  if (builder === undefined) throw new Error(`buildConversation: unknown kind ${String(kind)}`);
  if (!Number.isFinite(startMs)) throw new Error('buildConversation: startMs must be a finite epoch ms');
  if (
    opts.durationSeconds !== undefined &&
    !(opts.durationSeconds > 0 && Number.isFinite(opts.durationSeconds))
  ) {
    throw new Error(
      `buildConversation: durationSeconds must be a positive number, got ${opts.durationSeconds}`,
    );
  }
  const conv = new CallConversation(rng.uuid());
  const ctx: KindContext = {
    kind,
    org,
    rng,
    conv,
    startMs,
    ...(opts.durationSeconds === undefined ? {} : { durationMs: Math.round(opts.durationSeconds * 1000) }),
    ...(opts.userId === undefined ? {} : { userId: opts.userId }),
  };
  const plan = builder(ctx);
  return assemble(org, rng, kind, conv, plan, opts.analyticsLagMs ?? DEFAULT_ANALYTICS_LAG_MS);
}

function assemble(
  org: SimOrg,
  rng: Rng,
  kind: ConversationKind,
  conv: CallConversation,
  plan: KindPlan,
  lagMs: number,
): ConversationScript {
  const divisionId = org.divisionId;
  const events: ScriptedEvent[] = [];
  const callSnapshots: Array<{ at: number; call: ReturnType<typeof restCallSnapshot> }> = [];
  /** Persistent-connection states per user, in time order (for the ground truth). */
  const persistent = new Map<string, Array<{ at: number; state: string }>>();

  conv.run(({ at, before }) => {
    const userIds = [...new Set(conv.legs.filter(isUserLeg).map((l) => l.userId ?? ''))];
    const pre: ScriptedEvent[] = [];
    const post: ScriptedEvent[] = [];
    for (const userId of userIds) {
      const legs = conv.legs.filter((l) => l.userId === userId);
      const station = legs[legs.length - 1]?.station;
      if (station?.type !== 'inin_webrtc_softphone' || !station.webRtcPersistentEnabled) continue;
      const wasActive = legs.some(
        (l) => before.get(l.participantId) !== undefined && !isEnded(before.get(l.participantId)),
      );
      const isActive = legs.some((l) => !isEnded(l.state));
      const state = !wasActive && isActive ? 'ACTIVE_CALL' : wasActive && !isActive ? 'PERSISTED' : undefined;
      if (state === undefined) continue;
      const event = {
        at,
        topicName: `v2.users.${userId}.persistentconnection`,
        eventBody: persistentConnectionEvent(userId, station.id, state, at),
      };
      (state === 'ACTIVE_CALL' ? pre : post).push(event);
      persistent.set(userId, [...(persistent.get(userId) ?? []), { at, state }]);
    }
    events.push(...pre);
    for (const userId of userIds) {
      // A user hears about the conversation while any of their legs is live, including the change that ends it.
      const notify = conv.legs.some(
        (l) => l.userId === userId && before.get(l.participantId) !== 'terminated',
      );
      if (!notify) continue;
      events.push({
        at,
        topicName: `v2.users.${userId}.conversations`,
        eventBody: conversationEventBody(conv, divisionId),
      });
      events.push({
        at,
        topicName: `v2.users.${userId}.conversations.calls`,
        eventBody: callEventBody(conv, divisionId),
      });
    }
    if (plan.queueId !== undefined) {
      events.push({
        at,
        topicName: `v2.routing.queues.${plan.queueId}.conversations.calls`,
        eventBody: queueCallEventBody(conv, divisionId),
      });
    }
    for (const leg of conv.legs.filter(isUserLeg)) {
      const was = before.get(leg.participantId);
      const topic = `v2.detail.events.conversation.${conv.conversationId}.user`;
      if (was === undefined)
        events.push({
          at,
          topicName: `${topic}.start`,
          eventBody: userStartEvent(conv, leg, at, divisionId),
        });
      if (!isEnded(was) && isEnded(leg.state))
        events.push({ at, topicName: `${topic}.end`, eventBody: userEndEvent(conv, leg, at, divisionId) });
    }
    events.push(...post);
    callSnapshots.push({ at, call: restCallSnapshot(conv, divisionId) });
  });

  const startTime = Math.min(...conv.legs.map((l) => l.startTime));
  const endTime = Math.max(...conv.legs.map((l) => l.disconnectedTime ?? l.startTime));
  const allEvents = [...stationEvents(org, plan.stationChanges), ...events]
    .map((e, i) => ({ e, i }))
    .sort((x, y) => x.e.at - y.e.at || x.i - y.i)
    .map(({ e }) => e);

  const groundTruth: GroundTruthLeg[] = conv.legs.filter(isUserLeg).map((leg) => {
    const stateAtConnect = (persistent.get(leg.userId ?? '') ?? [])
      .filter((p) => p.at <= (leg.connectedTime ?? leg.startTime))
      .at(-1)?.state;
    return {
      conversationId: conv.conversationId,
      participantId: leg.participantId,
      communicationId: leg.communicationId,
      purpose: leg.purpose,
      direction: leg.direction,
      ...(leg.userId === undefined ? {} : { userId: leg.userId }),
      ...(leg.station === undefined ? {} : { stationId: leg.station.id, stationType: leg.station.type }),
      isWebRtc: leg.station?.type === 'inin_webrtc_softphone',
      ...(leg.peerId === undefined ? {} : { peerId: leg.peerId }),
      provider: VOICE_PROVIDER,
      selfAddress: leg.self.addressRaw,
      otherAddress: leg.other.addressRaw,
      ...(leg.publicIpAddress === undefined ? {} : { publicIpAddress: leg.publicIpAddress }),
      ...(leg.connectedTime === undefined ? {} : { connectedTime: leg.connectedTime }),
      ...(leg.disconnectedTime === undefined ? {} : { disconnectedTime: leg.disconnectedTime }),
      recording: leg.recording,
      ...(stateAtConnect === undefined ? {} : { persistentConnectionState: stateAtConnect }),
    };
  });

  return {
    conversationId: conv.conversationId,
    kind,
    startTime,
    endTime,
    events: allEvents,
    callSnapshots,
    analytics: {
      availableAt: endTime + lagMs,
      conversation: buildAnalytics(rng, conv, org.divisionId, plan.direction, startTime, endTime),
    },
    recordings: buildRecordings(rng, conv.conversationId, plan.direction, plan.recordings),
    stationChanges: [...plan.stationChanges],
    groundTruth,
  };
}
