/** `custody doctor`: every dependency checked once. */
import type { Config } from '../config.ts';
import { createLogger } from '../observability/logger.ts';
import { kafkaFromConfig } from './wiring.ts';
import { s3FromConfig } from './s3-client.ts';

/**
 * Runs `custody doctor` (src/doctor): every dependency checked once, one line each (or `--json`). Resolves with
 * 0 when every check passed, else 1.
 */
export async function runDoctor(config: Config, args: Readonly<{ json: boolean }>): Promise<number> {
  const { renderDoctor, runDoctorChecks } = await import('../doctor/doctor.ts');
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
