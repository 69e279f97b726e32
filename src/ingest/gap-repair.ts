/**
 * Repairs the gaps a notification channel recorded. For the users of the gap's shard, the conversations
 * that were active during the gap are fetched from the Platform API — analytics conversation details for
 * the interval, and the REST call view of conversations custody already knew to be in progress — and
 * handed to `reconcile`, which merges what they say into the session-tag snapshots with provenance
 * `reconciled` (never `live`).
 *
 * Analytics lags behind the call (and may not list a conversation until it ends), so each gap is queried
 * again after each of `retryDelaysMs`; reconciling is idempotent, so repeated answers change nothing.
 */
import type { Models } from 'purecloud-platform-client-v2';
import type { GenesysApi } from './genesys-api.ts';
import type { Gap } from './notification-channel.ts';

export interface GapRepairDeps {
  readonly api: GenesysApi;
  /** Conversations custody saw live that may have changed during [from, to] for these users. */
  readonly knownActive: (
    userIds: readonly string[],
    from: number,
    to: number,
  ) => readonly string[] | Promise<readonly string[]>;
  readonly reconcileAnalytics: (c: Models.AnalyticsConversationWithoutAttributes, gap: Gap) => Promise<void>;
  readonly reconcileCall: (c: Models.CallConversation, gap: Gap) => Promise<void>;
  readonly repaired: (gap: Gap, conversations: number, final: boolean) => void;
  readonly failed: (gap: Gap, err: unknown) => void;
}

export interface GapRepairOptions {
  /** Widen the queried interval on both sides: clocks differ and events are stamped before they are sent. */
  readonly marginMs: number;
  /** Query again after each delay (from the gap's end). */
  readonly retryDelaysMs: readonly number[];
}

export const DEFAULT_GAP_REPAIR_OPTIONS: GapRepairOptions = {
  marginMs: 60_000,
  retryDelaysMs: [0, 2 * 60_000, 10 * 60_000, 60 * 60_000],
};

export class GapRepair {
  readonly #deps: GapRepairDeps;
  readonly #opts: GapRepairOptions;
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #inFlight = new Set<Promise<void>>();
  #pending = 0;
  #stopped = false;

  constructor(deps: GapRepairDeps, opts: Partial<GapRepairOptions> = {}) {
    this.#deps = deps;
    this.#opts = { ...DEFAULT_GAP_REPAIR_OPTIONS, ...opts };
  }

  /** Gaps waiting for at least one more repair attempt. */
  get pending(): number {
    return this.#pending;
  }

  /** Schedules the repair attempts of a closed gap. */
  schedule(gap: Gap): void {
    if (gap.to === undefined) throw new Error('only closed gaps can be repaired');
    this.#pending++;
    const delays = this.#opts.retryDelaysMs;
    delays.forEach((delay, i) => {
      const final = i === delays.length - 1;
      const t = setTimeout(() => {
        this.#timers.delete(t);
        const run = this.#attempt(gap, final).finally(() => {
          this.#inFlight.delete(run);
          if (final) this.#pending--;
        });
        this.#inFlight.add(run);
      }, delay);
      t.unref?.();
      this.#timers.add(t);
    });
  }

  /** Runs one repair attempt now (also used by tests and at shutdown). */
  async #attempt(gap: Gap, final: boolean): Promise<void> {
    const from = gap.from - this.#opts.marginMs;
    const to = (gap.to ?? gap.from) + this.#opts.marginMs;
    try {
      let count = 0;
      if (gap.userIds.length > 0) {
        const interval = `${new Date(from).toISOString()}/${new Date(to).toISOString()}`;
        const conversations = await this.#deps.api.queryConversationDetails(interval, gap.userIds);
        for (const c of conversations) {
          if (this.#stopped) return;
          await this.#deps.reconcileAnalytics(c, gap);
          count++;
        }
      }
      const ids = new Set([
        ...(gap.conversationIds ?? []),
        ...(await this.#deps.knownActive(gap.userIds, from, to)),
      ]);
      for (const id of ids) {
        if (this.#stopped) return;
        const call = await this.#deps.api.getCallConversation(id);
        if (call) {
          await this.#deps.reconcileCall(call, gap);
          count++;
        }
      }
      this.#deps.repaired(gap, count, final);
    } catch (e) {
      if (!this.#stopped) this.#deps.failed(gap, e);
    }
  }

  /**
   * Waits for running attempts, which end at their next step; cancels the ones not started (ingest is stopping).
   * The caller bounds the wait: a Genesys call in flight may take its own retries.
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    await Promise.all(this.#inFlight);
  }
}
