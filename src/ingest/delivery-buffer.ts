/**
 * The bounded queue between the WebSocket and Kafka.
 *
 * The Genesys socket cannot be slowed down, so Kafka is the buffer (style.md §6.6): frames are queued,
 * sent in batches (one send in flight, so records keep their order within a partition), and a batch is
 * dropped from the queue only after the broker acknowledged it. While Kafka is unreachable the batch is
 * retried with back-off — never dropped — and the queue grows; above `highWater` frames or `highWaterBytes` (of
 * the frames' records as queued) the buffer asks ingest to pause the sockets (which records a gap for repair), and
 * below both `lowWater` and `lowWaterBytes` to resume. The byte bound holds memory when frames are large: 20,000
 * frames of a conversation with many participants can be far more than 20,000 typical ones.
 *
 * Two answers end the retrying of a batch: a record the broker can never accept (RecordTooLargeError) is handed
 * to `oversized`, which replaces it (with a dead letter) or drops it, and the rest is sent at once; a fatal
 * error (authorization) stops delivery and is reported through `failed`, since no retry can fix it. `abandon`
 * gives up what is still queued (a shutdown whose deadline passed) and says which frames those were.
 */
import { recordBytes } from '../kafka/record-producer.ts';
import type { KeyedRecord, RecordProducer } from '../kafka/record-producer.ts';
import { isFatal } from '../runtime/errors.ts';

export interface Delivery {
  readonly records: readonly KeyedRecord[];
  /** custody receive time of the frame these records came from, epoch ms. */
  readonly receivedAt: number;
  /** Genesys-side event time, when the event carries one (for the lag metric). */
  readonly eventTime?: number;
}

export interface DeliveryBufferOptions {
  readonly highWater: number;
  readonly lowWater: number;
  readonly highWaterBytes: number;
  readonly lowWaterBytes: number;
  /** Wait this long for more frames before sending a partial batch. */
  readonly lingerMs: number;
  readonly maxBatch: number;
  /**
   * Value+key bytes per send. Kafka refuses a partition's batch above the topic's max.message.bytes (1 MiB by
   * default) with an error that retrying cannot fix, so a batch is cut well below it whatever the key skew.
   */
  readonly maxBatchBytes: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
}

export const DEFAULT_DELIVERY_OPTIONS: DeliveryBufferOptions = {
  highWater: 20_000,
  lowWater: 10_000,
  highWaterBytes: 128 * 1024 * 1024,
  lowWaterBytes: 64 * 1024 * 1024,
  lingerMs: 2,
  maxBatch: 500,
  maxBatchBytes: 512 * 1024,
  retryBaseMs: 100,
  retryMaxMs: 5_000,
};

export interface DeliveryEvents {
  /** Called after the broker acknowledged these deliveries, with the ack time. */
  acked(deliveries: readonly Delivery[], ackedAt: number): void;
  /** true = pause the sockets, false = resume. */
  pressure(paused: boolean): void;
  sendFailed(err: unknown, attempt: number): void;
  /** A send succeeded after `attempts` failed ones. */
  recovered?(attempts: number): void;
  /**
   * A record larger than the broker accepts: returns what to send instead (a dead letter), or undefined to
   * send nothing for it. Never retried as it was.
   */
  oversized?(record: KeyedRecord, delivery: Delivery, limitBytes: number): KeyedRecord | undefined;
  /** Kafka refused for a reason retrying cannot fix: delivery has stopped. */
  failed?(err: unknown): void;
}

/** What a buffer gave up when abandoned: its frames were received but never acknowledged by Kafka. */
export interface Unflushed {
  readonly frames: number;
  /** Receive times of the oldest and newest frame given up (epoch ms), when there was any. */
  readonly from?: number;
  readonly to?: number;
}

/** `u` with these deliveries' frames added: their receive times widen its interval. */
export function withFrames(u: Unflushed, given: readonly { readonly receivedAt: number }[]): Unflushed {
  if (given.length === 0) return u;
  let from = u.from ?? Infinity;
  let to = u.to ?? -Infinity;
  for (const d of given) {
    from = Math.min(from, d.receivedAt);
    to = Math.max(to, d.receivedAt);
  }
  return { frames: u.frames + given.length, from, to };
}

/** The shape of the producer's RecordTooLargeError (src/kafka/record-producer.ts). */
function tooLargeLimit(err: unknown): number | undefined {
  const e = err as { name?: unknown; limitBytes?: unknown } | undefined;
  return e?.name === 'RecordTooLargeError' && typeof e.limitBytes === 'number' ? e.limitBytes : undefined;
}

export class DeliveryBuffer {
  readonly #producer: RecordProducer;
  readonly #opts: DeliveryBufferOptions;
  readonly #events: DeliveryEvents;
  readonly #now: () => number;
  #queue: Delivery[] = [];
  /** When each queued delivery was pushed (parallel to #queue), for the linger. */
  #pushedAt: number[] = [];
  /** Bytes of each queued delivery's records when pushed (parallel to #queue), and their sum. */
  #pushedBytes: number[] = [];
  #bytes = 0;
  #running: Promise<void> | undefined;
  #paused = false;
  #closed = false;
  #abandoned = false;
  #failed = false;
  #idle: Array<() => void> = [];
  #wakeUp: (() => void) | undefined;
  /** Ends the linger early: set while a partial batch waits for more frames. */
  #endLinger: (() => void) | undefined;

  constructor(
    producer: RecordProducer,
    events: DeliveryEvents,
    opts: Partial<DeliveryBufferOptions> = {},
    now = () => Date.now(),
  ) {
    this.#producer = producer;
    this.#events = events;
    this.#opts = { ...DEFAULT_DELIVERY_OPTIONS, ...opts };
    this.#now = now;
  }

  get depth(): number {
    return this.#queue.length;
  }

  /** Bytes of the queued deliveries' records, as pushed. */
  get bytes(): number {
    return this.#bytes;
  }

  get overflowing(): boolean {
    return this.#paused;
  }

  /** Kafka refused for a reason retrying cannot fix; nothing more is sent. */
  get failed(): boolean {
    return this.#failed;
  }

  push(d: Delivery): void {
    if (this.#closed || this.#abandoned) throw new Error('delivery buffer is closed');
    let bytes = 0;
    for (const r of d.records) bytes += recordBytes(r);
    this.#queue.push(d);
    this.#pushedAt.push(this.#now());
    this.#pushedBytes.push(bytes);
    this.#bytes += bytes;
    if (
      !this.#paused &&
      (this.#queue.length >= this.#opts.highWater || this.#bytes >= this.#opts.highWaterBytes)
    ) {
      this.#paused = true;
      this.#events.pressure(true);
    }
    // A batch that filled up while lingering goes now (the byte count is the queue's, an estimate of the batch's).
    if (
      this.#endLinger &&
      (this.#queue.length >= this.#opts.maxBatch || this.#bytes >= this.#opts.maxBatchBytes)
    )
      this.#endLinger();
    this.#kick();
  }

  #kick(): void {
    if (this.#abandoned || this.#failed) return;
    this.#running ??= this.#drain().finally(() => {
      this.#running = undefined;
      // A push that landed after the drain loop's last check but before this point must not be stranded.
      if (this.#queue.length > 0) this.#kick();
    });
  }

  /**
   * Gives up everything not yet acknowledged and stops retrying (the deadline of a shutdown passed while Kafka
   * was unreachable). Returns what was given up, so it can be reported; pending `flush` calls resolve.
   */
  abandon(): Unflushed {
    this.#abandoned = true;
    const given = this.#queue;
    this.#queue = [];
    this.#pushedAt = [];
    this.#pushedBytes = [];
    this.#bytes = 0;
    this.#wakeUp?.();
    for (const resolve of this.#idle.splice(0)) resolve();
    return withFrames({ frames: 0 }, given);
  }

  /** Resolves when everything pushed so far has been acknowledged. */
  async flush(): Promise<void> {
    if (this.#abandoned || (this.#queue.length === 0 && !this.#running)) return;
    await new Promise<void>((resolve) => this.#idle.push(resolve));
  }

  /** Flushes, then refuses new deliveries. */
  async close(): Promise<void> {
    await this.flush();
    this.#closed = true;
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0 && !this.#abandoned) {
      // Linger: a partial batch waits until its oldest frame is lingerMs old (frames that queued up during the
      // previous send have waited already and go at once), so batches fill without adding lingerMs to every frame.
      const waited = this.#now() - (this.#pushedAt[0] ?? 0);
      if (this.#opts.lingerMs > waited && !this.#fullBatchQueued()) {
        let timer: NodeJS.Timeout | undefined;
        await new Promise<void>((resolve) => {
          this.#endLinger = resolve;
          timer = setTimeout(resolve, this.#opts.lingerMs - waited);
        });
        clearTimeout(timer);
        this.#endLinger = undefined;
      }
      const n = this.#batchLength();
      if (!(await this.#sendWithRetry(n))) return;
      const batch = this.#queue.splice(0, n);
      this.#pushedAt.splice(0, n);
      for (const b of this.#pushedBytes.splice(0, n)) this.#bytes -= b;
      this.#events.acked(batch, this.#now());
      if (
        this.#paused &&
        this.#queue.length <= this.#opts.lowWater &&
        this.#bytes <= this.#opts.lowWaterBytes
      ) {
        this.#paused = false;
        this.#events.pressure(false);
      }
    }
    for (const resolve of this.#idle.splice(0)) resolve();
  }

  /** Whether the queue holds a full batch (maxBatch deliveries or maxBatchBytes). */
  #fullBatchQueued(): boolean {
    return this.#batchLength() < this.#queue.length || this.#queue.length >= this.#opts.maxBatch;
  }

  /** Deliveries in the next batch: at most maxBatch and maxBatchBytes, at least one. */
  #batchLength(): number {
    let bytes = 0;
    const limit = Math.min(this.#queue.length, this.#opts.maxBatch);
    for (let n = 0; n < limit; n++) {
      for (const r of (this.#queue[n] as Delivery).records)
        bytes += (r.value?.byteLength ?? 0) + (r.key?.length ?? 0);
      if (bytes > this.#opts.maxBatchBytes) return Math.max(1, n);
    }
    return limit;
  }

  /**
   * Sends the first `n` queued deliveries until the broker acknowledges them. Resolves true once sent, false when
   * delivery stopped (abandoned, or a fatal error).
   */
  async #sendWithRetry(n: number): Promise<boolean> {
    let failures = 0;
    for (;;) {
      if (this.#abandoned) return false;
      try {
        await this.#producer.send(this.#queue.slice(0, n).flatMap((d) => d.records));
        if (this.#abandoned) return false;
        if (failures > 0) this.#events.recovered?.(failures);
        return true;
      } catch (err) {
        if (this.#abandoned) return false;
        const limit = tooLargeLimit(err);
        if (limit !== undefined) {
          this.#replaceOversized(n, limit);
          continue;
        }
        if (isFatal(err)) {
          this.#failed = true;
          this.#events.failed?.(err);
          return false;
        }
        this.#events.sendFailed(err, failures);
        const backoff = Math.min(this.#opts.retryMaxMs, this.#opts.retryBaseMs * 2 ** Math.min(failures, 30));
        failures++;
        await new Promise<void>((resolve) => {
          const t = setTimeout(done, backoff / 2 + (Math.random() * backoff) / 2);
          function done() {
            clearTimeout(t);
            resolve();
          }
          this.#wakeUp = done;
        });
        this.#wakeUp = undefined;
      }
    }
  }

  /**
   * Replaces each record of the first `n` deliveries that exceeds `limit` by what `oversized` returns (a smaller
   * record, else nothing). When the producer's estimate and ours differ and none exceeds it, the largest goes.
   */
  #replaceOversized(n: number, limit: number): void {
    let largest: { i: number; j: number; bytes: number } | undefined;
    let replaced = 0;
    for (let i = 0; i < n; i++) {
      const d = this.#queue[i] as Delivery;
      d.records.forEach((r, j) => {
        const bytes = recordBytes(r);
        if (!largest || bytes > largest.bytes) largest = { i, j, bytes };
      });
      if (!d.records.some((r) => recordBytes(r) > limit)) continue;
      const records: KeyedRecord[] = [];
      for (const r of d.records) {
        if (recordBytes(r) <= limit) records.push(r);
        else {
          replaced++;
          const instead = this.#events.oversized?.(r, d, limit);
          if (instead && recordBytes(instead) <= limit) records.push(instead);
        }
      }
      this.#queue[i] = { ...d, records };
    }
    if (replaced > 0 || !largest) return;
    const d = this.#queue[largest.i] as Delivery;
    const r = d.records[largest.j] as KeyedRecord;
    const instead = this.#events.oversized?.(r, d, limit);
    const records = d.records.filter((_, j) => j !== largest?.j);
    if (instead && recordBytes(instead) < largest.bytes) records.splice(largest.j, 0, instead);
    this.#queue[largest.i] = { ...d, records };
  }
}
