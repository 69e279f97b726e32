/**
 * The bounded queue between the WebSocket and Kafka.
 *
 * The Genesys socket cannot be slowed down, so Kafka is the buffer (style.md §6.6): frames are queued,
 * sent in batches (one send in flight, so records keep their order within a partition), and a batch is
 * dropped from the queue only after the broker acknowledged it. While Kafka is unreachable the batch is
 * retried with back-off — never dropped — and the queue grows; above `highWater` the buffer asks ingest to
 * pause the sockets (which records a gap for repair), and below `lowWater` to resume.
 */
import type { KeyedRecord, RecordProducer } from '../kafka/record-producer.ts';

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
}

export class DeliveryBuffer {
  readonly #producer: RecordProducer;
  readonly #opts: DeliveryBufferOptions;
  readonly #events: DeliveryEvents;
  readonly #now: () => number;
  #queue: Delivery[] = [];
  #running: Promise<void> | undefined;
  #paused = false;
  #closed = false;
  #idle: Array<() => void> = [];

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

  get overflowing(): boolean {
    return this.#paused;
  }

  push(d: Delivery): void {
    if (this.#closed) throw new Error('delivery buffer is closed');
    this.#queue.push(d);
    if (!this.#paused && this.#queue.length >= this.#opts.highWater) {
      this.#paused = true;
      this.#events.pressure(true);
    }
    this.#kick();
  }

  #kick(): void {
    this.#running ??= this.#drain().finally(() => {
      this.#running = undefined;
      // A push that landed after the drain loop's last check but before this point must not be stranded.
      if (this.#queue.length > 0) this.#kick();
    });
  }

  /** Resolves when everything pushed so far has been acknowledged. */
  async flush(): Promise<void> {
    if (this.#queue.length === 0 && !this.#running) return;
    await new Promise<void>((resolve) => this.#idle.push(resolve));
  }

  /** Flushes, then refuses new deliveries. */
  async close(): Promise<void> {
    await this.flush();
    this.#closed = true;
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      if (this.#queue.length < this.#opts.maxBatch && this.#opts.lingerMs > 0) {
        await new Promise((r) => setTimeout(r, this.#opts.lingerMs));
      }
      const batch = this.#queue.slice(0, this.#batchLength());
      await this.#sendWithRetry(batch);
      this.#queue.splice(0, batch.length);
      this.#events.acked(batch, this.#now());
      if (this.#paused && this.#queue.length <= this.#opts.lowWater) {
        this.#paused = false;
        this.#events.pressure(false);
      }
    }
    for (const resolve of this.#idle.splice(0)) resolve();
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

  async #sendWithRetry(batch: readonly Delivery[]): Promise<void> {
    const records = batch.flatMap((d) => d.records);
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#producer.send(records);
        return;
      } catch (err) {
        this.#events.sendFailed(err, attempt);
        const backoff = Math.min(this.#opts.retryMaxMs, this.#opts.retryBaseMs * 2 ** attempt);
        await new Promise((r) => setTimeout(r, backoff / 2 + (Math.random() * backoff) / 2));
      }
    }
  }
}
