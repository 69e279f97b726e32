/** `custody exports watch` and `custody exports run`: recordings found in the export bucket, announced on Kafka. */
import type { Config } from '../config.ts';
import { discoverExportIntegration } from '../genesys/export-integration.ts';
import { GenesysPlatformClient } from '../genesys/platform-client.ts';
import { createEncoders } from '../kafka/record-codecs.ts';
import { startHealthServer } from '../observability/health.ts';
import type { Logger } from '../observability/logger.ts';
import { createRegistry } from '../observability/metrics.ts';
import { ExportJobError } from '../exports/export-job-runner.ts';
import { SdkRecordingJobsApi } from '../exports/export-jobs-api.ts';
import { runExportsRun } from '../exports/exports-run.ts';
import { exportsWatchMetrics } from '../exports/export-metrics.ts';
import { EXPORTS_WATCH_VERSION, startExportsWatch } from '../exports/exports-watch.ts';
import { retryUntilDone } from '../runtime/backoff.ts';
import { runRole } from '../runtime/role.ts';
import { CUSTODY_VERSION } from '../version.ts';
import { httpPort, prepareTopics, producerFromConfig, kafkaFromConfig, rootLogger } from './wiring.ts';
import { s3FromConfig } from './s3-client.ts';

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
          lookaheadHours: config.exports.lookaheadHours,
          pairGraceMs: config.exports.pairGraceMs,
          dayHourPadding: config.exports.dayHourPadding,
          s3Events: config.exports.s3EventsTopic ? { topic: config.exports.s3EventsTopic } : undefined,
          jobLedgerSkewMs: config.exports.jobSkewMs,
        },
      );
      if (backfill) watch.requestRange(backfill.from, backfill.to);
      ctx.started({ version: EXPORTS_WATCH_VERSION, httpPort: health.port }, 'custody exports watch running');
      await ctx.untilStopped;
    } finally {
      await watch?.stop();
      await producer.close().catch(() => undefined);
      await health.close();
      s3.destroy();
    }
  });
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
