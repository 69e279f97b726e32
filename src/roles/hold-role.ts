/** `custody hold|release`: legal holds recorded on Kafka and applied in Genesys. */
import type { Config } from '../config.ts';
import type { HoldArgs } from '../hold/hold-command.ts';
import { createDecoders, createEncoders } from '../kafka/record-codecs.ts';
import { createLogger } from '../observability/logger.ts';
import { CUSTODY_VERSION } from '../version.ts';
import { producerFromConfig, kafkaFromConfig } from './wiring.ts';

/** Arguments of `custody hold|release` (parsed in cli.ts). */
export type HoldCliArgs = HoldArgs;

/**
 * Runs `custody hold|release` (src/hold): records the hold event, applies Genesys deletion protection, and waits
 * for the sink. Resolves with the exit code (0 done, 1 refused or partly failed, 69 unavailable).
 */
export async function runHold(config: Config, args: HoldCliArgs): Promise<number> {
  const { runHoldCommand } = await import('../hold/hold-command.ts');
  const { SdkDeletionProtectionApi } = await import('../hold/hold-genesys.ts');
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
