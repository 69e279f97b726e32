/** `custody ingest`: the Notification API (or EventBridge) into the evidence log and session-tag snapshots. */
import type { Config } from '../config.ts';
import { SdkGenesysApi } from '../ingest/genesys-api.ts';
import { INGEST_VERSION, startIngest } from '../ingest/ingest-pipeline.ts';
import { restoreSnapshots } from '../ingest/snapshot-restore.ts';
import { GENESYS_LIMITS } from '../ingest/subscription-plan.ts';
import { createDecoders, createEncoders } from '../kafka/record-codecs.ts';
import { startHealthServer } from '../observability/health.ts';
import { createRegistry, ingestMetrics } from '../observability/metrics.ts';
import { retryUntilDone } from '../runtime/backoff.ts';
import { runRole } from '../runtime/role.ts';
import { httpPort, prepareTopics, producerFromConfig, kafkaFromConfig, rootLogger } from './wiring.ts';

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
      ctx.started({ version: INGEST_VERSION, httpPort: health.port }, 'custody ingest running');
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
