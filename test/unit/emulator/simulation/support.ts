/** Helpers for the simulation tests: finding a leg in published events and checking ground truth against them. */
import type { Models } from 'purecloud-platform-client-v2';
import type {
  ConversationScript,
  GroundTruthLeg,
  ScriptedEvent,
  SimOrg,
} from '../../../../dev/emulator/model.ts';

export const T0 = Date.parse('2025-03-01T10:15:00Z');

export function eventsOn(script: ConversationScript, suffix: string): ScriptedEvent[] {
  return script.events.filter((e) => e.topicName.endsWith(suffix));
}

/** Every (at, call) of one communication on the user's `.conversations` topic. */
export function callsOf(
  script: ConversationScript,
  leg: GroundTruthLeg,
): Array<{
  at: number;
  participant: Models.ConversationEventTopicParticipant;
  call: Models.ConversationEventTopicCall;
}> {
  const out: Array<{
    at: number;
    participant: Models.ConversationEventTopicParticipant;
    call: Models.ConversationEventTopicCall;
  }> = [];
  for (const e of script.events) {
    if (e.topicName !== `v2.users.${leg.userId}.conversations`) continue;
    const body = e.eventBody as Models.ConversationEventTopicConversation;
    for (const p of body.participants ?? []) {
      for (const call of p.calls ?? [])
        if (call.id === leg.communicationId) out.push({ at: e.at, participant: p, call });
    }
  }
  return out;
}

export function flatOf(
  script: ConversationScript,
  leg: GroundTruthLeg,
): Models.ConversationCallEventTopicCallMediaParticipant[] {
  return script.events
    .filter((e) => e.topicName === `v2.users.${leg.userId}.conversations.calls`)
    .flatMap((e) => (e.eventBody as Models.ConversationCallEventTopicCallConversation).participants ?? [])
    .filter((p) => p.id === leg.participantId);
}

const ms = (iso: string | undefined): number | undefined => (iso === undefined ? undefined : Date.parse(iso));

/** Returns the mismatches between a ground-truth leg and what the events show (empty when consistent). */
export function groundTruthProblems(org: SimOrg, script: ConversationScript, leg: GroundTruthLeg): string[] {
  const problems: string[] = [];
  const calls = callsOf(script, leg);
  const last = calls.at(-1);
  if (last === undefined)
    return [`leg ${leg.communicationId} never appears on v2.users.${leg.userId}.conversations`];
  const expect = (what: string, actual: unknown, wanted: unknown): void => {
    if (actual !== wanted) problems.push(`${what}: events ${String(actual)} vs truth ${String(wanted)}`);
  };
  expect('participant id', last.participant.id, leg.participantId);
  expect('purpose', last.participant.purpose, leg.purpose);
  expect('userId', last.participant.userId, leg.userId);
  expect('direction', last.call.direction, leg.direction);
  expect('peerId', last.call.peerId, leg.peerId);
  expect('provider', last.call.provider, leg.provider);
  expect('self', last.call.self?.addressRaw, leg.selfAddress);
  expect('other', last.call.other?.addressRaw, leg.otherAddress);
  expect('publicIpAddress', last.call.publicIpAddress, leg.publicIpAddress);
  expect('connectedTime', ms(last.call.connectedTime), leg.connectedTime);
  expect('disconnectedTime', ms(last.call.disconnectedTime), leg.disconnectedTime);
  expect(
    'recording',
    calls.some((c) => c.call.recording === true),
    leg.recording,
  );
  const flat = flatOf(script, leg).at(-1);
  expect('flat peer', flat?.peer, leg.peerId);
  expect('flat publicIpAddress', flat?.publicIpAddress, leg.publicIpAddress);
  const station = org.stations.find((s) => s.id === leg.stationId);
  expect('stationType', station?.type, leg.stationType);
  expect('isWebRtc', station?.type === 'inin_webrtc_softphone', leg.isWebRtc);
  const detail = script.events.filter(
    (e) =>
      e.topicName.startsWith(`v2.detail.events.conversation.${script.conversationId}.user.`) &&
      (e.eventBody as Models.UserStartDetailEventTopicUserStartEvent).participantId === leg.participantId,
  );
  if (detail.length !== 2)
    problems.push(`expected a user.start and a user.end, got ${detail.length} detail events`);
  for (const d of detail)
    expect(
      'detail sessionId',
      (d.eventBody as Models.UserStartDetailEventTopicUserStartEvent).sessionId,
      leg.communicationId,
    );
  return problems;
}
