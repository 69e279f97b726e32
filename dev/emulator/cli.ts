/**
 * `npm run emulator -- [options]`: runs the Genesys Cloud emulator on 127.0.0.1 until SIGINT/SIGTERM and
 * prints one line when it is ready. `--help` lists every option.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { startEmulator, type EmulatorOptions } from './index.ts';
import { parseScenario } from './simulation/index.ts';
import type { ExportTarget } from './platform/context.ts';

const HELP = `Usage: npm run emulator -- [options]

Runs a Genesys Cloud emulator (Platform API, OAuth, Notification API + WebSocket, recording jobs,
S3 exports, /__control test API) on 127.0.0.1 and prints one line when ready:
  genesys-emulator ready http://127.0.0.1:<port> ws=ws://127.0.0.1:<port> org=<orgId> client=<clientId> integration=<exportIntegrationId>

Server
  --port <n>                 Port on 127.0.0.1 (default 8787; 0 = any free port)
  --client-id <id>           OAuth client id (default: $GENESYS_CLIENT_ID, else "custody-dev")
  --client-secret <secret>   OAuth client secret (default: $GENESYS_CLIENT_SECRET, else "custody-dev-secret").
                             Prefer the environment variable: command lines are visible to other users.
  --token-ttl <seconds>      Access-token lifetime in simulated seconds (default 86400)
  --rate-limit <n>           REST requests per OAuth client per real minute; 429 beyond (default: unlimited)

Simulation
  --seed <n>                 Seed of the simulated org and traffic (default: scenario seed, else 1)
  --speed <x>                Simulated time per real time (default 1; 60 = one simulated minute per second)
  --start <iso>              Simulated start time (default: scenario start, else now)
  --rate <n>                 Random traffic: conversations per simulated minute (default 1; 0 = none)
  --scenario <file>          JSON scenario of conversations at fixed times (disables random traffic
                             unless --rate is also given)
  --users <n>                Users in the simulated org (default: simulation default)
  --queues <n>               Queues in the simulated org (default: simulation default)
  --public-ip-share <0..1>   Share of WebRTC users whose legs carry publicIpAddress (default 0.2)

Notifications
  --heartbeat-ms <n>         Simulated ms between WebSocket heartbeats (default 30000)
  --channel-ttl-ms <n>       Channel lifetime after the last subscribe, simulated ms (default 86400000)
  --closing-grace-ms <n>     Simulated ms from socket_closing to the forced close (default 60000)

S3 export (the "AWS S3 recording bulk actions" integration)
  --s3-endpoint <url>        S3 endpoint (default: $S3_ENDPOINT; empty = AWS)
  --bucket <name>            Export bucket (default: $S3_BUCKET). Without a bucket nothing is written to S3.
  --s3-region <region>       Region (default: $S3_REGION, $AWS_REGION, else us-east-1)
  Credentials come from $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY only (never from the command line).
  --export-after <minutes>   Export each recording this many simulated minutes after its conversation ends

Amazon EventBridge integration (events bridged into a Kafka topic; off by default)
  --eventbridge-brokers <h:p,...>  Kafka brokers to deliver every event to as an EventBridge event
  --eventbridge-topic <name>       Kafka topic (default genesys.eventbridge.v1; must exist)
  --eventbridge-source-suffix <s>  The integration's event source suffix (default custody-emulator)

  -h, --help                 Show this help
`;

const OPTIONS = {
  port: { type: 'string' },
  'client-id': { type: 'string' },
  'client-secret': { type: 'string' },
  'token-ttl': { type: 'string' },
  'rate-limit': { type: 'string' },
  seed: { type: 'string' },
  speed: { type: 'string' },
  start: { type: 'string' },
  rate: { type: 'string' },
  scenario: { type: 'string' },
  users: { type: 'string' },
  'public-ip-share': { type: 'string' },
  queues: { type: 'string' },
  'heartbeat-ms': { type: 'string' },
  'channel-ttl-ms': { type: 'string' },
  'closing-grace-ms': { type: 'string' },
  's3-endpoint': { type: 'string' },
  bucket: { type: 'string' },
  's3-region': { type: 'string' },
  'export-after': { type: 'string' },
  'eventbridge-brokers': { type: 'string' },
  'eventbridge-topic': { type: 'string' },
  'eventbridge-source-suffix': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

class UsageError extends Error {}

/** A number option, checked against `min` (and integer-ness); undefined when absent. */
function num(
  values: Record<string, unknown>,
  name: string,
  opts: { min: number; integer?: boolean },
): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (
    typeof raw !== 'string' ||
    raw.trim() === '' ||
    !Number.isFinite(n) ||
    n < opts.min ||
    (opts.integer && !Number.isInteger(n))
  ) {
    throw new UsageError(
      `--${name} must be ${opts.integer ? 'an integer' : 'a number'} >= ${opts.min}, got ${JSON.stringify(raw)}`,
    );
  }
  return n;
}

async function main(argv: readonly string[]): Promise<void> {
  const env = process.env;
  const { values } = parseArgs({ args: [...argv], options: OPTIONS, strict: true, allowPositionals: false });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  let scenario: EmulatorOptions['scenario'];
  if (values.scenario !== undefined) {
    const text = await readFile(values.scenario, 'utf8').catch((err: unknown) => {
      throw new UsageError(
        `cannot read --scenario ${values.scenario}: ${err instanceof Error ? err.message : String(err)}`,
      );
    });
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new UsageError(`--scenario ${values.scenario} is not valid JSON`);
    }
    scenario = parseScenario(json);
  }
  let startTime: number | undefined;
  if (values.start !== undefined) {
    startTime = Date.parse(values.start);
    if (!Number.isFinite(startTime))
      throw new UsageError(`--start must be an ISO-8601 time, got ${JSON.stringify(values.start)}`);
  }
  const bucket = values.bucket ?? env['S3_BUCKET'];
  let exportTarget: ExportTarget | undefined;
  if (bucket) {
    const accessKeyId = env['AWS_ACCESS_KEY_ID'];
    const secretAccessKey = env['AWS_SECRET_ACCESS_KEY'];
    if (!accessKeyId || !secretAccessKey) {
      throw new UsageError('--bucket needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment');
    }
    exportTarget = {
      endpoint: values['s3-endpoint'] ?? (env['S3_ENDPOINT'] || undefined),
      region: values['s3-region'] ?? env['S3_REGION'] ?? env['AWS_REGION'] ?? 'us-east-1',
      bucket,
      accessKeyId,
      secretAccessKey,
    };
  }
  const rateLimit = num(values, 'rate-limit', { min: 1, integer: true });
  const clientId = values['client-id'] ?? env['GENESYS_CLIENT_ID'] ?? 'custody-dev';
  const options: EmulatorOptions = {
    port: num(values, 'port', { min: 0, integer: true }) ?? 8787,
    clientId,
    clientSecret: values['client-secret'] ?? env['GENESYS_CLIENT_SECRET'] ?? 'custody-dev-secret',
    tokenTtlSeconds: num(values, 'token-ttl', { min: 1 }),
    rateLimit: rateLimit === undefined ? undefined : { perMinute: rateLimit },
    seed: num(values, 'seed', { min: -(2 ** 53), integer: true }),
    speed: num(values, 'speed', { min: Number.MIN_VALUE }),
    startTime,
    rate: num(values, 'rate', { min: 0 }) ?? (scenario ? 0 : 1),
    scenario,
    users: num(values, 'users', { min: 1, integer: true }),
    queues: num(values, 'queues', { min: 1, integer: true }),
    webRtcPublicIpShare: num(values, 'public-ip-share', { min: 0 }),
    heartbeatIntervalMs: num(values, 'heartbeat-ms', { min: 1 }),
    channelTtlMs: num(values, 'channel-ttl-ms', { min: 1 }),
    socketClosingGraceMs: num(values, 'closing-grace-ms', { min: 0 }),
    exportTarget,
    exportAfterMinutes: num(values, 'export-after', { min: 0 }),
    eventBridge:
      values['eventbridge-brokers'] === undefined
        ? undefined
        : {
            brokers: values['eventbridge-brokers'].split(',').filter((b) => b !== ''),
            topic: values['eventbridge-topic'] ?? 'genesys.eventbridge.v1',
            sourceSuffix: values['eventbridge-source-suffix'],
          },
    log: (line) => process.stderr.write(`[genesys-emulator] ${line}\n`),
  };
  const emulator = await startEmulator(options);
  process.stdout.write(
    `genesys-emulator ready ${emulator.baseUrl} ws=${emulator.wsBaseUrl} org=${emulator.org.orgId} client=${clientId} integration=${emulator.org.integrationId}\n`,
  );
  const speed = options.speed ?? 1;
  if (speed > 1 && exportTarget) {
    // Exports are filed under their conversation's start hour on the simulated clock, which runs ahead of the wall
    // clock that custody exports watch lists hour folders by (one hour ahead by default).
    process.stderr.write(
      `[genesys-emulator] note: simulated time runs ${speed}× the wall clock, so exports land in hour folders ` +
        `ahead of it (after a minute at --speed 60, an hour ahead); give custody exports watch ` +
        `CUSTODY_EXPORTS_LOOKAHEAD_HOURS covering the run (e.g. 24) or it finds them only when the wall clock ` +
        `reaches their hour\n`,
    );
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`[genesys-emulator] ${signal}: shutting down\n`);
    emulator.close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(
          `[genesys-emulator] shutdown failed: ${err instanceof Error ? err.message : String(err)}\n`,
        );
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

main(process.argv.slice(2)).catch((err: unknown) => {
  const usage =
    err instanceof UsageError || (err instanceof Error && err.message.startsWith('Invalid scenario'));
  const code = (err as { code?: unknown } | null)?.code;
  const parseError = typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
  process.stderr.write(`genesys-emulator: ${err instanceof Error ? err.message : String(err)}\n`);
  if (usage || parseError) process.stderr.write('Run with --help for the options.\n');
  process.exit(usage || parseError ? 2 : 1);
});
