/**
 * custody deployed the way users run it: the Genesys emulator and each role as separate processes on one host,
 * configured only by environment variables, each role under a supervisor that restarts it when it exits (what
 * docker's `restart: unless-stopped` or systemd's `Restart=on-failure` do). Vitest-free, so the soak script
 * (bench/soak) runs the same deployment as the fault suite.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import type { InfraSettings } from '../../infra/local.ts';
import { freePort } from '../../infra/local.ts';
import { keyIdFor } from '../../src/enrich/integrity.ts';
import { spawnCustody } from './custody-process.ts';
import type { CustodyProcess } from './custody-process.ts';

const REPO = new URL('../../', import.meta.url).pathname;

export type RoleName = 'ingest' | 'exports watch' | 'sink';

export type EmulatorOptions = Readonly<{
  port?: number;
  seed?: number;
  /** Simulated time per real time. */
  speed?: number;
  /** Random conversations per simulated minute. */
  rate?: number;
  start?: string;
  /** Simulated minutes from a conversation's end to its export. */
  exportAfterMinutes?: number;
  users?: number;
}>;

export type EmulatorProcess = Readonly<{
  child: ChildProcess;
  baseUrl: string;
  port: number;
  orgId: string;
  exited: Promise<number | string>;
  output: () => string;
  /** Calls the emulator's /__control API. */
  control<T = unknown>(method: string, path: string, body?: unknown): Promise<T>;
  stop(): Promise<void>;
}>;

export const EMULATOR_CLIENT = { id: 'custody-deployment', secret: 'custody-deployment-secret' } as const;

/** Starts `npm run emulator` as its own process and resolves when it prints its ready line. */
export async function startEmulatorProcess(
  infra: InfraSettings,
  bucket: string,
  o: EmulatorOptions = {},
): Promise<EmulatorProcess> {
  const port = o.port ?? (await freePort());
  const args = [
    '--import',
    'tsx',
    join(REPO, 'dev/emulator/cli.ts'),
    '--port',
    String(port),
    '--seed',
    String(o.seed ?? 1),
    '--speed',
    String(o.speed ?? 60),
    '--rate',
    String(o.rate ?? 10),
    '--bucket',
    bucket,
    '--s3-endpoint',
    infra.S3_ENDPOINT,
    '--s3-region',
    infra.S3_REGION,
    '--export-after',
    String(o.exportAfterMinutes ?? 1),
    ...(o.start ? ['--start', o.start] : []),
    ...(o.users ? ['--users', String(o.users)] : []),
  ];
  const child = spawn(process.execPath, args, {
    cwd: REPO,
    env: {
      PATH: process.env['PATH'] ?? '',
      HOME: process.env['HOME'] ?? '',
      GENESYS_CLIENT_ID: EMULATOR_CLIENT.id,
      GENESYS_CLIENT_SECRET: EMULATOR_CLIENT.secret,
      AWS_ACCESS_KEY_ID: infra.AWS_ACCESS_KEY_ID,
      AWS_SECRET_ACCESS_KEY: infra.AWS_SECRET_ACCESS_KEY,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  const ready = new Promise<string>((resolve, reject) => {
    const onData = (d: Buffer) => {
      output += d.toString('utf8');
      const m = /genesys-emulator ready (\S+) .*org=(\S+)/.exec(output);
      if (m) resolve(`${m[1]} ${m[2]}`);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (d: Buffer) => (output += d.toString('utf8')));
    void exited.then((code) =>
      reject(new Error(`emulator exited (${code}) before ready:\n${output.slice(-2000)}`)),
    );
  });
  const [baseUrl = '', orgId = ''] = (await ready).split(' ');
  const control = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${baseUrl}/__control${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`emulator ${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
    return (text ? JSON.parse(text) : undefined) as T;
  };
  return {
    child,
    baseUrl,
    port,
    orgId,
    exited,
    output: () => output,
    control,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}

/** A role under a supervisor that restarts it after it exits, until `stop()`. */
export type SupervisedRole = Readonly<{
  role: RoleName;
  instance: string;
  port: number;
  current(): CustodyProcess;
  /** Every process of the role so far (restarts included), for logs and the stack-trace check. */
  processes(): readonly CustodyProcess[];
  /** Exits that the supervisor saw and restarted from (not the final stop). */
  exits(): ReadonlyArray<{ code: number | string; atMs: number; lastLog: string }>;
  /** Sends a signal to the running process (e.g. SIGKILL); the supervisor restarts it. */
  kill(signal: NodeJS.Signals): void;
  /** GET of its /readyz: status code, or 0 when nothing answers. */
  readyz(): Promise<{ status: number; text: string }>;
  stop(): Promise<number | string>;
}>;

export type DeploymentOptions = Readonly<{
  infra: InfraSettings;
  /** Unique per scenario: topics, bucket, consumer group and watcher are named after it. */
  name: string;
  /** Delay before the supervisor restarts a role that exited. */
  restartDelayMs?: number;
  /** Settings every role gets (after the defaults). */
  env?: Record<string, string>;
  /** The bin/custody.js the roles run (default: this tree's; see compiled-custody.ts for a compiled build). */
  bin?: string;
}>;

export type Deployment = Readonly<{
  name: string;
  bucket: string;
  topics: Readonly<{
    notifications: string;
    sessionTags: string;
    recordingExports: string;
    legalHolds: string;
    sinkState: string;
    manifests: string;
    dlq: string;
  }>;
  groupId: string;
  publicKeys: ReadonlyMap<string, KeyObject>;
  /** The environment of a role (infra, topics, bucket, key, Genesys), before per-role settings. */
  env(extra?: Record<string, string>): Record<string, string>;
  /** Points ingest (and exports run) at an emulator. */
  useEmulator(baseUrl: string): void;
  start(
    role: RoleName,
    opts?: { instance?: string; env?: Record<string, string>; supervise?: boolean },
  ): Promise<SupervisedRole>;
  roles(): readonly SupervisedRole[];
  stopAll(): Promise<void>;
}>;

const ROLE_ARGS: Record<RoleName, string[]> = {
  ingest: ['ingest'],
  'exports watch': ['exports', 'watch'],
  sink: ['sink'],
};

/** Names, key and settings of one deployment; roles start when asked. */
export function createDeployment(o: DeploymentOptions): Deployment {
  const name = o.name.toLowerCase().replace(/[^a-z0-9-]/g, '-');
  const bucket = `${name}-exports`.slice(0, 63);
  const topics = {
    notifications: `${name}.genesys.notifications.v1`,
    sessionTags: `${name}.custody.session-tags.v1`,
    recordingExports: `${name}.custody.recording-exports.v1`,
    legalHolds: `${name}.custody.legal-holds.v1`,
    sinkState: `${name}.custody.sink-state.v1`,
    manifests: `${name}.custody.manifests.v1`,
    dlq: `${name}.custody.dlq.v1`,
  };
  const groupId = `${name}-sink`;
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const keyFile = join(mkdtempSync(join(tmpdir(), `${name}-key-`)), 'signing.pem');
  writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), { mode: 0o600 });
  let genesysUrl = 'http://127.0.0.1:9';
  const roles: SupervisedRole[] = [];

  const env = (extra: Record<string, string> = {}): Record<string, string> => ({
    KAFKA_BROKERS: o.infra.KAFKA_BROKERS,
    S3_ENDPOINT: o.infra.S3_ENDPOINT,
    S3_REGION: o.infra.S3_REGION,
    AWS_ACCESS_KEY_ID: o.infra.AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: o.infra.AWS_SECRET_ACCESS_KEY,
    S3_BUCKET: bucket,
    GENESYS_API_URL: genesysUrl,
    GENESYS_CLIENT_ID: EMULATOR_CLIENT.id,
    GENESYS_CLIENT_SECRET: EMULATOR_CLIENT.secret,
    CUSTODY_SIGNING_KEY_FILE: keyFile,
    CUSTODY_TOPIC_PARTITIONS: '3',
    CUSTODY_TOPIC_NOTIFICATIONS: topics.notifications,
    CUSTODY_TOPIC_SESSION_TAGS: topics.sessionTags,
    CUSTODY_TOPIC_RECORDING_EXPORTS: topics.recordingExports,
    CUSTODY_TOPIC_LEGAL_HOLDS: topics.legalHolds,
    CUSTODY_TOPIC_SINK_STATE: topics.sinkState,
    CUSTODY_TOPIC_MANIFESTS: topics.manifests,
    CUSTODY_TOPIC_DLQ: topics.dlq,
    CUSTODY_SINK_GROUP_ID: groupId,
    CUSTODY_EXPORTS_WATCH_NAME: name.slice(0, 100),
    CUSTODY_EXPORTS_SCAN_INTERVAL_MS: '1000',
    CUSTODY_EXPORTS_PAIR_GRACE_MS: '5000',
    ...o.env,
    ...extra,
  });

  return {
    name,
    bucket,
    topics,
    groupId,
    publicKeys: new Map([[keyIdFor(publicKey), publicKey]]),
    env,
    useEmulator(baseUrl) {
      genesysUrl = baseUrl;
    },
    roles: () => roles,
    async start(role, opts = {}) {
      const instance = opts.instance ?? `${name}-${role.replace(' ', '-')}`;
      const port = await freePort();
      const all: CustodyProcess[] = [];
      const exits: Array<{ code: number | string; atMs: number; lastLog: string }> = [];
      let stopping = false;
      const launch = (): CustodyProcess => {
        const p = spawnCustody(
          ROLE_ARGS[role],
          env({ CUSTODY_INSTANCE_ID: instance, CUSTODY_HTTP_PORT: String(port), ...opts.env }),
          o.bin,
        );
        all.push(p);
        void p.exited.then((code) => {
          if (stopping || opts.supervise === false) return;
          const last = p.logs().slice(-1)[0];
          exits.push({
            code,
            atMs: Date.now(),
            lastLog: last ? String(last['msg']) : p.stderr().slice(-300),
          });
          setTimeout(() => {
            if (!stopping) launch();
          }, o.restartDelayMs ?? 1_000);
        });
        return p;
      };
      launch();
      const supervised: SupervisedRole = {
        role,
        instance,
        port,
        current: () => all[all.length - 1] as CustodyProcess,
        processes: () => all,
        exits: () => exits,
        kill(signal) {
          supervised.current().child.kill(signal);
        },
        async readyz() {
          try {
            const res = await fetch(`http://127.0.0.1:${port}/readyz`);
            return { status: res.status, text: await res.text() };
          } catch {
            return { status: 0, text: '' };
          }
        },
        async stop() {
          stopping = true;
          const p = supervised.current();
          if (p.child.exitCode === null && p.child.signalCode === null) {
            p.child.kill('SIGTERM');
            const timer = setTimeout(() => p.child.kill('SIGKILL'), 40_000);
            const code = await p.exited;
            clearTimeout(timer);
            return code;
          }
          return p.exited;
        },
      };
      roles.push(supervised);
      return supervised;
    },
    async stopAll() {
      await Promise.all(roles.map((r) => r.stop()));
    },
  };
}

/** Polls `probe` until it returns a value, or throws after `timeoutMs` with `what`. */
export async function waitUntil<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  everyMs = 500,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
