/**
 * What the snapshot worker does with each message, without the thread: parse and extract each frame again, merge
 * into the held snapshots, and on `reply()` say what is merged and which snapshots changed. Kept apart from
 * snapshot-worker.ts so that it is tested without a thread.
 *
 * A reply seals every item since the last one: the main thread attaches the snapshots to the delivery of the last of
 * those items, so a snapshot travels in the batch of the last frame merged into it, as in the pipeline without a
 * worker.
 */
import { parseNotificationFrame } from '../enrich/genesys-envelope.ts';
import type { TagObservation, UserContext } from '../enrich/session-tags.ts';
import { extractTagObservations } from '../enrich/session-tags-extract.ts';
import { HeldSnapshots } from './held-snapshots.ts';
import type { FromWorker, ItemOutcome, SnapshotWorkerData, ToWorker } from './snapshot-worker-protocol.ts';

export class SnapshotMergeCore {
  readonly #held: HeldSnapshots;
  readonly #contexts = new Map<string, UserContext>();
  /** One entry per item per conversation it touched, since the last reply (what HeldSnapshots.seal counts). */
  #touched: string[] = [];
  #outcomes: ItemOutcome[] = [];
  #through = -1;

  constructor(data: SnapshotWorkerData) {
    const restored = new Map(
      data.restored.map(([id, packed, userIds, lastCapturedAt]) => [
        id,
        {
          packed: Buffer.from(packed.buffer, packed.byteOffset, packed.byteLength),
          userIds,
          lastCapturedAt: lastCapturedAt ?? undefined,
        },
      ]),
    );
    this.#held = new HeldSnapshots(restored, data.now);
  }

  /** Items arrived since the last reply. */
  #unreplied = false;

  /** Handles one message; returns the answer to a query or to housekeeping, or undefined. */
  handle(m: ToWorker): FromWorker | Promise<FromWorker> | undefined {
    switch (m.t) {
      case 'contexts':
        for (const [id, c] of m.entries) {
          if (c === null) this.#contexts.delete(id);
          else this.#contexts.set(id, c);
        }
        return undefined;
      case 'frames': {
        const items = m.items;
        for (let i = 0; i < items.length; i += 3) {
          const seq = items[i] as number;
          const text = items[i + 1] as string | null;
          const receivedAt = items[i + 2] as number;
          if (text !== null) this.#frame(seq, text, receivedAt);
          this.#advance(seq);
        }
        return undefined;
      }
      case 'observations':
        this.#merge(m.seq, m.observations, m.at);
        this.#advance(m.seq);
        return undefined;
      case 'housekeep': {
        const forgotten = this.#held.forgetIdle(m.idleCutoff);
        return this.#held
          .packQuiet(() => m.packCutoff)
          .then((packed): FromWorker => ({ t: 'housekept', forgotten, packed }));
      }
      case 'activeFor':
        return { t: 'answer', id: m.id, value: this.#held.activeFor(m.userIds, m.from, m.to) };
      case 'copyOf':
        return { t: 'answer', id: m.id, value: this.#held.copyOf(m.conversationId) };
    }
  }

  /**
   * What is merged since the last reply, with the snapshots it changed (the held objects: post or copy them at once,
   * they change with the next merge); undefined when nothing is.
   */
  reply(): Extract<FromWorker, { t: 'merged' }> | undefined {
    if (!this.#unreplied) return undefined;
    const touched = this.#touched;
    const users = new Map<string, string[]>();
    for (const id of touched) if (!users.has(id)) users.set(id, [...this.#held.usersOf(id)]);
    const reply = {
      t: 'merged' as const,
      through: this.#through,
      snapshots: this.#held.seal(touched),
      outcomes: this.#outcomes,
      users: [...users],
    };
    this.#touched = [];
    this.#outcomes = [];
    this.#unreplied = false;
    return reply;
  }

  #frame(seq: number, text: string, receivedAt: number): void {
    const parsed = parseNotificationFrame(text);
    // The main thread parsed the same text and dead-lettered what does not parse.
    if (!parsed.ok) return;
    const extracted = extractTagObservations(parsed.value, {
      receivedAt,
      provenance: 'live',
      userContext: (id) => this.#contexts.get(id),
    });
    if (!extracted.ok) {
      this.#outcomes.push({ seq, eventTime: null, failure: extracted.error });
      return;
    }
    this.#merge(seq, extracted.value, receivedAt);
  }

  #merge(seq: number, observations: readonly TagObservation[], at: number): void {
    if (observations.length === 0) return;
    for (const id of this.#held.absorb(observations, at)) this.#touched.push(id);
    let latest: number | null = null;
    for (const o of observations)
      if (o.observedAt !== null && (latest === null || o.observedAt > latest)) latest = o.observedAt;
    if (latest !== null) this.#outcomes.push({ seq, eventTime: latest, failure: null });
  }

  #advance(seq: number): void {
    if (seq <= this.#through)
      throw new RangeError(`item ${seq} after ${this.#through}: items must come in order`);
    this.#through = seq;
    this.#unreplied = true;
  }
}
