/**
 * Reads Genesys notifications that arrive through the Amazon EventBridge integration. custody does not read
 * EventBridge itself: the user bridges the events into a Kafka topic (an EventBridge rule on the partner event bus
 * → SQS, Kinesis or Lambda → Kafka, each record's value the event as EventBridge delivers it; README, "EventBridge").
 * This consumer hands each record to ingest, which parses and writes it like a WebSocket frame, and moves its
 * group's offsets only once ingest has had every record of the batch — evidence, dead letters and the snapshots they
 * changed — acknowledged by Kafka; a restart re-reads what was not, and duplicates are dropped by body.
 */
import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { Logger } from '../observability/logger.ts';
import { describeError, errorChain, isFatal, ShutdownError } from '../runtime/errors.ts';

/** One record read from the bridge topic. */
export interface BridgeRecord {
  readonly value: Buffer | null;
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  /** custody's receive clock when the record was read, epoch ms. */
  readonly receivedAt: number;
}

export interface EventBridgeSourceDeps {
  readonly kafka: Kafka;
  readonly topic: string;
  readonly groupId: string;
  readonly log: Logger;
  readonly now: () => number;
  /** Takes one record (synchronously queues what it produces). */
  readonly handle: (record: BridgeRecord) => void;
  /** Resolves true once everything handled so far is acknowledged by Kafka; false if it never will be. */
  readonly acknowledged: () => Promise<boolean>;
  /** The consumer stopped for a reason a restart of the consumer cannot fix. */
  readonly failed: (err: unknown) => void;
}

export interface RunningEventBridgeSource {
  /** Why the consumer is not consuming, when it is not. */
  notReadyReason(): string | undefined;
  stop(): Promise<void>;
}

export async function startEventBridgeSource(deps: EventBridgeSourceDeps): Promise<RunningEventBridgeSource> {
  const consumer: Consumer = deps.kafka.consumer({ groupId: deps.groupId, allowAutoTopicCreation: false });
  let stopping = false;
  let joined = false;
  let crash: string | undefined;
  consumer.on(consumer.events.CRASH, (e) => {
    if (stopping || errorChain(e.payload.error).some((x) => x instanceof ShutdownError)) return;
    crash = describeError(e.payload.error);
    deps.log.error(
      { err: e.payload.error, restart: e.payload.restart },
      'EventBridge bridge consumer crashed',
    );
    // kafkajs restarts the consumer after a retriable error; otherwise it is stopped for good.
    if (!e.payload.restart) deps.failed(e.payload.error);
  });
  consumer.on(consumer.events.GROUP_JOIN, () => {
    joined = true;
    crash = undefined;
  });

  const eachBatch = async (payload: EachBatchPayload): Promise<void> => {
    const { batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale } = payload;
    let last: string | undefined;
    for (const m of batch.messages) {
      if (!isRunning() || isStale()) break;
      deps.handle({
        value: m.value,
        topic: batch.topic,
        partition: batch.partition,
        offset: m.offset,
        receivedAt: deps.now(),
      });
      last = m.offset;
    }
    if (last === undefined) return;
    try {
      // Offsets move only past records whose evidence and snapshots Kafka acknowledged.
      if (!(await deps.acknowledged())) return;
    } catch (e) {
      if (isFatal(e) && !stopping) deps.failed(e);
      throw e;
    }
    resolveOffset(last);
    await heartbeat();
    await commitOffsetsIfNecessary();
  };

  await consumer.connect();
  await consumer.subscribe({ topic: deps.topic, fromBeginning: true });
  await consumer.run({ eachBatchAutoResolve: false, eachBatch });
  deps.log.info({ topic: deps.topic, groupId: deps.groupId }, 'reading EventBridge events from Kafka');

  return {
    notReadyReason: () =>
      crash !== undefined
        ? `EventBridge bridge consumer: ${crash}`
        : joined
          ? undefined
          : 'EventBridge bridge consumer has not joined its group yet',
    async stop() {
      stopping = true;
      await consumer.disconnect();
    },
  };
}
