/**
 * `src/roles` is the composition root: only its modules turn the validated config into clients, and pipelines
 * receive them as dependencies. This one holds what every role builds the same way: its logger, Kafka client and
 * producer, its topics, its health port. Loads neither the S3 nor the Genesys SDK (each role loads what it uses: ~35 and
 * ~55 MB of RSS).
 */
import { Kafka, logLevel } from 'kafkajs';
import type { KafkaConfig, SASLOptions } from 'kafkajs';
import type { Config } from '../config.ts';
import { registerKafkajsCodecs } from '../kafka/kafkajs-codecs.ts';
import { installKafkajsFastPaths } from '../kafka/kafkajs-fast-paths.ts';
import { KafkaRecordProducer } from '../kafka/record-producer.ts';
import { ensureTopics } from '../kafka/topics.ts';
import type { TopicRole } from '../kafka/topics.ts';
import { createLogger } from '../observability/logger.ts';
import type { Logger } from '../observability/logger.ts';
import { retryUntilDone } from '../runtime/backoff.ts';
import { FatalError } from '../runtime/errors.ts';
import type { RoleContext } from '../runtime/role.ts';
import { kafkajsLogLevel } from '../kafka/kafkajs-log.ts';

/** Each role's default port for /healthz, /readyz and /metrics, so roles on one host never clash. */
export const ROLE_HTTP_PORTS = { ingest: 9464, exportsWatch: 9465, sink: 9466 } as const;

export function httpPort(config: Config, role: keyof typeof ROLE_HTTP_PORTS): number {
  return config.custody.httpPort ?? ROLE_HTTP_PORTS[role];
}

/**
 * Creates the role's topics (or finds them made by another role starting at the same moment) and waits until
 * each partition has a leader; a broker that is not up yet, or just started, is waited for.
 */
export async function prepareTopics(
  kafka: Kafka,
  config: Config,
  roles: readonly TopicRole[],
  ctx: Pick<RoleContext, 'log' | 'signal' | 'conditions'>,
): Promise<Map<string, number>> {
  return retryUntilDone(
    'Kafka topics',
    async () => {
      const admin = kafka.admin();
      try {
        await admin.connect();
        return await ensureTopics(admin, config.topics, roles);
      } finally {
        await admin.disconnect().catch(() => undefined);
      }
    },
    ctx,
  );
}

/** custody's producer, writing record batches with the configured compression. */
export function producerFromConfig(kafka: Kafka, config: Config): KafkaRecordProducer {
  return new KafkaRecordProducer(kafka, { compression: config.kafka.compression });
}

/** Whether this process has said that kafkajs runs without the fast paths (once is enough: doctor connects twice). */
let fastPathsWarned = false;

export function kafkaFromConfig(config: Config, log: Logger, overrides: Partial<KafkaConfig> = {}): Kafka {
  // Every role reads zstd and gzip batches, whichever compression its own producer uses (kafkajs-codecs.ts).
  registerKafkajsCodecs();
  const fastPaths = installKafkajsFastPaths();
  if (fastPaths.reason && !fastPathsWarned) {
    fastPathsWarned = true;
    log.warn({ component: 'kafkajs', ...fastPaths }, "kafkajs runs without custody's fast paths");
  }
  const k = config.kafka;
  const sasl: SASLOptions | undefined = k.sasl
    ? ({
        mechanism: k.sasl.mechanism,
        username: k.sasl.username,
        password: k.sasl.password.reveal(),
      } as SASLOptions)
    : undefined;
  const kafkaConfig: KafkaConfig = {
    clientId: `${k.clientId}-${config.custody.instanceId}`,
    brokers: [...k.brokers],
    ssl: k.ssl,
    sasl,
    logLevel: logLevel.WARN,
    // kafkajs logs through ours, so its lines are JSON with the same bindings (and no credentials).
    logCreator: () => (entry) => {
      const { message, ...rest } = entry.log as { message: string } & Record<string, unknown>;
      const level = kafkajsLogLevel({
        level: entry.level,
        namespace: entry.namespace,
        message,
        error: rest['error'],
      });
      log[level](
        { component: 'kafkajs', namespace: entry.namespace, broker: rest['broker'], error: rest['error'] },
        message,
      );
    },
    ...overrides,
  };
  return new Kafka(kafkaConfig);
}

export function rootLogger(config: Config): Logger {
  return createLogger({ level: config.custody.logLevel, instance: config.custody.instanceId });
}

/** The sink's topics (created when missing), checked to be co-partitioned: the live sink's and the backfill's. */
export async function prepareSinkTopics(
  kafka: Kafka,
  config: Config,
  ctx: Pick<RoleContext, 'log' | 'signal' | 'conditions'>,
): Promise<void> {
  const partitions = await prepareTopics(
    kafka,
    config,
    ['sessionTags', 'recordingExports', 'legalHolds', 'sinkState', 'manifests', 'dlq'],
    ctx,
  );
  assertCoPartitioned(partitions, [
    config.topics.sessionTags,
    config.topics.recordingExports,
    config.topics.legalHolds,
    config.topics.sinkState,
  ]);
}

/**
 * The join meets a conversation's records in one partition number only if its input topics have the same
 * partition count (Kafka Streams checks the same at start-up).
 */
export function assertCoPartitioned(
  partitions: ReadonlyMap<string, number>,
  topics: readonly string[],
): void {
  const counts = topics.map((t) => `${t}=${partitions.get(t) ?? '?'}`);
  if (new Set(topics.map((t) => partitions.get(t))).size > 1) {
    throw new FatalError(
      `the sink's topics (its inputs and its state changelog) are not co-partitioned (${counts.join(', ')}): give them the same partition count (CUSTODY_TOPIC_PARTITIONS when custody creates them)`,
      { setting: 'CUSTODY_TOPIC_PARTITIONS' },
    );
  }
}
