/**
 * The composition root: turns the validated config into clients, adapters and running pipelines. Only
 * this module constructs clients; pipelines receive them as dependencies.
 */
import { Kafka, logLevel } from 'kafkajs';
import type { KafkaConfig, SASLOptions } from 'kafkajs';
import type { Config } from './config.ts';
import { SdkGenesysApi } from './ingest/genesys-api.ts';
import { INGEST_VERSION, startIngest } from './ingest/ingest-pipeline.ts';
import { restoreSnapshots } from './ingest/snapshot-restore.ts';
import { GENESYS_LIMITS } from './ingest/subscription-plan.ts';
import { createDecoders, createEncoders } from './kafka/record-codecs.ts';
import { KafkaRecordProducer } from './kafka/record-producer.ts';
import { ensureTopics } from './kafka/topics.ts';
import { startHealthServer } from './observability/health.ts';
import { createLogger } from './observability/logger.ts';
import type { Logger } from './observability/logger.ts';
import { createRegistry, ingestMetrics } from './observability/metrics.ts';

export function kafkaFromConfig(config: Config, log: Logger): Kafka {
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
      const level = entry.level <= logLevel.ERROR ? 'error' : entry.level === logLevel.WARN ? 'warn' : 'info';
      log[level](
        { component: 'kafkajs', namespace: entry.namespace, broker: rest['broker'], error: rest['error'] },
        message,
      );
    },
  };
  return new Kafka(kafkaConfig);
}

/** Runs `custody ingest` until SIGTERM/SIGINT; resolves after a graceful shutdown. */
export async function runIngest(config: Config): Promise<void> {
  const log = createLogger({ level: config.custody.logLevel, instance: config.custody.instanceId }).child({
    stage: 'ingest',
  });
  const kafka = kafkaFromConfig(config, log);
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, config.topics, ['notifications', 'sessionTags', 'dlq']);
  await admin.disconnect();

  const decoders = createDecoders(config.kafka);
  const since = Date.now() - config.ingest.restoreHours * 3_600_000;
  const restored = await restoreSnapshots({ kafka, topic: config.topics.sessionTags, decoders, since });
  log.info(
    { conversations: restored.snapshots.size, records: restored.records, undecodable: restored.undecodable },
    'snapshots restored',
  );

  const registry = createRegistry({ defaultMetrics: true });
  const metrics = ingestMetrics(registry);
  const api = new SdkGenesysApi({
    apiUrl: config.genesys.apiUrl as string,
    clientId: config.genesys.clientId as string,
    clientSecret: config.genesys.clientSecret as NonNullable<Config['genesys']['clientSecret']>,
  });
  const ingest = await startIngest(
    {
      api,
      producer: new KafkaRecordProducer(kafka),
      encoders: await createEncoders(config.kafka, config.topics),
      topics: config.topics,
      instance: config.custody.instanceId,
      log,
      metrics,
      restored: restored.snapshots,
    },
    {
      limits: { ...GENESYS_LIMITS, combine: config.ingest.combinedTopics },
      delivery: {
        highWater: config.ingest.bufferMaxFrames,
        lowWater: Math.floor(config.ingest.bufferMaxFrames / 2),
      },
    },
  );
  const health = await startHealthServer({ port: config.custody.httpPort, registry, readiness: ingest });
  log.info({ version: INGEST_VERSION, httpPort: health.port }, 'custody ingest running');

  await new Promise<void>((resolve) => {
    const shutdown = (signal: string) => {
      log.info({ signal }, 'shutting down: closing sockets, flushing Kafka');
      resolve();
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  });
  api.close();
  await ingest.stop();
  await health.close();
  log.info('custody ingest stopped');
}
