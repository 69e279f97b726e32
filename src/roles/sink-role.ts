/** `custody sink`: the join of session tags, exports and holds into signed manifests. */
import type { KeyObject } from 'node:crypto';
import type { Config } from '../config.ts';
import type { RecordProducer } from '../kafka/record-producer.ts';
import { startHealthServer } from '../observability/health.ts';
import { createRegistry, sinkMetrics } from '../observability/metrics.ts';
import type { SinkMetrics } from '../observability/metrics.ts';
import { loadSigningKey, loadPublicKey } from '../sink/signing-key.ts';
import { createSinkCodecs } from '../sink/sink-codecs.ts';
import { DEFAULT_SINK_OPTIONS, startSink } from '../sink/sink-pipeline.ts';
import type { SinkOptions } from '../sink/sink-pipeline.ts';
import { retryUntilDone } from '../runtime/backoff.ts';
import { describeError, FatalError } from '../runtime/errors.ts';
import { runRole } from '../runtime/role.ts';
import { CUSTODY_VERSION } from '../version.ts';
import { httpPort, producerFromConfig, kafkaFromConfig, rootLogger, prepareSinkTopics } from './wiring.ts';
import { s3FromConfig } from './s3-client.ts';

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
export function sinkOptionsOf(config: Config, trustedPublicKeys: readonly KeyObject[]): SinkOptions {
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
    conversationsInFlight: config.sink.conversationConcurrency,
    instance: config.custody.instanceId,
    version: CUSTODY_VERSION,
    trustedPublicKeys,
  };
}

/** The signing key, or a fatal error naming the setting. */
export async function signingKeyOf(config: Config) {
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
      ctx.started(
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
