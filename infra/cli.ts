/**
 * `npm run infra:up | infra:down | infra:status`: the local Kafka + S3 set for development and the demo.
 * `up` prints the connection settings as KEY=value lines on stdout (progress goes to stderr), so
 * `eval "$(npm run -s infra:up)"` configures a shell. `up --with-registry` also starts Apicurio Registry
 * (infra/registry.ts) and prints SCHEMA_REGISTRY_URL, so custody writes Confluent-framed records.
 */
import { formatSettings, listStates, startInfra, stopInfra } from './local.ts';

const name = 'dev';
const port = (v: string | undefined): number | undefined => (v ? Number(v) : undefined);

async function main(cmd: string | undefined, flags: readonly string[]): Promise<void> {
  const unknown = flags.filter((f) => f !== '--with-registry');
  if (unknown.length > 0) throw new Error(`unknown option ${unknown.join(' ')} (known: --with-registry)`);
  switch (cmd) {
    case 'up': {
      const infra = await startInfra({
        name,
        kafkaPort: port(process.env['INFRA_KAFKA_PORT']) ?? 9092,
        s3Port: port(process.env['INFRA_S3_PORT']) ?? 7070,
        withRegistry: flags.includes('--with-registry'),
        registryPort: port(process.env['INFRA_REGISTRY_PORT']) ?? 8081,
      });
      const keys = Object.entries(infra.settings)
        .filter(([, v]) => v !== undefined)
        .map(([k]) => k);
      // KEY=value lines (dotenv-readable), then one export line so `eval` hands them to child processes.
      process.stdout.write(`${formatSettings(infra.settings)}\nexport ${keys.join(' ')}\n`);
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
      process.stderr.write('usage: tsx infra/cli.ts up [--with-registry] | down | status\n');
      process.exitCode = 2;
  }
}

main(process.argv[2], process.argv.slice(3)).catch((e: unknown) => {
  process.stderr.write(`[infra] ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
