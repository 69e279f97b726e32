/**
 * `npm run infra:up | infra:down | infra:status`: the local Kafka + S3 set for development and the demo.
 * `up` prints the connection settings as KEY=value lines on stdout (progress goes to stderr), so
 * `eval "$(npm run -s infra:up)"` configures a shell.
 */
import { formatSettings, listStates, startInfra, stopInfra } from './local.ts';

const name = 'dev';
const port = (v: string | undefined): number | undefined => (v ? Number(v) : undefined);

async function main(cmd: string | undefined): Promise<void> {
  switch (cmd) {
    case 'up': {
      const infra = await startInfra({
        name,
        kafkaPort: port(process.env['INFRA_KAFKA_PORT']) ?? 9092,
        s3Port: port(process.env['INFRA_S3_PORT']) ?? 7070,
      });
      // KEY=value lines (dotenv-readable), then one export line so `eval` hands them to child processes.
      process.stdout.write(
        `${formatSettings(infra.settings)}\nexport ${Object.keys(infra.settings).join(' ')}\n`,
      );
      return;
    }
    case 'down':
      await stopInfra({ name });
      return;
    case 'status': {
      const states = listStates();
      process.stdout.write(states.length ? `running sets: ${states.join(', ')}\n` : 'nothing running\n');
      return;
    }
    default:
      process.stderr.write('usage: tsx infra/cli.ts up|down|status\n');
      process.exitCode = 2;
  }
}

main(process.argv[2]).catch((e: unknown) => {
  process.stderr.write(`[infra] ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
