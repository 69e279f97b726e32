/**
 * The Amazon EventBridge integration ("Amazon EventBridge Source"), as the user's bridge delivers it to Kafka: every
 * published event, org-wide (no channels, no 1,000-topic limit), becomes one EventBridge event on a Kafka topic,
 * the record's value the event as EventBridge hands it to a target, its key the concrete topic name.
 *
 * Event shape (research/genesys.md §2.11): AWS's event metadata (`version` "0", `id`, `detail-type`, `source`,
 * `account`, `time` to the second, `region`, `resources`) around `detail` = the WebSocket envelope plus `timestamp`
 * (ms); `source` = `aws.partner/genesys.com/cloud/{orgId}/{suffix}`, `detail-type` = the topic template.
 * Delivery is at least once: `redeliver` sends events again with the same id, as a target retry would.
 */
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import type { Producer } from 'kafkajs';
import type { ScriptedEvent } from '../model.ts';
import type { SimClock } from './context.ts';

export interface EventBridgeTarget {
  readonly brokers: readonly string[];
  readonly topic: string;
  /** The integration's "Event Source Suffix" (default `custody-emulator`). */
  readonly sourceSuffix?: string;
  readonly account?: string;
  readonly region?: string;
  /** Topic templates (`v2.users.{id}.conversations`) the integration's topic filter selects; default every topic. */
  readonly topicFilter?: readonly string[];
}

export interface EventBridgeOutput {
  /** Queues one published event as an EventBridge event (when its topic passes the filter). */
  publish(event: Pick<ScriptedEvent, 'topicName' | 'eventBody'>): void;
  /** Sends one record value as is (a malformed event, for tests). */
  sendRaw(value: string): void;
  /** Sends the last `n` events again, unchanged (same id): an at-least-once redelivery. Returns how many. */
  redeliver(n: number): number;
  /** Resolves when everything queued so far is acknowledged by Kafka. */
  flush(): Promise<void>;
  /** Events and raw records acknowledged so far. */
  sent(): number;
  close(): Promise<void>;
}

/** `detail-type`: the topic with each id replaced by `{id}`. */
export function topicTemplate(topicName: string): string {
  return topicName.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '{id}');
}

/** One EventBridge event carrying a notification (exported for the SDK-shape test). */
export function eventBridgeEvent(
  event: Pick<ScriptedEvent, 'topicName' | 'eventBody'>,
  at: number,
  opts: { orgId: string; sourceSuffix: string; account: string; region: string },
): Record<string, unknown> {
  const iso = new Date(at).toISOString();
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': topicTemplate(event.topicName),
    source: `aws.partner/genesys.com/cloud/${opts.orgId}/${opts.sourceSuffix}`,
    account: opts.account,
    time: `${iso.slice(0, 19)}Z`,
    region: opts.region,
    resources: [],
    detail: {
      topicName: event.topicName,
      version: '2',
      eventBody: event.eventBody,
      metadata: { CorrelationId: randomUUID() },
      timestamp: iso,
    },
  };
}

export async function createEventBridgeOutput(args: {
  readonly target: EventBridgeTarget;
  readonly orgId: string;
  readonly clock: SimClock;
  readonly log: (line: string) => void;
}): Promise<EventBridgeOutput> {
  const { target, clock, log } = args;
  const kafka = new Kafka({
    clientId: 'genesys-emulator-eventbridge',
    brokers: [...target.brokers],
    logLevel: logLevel.NOTHING,
  });
  const producer: Producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const opts = {
    orgId: args.orgId,
    sourceSuffix: target.sourceSuffix ?? 'custody-emulator',
    account: target.account ?? '123456789012',
    region: target.region ?? 'us-east-1',
  };
  const filter = target.topicFilter ? new Set(target.topicFilter) : undefined;
  const recent: { key: string | null; value: string }[] = [];
  let queue: { key: string | null; value: string }[] = [];
  let chain: Promise<void> = Promise.resolve();
  let sent = 0;

  const drain = (): void => {
    chain = chain.then(async () => {
      const batch = queue;
      queue = [];
      if (batch.length === 0) return;
      // Retried until Kafka takes it: EventBridge retries delivery for up to four days.
      for (let attempt = 0; ; attempt++) {
        try {
          await producer.send({ topic: target.topic, messages: batch });
          sent += batch.length;
          return;
        } catch (err) {
          log(`eventbridge send failed (attempt ${attempt + 1}): ${String(err)}`);
          await new Promise((r) => setTimeout(r, Math.min(2_000, 100 * 2 ** attempt)));
        }
      }
    });
  };
  const enqueue = (r: { key: string | null; value: string }): void => {
    queue.push(r);
    if (queue.length === 1) queueMicrotask(drain);
  };

  return {
    publish(event) {
      if (filter && !filter.has(topicTemplate(event.topicName))) return;
      const r = { key: event.topicName, value: JSON.stringify(eventBridgeEvent(event, clock.now(), opts)) };
      recent.push(r);
      if (recent.length > 1_000) recent.shift();
      enqueue(r);
    },
    sendRaw(value) {
      enqueue({ key: null, value });
    },
    redeliver(n) {
      const again = recent.slice(-n);
      for (const r of again) enqueue(r);
      return again.length;
    },
    async flush() {
      drain();
      await chain;
    },
    sent: () => sent,
    async close() {
      drain();
      await chain;
      await producer.disconnect();
    },
  };
}
