/**
 * One fault scenario: custody deployed as separate supervised processes beside the emulator (a process too),
 * traffic for a while with a fault injected, then the quiet period in which every export must get its manifest,
 * then the audit. The result is written to .reports/fault/<name>.json for the README's fault table.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { expect } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import { S3Client } from '@aws-sdk/client-s3';
import type { InfraSettings } from '../../infra/local.ts';
import { registerKafkajsCodecs } from '../../src/kafka/kafkajs-codecs.ts';
import { auditBucket, auditDeadLetters, waitForEveryManifest } from '../support/custody-audit.ts';
import type { AuditResult } from '../support/custody-audit.ts';
import type { SealedManifest } from '../../src/enrich/integrity.ts';
import { createDeployment, startEmulatorProcess } from '../support/deployment.ts';
import type { Deployment, EmulatorOptions, EmulatorProcess, SupervisedRole } from '../support/deployment.ts';

export type ScenarioContext = Readonly<{
  deployment: Deployment;
  infra: InfraSettings;
  /** The running emulator (undefined until it starts, when `emulatorDelayMs` is set). */
  emulator(): EmulatorProcess | undefined;
  roles: Readonly<Record<'ingest' | 'watch' | 'sink', SupervisedRole>>;
  s3: S3Client;
  sleep(ms: number): Promise<void>;
}>;

export type ScenarioOptions = Readonly<{
  name: string;
  /** What the scenario injects, for the README table. */
  injected: string;
  infra: InfraSettings;
  emulator?: EmulatorOptions;
  /** Start the emulator this long after the roles (Genesys unreachable at start). */
  emulatorDelayMs?: number;
  /** Real time of traffic before the emulator stops (its exports stop with it). */
  trafficMs: number;
  /** Longest wait, after traffic, for every export to get a manifest. */
  drainMs?: number;
  /** Settings for every role. */
  env?: Record<string, string>;
  /** Delay before a supervisor restarts a role that exited (default 1 s). */
  restartDelayMs?: number;
  /** Extra settings per role. */
  roleEnv?: Partial<Record<'ingest' | 'watch' | 'sink', Record<string, string>>>;
  /** Runs alongside the traffic: the fault. */
  fault?: (ctx: ScenarioContext) => Promise<void>;
  /** Runs after the traffic, before the drain (e.g. objects written straight into the bucket). */
  afterTraffic?: (ctx: ScenarioContext) => Promise<void>;
}>;

export type ScenarioResult = Readonly<{
  name: string;
  injected: string;
  audit: AuditResult;
  /** Exits the supervisors restarted from, per role. */
  exits: Record<string, Array<number | string>>;
  seconds: number;
  /** The newest manifest of every recording. */
  manifests: SealedManifest[];
  /** Every log line of every process of each role. */
  logs: Record<'ingest' | 'watch' | 'sink', Array<Record<string, unknown>>>;
}>;

export function kafkaOf(infra: InfraSettings): Kafka {
  // The audit reads topics the roles may have written with KAFKA_COMPRESSION=zstd or gzip.
  registerKafkajsCodecs();
  return new Kafka({
    clientId: 'fault-audit',
    brokers: infra.KAFKA_BROKERS.split(','),
    logLevel: logLevel.NOTHING,
  });
}

export function s3Of(infra: InfraSettings, endpoint = infra.S3_ENDPOINT): S3Client {
  return new S3Client({
    endpoint,
    region: infra.S3_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: infra.AWS_ACCESS_KEY_ID, secretAccessKey: infra.AWS_SECRET_ACCESS_KEY },
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function runScenario(o: ScenarioOptions): Promise<ScenarioResult> {
  const started = Date.now();
  const deployment = createDeployment({
    infra: o.infra,
    name: `${o.name}-${process.pid}`,
    env: o.env,
    restartDelayMs: o.restartDelayMs,
  });
  const s3 = s3Of(o.infra);
  let emulator: EmulatorProcess | undefined;
  const emulatorPort = await import('../../infra/local.ts').then((m) => m.freePort());
  deployment.useEmulator(`http://127.0.0.1:${emulatorPort}`);
  const startEmulator = async () => {
    emulator = await startEmulatorProcess(o.infra, deployment.bucket, {
      speed: 60,
      rate: 3,
      // Each scenario its own org and traffic.
      seed: [...o.name].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 100_000, 7),
      exportAfterMinutes: 1,
      ...o.emulator,
      port: emulatorPort,
    });
  };
  if (o.emulatorDelayMs === undefined) await startEmulator();
  const roles = {
    ingest: await deployment.start('ingest', { env: o.roleEnv?.ingest }),
    watch: await deployment.start('exports watch', { env: o.roleEnv?.watch }),
    sink: await deployment.start('sink', { env: o.roleEnv?.sink }),
  };
  const ctx: ScenarioContext = { deployment, infra: o.infra, emulator: () => emulator, roles, s3, sleep };
  try {
    if (o.emulatorDelayMs !== undefined) {
      await sleep(o.emulatorDelayMs);
      await startEmulator();
    }
    // Caught now, rethrown after the traffic: a fault that fails early must not be an unhandled rejection.
    const fault = o.fault?.(ctx).then(
      () => undefined,
      (e: unknown) => e,
    );
    await sleep(o.trafficMs);
    const faultError = await fault;
    if (faultError !== undefined) throw faultError;
    await emulator?.stop();
    await o.afterTraffic?.(ctx);
    // The quiet period: every export in the bucket must get a manifest.
    await waitForEveryManifest(
      { s3, bucket: deployment.bucket, publicKeys: deployment.publicKeys },
      o.drainMs ?? 90_000,
      2_000,
    ).catch(() => undefined);
    const { newest: manifests, ...bucketAudit } = await auditBucket({
      s3,
      bucket: deployment.bucket,
      publicKeys: deployment.publicKeys,
    });
    const audit = {
      ...bucketAudit,
      deadLetters: await auditDeadLetters(kafkaOf(o.infra), deployment.topics.dlq),
    };
    const exits = Object.fromEntries(Object.values(roles).map((r) => [r.role, r.exits().map((e) => e.code)]));
    const logs = {
      ingest: roles.ingest.processes().flatMap((p) => [...p.logs()]),
      watch: roles.watch.processes().flatMap((p) => [...p.logs()]),
      sink: roles.sink.processes().flatMap((p) => [...p.logs()]),
    };
    const result: Omit<ScenarioResult, 'logs' | 'manifests'> = {
      name: o.name,
      injected: o.injected,
      audit,
      exits,
      seconds: Math.round((Date.now() - started) / 1000),
    };
    mkdirSync('.reports/fault', { recursive: true });
    writeFileSync(`.reports/fault/${o.name}.json`, `${JSON.stringify(result, null, 2)}\n`);
    return { ...result, logs, manifests };
  } catch (e) {
    const tail = deployment
      .roles()
      .flatMap((r) =>
        r.processes().map(
          (p) =>
            `--- ${r.role}\n${p
              .logs()
              .slice(-15)
              .map((l) => JSON.stringify(l))
              .join('\n')}\n${p.stderr().slice(-1000)}`,
        ),
      )
      .join('\n');
    throw new Error(
      `${e instanceof Error ? e.message : String(e)}\n${tail}\n--- emulator\n${emulator?.output().slice(-2000) ?? ''}`,
      { cause: e },
    );
  } finally {
    await deployment.stopAll();
    await emulator?.stop();
    s3.destroy();
  }
}

/** Log lines of every process of the deployment whose message matches. */
export function logsMatching(d: Deployment, msg: RegExp): Array<Record<string, unknown>> {
  return d
    .roles()
    .flatMap((r) => r.processes().flatMap((p) => p.logs().filter((l) => msg.test(String(l['msg'])))));
}

/** What every scenario must show: nothing lost, every check passed, no fork, every dead letter with a reason. */
export function expectSound(r: Pick<ScenarioResult, 'audit'>): void {
  expect(r.audit.expected).toBeGreaterThan(5);
  expect(r.audit.lost).toEqual([]);
  expect(r.audit.failures).toEqual([]);
  expect(r.audit.forks).toBe(0);
  expect(r.audit.deadLetters.withoutReason).toBe(0);
}

/** No role exited by itself (the supervisor restarted none). */
export const NO_EXITS = { ingest: [], 'exports watch': [], sink: [] };
