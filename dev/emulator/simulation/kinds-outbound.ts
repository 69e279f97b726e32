/**
 * Outbound call placed from a WebRTC softphone: the user's leg (purpose `user`) dials, the external
 * party's leg is contacted and answers; recorded from answer to hang-up (one Trunk recording).
 */
import type { KindContext, KindPlan } from './kind-context.ts';
import { ORG_OUTBOUND_ANI } from './conventions.ts';
import { endpoint, externalLeg, externalParty, userLeg } from './legs.ts';
import { hangUp } from './kinds-inbound.ts';
import { pickAgent, totalMs } from './kind-context.ts';

export function outboundWebRtc(ctx: KindContext): KindPlan {
  const { conv, rng, org, startMs } = ctx;
  const agent = pickAgent(ctx, 'inin_webrtc_softphone');
  const callee = externalParty(rng);
  const user = conv.join(
    userLeg(rng, org, agent.user, agent.station, {
      at: startMs,
      purpose: 'user',
      direction: 'outbound',
      initialState: 'dialing',
      other: endpoint(callee.number, callee.name),
      ani: ORG_OUTBOUND_ANI,
      dnis: callee.number,
    }),
  );
  const external = conv.join(externalLeg(rng, org, startMs, callee, ORG_OUTBOUND_ANI, user));
  user.peerId = external.communicationId;
  const answeredAt = startMs + rng.int(3, 20) * 1000;
  conv.connect(user, answeredAt, true);
  conv.connect(external, answeredAt, true);
  const endAt = Math.max(answeredAt + 10_000, startMs + totalMs(ctx));
  hangUp(ctx, external, user, endAt);
  conv.terminate(user, endAt + rng.int(1, 3) * 1000);
  return {
    direction: 'outbound',
    recordings: [
      { leg: user, start: answeredAt, end: endAt, userIds: [agent.user.id], mediaSubtype: 'Trunk' },
    ],
    stationChanges: [],
  };
}
