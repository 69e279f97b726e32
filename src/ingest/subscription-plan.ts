/**
 * Which notification topics ingest subscribes to, and how they are spread over channels. Pure.
 *
 * Per user, one combined topic `v2.users.{id}?conversations&conversations.calls&station&persistentconnection`
 * (counts as one of the 1,000 topics a channel may hold; Genesys expands it into separate notifications).
 * Whether dotted suffixes such as `conversations.calls` may be combined is UNCONFIRMED (genesys.md §2.3),
 * so `combine: false` subscribes to the four topics separately (four topics per user).
 *
 * Limits (genesys.md §2.6): 1,000 topics per channel, 20 channels per OAuth client, where creating a 21st
 * evicts the oldest channel. Ingest keeps `spareChannels` free so that a replacement channel can be opened
 * before an old one is closed (socket_closing, expiry) without evicting a live one.
 */
import type { Result } from '../enrich/result.ts';

export const USER_TOPIC_SUFFIXES = [
  'conversations',
  'conversations.calls',
  'station',
  'persistentconnection',
] as const;

export interface PlanLimits {
  readonly maxTopicsPerChannel: number;
  readonly maxChannels: number;
  readonly spareChannels: number;
  readonly combine: boolean;
  readonly combinedTopicMaxChars: number;
}

export const GENESYS_LIMITS: PlanLimits = {
  maxTopicsPerChannel: 1000,
  maxChannels: 20,
  spareChannels: 1,
  combine: true,
  combinedTopicMaxChars: 200,
};

export function userTopics(userId: string, combine: boolean): string[] {
  if (combine) return [`v2.users.${userId}?${USER_TOPIC_SUFFIXES.join('&')}`];
  return USER_TOPIC_SUFFIXES.map((s) => `v2.users.${userId}.${s}`);
}

export interface ChannelPlan {
  /** Users per channel shard; shard i keeps its users across re-plans where it can. */
  readonly shards: ReadonlyArray<readonly string[]>;
  readonly topicsPerShard: ReadonlyArray<readonly string[]>;
}

export interface PlanFailure {
  readonly code: 'too-many-users';
  readonly message: string;
}

/**
 * Assigns users to channel shards. Users already assigned in `previous` stay in their shard (moving a user
 * between channels would open a window in which neither channel is subscribed); new users fill the
 * least-loaded shard with room; departed users are dropped.
 */
export function planChannels(
  userIds: readonly string[],
  limits: PlanLimits,
  previous?: ChannelPlan,
): Result<ChannelPlan, PlanFailure> {
  const topicsPerUser = userTopics('00000000-0000-0000-0000-000000000000', limits.combine).length;
  const usersPerShard = Math.floor(limits.maxTopicsPerChannel / topicsPerUser);
  const maxShards = limits.maxChannels - limits.spareChannels;
  const unique = [...new Set(userIds)].sort();
  if (unique.length > usersPerShard * maxShards) {
    return {
      ok: false,
      error: {
        code: 'too-many-users',
        message:
          `${unique.length} users need ${Math.ceil(unique.length / usersPerShard)} notification channels, but one OAuth client ` +
          `may hold ${limits.maxChannels} (${maxShards} usable, ${limits.spareChannels} kept for rotation) of ` +
          `${limits.maxTopicsPerChannel} topics each; split the users across several ingest deployments with their own OAuth clients`,
      },
    };
  }
  const wanted = new Set(unique);
  const shards: string[][] = (previous?.shards ?? []).map((s) => s.filter((u) => wanted.has(u)));
  const placed = new Set(shards.flat());
  for (const user of unique) {
    if (placed.has(user)) continue;
    let target = shards.filter((s) => s.length < usersPerShard).sort((a, b) => a.length - b.length)[0];
    if (!target) {
      target = [];
      shards.push(target);
    }
    target.push(user);
    placed.add(user);
  }
  // Shard i stays shard i (its channel keeps its identity); only trailing empty shards are dropped.
  while (shards.length > 0 && shards[shards.length - 1]?.length === 0) shards.pop();
  const sorted = shards.map((s) => [...s].sort());
  return {
    ok: true,
    value: {
      shards: sorted,
      topicsPerShard: sorted.map((s) => s.flatMap((u) => userTopics(u, limits.combine))),
    },
  };
}
