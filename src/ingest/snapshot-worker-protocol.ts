/**
 * The messages between ingest's main thread and the snapshot worker (snapshot-worker.ts), which owns the held
 * snapshots (held-snapshots.ts) so that their heap, and its major GCs, are not on the thread that reads the sockets
 * (bench/README.md, "What the tail is made of"). One port carries everything in order: a context update reaches the
 * worker before the frames received after it.
 */
import type { ExtractionFailure, UserContext } from '../enrich/session-tags.ts';
import type { TagObservation } from '../enrich/session-tags.ts';
import type { FrameSummary } from '../enrich/frame-summary.ts';
import type { SealedSnapshot } from './held-snapshots.ts';
import type { RecordFraming } from '../kafka/avro-codec.ts';

export interface SnapshotWorkerData {
  /** Conversations restored at start: [id, packed snapshot, users, last capture time]. */
  readonly restored: ReadonlyArray<readonly [string, Uint8Array, readonly string[], number | null]>;
  readonly now: number;
  /**
   * How ingest's session-tags encoder frames a record, when it offers that (record-codecs.ts): the worker then
   * replies with the changed snapshots encoded, in one transferred buffer, instead of objects to copy. Null: it
   * replies with objects, and the main thread encodes them.
   */
  readonly snapshotFraming: RecordFraming | null;
}

/** Changed snapshots as session-tags records: record i is `bytes` from `ends[i - 1]` (0 for the first) to `ends[i]`. */
export interface EncodedSnapshots {
  readonly conversationIds: string[];
  readonly bytes: Uint8Array<ArrayBuffer>;
  readonly ends: number[];
}

export type ToWorker =
  /** User contexts that changed (null: forgotten), before the frames that may read them. */
  | { t: 'contexts'; entries: ReadonlyArray<readonly [string, UserContext | null]> }
  /**
   * Frames in receive order, flat: seq, text (null: nothing to extract, e.g. a rejected frame; its seq still counts),
   * receive time, and whether the worker parses it for the main thread too (1: reply with its FrameSummary; 0: the
   * main thread parsed it itself).
   */
  | { t: 'frames'; items: ReadonlyArray<number | string | null> }
  /** Observations read from the REST or analytics API (gap repair), as one more item in the sequence. */
  | { t: 'observations'; seq: number; at: number; observations: readonly TagObservation[] }
  | { t: 'housekeep'; idleCutoff: number; packCutoff: number }
  | { t: 'activeFor'; id: number; userIds: readonly string[]; from: number; to: number }
  | { t: 'copyOf'; id: number; conversationId: string };

/** Per item of a reply whose merge said something beyond "merged" (always, for a frame posted to be reported). */
export interface ItemOutcome {
  readonly seq: number;
  /** The newest Genesys time among the item's observations. */
  readonly eventTime: number | null;
  /** Why the frame's tags could not be extracted (it goes to the DLQ with this reason). */
  readonly failure: ExtractionFailure | null;
  /** The parsed frame, for a frame posted with its report flag set: what its evidence record needs. */
  readonly summary: FrameSummary | null;
}

export type FromWorker =
  | {
      t: 'merged';
      /** Every item up to and including this seq is merged. */
      through: number;
      /**
       * The snapshots these items changed, when the worker was given no framing: copied by postMessage, encoded by the
       * main thread with ingest's own encoder. Empty when they are `encoded`.
       */
      snapshots: SealedSnapshot[];
      /** The snapshots these items changed, encoded in the framing given at start (the buffer is transferred). */
      encoded: EncodedSnapshots | null;
      outcomes: ItemOutcome[];
      /** The users of every conversation these items touched. */
      users: Array<[string, string[]]>;
    }
  | { t: 'housekept'; forgotten: string[]; packed: number }
  | { t: 'answer'; id: number; value: unknown };
