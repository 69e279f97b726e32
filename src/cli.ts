/**
 * The `custody` command. Each subcommand is a separate process role (ingest, exports watch, sink, ...)
 * so that each can be deployed and scaled on its own.
 */
import { ConfigError, loadConfig } from './config.ts';
import type { Need } from './config.ts';

const VERSION = '0.1.0';

const USAGE = `custody ${VERSION}: chain-of-custody manifests for Genesys Cloud recordings exported to S3

usage: custody <command> [options]

commands:
  config check [--needs genesys,kafka,s3,bucket,signing]
                      validate the configuration and print it (secrets redacted)
  ingest              Genesys notification WebSocket -> Kafka (runs until SIGTERM)
  exports watch       detect recording exports in S3 -> Kafka            (not built yet: issue #5)
  exports run         create and execute Genesys bulk export jobs        (not built yet: issue #5)
  sink                join tags and exports -> signed manifests in S3    (not built yet: issue #5)
  version             print the version

Settings come from environment variables; see the README's configuration table.`;

const NEEDS: readonly Need[] = ['genesys', 'kafka', 's3', 'bucket', 'signing'];

function parseNeeds(arg: string | undefined): Need[] {
  if (!arg) return [];
  const needs = arg.split(',');
  const bad = needs.filter((n) => !NEEDS.includes(n as Need));
  if (bad.length)
    throw new UsageError(`unknown --needs value(s): ${bad.join(', ')} (expected ${NEEDS.join(', ')})`);
  return needs as Need[];
}

class UsageError extends Error {}

export async function main(argv: readonly string[]): Promise<number> {
  const [cmd, sub, ...rest] = argv;
  switch (cmd) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${USAGE}\n`);
      return 0;
    case 'version':
    case '--version':
      process.stdout.write(`${VERSION}\n`);
      return 0;
    case 'config': {
      if (sub !== 'check') throw new UsageError('usage: custody config check [--needs a,b]');
      const i = rest.indexOf('--needs');
      const config = loadConfig(undefined, parseNeeds(i >= 0 ? rest[i + 1] : undefined));
      // Secret serialises as "[redacted]", so printing the whole config is safe.
      process.stdout.write(`${JSON.stringify(config, null, 2)}\n`);
      return 0;
    }
    case 'ingest': {
      const config = loadConfig(undefined, ['genesys', 'kafka']);
      const { runIngest } = await import('./main.ts');
      await runIngest(config);
      return 0;
    }
    case 'sink':
    case 'exports':
      process.stderr.write(`custody ${cmd}: not built yet (see the open issues); nothing was started\n`);
      return 2;
    default:
      throw new UsageError(`unknown command "${cmd}"; run custody --help`);
  }
}

export async function runCli(argv: readonly string[]): Promise<void> {
  try {
    process.exitCode = await main(argv);
  } catch (e) {
    if (e instanceof ConfigError) {
      // Config problems are the operator's to fix: the list of names, no stack trace.
      process.stderr.write(`custody: ${e.message}\n`);
      process.exitCode = 78;
    } else if (e instanceof UsageError) {
      process.stderr.write(`custody: ${e.message}\n`);
      process.exitCode = 64;
    } else {
      throw e;
    }
  }
}
