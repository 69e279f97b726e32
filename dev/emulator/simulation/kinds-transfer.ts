/**
 * Transfers of an inbound ACD call from agent A to agent B (both on WebRTC softphones).
 * - Blind: A transfers (A's leg disconnects `transfer`), B is alerted and answers. One Trunk recording
 *   per agent segment.
 * - Consult: A puts the customer on hold (confined, `consultParticipantId` = B's participant) and
 *   consults B; B answers; A completes the transfer (`transfer.consult`) and the customer resumes with B.
 *   The original Trunk recording spans A's answer to the end; the A–B consult has its own `Consult`
 *   recording.
 */
import type { Leg } from './call-state.ts';
import type { KindContext, KindPlan } from './kind-context.ts';
import { acwMs, pickAgent, totalMs } from './kind-context.ts';
import { alertAgent, hangUp, startInbound } from './kinds-inbound.ts';

function markCustomerRecorded(ctx: KindContext, customer: Leg, at: number): void {
  ctx.conv.at(at, () => {
    customer.recording = true;
    customer.recordingState = 'active';
  });
}

export function blindTransfer(ctx: KindContext): KindPlan {
  const { conv, rng } = ctx;
  const a = pickAgent(ctx, 'inin_webrtc_softphone');
  const b = pickAgent(ctx, 'inin_webrtc_softphone', { exclude: [a.user.id], useRequested: false });
  const setup = startInbound(ctx, a, ctx.startMs);
  const legA = alertAgent(ctx, setup, a, setup.routedAt, setup.queueId);
  const answeredA = setup.routedAt + rng.int(2, 9) * 1000;
  conv.connect(legA, answeredA, true);
  conv.disconnect(setup.acd, answeredA, 'transfer');
  conv.terminate(setup.acd, answeredA);
  markCustomerRecorded(ctx, setup.customer, answeredA);
  const remaining = Math.max(40_000, ctx.startMs + totalMs(ctx) - answeredA);
  const transferAt = answeredA + Math.max(10_000, Math.round(remaining * 0.4));
  conv.disconnect(legA, transferAt, 'transfer');
  conv.terminate(legA, transferAt + acwMs(ctx));
  const legB = alertAgent(ctx, setup, b, transferAt);
  const answeredB = transferAt + rng.int(2, 9) * 1000;
  conv.connect(legB, answeredB, true);
  const endAt = Math.max(answeredB + 10_000, answeredA + remaining);
  hangUp(ctx, setup.customer, legB, endAt);
  conv.terminate(legB, endAt + acwMs(ctx));
  return {
    direction: 'inbound',
    queueId: setup.queueId,
    recordings: [
      { leg: legA, start: answeredA, end: transferAt, userIds: [a.user.id], mediaSubtype: 'Trunk' },
      { leg: legB, start: answeredB, end: endAt, userIds: [b.user.id], mediaSubtype: 'Trunk' },
    ],
    stationChanges: [],
  };
}

export function consultTransfer(ctx: KindContext): KindPlan {
  const { conv, rng } = ctx;
  const a = pickAgent(ctx, 'inin_webrtc_softphone');
  const b = pickAgent(ctx, 'inin_webrtc_softphone', { exclude: [a.user.id], useRequested: false });
  const setup = startInbound(ctx, a, ctx.startMs);
  const legA = alertAgent(ctx, setup, a, setup.routedAt, setup.queueId);
  const answeredA = setup.routedAt + rng.int(2, 9) * 1000;
  conv.connect(legA, answeredA, true);
  conv.disconnect(setup.acd, answeredA, 'transfer');
  conv.terminate(setup.acd, answeredA);
  markCustomerRecorded(ctx, setup.customer, answeredA);
  const remaining = Math.max(60_000, ctx.startMs + totalMs(ctx) - answeredA);
  const consultAt = answeredA + Math.max(10_000, Math.round(remaining * 0.3));
  conv.hold(setup.customer, legA, consultAt);
  const legB = alertAgent(ctx, setup, b, consultAt);
  conv.at(consultAt, () => {
    setup.customer.consultParticipantId = legB.participantId;
  });
  const answeredB = consultAt + rng.int(2, 9) * 1000;
  conv.connect(legB, answeredB, true);
  const completeAt = answeredB + rng.int(15, 60) * 1000;
  conv.disconnect(legA, completeAt, 'transfer.consult');
  conv.resume(setup.customer, legA, completeAt);
  conv.terminate(legA, completeAt + acwMs(ctx));
  const endAt = Math.max(completeAt + 10_000, answeredA + remaining);
  hangUp(ctx, setup.customer, legB, endAt);
  conv.terminate(legB, endAt + acwMs(ctx));
  return {
    direction: 'inbound',
    queueId: setup.queueId,
    recordings: [
      { leg: legA, start: answeredA, end: endAt, userIds: [a.user.id, b.user.id], mediaSubtype: 'Trunk' },
      {
        leg: legB,
        start: answeredB,
        end: completeAt,
        userIds: [a.user.id, b.user.id],
        mediaSubtype: 'Consult',
      },
    ],
    stationChanges: [],
  };
}
