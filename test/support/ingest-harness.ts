/**
 * Runs `custody ingest` in process against the Genesys emulator and the real Kafka broker, on topics no
 * other test uses, and reads back what it wrote.
 *
 * ingest's clock is the emulator's simulated clock, so receive times, gap intervals and the analytics
 * queries of gap repair are all in one time base even when the emulator runs faster than real time.
 */
import type { Kafka } from 'kafkajs';
import { Secret } from '../../src/config.ts';
import type { Config } from '../../src/config.ts';
import type { SessionTagsSnapshot } from '../../src/enrich/session-tags.ts';
import { SdkGenesysApi } from '../../src/ingest/genesys-api.ts';
import type { IngestOptions, RunningIngest } from '../../src/ingest/ingest-pipeline.ts';
import { startIngest } from '../../src/ingest/ingest-pipeline.ts';
import type { DeadLetter, NotificationRecord } from '../../src/kafka/avro-codec.ts';
import { createDecoders, createEncoders } from '../../src/kafka/record-codecs.ts';
import { KafkaRecordProducer } from '../../src/kafka/record-producer.ts';
import { ensureTopics } from '../../src/kafka/topics.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createRegistry, ingestMetrics } from '../../src/observability/metrics.ts';
import type { EmulatorOptions, RunningEmulator } from '../../dev/emulator/index.ts';
import { startEmulator } from '../../dev/emulator/index.ts';
import { kafkaClient, uniqueName } from './clients.ts';
import { readTopicToEnd } from './kafka-read.ts';

export const CLIENT_ID = 'custody-ingest-test';
export const CLIENT_SECRET = 'emulator-client-secret-value';

export interface IngestHarness {
  readonly emu: RunningEmulator;
  readonly ingest: RunningIngest;
  readonly kafka: Kafka;
  readonly topics: Config['topics'];
  readonly metrics: ReturnType<typeof ingestMetrics>;
  readonly registry: ReturnType<typeof createRegistry>;
  /** The latest snapshot per conversation on custody.session-tags.v1. */
  snapshots(): Promise<Map<string, SessionTagsSnapshot>>;
  notifications(): Promise<NotificationRecord[]>;
  deadLetters(): Promise<DeadLetter[]>;
  /** Waits until simulated time reaches `at` (epoch ms). */
  untilSimTime(at: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const FAST_CHANNEL = { idleBeforePingMs: 1_500, pongTimeoutMs: 1_000, backoffBaseMs: 50, backoffMaxMs: 500 };

export async function startIngestHarness(
  emulator: Omit<EmulatorOptions, 'clientId' | 'clientSecret'>,
  options: Partial<IngestOptions> = {},
): Promise<IngestHarness> {
  const emu = await startEmulator({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, ...emulator });
  const kafka = kafkaClient('custody-ingest-test');
  const topics: Config['topics'] = {
    partitions: 3,
    notifications: uniqueName('notifications'),
    eventBridge: uniqueName('eventbridge'),
    sessionTags: uniqueName('session-tags'),
    recordingExports: uniqueName('recording-exports'),
    legalHolds: uniqueName('legal-holds'),
    sinkState: uniqueName('sink-state'),
    manifests: uniqueName('manifests'),
    dlq: uniqueName('dlq'),
  };
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, topics, ['notifications', 'sessionTags', 'dlq']);
  await admin.disconnect();
  const kafkaConfig: Config['kafka'] = { brokers: [], clientId: 'custody', ssl: false };
  const encoders = await createEncoders(kafkaConfig, topics);
  const decoders = createDecoders(kafkaConfig);
  const registry = createRegistry();
  const metrics = ingestMetrics(registry);
  const api = new SdkGenesysApi({
    apiUrl: emu.baseUrl,
    clientId: CLIENT_ID,
    clientSecret: new Secret(CLIENT_SECRET),
    baseBackoffMs: 50,
    maxBackoffMs: 1_000,
    now: () => emu.clock.now(),
    scheduleAt: (at, fn) => emu.clock.at(at, fn),
  });
  const ingest = await startIngest(
    {
      api,
      producer: new KafkaRecordProducer(kafka),
      encoders,
      topics,
      instance: 'ingest-test',
      log: createLogger({ level: process.env['INGEST_TEST_LOG'] ?? 'silent', instance: 'ingest-test' }),
      metrics,
      now: () => emu.clock.now(),
      scheduleAt: (at, fn) => emu.clock.at(at, fn),
    },
    {
      userRefreshMs: 3_600_000,
      ...options,
      channel: { ...FAST_CHANNEL, ...options.channel },
      gapRepair: { retryDelaysMs: [0, 400, 1_500], marginMs: 60_000, ...options.gapRepair },
    },
  );

  return {
    emu,
    ingest,
    kafka,
    topics,
    metrics,
    registry,
    async snapshots() {
      const latest = new Map<string, SessionTagsSnapshot>();
      for (const r of await readTopicToEnd(kafka, topics.sessionTags)) {
        if (r.key && r.value) latest.set(r.key, await decoders['session-tags.v1'].decode(r.value));
      }
      return latest;
    },
    async notifications() {
      const records = await readTopicToEnd(kafka, topics.notifications);
      return Promise.all(
        records.filter((r) => r.value).map((r) => decoders['notification.v1'].decode(r.value as Buffer)),
      );
    },
    async deadLetters() {
      const records = await readTopicToEnd(kafka, topics.dlq);
      return Promise.all(
        records.filter((r) => r.value).map((r) => decoders['dead-letter.v1'].decode(r.value as Buffer)),
      );
    },
    async untilSimTime(at, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (emu.clock.now() < at) {
        if (Date.now() > deadline) throw new Error('simulated time did not advance in time');
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async stop() {
      api.close();
      await ingest.stop();
      await emu.close();
    },
  };
}
