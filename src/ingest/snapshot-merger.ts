/**
 * The main thread's side of the snapshot worker (snapshot-worker.ts). Items (frames, and the gap repair's
 * observations) get a sequence number as they are posted; the worker answers "merged through N" with the snapshots
 * those items changed. The pipeline queues an item's delivery only once it is merged, and attaches the snapshots to
 * the delivery of item N, so a snapshot still travels in the batch of the last frame merged into it.
 *
 * Frames are posted once per turn of the event loop (all the frames of one socket read in one message). Queries
 * (gap repair's conversations, a copy of a snapshot) answer through the same port, after the items posted before
 * them. A worker that fails or exits is reported once through `onFailure`: the pipeline ends with one clear line.
 */
import type { HeapInfo } from 'node:v8';
import { Worker } from 'node:worker_threads';
import type { SessionTagsSnapshot, TagObservation, UserContext } from '../enrich/session-tags.ts';
import type { SealedSnapshot } from './held-snapshots.ts';
import type { RestoredConversation } from './snapshot-restore.ts';
import type { RecordFraming } from '../kafka/avro-codec.ts';
import type {
  EncodedSnapshots,
  FromWorker,
  ItemOutcome,
  SnapshotWorkerData,
  ToWorker,
} from './snapshot-worker-protocol.ts';

export interface Merged {
  readonly through: number;
  /** Changed snapshots as objects (when the worker has no framing) or `encoded` (when it has). */
  readonly snapshots: readonly SealedSnapshot[];
  readonly encoded: EncodedSnapshots | null;
  readonly outcomes: readonly ItemOutcome[];
}

export interface SnapshotMergerEvents {
  merged(m: Merged): void;
  housekept(forgotten: readonly string[], packed: number): void;
  failure(e: Error): void;
}

export class SnapshotMerger {
  readonly #worker: Worker;
  readonly #events: SnapshotMergerEvents;
  /** The users each held conversation has named, mirrored from the worker's replies. */
  readonly #users = new Map<string, readonly string[]>();
  readonly #answers = new Map<number, { resolve: (value: unknown) => void; reject: (e: Error) => void }>();
  #frames: Array<number | string | null> = [];
  #nextSeq = 0;
  #mergedThrough = -1;
  #drains: Array<{ seq: number; resolve: () => void; reject: (e: Error) => void }> = [];
  #failure: Error | undefined;
  #nextQuery = 0;
  #closed = false;

  constructor(
    args: {
      restored?: ReadonlyMap<string, RestoredConversation>;
      now: number;
      /** The session-tags encoder's framing, for the worker to encode the snapshots it changes (see the protocol). */
      snapshotFraming?: RecordFraming;
    },
    events: SnapshotMergerEvents,
  ) {
    this.#events = events;
    const data: SnapshotWorkerData = {
      restored: [...(args.restored ?? [])].map(([id, r]) => [
        id,
        r.packed,
        r.userIds,
        r.lastCapturedAt ?? null,
      ]),
      now: args.now,
      snapshotFraming: args.snapshotFraming ?? null,
    };
    for (const [id, r] of args.restored ?? []) this.#users.set(id, r.userIds);
    // Beside this module: .ts when run from the sources, .js in the compiled build (dist/).
    const worker = new URL(
      `./snapshot-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`,
      import.meta.url,
    );
    this.#worker = new Worker(worker, { workerData: data });
    // Never what keeps the process alive: stop drains it, and a failed start must still exit.
    this.#worker.unref();
    this.#worker.on('message', (m: FromWorker) => this.#receive(m));
    this.#worker.on('error', (e) => this.#fail(e));
    this.#worker.on('exit', (code) => {
      if (!this.#closed) this.#fail(new Error(`the snapshot worker exited (code ${code})`));
    });
  }

  /** Conversations the worker holds, as of its last reply (the users of each are mirrored here). */
  get held(): number {
    return this.#users.size;
  }

  /** The worker's V8 heap (its own isolate); rejects once the worker has stopped. */
  heapStatistics(): Promise<HeapInfo> {
    return this.#worker.getHeapStatistics();
  }

  /** Items posted but not yet merged. */
  get unmerged(): number {
    return this.#nextSeq - 1 - this.#mergedThrough;
  }

  /**
   * Posts a frame (text null: nothing to extract, it only takes its place in the order); returns its seq. `report`:
   * the worker parses it for the caller too, and its outcome carries the frame's summary.
   */
  frame(text: string | null, receivedAt: number, report = false): number {
    const seq = this.#nextSeq++;
    if (this.#frames.length === 0) queueMicrotask(() => this.#flushFrames());
    this.#frames.push(seq, text, receivedAt, report ? 1 : 0);
    return seq;
  }

  /** Posts observations read from the API (gap repair) as one item; returns its seq. */
  observations(observations: readonly TagObservation[], at: number): number {
    this.#flushFrames();
    const seq = this.#nextSeq++;
    this.#post({ t: 'observations', seq, at, observations });
    return seq;
  }

  /** User contexts that changed (null: forgotten); they apply to the items posted after them. */
  contexts(entries: ReadonlyArray<readonly [string, UserContext | null]>): void {
    this.#flushFrames();
    this.#post({ t: 'contexts', entries });
  }

  housekeep(idleCutoff: number, packCutoff: number): void {
    this.#post({ t: 'housekeep', idleCutoff, packCutoff });
  }

  /** The users a held conversation has named (as of the last reply). */
  usersOf(conversationId: string): readonly string[] {
    return this.#users.get(conversationId) ?? [];
  }

  activeFor(userIds: readonly string[], from: number, to: number): Promise<string[]> {
    return this.#query((id) => ({ t: 'activeFor', id, userIds, from, to })) as Promise<string[]>;
  }

  copyOf(conversationId: string): Promise<SessionTagsSnapshot | undefined> {
    return this.#query((id) => ({ t: 'copyOf', id, conversationId })) as Promise<
      SessionTagsSnapshot | undefined
    >;
  }

  /**
   * Resolves once the worker has loaded and answers (the restored snapshots taken in); rejects with the reason when
   * it cannot start, so start-up fails instead of a process that runs with no worker behind it.
   */
  async ready(): Promise<void> {
    await this.activeFor([], 0, 0);
  }

  /** Resolves once every item posted so far is merged. */
  drain(): Promise<void> {
    this.#flushFrames();
    const seq = this.#nextSeq - 1;
    if (this.#failure) return Promise.reject(this.#failure);
    if (seq <= this.#mergedThrough) return Promise.resolve();
    return new Promise((resolve, reject) => this.#drains.push({ seq, resolve, reject }));
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#worker.terminate();
  }

  #flushFrames(): void {
    if (this.#frames.length === 0) return;
    const items = this.#frames;
    this.#frames = [];
    this.#post({ t: 'frames', items });
  }

  #post(m: ToWorker): void {
    if (!this.#closed) this.#worker.postMessage(m);
  }

  #query(build: (id: number) => ToWorker): Promise<unknown> {
    this.#flushFrames();
    const id = this.#nextQuery++;
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      this.#answers.set(id, { resolve, reject });
      this.#post(build(id));
    });
  }

  #receive(m: FromWorker): void {
    switch (m.t) {
      case 'merged': {
        for (const [id, users] of m.users) this.#users.set(id, users);
        this.#mergedThrough = m.through;
        this.#events.merged({
          through: m.through,
          snapshots: m.snapshots,
          encoded: m.encoded,
          outcomes: m.outcomes,
        });
        const ready = this.#drains.filter((d) => d.seq <= m.through);
        this.#drains = this.#drains.filter((d) => d.seq > m.through);
        for (const d of ready) d.resolve();
        return;
      }
      case 'housekept':
        for (const id of m.forgotten) this.#users.delete(id);
        this.#events.housekept(m.forgotten, m.packed);
        return;
      case 'answer': {
        const answer = this.#answers.get(m.id);
        this.#answers.delete(m.id);
        answer?.resolve(m.value);
        return;
      }
    }
  }

  /** Once: what waits on the worker is refused with the cause, and the pipeline is told. */
  #fail(e: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#failure = e;
    for (const a of this.#answers.values()) a.reject(e);
    this.#answers.clear();
    for (const d of this.#drains) d.reject(e);
    this.#drains = [];
    this.#events.failure(e);
  }
}
