/**
 * The session-tags snapshots ingest holds, one per conversation heard from in the last `snapshotIdleMs`: merged
 * into as frames arrive, sealed with each reply of the snapshot worker that holds them (snapshot-merge-core.ts),
 * packed while their conversation is quiet, forgotten when it has been idle for long. No I/O: the main thread encodes
 * and sends what `seal` returns.
 *
 * One owner, so that the held state could move as a whole off the thread that reads the sockets (bench/README.md,
 * "What the tail is made of": the held snapshots were the live heap whose major GCs made ingest's tail).
 */
import type { SessionTagsSnapshot, TagObservation } from '../enrich/session-tags.ts';
import {
  absorbOrStart,
  changedMaterially,
  forEachConversationRun,
  newSnapshotChanges,
  ownSnapshot,
} from '../enrich/session-tags-merge.ts';
import type { OwnedSnapshot, SnapshotChanges } from '../enrich/session-tags-merge.ts';
import { packSnapshot, unpackSnapshot } from './packed-snapshots.ts';
import type { RestoredConversation } from './snapshot-restore.ts';

interface ConversationState {
  /**
   * The snapshot with every observation received merged in (or as restored); undefined before the first, and while
   * it is packed. Read it through {@link snapshotOf}. Ingest's own: merged into in place (absorbInto), so nothing
   * else may keep it or its tags.
   */
  snapshot: OwnedSnapshot | undefined;
  /** The snapshot, packed while the conversation is quiet. */
  packed?: Buffer;
  /** What the merges since the snapshot was last written changed; undefined when nothing was merged since. */
  changes: SnapshotChanges | undefined;
  /**
   * Frames merged into the snapshot whose batch is not formed yet. The snapshot is written with the batch that
   * takes the last of them (see {@link HeldSnapshots.seal}), so it never reaches Kafka before a frame it holds.
   */
  unsealedFrames: number;
  lastEventAt: number;
  userIds: Set<string>;
}

/** The written snapshot, unpacked first when the conversation had gone quiet. */
function snapshotOf(state: ConversationState): OwnedSnapshot | undefined {
  if (state.packed !== undefined) {
    state.snapshot = ownSnapshot(unpackSnapshot(state.packed));
    delete state.packed;
  }
  return state.snapshot;
}

/** Packs the snapshot of a quiet conversation (one with nothing waiting to be written); false if none to pack. */
function packIfQuiet(state: ConversationState): boolean {
  if (state.snapshot === undefined || state.unsealedFrames > 0) return false;
  state.packed = packSnapshot(state.snapshot);
  state.snapshot = undefined;
  return true;
}

/** A conversation's snapshot as `seal` hands it out: the held object, which the next merge changes. */
export interface SealedSnapshot {
  readonly conversationId: string;
  readonly snapshot: SessionTagsSnapshot;
}

export class HeldSnapshots {
  readonly #conversations = new Map<string, ConversationState>();

  /** Starts from the conversations restored from custody.session-tags.v1, packed; `now` dates those never captured. */
  constructor(restored: ReadonlyMap<string, RestoredConversation> | undefined, now: number) {
    for (const [id, r] of restored ?? []) {
      this.#conversations.set(id, {
        snapshot: undefined,
        packed: r.packed,
        changes: undefined,
        unsealedFrames: 0,
        lastEventAt: r.lastCapturedAt ?? now,
        userIds: new Set(r.userIds),
      });
    }
  }

  get size(): number {
    return this.#conversations.size;
  }

  /**
   * Merges one frame's observations into their conversations' snapshots as it is received, and returns those
   * conversations (the frame's items for {@link seal}). Merged at once, the observations die young: held until their
   * batch formed, they outlived V8's young-generation GCs whenever a stall held the queue, and every one reached the
   * old generation (bench/README.md, "Full runs, and where ingest's allocations go").
   */
  absorb(observations: readonly TagObservation[], at: number): string[] {
    const touched: string[] = [];
    forEachConversationRun(observations, (id, run) => {
      const state = this.#stateOf(id, at);
      state.lastEventAt = at;
      state.snapshot = absorbOrStart(snapshotOf(state), run, (state.changes ??= newSnapshotChanges()));
      // Every user a leg names comes from a merged observation (or the restore), so noting them here is all it takes.
      for (const o of run) if (o.fields.userId) state.userIds.add(o.fields.userId);
      if (!touched.includes(id)) {
        touched.push(id);
        state.unsealedFrames++;
      }
    });
    return touched;
  }

  /**
   * For the conversations the items of one reply touched (one entry per item, as {@link absorb} returned them), the
   * snapshots that changed, to be sent after those items: each conversation whose last merged item is among them,
   * once.
   */
  seal(conversationIds: readonly string[]): SealedSnapshot[] {
    const sealed: SealedSnapshot[] = [];
    for (const id of conversationIds) {
      const state = this.#conversations.get(id);
      // forgetIdle keeps a conversation while it has frames in the queue.
      if (state === undefined || --state.unsealedFrames > 0) continue;
      const changes = state.changes;
      state.changes = undefined;
      const snapshot = state.snapshot;
      if (changes === undefined || snapshot === undefined || !changedMaterially(changes)) continue;
      sealed.push({ conversationId: id, snapshot });
    }
    return sealed;
  }

  /** The users a conversation's legs have named so far (empty when it is not held). */
  usersOf(conversationId: string): ReadonlySet<string> {
    return this.#conversations.get(conversationId)?.userIds ?? new Set();
  }

  /**
   * The conversations of any of `userIds` that were active at some time in [from, to]: heard from since `from`, and
   * either last heard from by `to` or still with a leg not disconnected (gap repair's known conversations).
   */
  activeFor(userIds: readonly string[], from: number, to: number): string[] {
    const wanted = new Set(userIds);
    const ids: string[] = [];
    for (const [id, s] of this.#conversations) {
      if (s.lastEventAt < from || ![...s.userIds].some((u) => wanted.has(u))) continue;
      if (s.lastEventAt <= to || (snapshotOf(s)?.legs ?? []).some((l) => !l.disconnectedTime)) ids.push(id);
    }
    return ids;
  }

  /** Forgets the conversations idle since before `cutoff`, but not one with frames in the queue; returns them. */
  forgetIdle(cutoff: number): string[] {
    const forgotten: string[] = [];
    for (const [id, s] of this.#conversations)
      if (s.lastEventAt < cutoff && s.unsealedFrames === 0) {
        this.#conversations.delete(id);
        forgotten.push(id);
      }
    return forgotten;
  }

  /**
   * Packs the snapshots of the conversations quiet since before `cutoff()`, a slice at a time with the event loop
   * free in between; returns how many it packed.
   */
  async packQuiet(cutoff: () => number): Promise<number> {
    let packed = 0;
    let inSlice = 0;
    // A Map's iterator stays valid while housekeeping or new frames change the map between slices.
    for (const state of this.#conversations.values()) {
      if (state.lastEventAt < cutoff() && packIfQuiet(state)) packed++;
      if (++inSlice === 100) {
        inSlice = 0;
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    return packed;
  }

  /** A copy of a conversation's snapshot: the one held changes in place with the next batch. */
  copyOf(conversationId: string): SessionTagsSnapshot | undefined {
    const state = this.#conversations.get(conversationId);
    return state ? structuredClone(snapshotOf(state)) : undefined;
  }

  #stateOf(conversationId: string, at: number): ConversationState {
    let state = this.#conversations.get(conversationId);
    if (state === undefined) {
      state = {
        snapshot: undefined,
        changes: undefined,
        unsealedFrames: 0,
        lastEventAt: at,
        userIds: new Set(),
      };
      this.#conversations.set(conversationId, state);
    }
    return state;
  }
}
