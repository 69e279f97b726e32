/**
 * Inbound ACD calls: a customer calls a queue's number, waits in the queue (ACD participant), an agent
 * is alerted and answers; the call is recorded from answer to hang-up as one Trunk recording. Variants:
 * WebRTC softphone, persistent-connection softphone, SIP desk phone (incl. a hot-desk login), no
 * recording, crossing an hour boundary, and the same agent alerted several times (unanswered legs stay
 * in the participants array, ending `terminated`).
 */
import type { StationChange } from '../model.ts';
import type { Leg } from './call-state.ts';
import type { Agent, KindContext, KindPlan } from './kind-context.ts';
import type { RecordingSpec } from './recordings.ts';
import { acdLeg, customerLeg, externalParty, inboundFlow, ivrLeg, userLeg } from './legs.ts';
import { acwMs, pickAgent, pickQueue, totalMs } from './kind-context.ts';
import { queueDid } from './conventions.ts';
import { usersOnStation } from './org.ts';

const HOUR_MS = 3_600_000;

export interface InboundSetup {
  readonly customer: Leg;
  readonly acd: Leg;
  readonly queueId: string;
  /** When the first agent is alerted. */
  readonly routedAt: number;
}

/**
 * Customer and IVR legs from `at`; after 4–20 s in the flow the call is transferred to the queue (ACD leg) and the
 * first agent is alerted after a 3–30 s queue wait.
 */
export function startInbound(ctx: KindContext, agent: Agent, at: number): InboundSetup {
  const queue = pickQueue(ctx, agent.user);
  const customer = ctx.conv.join(
    customerLeg(ctx.rng, ctx.org, at, externalParty(ctx.rng), queueDid(queue.index)),
  );
  const ivr = ctx.conv.join(ivrLeg(ctx.rng, ctx.org, at, inboundFlow(ctx.org), customer));
  const queuedAt = at + ctx.rng.int(4, 20) * 1000;
  ctx.conv.disconnect(ivr, queuedAt, 'transfer');
  ctx.conv.terminate(ivr, queuedAt);
  const acd = ctx.conv.join(acdLeg(ctx.rng, ctx.org, queuedAt, queue, customer));
  return { customer, acd, queueId: queue.id, routedAt: queuedAt + ctx.rng.int(3, 30) * 1000 };
}

/** An agent leg alerting at `at` for the inbound call. */
export function alertAgent(
  ctx: KindContext,
  setup: InboundSetup,
  agent: Agent,
  at: number,
  queueId?: string,
): Leg {
  return ctx.conv.join(
    userLeg(ctx.rng, ctx.org, agent.user, agent.station, {
      at,
      purpose: 'agent',
      direction: 'inbound',
      initialState: 'alerting',
      other: setup.customer.self,
      ani: setup.customer.ani,
      dnis: setup.customer.dnis,
      peerId: setup.customer.communicationId,
      alertingTimeoutMs: ctx.rng.pick([8000, 10000, 15000]),
      ...(queueId === undefined ? {} : { queueId }),
    }),
  );
}

/** Ends the call at `at`: one side hangs up, the other is disconnected as the peer. */
export function hangUp(ctx: KindContext, remote: Leg, agentLeg: Leg, at: number): void {
  const customerHungUp = ctx.rng.bool(0.5);
  ctx.conv.disconnect(remote, at, customerHungUp ? 'endpoint' : 'peer');
  ctx.conv.disconnect(agentLeg, at, customerHungUp ? 'peer' : 'client');
}

interface InboundOptions {
  readonly agent: Agent;
  readonly recorded: boolean;
  readonly startMs: number;
  readonly durationMs: number;
  /** Unanswered alerts to the same agent before the answered one. */
  readonly unanswered?: number;
  readonly stationChanges?: readonly StationChange[];
  readonly logoutAfter?: boolean;
}

function inbound(ctx: KindContext, opts: InboundOptions): KindPlan {
  const { conv, rng } = ctx;
  const setup = startInbound(ctx, opts.agent, opts.startMs);
  let alertAt = setup.routedAt;
  for (let i = 0; i < (opts.unanswered ?? 0); i++) {
    const missed = alertAgent(ctx, setup, opts.agent, alertAt, setup.queueId);
    const timeoutAt = alertAt + (missed.alertingTimeoutMs ?? 8000);
    conv.disconnect(missed, timeoutAt, 'timeout');
    conv.terminate(missed, timeoutAt + 1000);
    alertAt = timeoutAt + rng.int(3, 15) * 1000;
  }
  const leg = alertAgent(ctx, setup, opts.agent, alertAt, setup.queueId);
  const answeredAt = alertAt + rng.int(2, 9) * 1000;
  conv.connect(leg, answeredAt, opts.recorded);
  conv.disconnect(setup.acd, answeredAt, 'transfer');
  conv.terminate(setup.acd, answeredAt); // a finished ACD leg is terminated, as on the real platform
  if (opts.recorded) {
    conv.at(answeredAt, () => {
      setup.customer.recording = true;
      setup.customer.recordingState = 'active';
    });
  }
  const endAt = Math.max(answeredAt + 10_000, opts.startMs + opts.durationMs);
  hangUp(ctx, setup.customer, leg, endAt);
  const terminatedAt = endAt + acwMs(ctx);
  conv.terminate(leg, terminatedAt);
  const stationChanges = [...(opts.stationChanges ?? [])];
  if (opts.logoutAfter === true)
    stationChanges.push({ at: terminatedAt + rng.int(5, 60) * 1000, userId: opts.agent.user.id });
  const recordings: RecordingSpec[] = opts.recorded
    ? [{ leg, start: answeredAt, end: endAt, userIds: [opts.agent.user.id], mediaSubtype: 'Trunk' }]
    : [];
  return { direction: 'inbound', queueId: setup.queueId, recordings, stationChanges };
}

export function inboundAcdWebRtc(ctx: KindContext): KindPlan {
  const agent = pickAgent(ctx, 'inin_webrtc_softphone');
  return inbound(ctx, { agent, recorded: true, startMs: ctx.startMs, durationMs: totalMs(ctx) });
}

/** The agent's WebRTC station keeps a persistent connection (line appearance 1) across calls. */
export function persistentConnection(ctx: KindContext): KindPlan {
  const agent = pickAgent(ctx, 'inin_webrtc_softphone', { persistent: true });
  return inbound(ctx, { agent, recorded: true, startMs: ctx.startMs, durationMs: totalMs(ctx) });
}

export function unrecorded(ctx: KindContext): KindPlan {
  const agent = pickAgent(ctx, 'inin_webrtc_softphone');
  return inbound(ctx, { agent, recorded: false, startMs: ctx.startMs, durationMs: totalMs(ctx) });
}

export function sameAgentMultipleLegs(ctx: KindContext): KindPlan {
  const agent = pickAgent(ctx, 'inin_webrtc_softphone');
  return inbound(ctx, {
    agent,
    recorded: true,
    startMs: ctx.startMs,
    durationMs: totalMs(ctx),
    unanswered: ctx.rng.int(1, 2),
  });
}

/**
 * Starts in the last minutes of an hour and ends in the next one. A start earlier than hh:50 moves to
 * hh:59:15–hh:59:45 of the same hour (never earlier than asked); the length is stretched if needed.
 */
export function hourBoundary(ctx: KindContext): KindPlan {
  const agent = pickAgent(ctx, 'inin_webrtc_softphone');
  const hourStart = Math.floor(ctx.startMs / HOUR_MS) * HOUR_MS;
  const startMs =
    ctx.startMs - hourStart < 50 * 60_000
      ? hourStart + 59 * 60_000 + ctx.rng.int(15, 45) * 1000
      : ctx.startMs;
  const minimum = hourStart + HOUR_MS - startMs + ctx.rng.int(30, 180) * 1000;
  return inbound(ctx, { agent, recorded: true, startMs, durationMs: Math.max(totalMs(ctx), minimum) });
}

/**
 * A SIP desk phone (`inin_physical`, not WebRTC). Either the user permanently on a desk phone takes it,
 * or the user without a station logs into the shared hot desk as the call arrives and out afterwards.
 */
export function sipDeskPhone(ctx: KindContext): KindPlan {
  const requested = ctx.userId === undefined ? undefined : ctx.org.users.find((u) => u.id === ctx.userId);
  const hotDesk = ctx.org.stations.find((s) => s.type === 'inin_physical' && s.userId === undefined);
  const hotDeskUsers = ctx.org.users.filter((u) => u.stationId === undefined);
  const useHotDesk =
    hotDesk !== undefined &&
    hotDeskUsers.length > 0 &&
    (requested === undefined
      ? usersOnStation(ctx.org, 'inin_physical').length === 0 || ctx.rng.bool(0.5)
      : requested.stationId === undefined);
  if (!useHotDesk || hotDesk === undefined) {
    const agent = pickAgent(ctx, 'inin_physical');
    return inbound(ctx, { agent, recorded: true, startMs: ctx.startMs, durationMs: totalMs(ctx) });
  }
  const user = requested ?? ctx.rng.pick(hotDeskUsers);
  const agent: Agent = { user, station: hotDesk };
  return inbound(ctx, {
    agent,
    recorded: true,
    startMs: ctx.startMs,
    durationMs: totalMs(ctx),
    stationChanges: [{ at: ctx.startMs, userId: user.id, stationId: hotDesk.id }],
    logoutAfter: true,
  });
}
