/**
 * The composition root: turns the validated config into clients, adapters and running pipelines. Only
 * this module constructs clients; pipelines receive them as dependencies.
 */
import { createPublicKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { S3Client } from '@aws-sdk/client-s3';
import { Kafka, logLevel } from 'kafkajs';
import type { KafkaConfig, SASLOptions } from 'kafkajs';
import type { Config } from './config.ts';
import { SdkGenesysApi } from './ingest/genesys-api.ts';
import { INGEST_VERSION, startIngest } from './ingest/ingest-pipeline.ts';
import { restoreSnapshots } from './ingest/snapshot-restore.ts';
import { GENESYS_LIMITS } from './ingest/subscription-plan.ts';
import { createDecoders, createEncoders } from './kafka/record-codecs.ts';
import { KafkaRecordProducer } from './kafka/record-producer.ts';
import type { RecordProducer } from './kafka/record-producer.ts';
import { ensureTopics } from './kafka/topics.ts';
import { startHealthServer } from './observability/health.ts';
import { createLogger } from './observability/logger.ts';
import type { Logger } from './observability/logger.ts';
import { createRegistry, ingestMetrics, sinkMetrics } from './observability/metrics.ts';
import type { SinkMetrics } from './observability/metrics.ts';
import { ExportJobError } from './sink/export-job-runner.ts';
import { SdkRecordingJobsApi } from './sink/export-jobs-api.ts';
import { runExportsRun } from './sink/exports-run.ts';
import { EXPORTS_WATCH_VERSION, startExportsWatch } from './sink/exports-watch.ts';
import { loadSigningKey } from './sink/signing-key.ts';
import { createSinkCodecs } from './sink/sink-codecs.ts';
import { DEFAULT_SINK_OPTIONS, startSink } from './sink/sink-pipeline.ts';
import { CUSTODY_VERSION } from './version.ts';

/** Reads a PEM public key (or the public half of a private key); errors name the file, never its content. */
async function loadPublicKey(path: string): Promise<KeyObject> {
  try {
    return createPublicKey(await readFile(path, 'utf8'));
  } catch {
    throw new Error(`trusted key file ${path} cannot be read or holds no PEM public key`);
  }
}

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
function rootLogger(config: Config): Logger {
  return createLogger({ level: config.custody.logLevel, instance: config.custody.instanceId });
}

export async function runIngest(config: Config): Promise<void> {
  const log = rootLogger(config).child({ stage: 'ingest' });
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

  await untilSignal(log, 'closing sockets, flushing Kafka');
  api.close();
  await ingest.stop();
  await health.close();
  log.info('custody ingest stopped');
}

/** Resolves on the first SIGTERM or SIGINT. */
function untilSignal(log: Logger, doing: string): Promise<void> {
  return new Promise<void>((resolve) => {
    const shutdown = (signal: string) => {
      log.info({ signal }, `shutting down: ${doing}`);
      resolve();
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  });
}

export function s3FromConfig(config: Config): S3Client {
  const s3 = config.s3;
  return new S3Client({
    region: s3.region,
    endpoint: s3.endpoint,
    forcePathStyle: s3.forcePathStyle,
    credentials: s3.credentials
      ? {
          accessKeyId: s3.credentials.accessKeyId,
          secretAccessKey: s3.credentials.secretAccessKey.reveal(),
          sessionToken: s3.credentials.sessionToken?.reveal(),
        }
      : undefined,
    // SHA-256 checksums are asked for explicitly where custody writes evidence; no CRC32 on every request.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** Runs `custody exports watch` until SIGTERM/SIGINT. `backfill` lists the hour folders of an older range too. */
export async function runExportsWatch(
  config: Config,
  backfill?: { from: number; to: number },
): Promise<void> {
  const log = rootLogger(config).child({ stage: 'exports' });
  const kafka = kafkaFromConfig(config, log);
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, config.topics, ['recordingExports', 'dlq']);
  await admin.disconnect();

  const registry = createRegistry({ defaultMetrics: true });
  const producer = new KafkaRecordProducer(kafka);
  const encoders = await createEncoders(config.kafka, config.topics);
  const s3 = s3FromConfig(config);
  const watch = await startExportsWatch(
    { s3, producer, encoders, log, kafka, registry },
    {
      bucket: config.s3.bucket as string,
      prefix: config.exports.prefix,
      watcherName: config.exports.watchName,
      topics: config.topics,
      instance: config.custody.instanceId,
      scanIntervalMs: config.exports.scanIntervalMs,
      lookbackHours: config.exports.lookbackHours,
      pairGraceMs: config.exports.pairGraceMs,
      dayHourPadding: config.exports.dayHourPadding,
      s3Events: config.exports.s3EventsTopic ? { topic: config.exports.s3EventsTopic } : undefined,
      jobLedgerSkewMs: config.exports.jobSkewMs,
    },
  );
  if (backfill) watch.requestRange(backfill.from, backfill.to);
  const health = await startHealthServer({ port: config.custody.httpPort, registry, readiness: watch });
  log.info({ version: EXPORTS_WATCH_VERSION, httpPort: health.port }, 'custody exports watch running');

  await untilSignal(log, 'finishing the scan pass in progress');
  await watch.stop();
  await producer.close();
  await health.close();
  s3.destroy();
  log.info('custody exports watch stopped');
}

/** Counts what the sink writes, by kind, on its way to Kafka. */
function countingProducer(inner: RecordProducer, config: Config, metrics: SinkMetrics): RecordProducer {
  return {
    async send(records) {
      const out = await inner.send(records);
      for (const r of records) {
        const kind =
          r.topic === config.topics.manifests
            ? 'manifest'
            : r.topic === config.topics.dlq
              ? 'dead_letter'
              : 'other';
        metrics.records.inc({ kind });
      }
      return out;
    },
    close: () => inner.close(),
  };
}

/** Runs `custody sink` until SIGTERM/SIGINT; resolves after the batch in hand is committed. */
export async function runSink(config: Config): Promise<void> {
  const log = rootLogger(config).child({ stage: 'sink' });
  const signer = await loadSigningKey(config.custody.signingKeyFile as string);
  const trustedPublicKeys = await Promise.all(config.sink.trustedKeyFiles.map(loadPublicKey));
  const kafka = kafkaFromConfig(config, log);
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, config.topics, ['sessionTags', 'recordingExports', 'manifests', 'dlq']);
  await admin.disconnect();

  const registry = createRegistry({ defaultMetrics: true });
  const metrics = sinkMetrics(registry);
  const producer = countingProducer(new KafkaRecordProducer(kafka), config, metrics);
  const s3 = s3FromConfig(config);
  const sink = await startSink(
    {
      kafka,
      s3,
      signer,
      codecs: await createSinkCodecs(config.kafka, config.topics),
      logger: log,
      producer,
    },
    {
      ...DEFAULT_SINK_OPTIONS,
      groupId: config.sink.groupId,
      topics: config.topics,
      stateBucket: config.sink.stateBucket ?? (config.s3.bucket as string),
      statePrefix: config.sink.statePrefix,
      manifestBucket: config.sink.manifestBucket,
      manifestPrefix: config.sink.manifestPrefix,
      exportPrefix: config.exports.prefix,
      lock:
        config.sink.legalHold || config.sink.retention
          ? { legalHold: config.sink.legalHold, retention: config.sink.retention }
          : undefined,
      partitionsConsumedConcurrently: config.sink.partitionConcurrency,
      instance: config.custody.instanceId,
      version: CUSTODY_VERSION,
      trustedPublicKeys,
    },
  );
  let crashed: string | undefined;
  const ev = sink.consumer.events;
  sink.consumer.on(ev.GROUP_JOIN, () => {
    crashed = undefined;
    metrics.rebalances.inc();
  });
  sink.consumer.on(ev.CRASH, (e) => {
    crashed = e.payload.error.message;
    metrics.crashes.inc();
  });
  sink.consumer.on(ev.END_BATCH_PROCESS, (e) => {
    metrics.batches.inc();
    metrics.lag.set(
      { topic: e.payload.topic, partition: String(e.payload.partition) },
      Number(e.payload.offsetLag),
    );
  });
  const health = await startHealthServer({
    port: config.custody.httpPort,
    registry,
    readiness: { notReadyReason: () => (crashed ? `consumer crashed: ${crashed}` : undefined) },
  });
  log.info({ version: CUSTODY_VERSION, keyId: signer.keyId, httpPort: health.port }, 'custody sink running');

  await untilSignal(log, 'committing the batch in hand');
  await sink.stop();
  await producer.close();
  await health.close();
  s3.destroy();
  log.info('custody sink stopped');
}

/** `custody exports run` options from the command line. */
export type ExportsRunArgs = Readonly<{
  from?: number;
  to?: number;
  integrationId?: string;
  actionDate?: number;
  resumeJobId?: string;
  wait: boolean;
  includeScreenRecordings: boolean;
}>;

/**
 * Runs one Genesys bulk export job to its end (`custody exports run`); SIGTERM/SIGINT stop waiting (the job's
 * ledger in S3 keeps the progress for `--resume`). Resolves with the process exit code.
 */
export async function runExportsJob(config: Config, args: ExportsRunArgs): Promise<number> {
  const log = rootLogger(config).child({ stage: 'exports-run' });
  const kafka = kafkaFromConfig(config, log);
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, config.topics, ['recordingExports', 'dlq']);
  await admin.disconnect();

  const abort = new AbortController();
  const onSignal = (signal: string) => {
    log.info({ signal }, 'stopping: the job ledger keeps the progress; continue with --resume');
    abort.abort();
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  const api = new SdkRecordingJobsApi({
    apiUrl: config.genesys.apiUrl as string,
    clientId: config.genesys.clientId as string,
    clientSecret: config.genesys.clientSecret as NonNullable<Config['genesys']['clientSecret']>,
  });
  const s3 = s3FromConfig(config);
  const producer = new KafkaRecordProducer(kafka);
  try {
    const report = await runExportsRun(
      {
        api,
        s3,
        producer,
        encoders: await createEncoders(config.kafka, config.topics),
        log,
        signal: abort.signal,
      },
      {
        from: args.from,
        to: args.to,
        integrationId: args.integrationId ?? config.exports.integrationId,
        actionDate: args.actionDate,
        includeScreenRecordings: args.includeScreenRecordings,
        resumeJobId: args.resumeJobId,
        wait: args.wait,
        bucket: config.s3.bucket as string,
        prefix: config.exports.prefix,
        dayHourPadding: config.exports.dayHourPadding,
        topics: config.topics,
        instance: config.custody.instanceId,
        version: CUSTODY_VERSION,
        job: { pollIntervalMs: config.exports.runPollMs, timeoutMs: config.exports.runTimeoutMs },
        collect: {
          intervalMs: config.exports.scanIntervalMs,
          pairGraceMs: config.exports.pairGraceMs,
          skewMs: config.exports.jobSkewMs,
        },
      },
    );
    log.info({ ...report, states: report.states.length }, 'custody exports run finished');
    process.stdout.write(`${JSON.stringify(report)}\n`);
    return report.finalState === 'FULFILLED' ? 0 : 1;
  } catch (e) {
    if (e instanceof ExportJobError) {
      log.error({ code: e.code }, e.message);
      return 1;
    }
    throw e;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    api.close();
    await producer.close();
    s3.destroy();
  }
}
