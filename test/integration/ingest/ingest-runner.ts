/**
 * Starts and stops `custody ingest` runs against one emulator and one set of topics, so a test can stop ingest,
 * let time pass on the emulator, and start it again (the shared harness ties ingest to its emulator's life).
 * Logs are kept as parsed JSON lines, so tests can assert what ingest reported.
 */
import { Writable } from 'node:stream';
import type { Kafka } from 'kafkajs';
import { Secret } from '../../../src/config.ts';
import type { Config } from '../../../src/config.ts';
import type { SessionTagsSnapshot } from '../../../src/enrich/session-tags.ts';
import { SdkGenesysApi } from '../../../src/ingest/genesys-api.ts';
import type { IngestDeps, IngestOptions, RunningIngest } from '../../../src/ingest/ingest-pipeline.ts';
import { startIngest } from '../../../src/ingest/ingest-pipeline.ts';
import type { DeadLetter, NotificationRecord } from '../../../src/kafka/avro-codec.ts';
import { createDecoders, createEncoders } from '../../../src/kafka/record-codecs.ts';
import type { Decoders, Encoders } from '../../../src/kafka/record-codecs.ts';
import { KafkaRecordProducer } from '../../../src/kafka/record-producer.ts';
import { ensureTopics } from '../../../src/kafka/topics.ts';
import { createLogger } from '../../../src/observability/logger.ts';
import { createRegistry, ingestMetrics } from '../../../src/observability/metrics.ts';
import type { RunningEmulator } from '../../../dev/emulator/index.ts';
import { kafkaClient, uniqueName } from '../../support/clients.ts';
import { readTopicToEnd } from '../../support/kafka-read.ts';

export const CLIENT_ID = 'custody-ingest-test';
export const CLIENT_SECRET = 'emulator-client-secret-value';
export const FAST_CHANNEL = {
  idleBeforePingMs: 1_500,
  pongTimeoutMs: 1_000,
  backoffBaseMs: 50,
  backoffMaxMs: 500,
};

export type LogLine = Record<string, unknown> & { msg: string; level: string };

export interface IngestRun {
  readonly ingest: RunningIngest;
  readonly api: SdkGenesysApi;
  readonly metrics: ReturnType<typeof ingestMetrics>;
  readonly logs: LogLine[];
  stop(): ReturnType<RunningIngest['stop']>;
}

export interface IngestWorld {
  readonly kafka: Kafka;
  readonly topics: Config['topics'];
  readonly encoders: Encoders;
  readonly decoders: Decoders;
  snapshots(): Promise<Map<string, SessionTagsSnapshot>>;
  notifications(): Promise<NotificationRecord[]>;
  deadLetters(): Promise<DeadLetter[]>;
}

export async function createWorld(): Promise<IngestWorld> {
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
  const decodeAll = async <T>(topic: string, decode: (b: Buffer) => Promise<T>): Promise<T[]> =>
    Promise.all(
      (await readTopicToEnd(kafka, topic)).filter((r) => r.value).map((r) => decode(r.value as Buffer)),
    );
  return {
    kafka,
    topics,
    encoders,
    decoders,
    async snapshots() {
      const latest = new Map<string, SessionTagsSnapshot>();
      for (const r of await readTopicToEnd(kafka, topics.sessionTags))
        if (r.key && r.value) latest.set(r.key, await decoders['session-tags.v1'].decode(r.value));
      return latest;
    },
    notifications: () => decodeAll(topics.notifications, (b) => decoders['notification.v1'].decode(b)),
    deadLetters: () => decodeAll(topics.dlq, (b) => decoders['dead-letter.v1'].decode(b)),
  };
}

/** A logger whose JSON lines are parsed into `lines` (and printed when INGEST_TEST_LOG is set). */
export function capturingLogger(lines: LogLine[], instance = 'ingest-test') {
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n'))
        if (line.trim()) {
          lines.push(JSON.parse(line) as LogLine);
          if (process.env['INGEST_TEST_LOG']) process.stderr.write(`${line}\n`);
        }
      done();
    },
  });
  return createLogger({ level: 'info', instance, destination: sink });
}

export function genesysApi(emu: RunningEmulator, overrides: { apiUrl?: string; secret?: string } = {}) {
  return new SdkGenesysApi({
    apiUrl: overrides.apiUrl ?? emu.baseUrl,
    clientId: CLIENT_ID,
    clientSecret: new Secret(overrides.secret ?? CLIENT_SECRET),
    baseBackoffMs: 50,
    maxBackoffMs: 500,
    maxRetries: 2,
    now: () => emu.clock.now(),
    scheduleAt: (at, fn) => emu.clock.at(at, fn),
  });
}

/** Starts one ingest run on the emulator's clock. */
export async function startRun(
  emu: RunningEmulator,
  world: IngestWorld,
  opts: {
    options?: Partial<IngestOptions>;
    deps?: Partial<IngestDeps>;
    api?: SdkGenesysApi;
    instance?: string;
  } = {},
): Promise<IngestRun> {
  const logs: LogLine[] = [];
  const registry = createRegistry();
  const metrics = ingestMetrics(registry);
  const api = opts.api ?? genesysApi(emu);
  const instance = opts.instance ?? 'ingest-test';
  const options = opts.options ?? {};
  const ingest = await startIngest(
    {
      api,
      producer: new KafkaRecordProducer(world.kafka),
      encoders: world.encoders,
      topics: world.topics,
      instance,
      log: capturingLogger(logs, instance),
      metrics,
      now: () => emu.clock.now(),
      scheduleAt: (at, fn) => emu.clock.at(at, fn),
      ...opts.deps,
    },
    {
      userRefreshMs: 3_600_000,
      startRetry: { initialMs: 50, maxMs: 500 },
      ...options,
      channel: { ...FAST_CHANNEL, ...options.channel },
      gapRepair: { retryDelaysMs: [0, 400, 1_500], marginMs: 60_000, ...options.gapRepair },
    },
  );
  return {
    ingest,
    api,
    metrics,
    logs,
    async stop() {
      const report = await ingest.stop();
      api.close();
      return report;
    },
  };
}

export async function untilSimTime(emu: RunningEmulator, at: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (emu.clock.now() < at) {
    if (Date.now() > deadline) throw new Error('simulated time did not advance in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function until(what: string, cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
