/**
 * What the snapshot worker does with each message, without the thread: parse each frame (summarising it for the
 * main thread when asked: most frames are parsed only here), extract and merge its tags into the held snapshots, and
 * on `reply()` say what is merged and which snapshots changed. Kept apart from snapshot-worker.ts so that it is
 * tested without a thread.
 *
 * A reply seals every item since the last one: the main thread attaches the snapshots to the delivery of the last of
 * those items, so a snapshot travels in the batch of the last frame merged into it, as in the pipeline without a
 * worker.
 */
import { summarizeFrame } from '../enrich/frame-summary.ts';
import { parseNotificationFrame } from '../enrich/genesys-envelope.ts';
import type { TagObservation, UserContext } from '../enrich/session-tags.ts';
import { extractTagObservations } from '../enrich/session-tags-extract.ts';
import { HeldSnapshots } from './held-snapshots.ts';
import { encodeFramedBatch, loadCustodySchema, schemaFingerprint } from '../kafka/avro-codec.ts';
import type { Type as AvroType } from 'avsc';
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
    const framing = data.snapshotFraming;
    if (framing) {
      const type = loadCustodySchema('session-tags.v1');
      // The main thread offers framing only under this schema; a worker of another build must not write its bytes.
      if (schemaFingerprint(type) !== framing.fingerprint)
        throw new Error('the session-tags framing offered to the snapshot worker is not for its schema');
      this.#encoding = { type, header: framing.header };
    }
  }

  /** Set when the replies carry the changed snapshots encoded. */
  readonly #encoding: { type: AvroType; header: Uint8Array } | undefined;

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
        for (let i = 0; i < items.length; i += 4) {
          const seq = items[i] as number;
          const text = items[i + 1] as string | null;
          const receivedAt = items[i + 2] as number;
          if (text !== null) this.#frame(seq, text, receivedAt, items[i + 3] === 1);
          this.#advance(seq);
        }
        return undefined;
      }
      case 'observations': {
        const eventTime = this.#merge(m.observations, m.at);
        if (eventTime !== null) this.#outcomes.push({ seq: m.seq, eventTime, failure: null, summary: null });
        this.#advance(m.seq);
        return undefined;
      }
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
   * What is merged since the last reply, with the snapshots it changed: encoded when the worker was given framing,
   * else the held objects (post or copy them at once, they change with the next merge); undefined when nothing is.
   */
  reply(): Extract<FromWorker, { t: 'merged' }> | undefined {
    if (!this.#unreplied) return undefined;
    const touched = this.#touched;
    const users = new Map<string, string[]>();
    for (const id of touched) if (!users.has(id)) users.set(id, [...this.#held.usersOf(id)]);
    const sealed = this.#held.seal(touched);
    const enc = this.#encoding;
    const reply = {
      t: 'merged' as const,
      through: this.#through,
      snapshots: enc ? [] : sealed,
      encoded:
        enc && sealed.length > 0
          ? {
              conversationIds: sealed.map((s) => s.conversationId),
              ...encodeFramedBatch(
                enc.type,
                enc.header,
                sealed.map((s) => s.snapshot),
              ),
            }
          : null,
      outcomes: this.#outcomes,
      users: [...users],
    };
    this.#touched = [];
    this.#outcomes = [];
    this.#unreplied = false;
    return reply;
  }

  /** `report`: the main thread did not parse this frame, and writes its evidence record from the summary. */
  #frame(seq: number, text: string, receivedAt: number, report: boolean): void {
    const parsed = parseNotificationFrame(text);
    const summary = report ? summarizeFrame(parsed) : null;
    // A frame that does not parse is dead-lettered by the main thread (from the summary, or its own parse).
    if (!parsed.ok) {
      if (summary) this.#outcomes.push({ seq, eventTime: null, failure: null, summary });
      return;
    }
    const extracted = extractTagObservations(parsed.value, {
      receivedAt,
      provenance: 'live',
      userContext: (id) => this.#contexts.get(id),
    });
    const failure = extracted.ok ? null : extracted.error;
    const eventTime = extracted.ok ? this.#merge(extracted.value, receivedAt) : null;
    if (summary || failure || eventTime !== null) this.#outcomes.push({ seq, eventTime, failure, summary });
  }

  /** Merges into the held snapshots; returns the newest Genesys time among the observations. */
  #merge(observations: readonly TagObservation[], at: number): number | null {
    if (observations.length === 0) return null;
    for (const id of this.#held.absorb(observations, at)) this.#touched.push(id);
    let latest: number | null = null;
    for (const o of observations)
      if (o.observedAt !== null && (latest === null || o.observedAt > latest)) latest = o.observedAt;
    return latest;
  }

  #advance(seq: number): void {
    if (seq <= this.#through)
      throw new RangeError(`item ${seq} after ${this.#through}: items must come in order`);
    this.#through = seq;
    this.#unreplied = true;
  }
}
