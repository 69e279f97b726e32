/**
 * Records the sink owes Kafka (manifest announcements), sent together before the offsets that produced them are
 * committed instead of one request per manifest: each produce is a broker round trip (acks=all), and one per
 * manifest was the largest share of the sink's time after S3 itself.
 *
 * `flush()` resolves once every record added before the call is acknowledged. Flushes run one after the other and a
 * failed send puts its records back in front, so a later flush that succeeds has sent them too, in their order. The
 * join state records a manifest as announced as soon as its announcement is added here; the join table takes the
 * states it will write, then the outbox is flushed, then the states are written (JoinTable.flush), so the changelog
 * never says "announced" first, even for a state another batch changed during the flush; a crash before the flush
 * loses the in-memory state with the records (the replay announces again).
 */
import type { KeyedRecord, RecordProducer } from '../kafka/record-producer.ts';

export class Outbox {
  readonly #producer: RecordProducer;
  #pending: KeyedRecord[] = [];
  #tail: Promise<void> = Promise.resolve();

  constructor(producer: RecordProducer) {
    this.#producer = producer;
  }

  add(record: KeyedRecord): void {
    this.#pending.push(record);
  }

  /** Records added and not yet acknowledged. */
  get size(): number {
    return this.#pending.length;
  }

  flush(): Promise<void> {
    const run = this.#tail.then(async () => {
      const batch = this.#pending;
      if (batch.length === 0) return;
      this.#pending = [];
      try {
        await this.#producer.send(batch);
      } catch (e) {
        this.#pending = [...batch, ...this.#pending];
        throw e;
      }
    });
    this.#tail = run.catch(() => undefined);
    return run;
  }
}
