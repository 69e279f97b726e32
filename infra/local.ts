/**
 * Real Kafka and S3 servers for development and tests, without Docker.
 *
 * Kafka 4.1 runs from Maven Central jars (infra/kafka/pom.xml), one KRaft node that is both broker and
 * controller. The S3 server is versitygw (posix backend with a versioning directory), built with
 * `go install` from the Go module proxy; it enforces SigV4, checksums, versioning and Object Lock.
 *
 * Everything generated lives under `.infra/` (git-ignored): jars, the versitygw binary, and one state
 * folder per running set (`.infra/<name>/`: data, logs, pid files, settings). Maven and Go keep their own
 * download caches (~/.m2, the Go module cache), so the second start on a machine is fast.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { APICURIO_VERSION, launchRegistry, probeRegistry, registryUrl } from './registry.ts';

export const KAFKA_VERSION = '4.1.1';
// v1.8.0 or later: up to v1.7.x the posix backend checked If-Match / If-None-Match before staging the body and
// published the object later without a lock, so two overlapping conditional PUTs to one key could both succeed
// (forked manifest chains in the soak). v1.8.0 re-checks under a per-key publish lock (versity/versitygw#2288).
export const VERSITYGW_VERSION = 'v1.8.0';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const infraHome = process.env['CUSTODY_INFRA_HOME'] ?? join(repoRoot, '.infra');
const kafkaLibs = join(infraHome, `kafka-${KAFKA_VERSION}`, 'libs');
const versitygwBin = join(infraHome, 'bin', `versitygw-${VERSITYGW_VERSION}`);

/** Connection settings, named exactly as custody's config schema names them. */
export interface InfraSettings {
  KAFKA_BROKERS: string;
  S3_ENDPOINT: string;
  S3_REGION: string;
  AWS_ACCESS_KEY_ID: string;
  AWS_SECRET_ACCESS_KEY: string;
  /** Set when the set includes the schema registry (`--with-registry`). */
  SCHEMA_REGISTRY_URL?: string;
}

export interface InfraOptions {
  /** State folder name under .infra/ (`dev` for infra:up, a unique name per test run). */
  name: string;
  kafkaPort?: number;
  s3Port?: number;
  /** Also start Apicurio Registry (Confluent-compatible API), so custody writes Confluent-framed records. */
  withRegistry?: boolean;
  registryPort?: number;
  /** Progress lines go here (stderr by default, so stdout stays shell-sourceable). */
  log?: (line: string) => void;
  /**
   * Called with the settings as soon as both servers are spawned, before they are ready: a test can start
   * custody at the same moment as a freshly formatted broker.
   */
  onSpawned?: (settings: InfraSettings) => void;
}

export interface RunningInfra {
  settings: InfraSettings;
  stateDir: string;
  pids: { kafka: number; s3: number; registry?: number };
  reused: boolean;
}

const defaultLog = (line: string): void => {
  process.stderr.write(`[infra] ${line}\n`);
};

function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv },
  log: (l: string) => void,
) {
  log(`$ ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 2, 2] });
  if (r.error) throw new Error(`${cmd} could not run: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status}`);
}

/** Downloads the Kafka jars (Maven) and builds versitygw (Go) unless they are already in .infra/. */
export function ensureInstalled(log: (line: string) => void = defaultLog): void {
  if (!existsSync(join(kafkaLibs, `kafka_2.13-${KAFKA_VERSION}.jar`))) {
    log(`installing Kafka ${KAFKA_VERSION} jars from Maven Central into ${kafkaLibs} (first run only)`);
    run(
      'mvn',
      [
        '-B',
        '-q',
        '-f',
        join(repoRoot, 'infra/kafka/pom.xml'),
        `-Dkafka.version=${KAFKA_VERSION}`,
        `-Dlibs.dir=${kafkaLibs}`,
        'package',
      ],
      {},
      log,
    );
  }
  if (!existsSync(versitygwBin)) {
    log(`building versitygw ${VERSITYGW_VERSION} with go install (first run only, ~2-3 minutes)`);
    const gobin = join(infraHome, 'gobin');
    mkdirSync(gobin, { recursive: true });
    run(
      'go',
      ['install', `github.com/versity/versitygw/cmd/versitygw@${VERSITYGW_VERSION}`],
      { cwd: infraHome, env: { ...process.env, GOBIN: gobin, CGO_ENABLED: '0', GOFLAGS: '-mod=mod' } },
      log,
    );
    mkdirSync(dirname(versitygwBin), { recursive: true });
    writeFileSync(versitygwBin, readFileSync(join(gobin, 'versitygw')), { mode: 0o755 });
    rmSync(gobin, { recursive: true, force: true });
  }
}

/**
 * A random KRaft cluster id (16 bytes, base64url). Like Kafka's own Uuid.randomUuid, it never begins with '-':
 * StorageTool's argument parser would read such an id as a flag (1 start in 64 failed that way).
 */
export function newClusterId(random: (n: number) => Buffer = randomBytes): string {
  for (;;) {
    const id = random(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => res(port));
    });
  });
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function readPid(file: string): number | undefined {
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

function kafkaProperties(dataDir: string, port: number, controllerPort: number): string {
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    `log.dirs=${join(dataDir, 'kraft-logs')}`,
    'num.partitions=1',
    'default.replication.factor=1',
    'offsets.topic.replication.factor=1',
    // One partition for internal topics: the default 50 makes the first group join slow on 2 cores.
    'offsets.topic.num.partitions=1',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'transaction.state.log.num.partitions=1',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    // Tests create many short-lived groups; the default 3 s delay would slow every first rebalance.
    'group.initial.rebalance.delay.ms=0',
    'auto.create.topics.enable=false',
    'num.network.threads=2',
    'num.io.threads=2',
    '',
  ].join('\n');
}

async function waitFor(
  what: string,
  pid: number,
  logFile: string,
  probe: () => Promise<void>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: string;
  for (;;) {
    if (!isAlive(pid)) {
      const tail = existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-20).join('\n') : '';
      throw new Error(`${what} exited during start-up; last log lines (${logFile}):\n${tail}`);
    }
    try {
      await probe();
      return;
    } catch (e) {
      lastError = e instanceof Error ? e.message : String(e);
    }
    if (Date.now() > deadline)
      throw new Error(`${what} not ready after ${timeoutMs} ms: ${lastError} (log: ${logFile})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export async function probeKafka(brokers: string): Promise<void> {
  const admin = new Kafka({
    brokers: brokers.split(','),
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
  }).admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    if (cluster.brokers.length === 0 || cluster.controller === null) throw new Error('no controller yet');
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

export async function probeS3(s: InfraSettings): Promise<void> {
  // Loaded here only: the benchmarks import this module, and the S3 SDK would add ~12 MB to the measured RSS.
  const { ListBucketsCommand, S3Client } = await import('@aws-sdk/client-s3');
  const s3 = new S3Client({
    endpoint: s.S3_ENDPOINT,
    region: s.S3_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: s.AWS_ACCESS_KEY_ID, secretAccessKey: s.AWS_SECRET_ACCESS_KEY },
    maxAttempts: 1,
  });
  try {
    await s3.send(new ListBucketsCommand({}));
  } finally {
    s3.destroy();
  }
}

function spawnDetached(cmd: string, args: string[], logFile: string, env: NodeJS.ProcessEnv): number {
  const out = openSync(logFile, 'a');
  const child = spawn(cmd, args, { detached: true, stdio: ['ignore', out, out], env });
  child.unref();
  if (child.pid === undefined) throw new Error(`could not start ${cmd}`);
  return child.pid;
}

function settingsFile(stateDir: string): string {
  return join(stateDir, 'settings.json');
}

/**
 * Starts Kafka and versitygw for the named state folder, or reuses them when they already run there.
 * Idempotent: calling it twice gives one set of servers.
 */
export async function startInfra(opts: InfraOptions): Promise<RunningInfra> {
  const log = opts.log ?? defaultLog;
  const stateDir = join(infraHome, opts.name);
  const kafkaPidFile = join(stateDir, 'kafka.pid');
  const s3PidFile = join(stateDir, 's3.pid');
  const existingKafka = readPid(kafkaPidFile);
  const existingS3 = readPid(s3PidFile);
  if (
    existingKafka &&
    existingS3 &&
    isAlive(existingKafka) &&
    isAlive(existingS3) &&
    existsSync(settingsFile(stateDir))
  ) {
    const settings = JSON.parse(readFileSync(settingsFile(stateDir), 'utf8')) as InfraSettings;
    await probeKafka(settings.KAFKA_BROKERS);
    await probeS3(settings);
    log(`already running in ${stateDir} (kafka pid ${existingKafka}, s3 pid ${existingS3})`);
    let registry = readPid(join(stateDir, 'registry.pid'));
    if (
      opts.withRegistry &&
      (registry === undefined || !isAlive(registry) || !settings.SCHEMA_REGISTRY_URL)
    ) {
      const started = await startRegistry({ name: opts.name, port: opts.registryPort, log });
      registry = started.pid;
      settings.SCHEMA_REGISTRY_URL = started.url;
      writeFileSync(settingsFile(stateDir), JSON.stringify(settings, null, 2), { mode: 0o600 });
    }
    return { settings, stateDir, pids: { kafka: existingKafka, s3: existingS3, registry }, reused: true };
  }
  // A half-running set (one process died) is stopped and started afresh.
  await stopInfra({ name: opts.name, log });

  ensureInstalled(log);
  rmSync(stateDir, { recursive: true, force: true });
  mkdirSync(stateDir, { recursive: true });

  const kafkaPort = opts.kafkaPort ?? (await freePort());
  const controllerPort = await freePort();
  const s3Port = opts.s3Port ?? (await freePort());
  let registryPid: number | undefined;
  const settings: InfraSettings = {
    KAFKA_BROKERS: `127.0.0.1:${kafkaPort}`,
    S3_ENDPOINT: `http://127.0.0.1:${s3Port}`,
    S3_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'custody-local',
    // A fresh secret per set: the local server must still check signatures for real.
    AWS_SECRET_ACCESS_KEY: randomBytes(18).toString('base64url'),
  };

  // --- Kafka: format storage, then start the KRaft node.
  const kafkaData = join(stateDir, 'kafka');
  mkdirSync(kafkaData, { recursive: true });
  const props = join(kafkaData, 'server.properties');
  writeFileSync(props, kafkaProperties(kafkaData, kafkaPort, controllerPort));
  const clusterId = newClusterId();
  run(
    'java',
    ['-cp', `${kafkaLibs}/*`, LOG4J, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', props],
    {},
    (l) => log(l.replace(`${kafkaLibs}/*`, '<kafka-libs>/*')),
  );
  const kafkaPid = launchKafka(stateDir);
  log(
    `Kafka ${KAFKA_VERSION} starting (pid ${kafkaPid}) on ${settings.KAFKA_BROKERS}; log ${join(stateDir, 'kafka.log')}`,
  );

  // --- versitygw: posix backend with versioning, so Object Lock is available and enforced.
  const s3Log = join(stateDir, 's3.log');
  const s3Pid = launchS3(stateDir, settings);
  log(`versitygw ${VERSITYGW_VERSION} starting (pid ${s3Pid}) on ${settings.S3_ENDPOINT}; log ${s3Log}`);
  opts.onSpawned?.(settings);

  try {
    await waitFor('versitygw', s3Pid, s3Log, () => probeS3(settings), 30_000);
    log('S3 server ready');
    await waitFor(
      'Kafka',
      kafkaPid,
      join(stateDir, 'kafka.log'),
      () => probeKafka(settings.KAFKA_BROKERS),
      120_000,
    );
    log('Kafka broker ready');
    if (opts.withRegistry) {
      const started = await startRegistry({ name: opts.name, port: opts.registryPort, log });
      settings.SCHEMA_REGISTRY_URL = started.url;
      registryPid = started.pid;
    }
  } catch (e) {
    await stopInfra({ name: opts.name, log });
    throw e;
  }
  writeFileSync(settingsFile(stateDir), JSON.stringify(settings, null, 2), { mode: 0o600 });
  return { settings, stateDir, pids: { kafka: kafkaPid, s3: s3Pid, registry: registryPid }, reused: false };
}

/**
 * Starts Apicurio Registry in the state folder `.infra/<name>/` (alone, or beside a Kafka + S3 set) and resolves
 * with its Confluent-compatible URL once it answers. Its storage is in memory: a restart forgets every schema.
 */
export async function startRegistry(opts: {
  name: string;
  port?: number;
  log?: (line: string) => void;
}): Promise<{ url: string; pid: number }> {
  const log = opts.log ?? defaultLog;
  const stateDir = join(infraHome, opts.name);
  mkdirSync(infraHome, { recursive: true });
  const port = opts.port ?? (await freePort());
  const pid = launchRegistry(infraHome, stateDir, port, log);
  const url = registryUrl(port);
  log(
    `Apicurio Registry ${APICURIO_VERSION} starting (pid ${pid}) on ${url}; log ${join(stateDir, 'registry.log')}`,
  );
  try {
    await waitFor(
      'Apicurio Registry',
      pid,
      join(stateDir, 'registry.log'),
      () => probeRegistry(url),
      120_000,
    );
  } catch (e) {
    await stopPid(pid, 'Apicurio Registry', log);
    rmSync(join(stateDir, 'registry.pid'), { force: true });
    throw e;
  }
  log('schema registry ready');
  return { url, pid };
}

const LOG4J = `-Dlog4j2.configurationFile=file:${join(repoRoot, 'infra/kafka/log4j2.properties')}`;

/** Starts versitygw on a state folder (its data, port and credentials) and records its pid. */
function launchS3(stateDir: string, settings: InfraSettings): number {
  const s3Root = join(stateDir, 's3');
  for (const d of ['data', 'versions', 'iam']) mkdirSync(join(s3Root, d), { recursive: true });
  const port = new URL(settings.S3_ENDPOINT).port;
  const pid = spawnDetached(
    versitygwBin,
    [
      '--port',
      `127.0.0.1:${port}`,
      '--quiet',
      // Without it every S3 request opens a new connection, which is neither how AWS behaves nor fair to benchmarks.
      '--keep-alive',
      '--iam-dir',
      join(s3Root, 'iam'),
      'posix',
      '--versioning-dir',
      join(s3Root, 'versions'),
      join(s3Root, 'data'),
    ],
    join(stateDir, 's3.log'),
    {
      ...process.env,
      ROOT_ACCESS_KEY: settings.AWS_ACCESS_KEY_ID,
      ROOT_SECRET_KEY: settings.AWS_SECRET_ACCESS_KEY,
    },
  );
  writeFileSync(join(stateDir, 's3.pid'), String(pid));
  return pid;
}

/** Starts the broker of a formatted state folder and records its pid. */
function launchKafka(stateDir: string): number {
  const pid = spawnDetached(
    'java',
    [
      '-Xms256m',
      '-Xmx768m',
      '-XX:+UseG1GC',
      '-XX:MaxGCPauseMillis=20',
      '-XX:+ExitOnOutOfMemoryError',
      '-Djava.awt.headless=true',
      '-cp',
      `${kafkaLibs}/*`,
      LOG4J,
      'kafka.Kafka',
      join(stateDir, 'kafka', 'server.properties'),
    ],
    join(stateDir, 'kafka.log'),
    process.env,
  );
  writeFileSync(join(stateDir, 'kafka.pid'), String(pid));
  return pid;
}

type RestartOptions = { name: string; downMs?: number; log?: (line: string) => void };

/**
 * Kills one server of a running set (SIGKILL: a crash, not a clean shutdown) and starts it again on the same data,
 * ports and credentials after `downMs`; resolves when it serves again. For fault tests.
 */
async function restartServer(server: 'kafka' | 's3', opts: RestartOptions): Promise<void> {
  const log = opts.log ?? defaultLog;
  const stateDir = join(infraHome, opts.name);
  const settings = JSON.parse(readFileSync(settingsFile(stateDir), 'utf8')) as InfraSettings;
  const what = server === 'kafka' ? 'Kafka' : 'versitygw';
  const pid = readPid(join(stateDir, `${server}.pid`));
  if (pid && isAlive(pid)) {
    process.kill(pid, 'SIGKILL');
    while (isAlive(pid)) await new Promise((r) => setTimeout(r, 20));
  }
  log(`${what} killed (pid ${pid}); down for ${opts.downMs ?? 0} ms`);
  await new Promise((r) => setTimeout(r, opts.downMs ?? 0));
  const next = server === 'kafka' ? launchKafka(stateDir) : launchS3(stateDir, settings);
  const probe = server === 'kafka' ? () => probeKafka(settings.KAFKA_BROKERS) : () => probeS3(settings);
  await waitFor(what, next, join(stateDir, `${server}.log`), probe, server === 'kafka' ? 120_000 : 30_000);
  log(`${what} restarted (pid ${next})`);
}

export const restartKafka = (opts: RestartOptions): Promise<void> => restartServer('kafka', opts);
export const restartS3 = (opts: RestartOptions): Promise<void> => restartServer('s3', opts);

async function stopPid(pid: number, what: string, log: (l: string) => void): Promise<void> {
  if (!isAlive(pid)) return;
  // Negative pid: the whole process group, since the servers were started detached as group leaders.
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      try {
        process.kill(pid, sig);
      } catch {
        /* already gone */
      }
    }
  };
  signal('SIGTERM');
  const deadline = Date.now() + 20_000;
  while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (isAlive(pid)) {
    log(`${what} (pid ${pid}) did not stop after SIGTERM; sending SIGKILL`);
    signal('SIGKILL');
    while (isAlive(pid)) await new Promise((r) => setTimeout(r, 50));
  }
  log(`stopped ${what} (pid ${pid})`);
}

/** Stops the servers of the named state folder. Idempotent: nothing running is not an error. */
export async function stopInfra(opts: {
  name: string;
  log?: (line: string) => void;
  removeState?: boolean;
}): Promise<void> {
  const log = opts.log ?? defaultLog;
  const stateDir = join(infraHome, opts.name);
  for (const [file, what] of [
    ['registry.pid', 'Apicurio Registry'],
    ['s3.pid', 'versitygw'],
    ['kafka.pid', 'Kafka'],
  ] as const) {
    const pid = readPid(join(stateDir, file));
    if (pid) await stopPid(pid, what, log);
    rmSync(join(stateDir, file), { force: true });
  }
  if (opts.removeState) rmSync(stateDir, { recursive: true, force: true });
}

/** State folders that still have pid files (used by `infra:status`). */
export function listStates(): string[] {
  if (!existsSync(infraHome)) return [];
  return readdirSync(infraHome).filter(
    (d) =>
      existsSync(join(infraHome, d, 'kafka.pid')) ||
      existsSync(join(infraHome, d, 's3.pid')) ||
      existsSync(join(infraHome, d, 'registry.pid')),
  );
}

export function formatSettings(s: InfraSettings): string {
  return Object.entries(s)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n');
}
