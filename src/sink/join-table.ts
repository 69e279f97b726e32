/**
 * The sink's join table: the join state of every conversation in the partitions this instance owns, in memory,
 * backed by the compacted changelog topic `custody.sink-state.v1` (the way a Kafka Streams task keeps a state store
 * with its changelog).
 *
 * - **Restore.** When a partition is assigned, its state is read from the changelog partition of the same number
 *   (from where this instance last read it, so a partition kept across a rebalance reads only what changed), and
 *   the session-tags partition is read from the group's committed offset to its end, so exports processed next
 *   already see every tag captured before them (Kafka Streams' timestamp synchronisation, simplified: tags always
 *   precede the exports of a conversation by minutes or hours in real traffic, but not in a replay). The legal-holds
 *   partition is caught up the same way, so a recording exported after its conversation was put on hold gets the
 *   hold in its first manifest, whatever order the consumer fetches the topics in. Every merge is
 *   a join, so reading back the instance's own writes, or records the consumer will process again, changes nothing.
 * - **Durability.** Every change marks its conversation dirty; `flush(partition)` writes the dirty states to the
 *   changelog partition, and the caller flushes before it commits input offsets. What a committed offset covers is
 *   therefore always in the changelog.
 * - **Reconciled through.** Per conversation, the offset of the last session-tags and export record whose every
 *   effect (state, manifests, announcements) is done, kept in the changelog record's headers (readable without
 *   decoding the state). A record at or below it is skipped without being decoded: a restart or a backfill
 *   replays what was already reconciled at the cost of reading it. Set only after a reconcile succeeds, so a
 *   state flushed while its reconcile was still running is reconciled again on replay.
 * - **Release.** A partition no longer assigned is dropped from memory.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Admin, Kafka, KafkaMessage } from 'kafkajs';
import type { Logger } from 'pino';
import type { LegalHoldsState } from '../enrich/legal-holds.ts';
import type { SessionTagsSnapshot } from '../enrich/session-tags.ts';
import type { RecordProducer } from '../kafka/record-producer.ts';
import {
  STATE_FORMAT,
  applySessionTags,
  encodeConversationState,
  isStateFailure,
  mergeConversationState,
  parseConversationState,
} from './join-state.ts';
import type { ConversationState, KafkaPointer } from './join-state.ts';
import { readPartitions } from './partition-reader.ts';

/** The input a record came from. */
export type InputKind = 'tags' | 'exports';

/** Changelog record headers carrying the reconciled-through offsets. */
export const RECONCILED_THROUGH_HEADERS: Readonly<Record<InputKind, string>> = {
  tags: 'custody.reconciled-through.session-tags',
  exports: 'custody.reconciled-through.recording-exports',
};

type Through = { tags?: bigint; exports?: bigint };

function offsetHeader(value: unknown): bigint | undefined {
  const last = Array.isArray(value) ? value[value.length - 1] : value;
  if (last === undefined || last === null) return undefined;
  const text = String(last);
  return /^\d{1,19}$/.test(text) ? BigInt(text) : undefined;
}

/** Raises the conversation's reconciled-through offset of `kind` to `offset`; false when it was already there. */
function raiseThrough(t: PartitionTable, conversationId: string, kind: InputKind, offset: bigint): boolean {
  const through = t.through.get(conversationId) ?? {};
  const before = through[kind];
  if (before !== undefined && before >= offset) return false;
  through[kind] = offset;
  t.through.set(conversationId, through);
  return true;
}

/**
 * A conversation's state as used. Its changelog value stays in `conversations` while the state is unchanged, so
 * the decoded entry keeps no bytes of its own.
 */
type Decoded = Readonly<{ state: ConversationState }>;

/**
 * Decoded states kept per partition. A conversation is used a few times in a row (its tags, its export, the
 * reconcile's result); the compressed values stay the memory-bounded store of everything else. The bound is per
 * partition, so it grows with the partitions held. A decoded state takes about three times its JSON size (its
 * objects, and the memoised canonical text of its parts); it took ~400 KB while the memo kept unflattened texts
 * for three depths, when this bound was cut from 512 to 32 (see canonical-json.ts).
 */
export const DECODED_PER_PARTITION = 64;

type PartitionTable = {
  /**
   * Changelog values (compressed, see encodeConversationState), validated when a conversation is used; `undefined`
   * while the current state is only in `decoded` (encoded when it leaves it, or when flushed).
   */
  conversations: Map<string, Buffer | undefined>;
  /** Recently used states, least recently used first. */
  decoded: Map<string, Decoded>;
  /** Reconciled-through offsets by conversation. */
  through: Map<string, Through>;
  dirty: Set<string>;
  /** Next changelog offset to read on the next catch-up. */
  changelogFrom: string | undefined;
  /** The restore or catch-up in progress (or done); undefined: one is needed before the partition is used. */
  restored: Promise<void> | undefined;
  /** Set once the first restore finished: from then on memory holds the partition's whole state. */
  complete: boolean;
};

/** A change to a partition this instance does not (or no longer) hold: writing it would publish a partial state. */
export class PartitionNotHeldError extends Error {
  constructor(partition: number) {
    super(`join state of partition ${partition} is not held by this instance`);
    this.name = 'PartitionNotHeldError';
  }
}

export type JoinTableOptions = Readonly<{
  changelogTopic: string;
  sessionTagsTopic: string;
  /** Caught up like the tags at restore (absent: no holds input). */
  legalHoldsTopic?: string;
  /** The sink's consumer group (whose committed session-tags offsets bound the tags read at restore). */
  groupId: string;
  instance: string;
  /** Decoded states kept per partition (default {@link DECODED_PER_PARTITION}; 0 decodes on every use). */
  decodedPerPartition?: number;
  /** false: changes stay in memory, never written to the changelog (see SinkOptions.writeChangelog). */
  writeChangelog?: boolean;
  /** Where the tags read of a partition starts when the group has no committed offset (default: its start). */
  tagsStartAt?: (partition: number) => string | undefined;
  /**
   * Where the tags read of a partition starts whatever the group committed. A backfill that does not write the
   * changelog keeps no state across its runs: a resumed run re-reads every tag of its replay, or a conversation
   * whose tags were committed before an interruption would be reconciled without them.
   */
  tagsFrom?: (partition: number) => string | undefined;
}>;

export type JoinTableDeps = Readonly<{
  kafka: Kafka;
  admin: Admin;
  producer: RecordProducer;
  log: Logger;
  /** Decodes a session-tags record into a snapshot, or undefined when the sink would dead-letter it. */
  decodeTags: (message: KafkaMessage) => Promise<SessionTagsSnapshot | undefined>;
  /** Decodes a legal-hold record into its conversation's holds, or undefined when the sink would dead-letter it. */
  decodeHold?: (
    partition: number,
    message: KafkaMessage,
  ) => Promise<Readonly<{ conversationId: string; holds: LegalHoldsState }> | undefined>;
  /** Session-tags record headers → the pointer the state records for it. */
  pointerOf: (topic: string, partition: number, message: KafkaMessage) => KafkaPointer;
  signal?: AbortSignal;
}>;

export type RestoreStats = Readonly<{
  partition: number;
  changelogRecords: number;
  tagsRecords: number;
  holdsRecords: number;
  conversations: number;
  ms: number;
}>;

export class JoinTable {
  readonly #deps: JoinTableDeps;
  readonly #options: JoinTableOptions;
  readonly #partitions = new Map<number, PartitionTable>();
  /** Restores of all partitions run one after the other (each reads whole partitions; no point in overlapping). */
  #queue: Promise<unknown> = Promise.resolve();
  readonly restores: RestoreStats[] = [];

  constructor(deps: JoinTableDeps, options: JoinTableOptions) {
    this.#deps = deps;
    this.#options = options;
  }

  #table(partition: number): PartitionTable {
    let t = this.#partitions.get(partition);
    if (t === undefined) {
      t = {
        conversations: new Map(),
        decoded: new Map(),
        through: new Map(),
        dirty: new Set(),
        changelogFrom: undefined,
        restored: undefined,
        complete: false,
      };
      this.#partitions.set(partition, t);
    }
    return t;
  }

  /** The group's assignment changed: drop what is no longer ours, and catch up what is (before it is used). */
  assigned(partitions: readonly number[]): void {
    const keep = new Set(partitions);
    for (const p of [...this.#partitions.keys()]) if (!keep.has(p)) this.#partitions.delete(p);
    for (const p of partitions) this.#table(p).restored = undefined;
    const first = partitions[0];
    if (first !== undefined) void this.ready(first).catch(() => undefined);
  }

  /** Resolves once the partition's state is restored; starts the restore when needed. */
  ready(partition: number): Promise<void> {
    const t = this.#table(partition);
    if (t.restored !== undefined) return t.restored;
    // Every partition that needs it is restored in the same read.
    const due = [...this.#partitions].filter(([, x]) => x.restored === undefined);
    const run = this.#queue.then(() => this.#restore(due.map(([p]) => p)));
    for (const [, x] of due) x.restored = run;
    this.#queue = run.catch(() => undefined);
    // A failed restore is tried again by the next caller.
    run.catch(() => {
      for (const [, x] of due) if (x.restored === run) x.restored = undefined;
    });
    return run;
  }

  /** Whether the partition is assigned here and restored (changes to it may be made and flushed). */
  holds(partition: number): boolean {
    return this.#partitions.get(partition)?.complete === true;
  }

  /** The conversation's state; a stored value that does not validate is reported and treated as absent. */
  get(partition: number, conversationId: string): ConversationState | undefined {
    return this.#entry(partition, conversationId)?.state;
  }

  #entry(partition: number, conversationId: string): Decoded | undefined {
    const t = this.#partitions.get(partition);
    if (t === undefined) return undefined;
    const hot = t.decoded.get(conversationId);
    if (hot !== undefined) {
      t.decoded.delete(conversationId); // most recently used last
      t.decoded.set(conversationId, hot);
      return hot;
    }
    const value = t.conversations.get(conversationId);
    if (value === undefined) return undefined;
    const entry = this.#decode(partition, conversationId, value);
    if (entry !== undefined) this.#keep(t, conversationId, entry);
    return entry;
  }

  /** Keeps a decoded state; the least recently used beyond the bound leaves memory's decoded set, encoded. */
  #keep(t: PartitionTable, conversationId: string, entry: Decoded): void {
    t.decoded.delete(conversationId);
    t.decoded.set(conversationId, entry);
    for (const id of t.decoded.keys()) {
      if (t.decoded.size <= (this.#options.decodedPerPartition ?? DECODED_PER_PARTITION)) break;
      this.#stored(t, id);
      t.decoded.delete(id);
    }
  }

  /** The conversation's changelog value, encoding its state first when it is held only decoded. */
  #stored(t: PartitionTable, id: string): Buffer | undefined {
    const value = t.conversations.get(id);
    if (value !== undefined) return value;
    const pending = t.decoded.get(id);
    if (pending === undefined) return undefined;
    const fresh = encodeConversationState(pending.state);
    t.conversations.set(id, fresh);
    return fresh;
  }

  /** Makes `next` the conversation's state when it differs from `before` (to be encoded when written). */
  #replace(
    t: PartitionTable,
    id: string,
    before: ConversationState | undefined,
    next: ConversationState,
  ): boolean {
    if (before !== undefined && isDeepStrictEqual(before, next)) return false;
    t.conversations.set(id, undefined);
    this.#keep(t, id, { state: next });
    return true;
  }

  /** Encodes every state held only decoded, and forgets the decoded ones (before a restore reads values). */
  #settle(t: PartitionTable): void {
    for (const id of t.decoded.keys()) this.#stored(t, id);
    t.decoded.clear();
  }

  #decode(partition: number, key: string, value: Buffer): Decoded | undefined {
    const state = parseConversationState(key, value);
    if (!isStateFailure(state)) return { state };
    // Only the sink writes this topic; a record it cannot read is reported, never trusted. Without it the next
    // manifest finds the current version through its conditional write and continues the chain.
    this.corrupt++;
    this.#deps.log.error(
      { partition, conversationId: key, detail: state.detail },
      'sink state record unreadable',
    );
    return undefined;
  }

  /** Stored state values that did not validate. */
  corrupt = 0;

  /** Merges `change` into the conversation's state; marks it dirty when that changed it. */
  merge(partition: number, change: ConversationState): ConversationState {
    const t = this.#partitions.get(partition);
    if (t?.complete !== true) throw new PartitionNotHeldError(partition);
    const before = this.#entry(partition, change.conversationId);
    const next = mergeConversationState(before?.state, change);
    // A merge keeps the parts it did not change (same objects), so comparing is cheap where canonicalising the
    // whole state was not; equal data is equal canonical bytes. Encoded once, when flushed (or evicted).
    if (this.#replace(t, change.conversationId, before?.state, next)) t.dirty.add(change.conversationId);
    return next;
  }

  /** The offset through which the conversation's records of `kind` are reconciled (undefined: none known). */
  reconciledThrough(partition: number, conversationId: string, kind: InputKind): bigint | undefined {
    return this.#partitions.get(partition)?.through.get(conversationId)?.[kind];
  }

  /** Records that every effect of the conversation's `kind` records up to `offset` is done. */
  markReconciled(partition: number, conversationId: string, kind: InputKind, offset: bigint): void {
    const t = this.#partitions.get(partition);
    if (t?.complete !== true) throw new PartitionNotHeldError(partition);
    if (!raiseThrough(t, conversationId, kind, offset)) return;
    // Written with the state (a record whose value is unchanged when only the offsets moved), so a restart or a
    // backfill skips even duplicates.
    if (t.conversations.has(conversationId)) t.dirty.add(conversationId);
  }

  #headersOf(t: PartitionTable, id: string): Record<string, string> | undefined {
    const through = t.through.get(id);
    if (through === undefined) return undefined;
    const headers: Record<string, string> = {};
    for (const kind of ['tags', 'exports'] as const) {
      const offset = through[kind];
      if (offset !== undefined) headers[RECONCILED_THROUGH_HEADERS[kind]] = offset.toString();
    }
    return headers;
  }

  /**
   * Writes the partition's dirty states to the changelog; resolves once Kafka acknowledged them. The states are
   * taken as they are at the call, then `before` runs (the sink flushes its announcements there), then they are
   * sent: a state that says a manifest was announced got that mark after the announcement was queued, so `before`
   * has it acknowledged before the changelog says so, even when another batch of the partition (the other input
   * topic, or conversations still in flight) changes states meanwhile. Those changes stay dirty for the next flush.
   */
  async flush(partition: number, before?: () => Promise<void>): Promise<void> {
    const t = this.#partitions.get(partition);
    const ids = t === undefined ? [] : [...t.dirty];
    t?.dirty.clear();
    const records =
      t === undefined || this.#options.writeChangelog === false
        ? []
        : ids.flatMap((id) => {
            const value = this.#stored(t, id);
            return value === undefined
              ? []
              : [
                  {
                    topic: this.#options.changelogTopic,
                    key: id,
                    value,
                    partition,
                    headers: this.#headersOf(t, id),
                  },
                ];
          });
    try {
      await before?.();
      if (records.length > 0) await this.#deps.producer.send(records);
    } catch (e) {
      if (t !== undefined) for (const id of ids) t.dirty.add(id);
      throw e;
    }
  }

  /** Conversations held in memory (all owned partitions). */
  size(): number {
    let n = 0;
    for (const t of this.#partitions.values()) n += t.conversations.size;
    return n;
  }

  /**
   * Restores (or catches up) several partitions with one read: a reader joins a group of its own, which on a
   * production broker costs `group.initial.rebalance.delay.ms` (3 s by default) per read, so partitions assigned
   * together are read together.
   */
  async #restore(partitions: readonly number[]): Promise<void> {
    const started = Date.now();
    const { admin, kafka, log } = this.#deps;
    const { changelogTopic, sessionTagsTopic, legalHoldsTopic, groupId } = this.#options;
    const tables = new Map(
      partitions.flatMap((p) => {
        const t = this.#partitions.get(p);
        return t === undefined ? [] : [[p, t] as const];
      }),
    );
    if (tables.size === 0) return;
    // The restore reads and merges stored values: every state is one first.
    for (const t of tables.values()) this.#settle(t);
    const [changelogOffsets, tagsOffsets, holdsOffsets, committed] = await Promise.all([
      admin.fetchTopicOffsets(changelogTopic),
      admin.fetchTopicOffsets(sessionTagsTopic),
      legalHoldsTopic === undefined ? Promise.resolve([]) : admin.fetchTopicOffsets(legalHoldsTopic),
      admin.fetchOffsets({
        groupId,
        topics: legalHoldsTopic === undefined ? [sessionTagsTopic] : [sessionTagsTopic, legalHoldsTopic],
      }),
    ]);
    const committedTags = committed.find((c) => c.topic === sessionTagsTopic)?.partitions ?? [];
    const committedHolds = committed.find((c) => c.topic === legalHoldsTopic)?.partitions ?? [];
    const ranges = [];
    const changelogEnds = new Map<number, string>();
    for (const [p, t] of tables) {
      const changelogEnd = changelogOffsets.find((o) => o.partition === p);
      const tagsEnd = tagsOffsets.find((o) => o.partition === p);
      if (changelogEnd === undefined || tagsEnd === undefined) {
        throw new Error(`partition ${p} is missing from ${changelogTopic} or ${sessionTagsTopic}`);
      }
      const done = committedTags.find((c) => c.partition === p)?.offset;
      const tagsFrom =
        this.#options.tagsFrom?.(p) ??
        (done !== undefined && done !== '-1' ? done : (this.#options.tagsStartAt?.(p) ?? tagsEnd.low));
      ranges.push(
        {
          topic: changelogTopic,
          partition: p,
          from: t.changelogFrom ?? changelogEnd.low,
          to: changelogEnd.high,
        },
        { topic: sessionTagsTopic, partition: p, from: tagsFrom, to: tagsEnd.high },
      );
      if (legalHoldsTopic !== undefined) {
        const holdsEnd = holdsOffsets.find((o) => o.partition === p);
        if (holdsEnd === undefined) throw new Error(`partition ${p} is missing from ${legalHoldsTopic}`);
        const held = committedHolds.find((c) => c.partition === p)?.offset;
        const holdsFrom = held !== undefined && held !== '-1' ? held : holdsEnd.low;
        ranges.push({ topic: legalHoldsTopic, partition: p, from: holdsFrom, to: holdsEnd.high });
      }
      changelogEnds.set(p, changelogEnd.high);
    }

    const changelogRecords = new Map<number, number>();
    const tagMessages = new Map<number, KafkaMessage[]>();
    const holdMessages = new Map<number, KafkaMessage[]>();
    await readPartitions(
      kafka,
      ranges,
      (topic, partition, message) => {
        const t = tables.get(partition);
        if (t === undefined) return;
        if (topic === sessionTagsTopic || topic === legalHoldsTopic) {
          const byPartition = topic === sessionTagsTopic ? tagMessages : holdMessages;
          const list = byPartition.get(partition);
          if (list === undefined) byPartition.set(partition, [message]);
          else list.push(message);
          return;
        }
        changelogRecords.set(partition, (changelogRecords.get(partition) ?? 0) + 1);
        const key = message.key?.toString('utf8');
        if (message.value === null || key === undefined) return;
        // Offsets only grow, and two instances' records of one conversation each say how far they got.
        for (const kind of ['tags', 'exports'] as const) {
          const offset = offsetHeader(message.headers?.[RECONCILED_THROUGH_HEADERS[kind]]);
          if (offset !== undefined) raiseThrough(t, key, kind, offset);
        }
        // Stored as read (validated when used); a conversation already held is merged, since records of
        // two instances that held the partition one after the other may each know something the other does not.
        const hot = t.decoded.get(key);
        if (hot !== undefined) {
          // Changed by a batch still finishing while this catch-up reads (settled before the read began).
          const read = this.#decode(partition, key, message.value)?.state;
          if (read !== undefined) this.#replace(t, key, hot.state, mergeConversationState(hot.state, read));
          return;
        }
        const held = t.conversations.get(key);
        if (held === undefined) {
          // A copy: kafkajs hands out slices of its fetch response, and one kept slice would keep all of it.
          t.conversations.set(key, Buffer.from(message.value));
          return;
        }
        if (held.equals(message.value)) return; // e.g. this instance's own last write, read back
        const a = this.#decode(partition, key, held)?.state;
        const b = this.#decode(partition, key, message.value)?.state;
        const merged = a === undefined ? b : b === undefined ? a : mergeConversationState(a, b);
        if (merged !== undefined) t.conversations.set(key, encodeConversationState(merged));
      },
      {
        groupPrefix: `${groupId}.restore.${this.#options.instance}`,
        partitionCounts: new Map([
          [changelogTopic, changelogOffsets.length],
          [sessionTagsTopic, tagsOffsets.length],
          ...(legalHoldsTopic === undefined ? [] : [[legalHoldsTopic, holdsOffsets.length] as const]),
        ]),
        signal: this.#deps.signal,
      },
    );
    for (const [partition, t] of tables) {
      if (this.#partitions.get(partition) !== t) continue; // revoked meanwhile
      // Tags the consumer has not committed yet: fold them in now (they are dirty until flushed, so a commit
      // that covers them always finds them in the changelog).
      t.complete = true;
      const messages = tagMessages.get(partition) ?? [];
      for (const message of messages) {
        const key = message.key?.toString('utf8');
        const through = key === undefined ? undefined : t.through.get(key)?.tags;
        if (through !== undefined && BigInt(message.offset) <= through) continue; // folded and reconciled already
        const snapshot = await this.#deps.decodeTags(message);
        if (snapshot === undefined) continue; // the consumer dead-letters it when it gets there
        const pointer = this.#deps.pointerOf(sessionTagsTopic, partition, message);
        const before = this.get(partition, snapshot.conversationId);
        const tags = applySessionTags(before?.tags ?? undefined, snapshot, pointer);
        this.merge(partition, {
          format: STATE_FORMAT,
          conversationId: snapshot.conversationId,
          tags,
          exports: null,
        });
      }
      const holds = holdMessages.get(partition) ?? [];
      for (const message of holds) {
        const decoded = await this.#deps.decodeHold?.(partition, message);
        if (decoded === undefined) continue; // the consumer dead-letters it when it gets there
        this.merge(partition, {
          format: STATE_FORMAT,
          conversationId: decoded.conversationId,
          tags: null,
          exports: null,
          holds: decoded.holds,
        });
      }
      t.changelogFrom = changelogEnds.get(partition);
      await this.flush(partition);
      const stats: RestoreStats = {
        partition,
        changelogRecords: changelogRecords.get(partition) ?? 0,
        tagsRecords: messages.length,
        holdsRecords: holds.length,
        conversations: t.conversations.size,
        ms: Date.now() - started,
      };
      this.restores.push(stats);
      log.info({ ...stats, corrupt: this.corrupt }, 'sink state restored');
    }
  }
}
