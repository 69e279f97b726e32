/**
 * Background traffic: Poisson arrivals (exponential gaps) at a mean rate, with a realistic mix of kinds,
 * routed to agents who are free at the time when possible. The hour-boundary kind is left out (it moves
 * its start); ordinary calls cross hour boundaries on their own.
 */
import type { ConversationKind, ConversationScript, SimOrg, SimUser } from '../model.ts';
import type { Rng } from './rng.ts';
import { buildConversation } from './conversation.ts';
import { usersOnStation } from './org.ts';

const MIX: ReadonlyArray<readonly [ConversationKind, number]> = [
  ['inbound-acd-webrtc', 35],
  ['outbound-webrtc', 15],
  ['persistent-connection', 12],
  ['blind-transfer', 8],
  ['consult-transfer', 7],
  ['sip-desk-phone', 8],
  ['unrecorded', 7],
  ['same-agent-multiple-legs', 6],
];
const MIX_TOTAL = MIX.reduce((sum, [, w]) => sum + w, 0);
/** Refuse windows that would generate an unreasonable number of conversations. */
const MAX_EXPECTED = 200_000;

function pickKind(rng: Rng): ConversationKind {
  let r = rng.next() * MIX_TOTAL;
  for (const [kind, weight] of MIX) {
    r -= weight;
    if (r < 0) return kind;
  }
  return 'inbound-acd-webrtc';
}

function candidates(org: SimOrg, kind: ConversationKind): SimUser[] {
  switch (kind) {
    case 'persistent-connection':
      return usersOnStation(org, 'inin_webrtc_softphone', true).map((a) => a.user);
    case 'sip-desk-phone':
      return usersOnStation(org, 'inin_physical').map((a) => a.user);
    default:
      return usersOnStation(org, 'inin_webrtc_softphone').map((a) => a.user);
  }
}

/**
 * Conversations arriving in [fromMs, toMs) at `perMinute` on average, ordered by start.
 * @throws Error on an invalid window or rate.
 */
export function randomConversations(
  org: SimOrg,
  rng: Rng,
  fromMs: number,
  toMs: number,
  perMinute: number,
): ConversationScript[] {
  if (!Number.isFinite(fromMs) || !Number.isFinite(toMs) || toMs < fromMs) {
    throw new Error(`randomConversations: need finite fromMs <= toMs, got ${fromMs}..${toMs}`);
  }
  if (!Number.isFinite(perMinute) || perMinute < 0)
    throw new Error(`randomConversations: perMinute must be >= 0, got ${perMinute}`);
  if (((toMs - fromMs) / 60_000) * perMinute > MAX_EXPECTED) {
    throw new Error(
      `randomConversations: more than ${MAX_EXPECTED} conversations expected; shorten the window or lower the rate`,
    );
  }
  if (perMinute === 0) return [];
  const meanGapMs = 60_000 / perMinute;
  const busyUntil = new Map<string, number>();
  const scripts: ConversationScript[] = [];
  let t = fromMs;
  for (;;) {
    t += -Math.log(1 - rng.next()) * meanGapMs;
    if (t >= toMs) break;
    const at = Math.floor(t);
    const kind = pickKind(rng);
    const free = candidates(org, kind).filter((u) => (busyUntil.get(u.id) ?? -Infinity) <= at);
    // When everyone suitable is busy the call still arrives (agents may take concurrent calls).
    const userId = free.length > 0 ? rng.pick(free).id : undefined;
    const script = buildConversation(org, rng, kind, at, userId === undefined ? {} : { userId });
    for (const leg of script.groundTruth) {
      if (leg.userId !== undefined)
        busyUntil.set(leg.userId, Math.max(busyUntil.get(leg.userId) ?? 0, script.endTime + 30_000));
    }
    scripts.push(script);
  }
  return scripts;
}
