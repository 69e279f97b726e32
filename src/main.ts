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
import type { HoldArgs } from './hold/hold-command.ts';
import { discoverExportIntegration } from './genesys/export-integration.ts';
import { GenesysApiError, GenesysPlatformClient } from './genesys/platform-client.ts';
import platformClient from 'purecloud-platform-client-v2';
import type { Models } from 'purecloud-platform-client-v2';
import type { BackfillScope } from './backfill/backfill-plan.ts';
import type { Encoders } from './kafka/record-codecs.ts';
import { SdkGenesysApi } from './ingest/genesys-api.ts';
import { INGEST_VERSION, startIngest } from './ingest/ingest-pipeline.ts';
import { restoreSnapshots } from './ingest/snapshot-restore.ts';
import { GENESYS_LIMITS } from './ingest/subscription-plan.ts';
import { createDecoders, createEncoders } from './kafka/record-codecs.ts';
import { registerKafkajsCodecs } from './kafka/kafkajs-codecs.ts';
import { installKafkajsFastPaths } from './kafka/kafkajs-fast-paths.ts';
import { KafkaRecordProducer } from './kafka/record-producer.ts';
import type { KeyedRecord, RecordProducer } from './kafka/record-producer.ts';
import { ensureTopics } from './kafka/topics.ts';
import type { TopicRole } from './kafka/topics.ts';
import { startHealthServer } from './observability/health.ts';
import { createLogger } from './observability/logger.ts';
import { pino } from 'pino';
import type { Logger } from './observability/logger.ts';
import { createRegistry, ingestMetrics, sinkMetrics } from './observability/metrics.ts';
import type { SinkMetrics } from './observability/metrics.ts';
import { ExportJobError } from './exports/export-job-runner.ts';
import { SdkRecordingJobsApi } from './exports/export-jobs-api.ts';
import { runExportsRun } from './exports/exports-run.ts';
import { exportsWatchMetrics } from './exports/export-metrics.ts';
import { EXPORTS_WATCH_VERSION, startExportsWatch } from './exports/exports-watch.ts';
import { loadSigningKey } from './sink/signing-key.ts';
import { createSinkCodecs } from './sink/sink-codecs.ts';
import { DEFAULT_SINK_OPTIONS, startSink } from './sink/sink-pipeline.ts';
import type { SinkOptions } from './sink/sink-pipeline.ts';
import { retryUntilDone } from './runtime/backoff.ts';
import { describeError, FatalError } from './runtime/errors.ts';
import { runRole } from './runtime/role.ts';
import type { RoleContext } from './runtime/role.ts';
import { CUSTODY_VERSION } from './version.ts';

/** Each role's default port for /healthz, /readyz and /metrics, so roles on one host never clash. */
export const ROLE_HTTP_PORTS = { ingest: 9464, exportsWatch: 9465, sink: 9466 } as const;

function httpPort(config: Config, role: keyof typeof ROLE_HTTP_PORTS): number {
  return config.custody.httpPort ?? ROLE_HTTP_PORTS[role];
}

/**
 * Creates the role's topics (or finds them made by another role starting at the same moment) and waits until
 * each partition has a leader; a broker that is not up yet, or just started, is waited for.
 */
async function prepareTopics(
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

/** Reads a PEM public key (or the public half of a private key); errors name the file, never its content. */
async function loadPublicKey(path: string): Promise<KeyObject> {
  try {
    return createPublicKey(await readFile(path, 'utf8'));
  } catch {
    throw new Error(`trusted key file ${path} cannot be read or holds no PEM public key`);
  }
}

/** custody's producer, writing record batches with the configured compression. */
function producerFromConfig(kafka: Kafka, config: Config): KafkaRecordProducer {
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
      const level = entry.level <= logLevel.ERROR ? 'error' : entry.level === logLevel.WARN ? 'warn' : 'info';
      log[level](
        { component: 'kafkajs', namespace: entry.namespace, broker: rest['broker'], error: rest['error'] },
        message,
      );
    },
    ...overrides,
  };
  return new Kafka(kafkaConfig);
}

function rootLogger(config: Config): Logger {
  return createLogger({ level: config.custody.logLevel, instance: config.custody.instanceId });
}

/** Runs `custody ingest` until SIGTERM/SIGINT; resolves with the exit code. */
export async function runIngest(config: Config): Promise<number> {
  const processStartedAt = Date.now();
  const log = rootLogger(config).child({ stage: 'ingest' });
  return runRole({ name: 'custody ingest', log }, async (ctx) => {
    const registry = createRegistry({ defaultMetrics: true });
    const metrics = ingestMetrics(registry);
    let ingest: Awaited<ReturnType<typeof startIngest>> | undefined;
    ctx.conditions.set('start-up', 'starting');
    // Up before any dependency is reached, so /readyz can say what the role is waiting for.
    const health = await startHealthServer({
      port: httpPort(config, 'ingest'),
      registry,
      readiness: { notReadyReason: () => ctx.conditions.notReadyReason() ?? ingest?.notReadyReason() },
    });
    const api = new SdkGenesysApi({
      apiUrl: config.genesys.apiUrl as string,
      clientId: config.genesys.clientId as string,
      clientSecret: config.genesys.clientSecret as NonNullable<Config['genesys']['clientSecret']>,
    });
    try {
      const kafka = kafkaFromConfig(config, log);
      await prepareTopics(kafka, config, ['notifications', 'sessionTags', 'dlq'], ctx);
      const decoders = createDecoders(config.kafka);
      const since = Date.now() - config.ingest.restoreHours * 3_600_000;
      const restored = await restoreSnapshots({
        kafka,
        topic: config.topics.sessionTags,
        decoders,
        since,
        log,
        signal: ctx.signal,
        conditions: ctx.conditions,
      });
      log.info(
        {
          conversations: restored.conversations.size,
          records: restored.records,
          undecodable: restored.undecodable,
        },
        'snapshots restored',
      );
      const encoders = await retryUntilDone(
        'schema registry',
        () => createEncoders(config.kafka, config.topics),
        ctx,
      );
      // startIngest waits for Genesys itself (not ready meanwhile) and closes what it opened if it fails.
      ingest = await startIngest(
        {
          api,
          producer: producerFromConfig(kafka, config),
          encoders,
          topics: config.topics,
          instance: config.custody.instanceId,
          log,
          metrics,
          restored: restored.conversations,
          evidenceLog: { kafka, decoders },
          ...(config.ingest.source === 'eventbridge'
            ? {
                eventBridge: {
                  kafka,
                  topic: config.topics.eventBridge,
                  groupId: config.ingest.eventBridgeGroup,
                },
              }
            : {}),
          processStartedAt,
          signal: ctx.signal,
          conditions: ctx.conditions,
          onFailure: ctx.fail,
        },
        {
          limits: { ...GENESYS_LIMITS, combine: config.ingest.combinedTopics },
          delivery: {
            highWater: config.ingest.bufferMaxFrames,
            lowWater: Math.floor(config.ingest.bufferMaxFrames / 2),
            highWaterBytes: config.ingest.bufferMaxBytes,
            lowWaterBytes: Math.floor(config.ingest.bufferMaxBytes / 2),
          },
          channel: { maxPayloadBytes: config.ingest.maxFrameBytes },
          stopTimeoutMs: config.ingest.stopTimeoutMs,
          restartGapMaxMs: config.ingest.restartGapMaxHours * 3_600_000,
        },
      );
      ctx.conditions.clear('start-up');
      log.info({ version: INGEST_VERSION, httpPort: health.port }, 'custody ingest running');
      await ctx.untilStopped;
    } finally {
      api.close();
      const report = await ingest?.stop();
      if (report?.timedOut)
        log.warn(
          { unflushed: report.unflushed },
          'stopped before every frame was flushed; the next start repairs them',
        );
      await health.close();
    }
  });
}

/**
 * What custody's S3 clients set besides the endpoint and credentials: SHA-256 checksums are asked for explicitly
 * where custody writes evidence, and the SDK's default CRC32 on every request and response (a second pass over
 * every audio file read) is left off. The benchmarks build their clients with these too.
 */
export const S3_CLIENT_OPTIONS = {
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED',
} as const;

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
    ...S3_CLIENT_OPTIONS,
  });
}

/**
 * Runs `custody exports watch` until SIGTERM/SIGINT; resolves with the exit code. `backfill` lists the hour
 * folders of an older range too.
 */
export async function runExportsWatch(
  config: Config,
  backfill?: { from: number; to: number },
): Promise<number> {
  const log = rootLogger(config).child({ stage: 'exports' });
  return runRole({ name: 'custody exports watch', log }, async (ctx) => {
    const registry = createRegistry({ defaultMetrics: true });
    // Registered once: start-up may be retried.
    const metrics = exportsWatchMetrics(registry);
    let watch: Awaited<ReturnType<typeof startExportsWatch>> | undefined;
    ctx.conditions.set('start-up', 'starting');
    const health = await startHealthServer({
      port: httpPort(config, 'exportsWatch'),
      registry,
      readiness: { notReadyReason: () => ctx.conditions.notReadyReason() ?? watch?.notReadyReason() },
    });
    const kafka = kafkaFromConfig(config, log);
    const producer = producerFromConfig(kafka, config);
    const s3 = s3FromConfig(config);
    try {
      await prepareTopics(kafka, config, ['recordingExports', 'dlq'], ctx);
      const encoders = await retryUntilDone(
        'schema registry',
        () => createEncoders(config.kafka, config.topics),
        ctx,
      );
      // The watch waits for its bucket (created by the integration's first export) and for Kafka itself.
      watch = await startExportsWatch(
        {
          s3,
          producer,
          encoders,
          log,
          kafka,
          metrics,
          conditions: ctx.conditions,
          signal: ctx.signal,
          onFailure: ctx.fail,
        },
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
      ctx.conditions.clear('start-up');
      log.info({ version: EXPORTS_WATCH_VERSION, httpPort: health.port }, 'custody exports watch running');
      await ctx.untilStopped;
    } finally {
      await watch?.stop();
      await producer.close().catch(() => undefined);
      await health.close();
      s3.destroy();
    }
  });
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

/** The configured buckets the sink may read exports from and write manifests to. */
export function sinkBuckets(config: Config): string[] {
  const all = [config.s3.bucket, config.sink.manifestBucket];
  return [...new Set(all.filter((b): b is string => typeof b === 'string'))];
}

/** The sink's settings from the config (the live sink's, and those `custody backfill` runs the join with). */
function sinkOptionsOf(config: Config, trustedPublicKeys: readonly KeyObject[]): SinkOptions {
  return {
    ...DEFAULT_SINK_OPTIONS,
    groupId: config.sink.groupId,
    topics: config.topics,
    manifestBucket: config.sink.manifestBucket,
    manifestPrefix: config.sink.manifestPrefix,
    exportPrefix: config.exports.prefix,
    lock:
      config.sink.legalHold || config.sink.retention
        ? { legalHold: config.sink.legalHold, retention: config.sink.retention }
        : undefined,
    allowedBuckets: sinkBuckets(config),
    partitionsConsumedConcurrently: config.sink.partitionConcurrency,
    instance: config.custody.instanceId,
    version: CUSTODY_VERSION,
    trustedPublicKeys,
  };
}

/** The signing key, or a fatal error naming the setting. */
async function signingKeyOf(config: Config) {
  return loadSigningKey(config.custody.signingKeyFile as string).catch((e: unknown) => {
    throw new FatalError(`the signing key cannot be loaded: ${describeError(e)}`, {
      setting: 'CUSTODY_SIGNING_KEY_FILE',
    });
  });
}

/** Runs `custody sink` until SIGTERM/SIGINT; resolves with the exit code after the batch in hand is committed. */
export async function runSink(config: Config): Promise<number> {
  const log = rootLogger(config).child({ stage: 'sink' });
  return runRole({ name: 'custody sink', log }, async (ctx) => {
    const signer = await signingKeyOf(config);
    const trustedPublicKeys = await Promise.all(config.sink.trustedKeyFiles.map(loadPublicKey));
    const registry = createRegistry({ defaultMetrics: true });
    const metrics = sinkMetrics(registry);
    let crashed: string | undefined;
    ctx.conditions.set('start-up', 'starting');
    const health = await startHealthServer({
      port: httpPort(config, 'sink'),
      registry,
      readiness: {
        notReadyReason: () =>
          ctx.conditions.notReadyReason() ?? (crashed ? `consumer restarting: ${crashed}` : undefined),
      },
    });
    const kafka = kafkaFromConfig(config, log);
    const producer = countingProducer(producerFromConfig(kafka, config), config, metrics);
    const s3 = s3FromConfig(config);
    let sink: Awaited<ReturnType<typeof startSink>> | undefined;
    try {
      await prepareSinkTopics(kafka, config, ctx);
      const codecs = await retryUntilDone(
        'schema registry',
        () => createSinkCodecs(config.kafka, config.topics),
        ctx,
      );
      sink = await retryUntilDone(
        'sink consumer',
        () =>
          startSink(
            {
              kafka,
              s3,
              signer,
              codecs,
              logger: log,
              producer,
              conditions: ctx.conditions,
              signal: ctx.signal,
            },
            sinkOptionsOf(config, trustedPublicKeys),
          ),
        ctx,
      );
      const ev = sink.consumer.events;
      sink.consumer.on(ev.GROUP_JOIN, () => {
        crashed = undefined;
        metrics.rebalances.inc();
      });
      sink.consumer.on(ev.CRASH, (e) => {
        metrics.crashes.inc();
        // kafkajs restarts the consumer itself only after retriable errors; any other crash would leave it stopped
        // for good while the process looks healthy, so the process ends instead and its supervisor restarts it.
        if (e.payload.restart) crashed = e.payload.error.message;
        else ctx.fail(e.payload.error);
      });
      sink.consumer.on(ev.END_BATCH_PROCESS, (e) => {
        metrics.batches.inc();
        metrics.lag.set(
          { topic: e.payload.topic, partition: String(e.payload.partition) },
          Number(e.payload.offsetLag),
        );
      });
      ctx.conditions.clear('start-up');
      log.info(
        { version: CUSTODY_VERSION, keyId: signer.keyId, httpPort: health.port },
        'custody sink running',
      );
      await ctx.untilStopped;
    } finally {
      await sink?.stop().catch(() => undefined);
      await producer.close().catch(() => undefined);
      await health.close();
      s3.destroy();
    }
  });
}

/** The sink's topics (created when missing), checked to be co-partitioned: the live sink's and the backfill's. */
async function prepareSinkTopics(
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

/** The org's one export integration, found through the API (GENESYS_EXPORT_INTEGRATION_ID not set). */
async function findExportIntegration(config: Config, log: Logger): Promise<string> {
  const client = new GenesysPlatformClient({
    apiUrl: config.genesys.apiUrl as string,
    clientId: config.genesys.clientId as string,
    clientSecret: config.genesys.clientSecret as NonNullable<Config['genesys']['clientSecret']>,
  });
  try {
    const id = await discoverExportIntegration(client);
    log.info({ integrationId: id }, 'export integration discovered');
    return id;
  } finally {
    client.close();
  }
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
  let code = 0;
  const roleCode = await runRole({ name: 'custody exports run', log }, async (ctx) => {
    const kafka = kafkaFromConfig(config, log);
    await prepareTopics(kafka, config, ['recordingExports', 'dlq'], ctx);
    ctx.signal.addEventListener('abort', () =>
      log.info('stopping: the job ledger keeps the progress; continue with --resume'),
    );
    const api = new SdkRecordingJobsApi({
      apiUrl: config.genesys.apiUrl as string,
      clientId: config.genesys.clientId as string,
      clientSecret: config.genesys.clientSecret as NonNullable<Config['genesys']['clientSecret']>,
    });
    const s3 = s3FromConfig(config);
    const producer = producerFromConfig(kafka, config);
    try {
      const integrationId =
        args.integrationId ??
        config.exports.integrationId ??
        (args.resumeJobId === undefined
          ? await retryUntilDone('Genesys integrations', () => findExportIntegration(config, log), ctx)
          : undefined);
      const encoders = await retryUntilDone(
        'schema registry',
        () => createEncoders(config.kafka, config.topics),
        ctx,
      );
      const report = await runExportsRun(
        { api, s3, producer, encoders, log, signal: ctx.signal },
        {
          from: args.from,
          to: args.to,
          integrationId,
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
      code = report.finalState === 'FULFILLED' ? 0 : 1;
    } catch (e) {
      if (!(e instanceof ExportJobError)) throw e;
      log.error({ code: e.code }, e.message);
      code = 1;
    } finally {
      api.close();
      await producer.close().catch(() => undefined);
      s3.destroy();
    }
  });
  return roleCode !== 0 ? roleCode : code;
}

/** `custody verify` options from the command line. */
export type VerifyCliArgs = Readonly<{
  bucket?: string;
  prefix?: string;
  from?: number;
  to?: number;
  conversations?: readonly string[];
  publicKeyFiles: readonly string[];
  json: boolean;
  htmlPath: string | null;
  concurrency: number;
}>;

/**
 * Runs `custody verify` (src/verify): audits the export bucket with the public keys only. Resolves with the
 * exit code (0 nothing failed, 1 findings, 69 could not run).
 */
export async function runVerify(config: Config, args: VerifyCliArgs): Promise<number> {
  const { runVerifyCommand } = await import('./verify/verify-command.ts');
  const keyFiles = args.publicKeyFiles.length > 0 ? args.publicKeyFiles : config.sink.trustedKeyFiles;
  if (keyFiles.length === 0)
    throw new FatalError(
      'custody verify needs the public key(s) manifests are signed with: --public-key <pem> (or CUSTODY_TRUSTED_KEY_FILES)',
      { setting: 'CUSTODY_TRUSTED_KEY_FILES' },
    );
  const publicKeys = await Promise.all(
    keyFiles.map((f) =>
      loadPublicKey(f).catch((e: unknown) => {
        throw new FatalError(describeError(e).replace(/^Error: /, ''), { setting: '--public-key' });
      }),
    ),
  );
  const s3 = s3FromConfig(config);
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const { code } = await runVerifyCommand(
      {
        s3,
        stdout: process.stdout,
        stderr: process.stderr,
        now: () => new Date(),
        version: CUSTODY_VERSION,
        signal: stop.signal,
      },
      {
        scope: {
          bucket: args.bucket ?? (config.s3.bucket as string),
          prefix: args.prefix ?? config.exports.prefix,
          manifestBucket: config.sink.manifestBucket,
          manifestPrefix: config.sink.manifestPrefix,
          from: args.from,
          to: args.to,
          conversations: args.conversations ? new Set(args.conversations) : undefined,
        },
        publicKeys,
        expectManifestHold: config.sink.legalHold,
        concurrency: args.concurrency,
        json: args.json,
        htmlPath: args.htmlPath,
      },
    );
    return code;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    s3.destroy();
  }
}

/**
 * Runs `custody doctor` (src/doctor): every dependency checked once, one line each (or `--json`). Resolves with
 * 0 when every check passed, else 1.
 */
export async function runDoctor(config: Config, args: Readonly<{ json: boolean }>): Promise<number> {
  const { renderDoctor, runDoctorChecks } = await import('./doctor/doctor.ts');
  // Quiet: the doctor's own lines say what failed; kafkajs retries are cut short so an answer comes quickly.
  const log = createLogger({ level: 'silent', instance: config.custody.instanceId });
  const kafka =
    config.kafka.brokers.length > 0
      ? kafkaFromConfig(config, log, {
          connectionTimeout: 3_000,
          retry: { retries: 1, initialRetryTime: 200 },
        })
      : undefined;
  const s3 = config.s3.bucket !== undefined ? s3FromConfig(config) : undefined;
  try {
    const report = await runDoctorChecks({ config, kafka, s3 });
    process.stdout.write(args.json ? `${JSON.stringify(report, null, 2)}\n` : renderDoctor(report));
    return report.ok ? 0 : 1;
  } finally {
    s3?.destroy();
  }
}

/** Arguments of `custody hold|release` (parsed in cli.ts). */
export type HoldCliArgs = HoldArgs;

/**
 * Runs `custody hold|release` (src/hold): records the hold event, applies Genesys deletion protection, and waits
 * for the sink. Resolves with the exit code (0 done, 1 refused or partly failed, 69 unavailable).
 */
export async function runHold(config: Config, args: HoldCliArgs): Promise<number> {
  const { runHoldCommand } = await import('./hold/hold-command.ts');
  const { SdkDeletionProtectionApi } = await import('./hold/hold-genesys.ts');
  // Quiet: the command's own lines say what happened; kafkajs retries are bounded by the command's own.
  const log = createLogger({ level: 'silent', instance: config.custody.instanceId });
  const kafka = kafkaFromConfig(config, log, { connectionTimeout: 5_000, retry: { retries: 2 } });
  const producer = producerFromConfig(kafka, config);
  const genesys =
    args.genesys && config.genesys.apiUrl && config.genesys.clientId && config.genesys.clientSecret
      ? new SdkDeletionProtectionApi({
          apiUrl: config.genesys.apiUrl,
          clientId: config.genesys.clientId,
          clientSecret: config.genesys.clientSecret,
        })
      : undefined;
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const encoders = await createEncoders(config.kafka, config.topics);
    const decoders = createDecoders(config.kafka);
    const { code } = await runHoldCommand(
      {
        kafka,
        producer,
        codecs: {
          legalHold: {
            encode: (v) => encoders['legal-hold.v1'].encode(v),
            decode: (b) => decoders['legal-hold.v1'].decode(b),
          },
          manifestWritten: decoders['manifest-written.v1'],
        },
        genesys,
        topics: { legalHolds: config.topics.legalHolds, manifests: config.topics.manifests },
        sinkGroupId: config.sink.groupId,
        instance: config.custody.instanceId,
        version: CUSTODY_VERSION,
        stdout: process.stdout,
        stderr: process.stderr,
        now: () => Date.now(),
        signal: stop.signal,
      },
      args,
    );
    return code;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    genesys?.close();
    await producer.close().catch(() => undefined);
  }
}

/** `custody backfill` options from the command line. */
export type BackfillCliArgs = Readonly<{
  scope: BackfillScope;
  jobId?: string;
  json: boolean;
}>;

/**
 * Runs `custody backfill` (src/backfill) to its end: rescans the range's export folders, reconstructs the tags
 * of conversations never captured live, and replays the join in a consumer group of its own. Resolves with the
 * exit code: 0 done, 1 done with failures (dead letters, tags that could not be reconstructed because Genesys
 * did not answer), or the role's code when it could not run; interrupted (SIGINT/SIGTERM), the same command
 * continues it.
 */
export async function runBackfillCommand(config: Config, args: BackfillCliArgs): Promise<number> {
  const { runBackfill } = await import('./backfill/backfill.ts');
  const { backfillProgress, renderBackfillSummary } = await import('./backfill/backfill-report.ts');
  const { defaultJobId } = await import('./backfill/backfill-plan.ts');
  // Its report is the command's stdout (JSON with --json): its log lines go to stderr.
  const log = createLogger({
    level: config.custody.logLevel,
    instance: config.custody.instanceId,
    destination: pino.destination(2),
  }).child({ stage: 'backfill' });
  const jobId = args.jobId ?? defaultJobId(args.scope);
  let code = 0;
  const roleCode = await runRole({ name: 'custody backfill', log }, async (ctx) => {
    ctx.signal.addEventListener('abort', () =>
      log.info({ jobId }, 'stopping: run the same command again to continue this backfill'),
    );
    const signer = await signingKeyOf(config);
    const trustedPublicKeys = await Promise.all(config.sink.trustedKeyFiles.map(loadPublicKey));
    const kafka = kafkaFromConfig(config, log);
    const producer = producerFromConfig(kafka, config);
    const s3 = s3FromConfig(config);
    const genesys =
      config.genesys.apiUrl && config.genesys.clientId && config.genesys.clientSecret
        ? new GenesysPlatformClient({
            apiUrl: config.genesys.apiUrl,
            clientId: config.genesys.clientId,
            clientSecret: config.genesys.clientSecret,
          })
        : undefined;
    const progress = backfillProgress(process.stderr);
    try {
      await prepareSinkTopics(kafka, config, ctx);
      const [codecs, encoders] = await retryUntilDone(
        'schema registry',
        () =>
          Promise.all([
            createSinkCodecs(config.kafka, config.topics),
            createEncoders(config.kafka, config.topics),
          ]),
        ctx,
      );
      const analyticsApi = genesys ? new platformClient.AnalyticsApi(genesys.sdk) : undefined;
      const report = await runBackfill(
        {
          kafka,
          s3,
          producer,
          signer,
          codecs,
          tagsEncoder: encoders['session-tags.v1'],
          rescan:
            config.s3.bucket === undefined
              ? undefined
              : (from, to, keep, onHour) =>
                  rescanExports(
                    config,
                    { s3, producer, encoders, log, signal: ctx.signal },
                    jobId,
                    from,
                    to,
                    keep,
                    onHour,
                  ),
          analytics:
            genesys && analyticsApi
              ? async (id) => {
                  try {
                    return await genesys.call<Models.AnalyticsConversationWithoutAttributes>(
                      'GET /api/v2/analytics/conversations/{id}/details',
                      () => analyticsApi.getAnalyticsConversationDetails(id),
                    );
                  } catch (e) {
                    if (e instanceof GenesysApiError && e.status === 404) return undefined;
                    throw e;
                  }
                }
              : undefined,
          log,
          now: () => Date.now(),
          signal: ctx.signal,
          onProgress: (p) => progress.update(p),
        },
        {
          jobId,
          scope: args.scope,
          lookbackMs: config.sink.backfillLookbackHours * 3_600_000,
          sink: sinkOptionsOf(config, trustedPublicKeys),
          concurrency: config.sink.backfillConcurrency,
        },
      );
      progress.stop();
      process.stdout.write(
        args.json ? `${JSON.stringify(report, null, 2)}\n` : renderBackfillSummary(report),
      );
      code = report.ok ? 0 : 1;
    } finally {
      progress.stop();
      genesys?.close();
      await producer.close().catch(() => undefined);
      s3.destroy();
    }
  });
  return roleCode !== 0 ? roleCode : code;
}

/**
 * Lists the export hour folders of `[fromMs, toMs)` with the exports watch's own scanner and checkpoint (so
 * what the watch already published is not published again) until none is left; resolves with what it published.
 */
async function rescanExports(
  config: Config,
  deps: Readonly<{
    s3: S3Client;
    producer: RecordProducer;
    encoders: Encoders;
    log: Logger;
    signal: AbortSignal;
  }>,
  jobId: string,
  fromMs: number,
  toMs: number,
  keep: (records: readonly KeyedRecord[]) => Promise<KeyedRecord[]>,
  onHour: (done: number, total: number) => void,
): Promise<{ hours: number; published: number }> {
  let published = 0;
  const producer: RecordProducer = {
    send: async (records) => {
      const kept = await keep(records);
      published += kept.filter((r) => r.topic === config.topics.recordingExports).length;
      return kept.length > 0 ? deps.producer.send(kept) : [];
    },
    close: async () => undefined,
  };
  const watcherName = `${config.exports.watchName}.backfill.${jobId}`;
  const watch = await startExportsWatch(
    { s3: deps.s3, producer, encoders: deps.encoders, log: deps.log, signal: deps.signal },
    {
      bucket: config.s3.bucket as string,
      prefix: config.exports.prefix,
      // The job's own scanner checkpoint: the live watch's is never touched, and a rerun lists only the range.
      watcherName,
      topics: config.topics,
      instance: config.custody.instanceId,
      scanIntervalMs: 0,
      lookbackHours: 1,
      pairGraceMs: config.exports.pairGraceMs,
      dayHourPadding: config.exports.dayHourPadding,
      jobLedgerSkewMs: config.exports.jobSkewMs,
    },
  );
  try {
    const hours = Math.max(1, Math.ceil((toMs - fromMs) / 3_600_000));
    // The scanner's ranges are whole hours, both ends included.
    watch.requestRange(fromMs, toMs - 1);
    for (;;) {
      const r = await watch.scanOnce();
      onHour(Math.max(0, hours - r.backlogHours), hours);
      if (r.backlogHours === 0) return { hours, published };
    }
  } finally {
    await watch.stop();
  }
}
