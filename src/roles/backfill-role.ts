/** `custody backfill`: past exports rescanned, missing tags reconstructed, the join replayed. */
import { loadPublicKey } from '../sink/signing-key.ts';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Config } from '../config.ts';
import { GenesysApiError, GenesysPlatformClient, platformClient } from '../genesys/platform-client.ts';
import type { Models } from 'purecloud-platform-client-v2';
import type { BackfillScope } from '../backfill/backfill-plan.ts';
import type { Encoders } from '../kafka/record-codecs.ts';
import { createEncoders } from '../kafka/record-codecs.ts';
import type { KeyedRecord, RecordProducer } from '../kafka/record-producer.ts';
import { createLogger } from '../observability/logger.ts';
import { pino } from 'pino';
import type { Logger } from '../observability/logger.ts';
import { startExportsWatch } from '../exports/exports-watch.ts';
import { createSinkCodecs } from '../sink/sink-codecs.ts';
import { retryUntilDone } from '../runtime/backoff.ts';
import { runRole } from '../runtime/role.ts';
import { producerFromConfig, kafkaFromConfig, prepareSinkTopics } from './wiring.ts';
import { s3FromConfig } from './s3-client.ts';
import { sinkOptionsOf, signingKeyOf } from './sink-role.ts';

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
  const { runBackfill } = await import('../backfill/backfill.ts');
  const { backfillProgress, renderBackfillSummary } = await import('../backfill/backfill-report.ts');
  const { defaultJobId } = await import('../backfill/backfill-plan.ts');
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
