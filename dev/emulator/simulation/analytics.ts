/**
 * The analytics view of a finished conversation (`Models.AnalyticsConversationWithoutAttributes`, as
 * served by the conversation details endpoints once the analytics lag has passed): one participant per
 * leg, one session per leg whose `sessionId` is the leg's communication id, with segments and media
 * endpoint stats.
 */
import type { Models } from 'purecloud-platform-client-v2';
import type { CallConversation, Direction, Leg } from './call-state.ts';
import type { Rng } from './rng.ts';
import { VOICE_PROVIDER } from './conventions.ts';
import { iso } from './event-bodies.ts';

/** Analytics spells some disconnect types differently from the event models. */
const ANALYTICS_DISCONNECT: Readonly<Record<string, string>> = {
  'transfer.consult': 'consultTransfer',
  'transfer.conference': 'conferenceTransfer',
  'transfer.forward': 'forwardTransfer',
  'transfer.noanswer': 'noAnswerTransfer',
  'transfer.notavailable': 'notAvailableTransfer',
  'transport.failure': 'transportFailure',
};

export function analyticsDisconnectType(eventType: string | undefined): string | undefined {
  return eventType === undefined ? undefined : (ANALYTICS_DISCONNECT[eventType] ?? eventType);
}

function seg(
  type: string,
  start: number,
  end: number,
  extra: Partial<Models.AnalyticsConversationSegment> = {},
): Models.AnalyticsConversationSegment {
  return { segmentType: type, segmentStart: iso(start), segmentEnd: iso(end), ...extra };
}

function segments(leg: Leg, conversationEnd: number): Models.AnalyticsConversationSegment[] {
  const end = leg.disconnectedTime ?? conversationEnd;
  const queue = leg.queueId === undefined ? {} : { queueId: leg.queueId };
  const out: Models.AnalyticsConversationSegment[] = [];
  if (leg.purpose === 'agent' || leg.purpose === 'user' || leg.purpose === 'external') {
    const ringType =
      leg.initialState === 'alerting' ? 'alert' : leg.initialState === 'dialing' ? 'dialing' : 'contacting';
    out.push(seg(ringType, leg.startTime, leg.connectedTime ?? end, queue));
  }
  if (leg.connectedTime !== undefined) {
    let cursor = leg.connectedTime;
    for (const hold of leg.holds) {
      const holdEnd = hold.end ?? end;
      if (hold.start > cursor) out.push(seg('interact', cursor, hold.start, queue));
      out.push(seg('hold', hold.start, holdEnd, queue));
      cursor = holdEnd;
    }
    if (end > cursor || out.length === 0) out.push(seg('interact', cursor, end, queue));
  }
  const last = out[out.length - 1];
  const disconnectType = analyticsDisconnectType(leg.disconnectType);
  if (last !== undefined && disconnectType !== undefined) last.disconnectType = disconnectType;
  if (
    leg.purpose === 'agent' &&
    leg.connectedTime !== undefined &&
    leg.terminatedTime !== undefined &&
    leg.terminatedTime > end
  ) {
    // Real wrapup segments carry a disconnectType of their own (client, peer).
    out.push({ ...seg('wrapup', end, leg.terminatedTime, queue), disconnectType: 'client' });
  }
  return out;
}

function endpointStats(
  rng: Rng,
  leg: Leg,
  conversationEnd: number,
): Models.AnalyticsMediaEndpointStat[] | undefined {
  if (leg.connectedTime === undefined || leg.purpose === 'acd') return undefined;
  const seconds = Math.max(
    1,
    Math.round(((leg.disconnectedTime ?? conversationEnd) - leg.connectedTime) / 1000),
  );
  const webRtc = leg.station?.type === 'inin_webrtc_softphone';
  return [
    {
      codecs: [webRtc ? 'audio/opus' : 'audio/PCMU'],
      minMos: Math.round((3.6 + rng.next() * 0.8) * 100) / 100,
      minRFactor: Math.round((70 + rng.next() * 22) * 100) / 100,
      maxLatencyMs: rng.int(20, 180),
      receivedPackets: seconds * 50 - rng.int(0, 20),
      invalidPackets: 0,
      discardedPackets: rng.int(0, 5),
      duplicatePackets: 0,
      overrunPackets: 0,
      underrunPackets: rng.int(0, 10),
      eventTime: iso(leg.disconnectedTime ?? conversationEnd),
    },
  ];
}

/** Builds the analytics record from the conversation's final state. */
export function buildAnalytics(
  rng: Rng,
  conv: CallConversation,
  divisionId: string,
  direction: Direction,
  start: number,
  end: number,
): Models.AnalyticsConversationWithoutAttributes {
  let minMos: number | undefined;
  const participants = conv.legs.map((leg): Models.AnalyticsParticipantWithoutAttributes => {
    const stats = endpointStats(rng, leg, end);
    for (const s of stats ?? []) if (s.minMos !== undefined) minMos = Math.min(minMos ?? s.minMos, s.minMos);
    const session: Models.AnalyticsSession = {
      sessionId: leg.communicationId,
      mediaType: 'voice',
      direction: leg.direction,
      // Real voice sessions carry the calling and called numbers, not addressSelf/addressOther.
      ani: leg.ani,
      dnis: leg.dnis,
      sessionDnis: leg.dnis,
      edgeId: leg.edgeId,
      protocolCallId: leg.protocolCallId,
      provider: VOICE_PROVIDER,
      ...(leg.peerId === undefined ? {} : { peerId: leg.peerId }),
      ...(leg.purpose === 'customer' || leg.purpose === 'external' ? { remote: leg.name } : {}),
      ...(leg.recording ? { recording: true } : {}),
      ...(stats === undefined ? {} : { mediaEndpointStats: stats }),
      segments: segments(leg, end),
    };
    return {
      participantId: leg.participantId,
      participantName: leg.name,
      purpose: leg.purpose,
      ...(leg.userId === undefined ? {} : { userId: leg.userId }),
      sessions: [session],
    };
  });
  return {
    conversationId: conv.conversationId,
    conversationStart: iso(start),
    conversationEnd: iso(end),
    originatingDirection: direction,
    divisionIds: [divisionId],
    ...(minMos === undefined ? {} : { mediaStatsMinConversationMos: minMos }),
    participants,
  };
}
