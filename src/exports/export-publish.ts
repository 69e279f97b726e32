/**
 * Publishing what one pass found, in bounded chunks (exports watch, S3-event path, `exports run --wait`).
 *
 * - At most `maxRecordsPerSend` records per `producer.send`, sent one chunk after the other (so a conversation's
 *   records keep their order), each retried while Kafka answers retriably. A pass of thousands of exports is
 *   never one request over the broker's size limit, and what was acknowledged is known chunk by chunk:
 *   `afterAck` runs for exactly the records of acknowledged chunks, so the checkpoint never gets ahead of Kafka.
 * - A record the broker can never accept (the producer's RecordTooLargeError, which is not retriable) is
 *   not retried: the chunk is split until that record is alone, and it is replaced by the small dead letter its
 *   `tooLarge` builds (with the reason), so one oversized record neither blocks the others nor the pass.
 */
import type { KeyedRecord, RecordProducer } from '../kafka/record-producer.ts';
import type { TooLargeReason } from './export-records.ts';
import type { Retrier } from './export-retry.ts';
import { KAFKA_DEPENDENCY } from './export-retry.ts';

/** At most this many records per send (default of `maxRecordsPerSend`). */
export const DEFAULT_MAX_RECORDS_PER_SEND = 500;

/** What the producer's RecordTooLargeError tells (src/kafka/record-producer.ts), read by shape. */
export type TooLarge = TooLargeReason;

/** One record to publish and what to do once it is acknowledged. */
export type Outgoing = Readonly<{
  record: KeyedRecord;
  /**
   * The dead letter that replaces the record when the broker can never accept it; undefined: rethrow (nothing
   * smaller can stand in for it).
   */
  tooLarge?: (why: TooLarge) => KeyedRecord;
  /** Runs once the record (or its dead letter, then `deadLettered` is true) is acknowledged. */
  afterAck?: (deadLettered: boolean) => void;
}>;

export type PublishOptions = Readonly<{
  maxRecordsPerSend: number;
  retry: Retrier;
  /** Awaited after every acknowledged chunk but the last (e.g. to persist the checkpoint as it advances). */
  afterChunk?: () => Promise<void>;
  /** Retried sends call this before each new attempt (e.g. a consumer heartbeat). */
  onRetry?: () => Promise<void>;
}>;

export type PublishReport = Readonly<{ sent: number; deadLettered: number; sends: number }>;

/** The RecordTooLargeError of the producer, recognised by name (as the ingest buffer does). */
export function tooLargeOf(e: unknown): TooLarge | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const like = e as { name?: unknown; bytes?: unknown; limitBytes?: unknown; message?: unknown };
  if (like.name !== 'RecordTooLargeError') return undefined;
  return {
    bytes: typeof like.bytes === 'number' ? like.bytes : undefined,
    limitBytes: typeof like.limitBytes === 'number' ? like.limitBytes : undefined,
    message: typeof like.message === 'string' ? like.message : 'record too large',
  };
}

/** Publishes `items` in chunks; resolves once every one (or its dead letter) was acknowledged. */
export async function publishInChunks(
  producer: RecordProducer,
  items: readonly Outgoing[],
  options: PublishOptions,
): Promise<PublishReport> {
  const max = Math.max(1, Math.floor(options.maxRecordsPerSend));
  const counts = { sent: 0, deadLettered: 0, sends: 0 };
  const send = async (records: readonly KeyedRecord[]): Promise<void> => {
    counts.sends++;
    await options.retry(KAFKA_DEPENDENCY, () => producer.send(records), options.onRetry);
  };
  /** Sends `part`; on a too-large answer, halves it until the offending record is alone and dead-lettered. */
  const sendPart = async (part: readonly Outgoing[]): Promise<void> => {
    try {
      await send(part.map((i) => i.record));
    } catch (e) {
      const why = tooLargeOf(e);
      if (why === undefined) throw e;
      if (part.length > 1) {
        const half = Math.ceil(part.length / 2);
        await sendPart(part.slice(0, half));
        await sendPart(part.slice(half));
        return;
      }
      const only = part[0] as Outgoing;
      if (only.tooLarge === undefined) throw e;
      await send([only.tooLarge(why)]);
      counts.deadLettered++;
      only.afterAck?.(true);
      return;
    }
    for (const i of part) {
      counts.sent++;
      i.afterAck?.(false);
    }
  };
  for (let i = 0; i < items.length; i += max) {
    await sendPart(items.slice(i, i + max));
    if (i + max < items.length) await options.afterChunk?.();
  }
  return counts;
}
