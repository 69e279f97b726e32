/**
 * What every conversation-kind builder receives and returns, and the helpers they share (choosing
 * agents, queues and phase durations).
 */
import type { ConversationKind, SimOrg, SimStation, SimUser, StationChange, StationType } from '../model.ts';
import type { CallConversation, Direction } from './call-state.ts';
import type { RecordingSpec } from './recordings.ts';
import type { Rng } from './rng.ts';
import { stationOf, usersOnStation } from './org.ts';

export interface KindContext {
  readonly kind: ConversationKind;
  readonly org: SimOrg;
  readonly rng: Rng;
  readonly conv: CallConversation;
  readonly startMs: number;
  /** Requested conversation length (start to last disconnect), if any. */
  readonly durationMs?: number;
  /** The user who should take (or place) the call, if the caller chose one. */
  readonly userId?: string;
}

export interface KindPlan {
  readonly direction: Direction;
  /** Queue whose topic sees the conversation (ACD calls). */
  readonly queueId?: string;
  readonly recordings: readonly RecordingSpec[];
  readonly stationChanges: readonly StationChange[];
}

export interface Agent {
  readonly user: SimUser;
  readonly station: SimStation;
}

/**
 * Picks the agent for a kind: the requested user (who must be on a matching station), else a random
 * user on a station of `type` (and persistence, when given), never one in `exclude`.
 */
export function pickAgent(
  ctx: KindContext,
  type: StationType,
  opts: { persistent?: boolean; exclude?: readonly string[]; useRequested?: boolean } = {},
): Agent {
  const candidates = usersOnStation(ctx.org, type, opts.persistent).filter(
    (a) => !(opts.exclude ?? []).includes(a.user.id),
  );
  if (opts.useRequested !== false && ctx.userId !== undefined) {
    const user = ctx.org.users.find((u) => u.id === ctx.userId);
    if (user === undefined)
      throw new Error(`buildConversation: userId ${ctx.userId} is not a user of the org`);
    const found = candidates.find((a) => a.user.id === user.id);
    if (found === undefined) {
      const has = stationOf(ctx.org, user)?.type ?? 'no station';
      const want = opts.persistent === true ? `a persistent ${type}` : type;
      throw new Error(
        `buildConversation: kind ${ctx.kind} needs a user on ${want} station; user ${user.id} has ${has}`,
      );
    }
    return found;
  }
  if (candidates.length === 0) {
    throw new Error(
      `buildConversation: kind ${ctx.kind} needs a user on a ${type} station and the org has none free`,
    );
  }
  return ctx.rng.pick(candidates);
}

/** A queue the agent is a member of, with its index (for the inbound number). */
export function pickQueue(ctx: KindContext, user: SimUser): { id: string; name: string; index: number } {
  const queueId = ctx.rng.pick(user.queueIds.length > 0 ? user.queueIds : ctx.org.queues.map((q) => q.id));
  const index = Math.max(
    0,
    ctx.org.queues.findIndex((q) => q.id === queueId),
  );
  const queue = ctx.org.queues[index];
  if (queue === undefined) throw new Error('buildConversation: the org has no queues');
  return { ...queue, index };
}

/** Total conversation length: the requested one, else a realistic 1–8 minutes. */
export function totalMs(ctx: KindContext): number {
  return ctx.durationMs ?? ctx.rng.int(60, 480) * 1000;
}

/** After-call work before an agent leg is terminated. */
export function acwMs(ctx: KindContext): number {
  return ctx.rng.int(5, 30) * 1000;
}
