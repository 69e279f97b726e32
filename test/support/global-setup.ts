/**
 * Real Kafka and S3 for the integration tests, chosen in this order:
 *   1. KAFKA_BROKERS / S3_ENDPOINT (+ AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY) from the environment;
 *   2. testcontainers, when a container runtime answers (imported dynamically: its absence or a broken
 *      install never breaks test collection);
 *   3. the local servers of infra/local.ts (Kafka from Maven jars, versitygw from the Go proxy),
 *      started here on free ports and stopped in teardown.
 * What was chosen is logged, so a run's output shows which servers the tests talked to.
 */
import type { TestProject } from 'vitest/node';
import type * as Testcontainers from 'testcontainers';
import { startInfra, stopInfra, type InfraSettings } from '../../infra/local.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** `stateName` is set for local servers (infra/local.ts), so fault tests can restart the broker. */
    infra: InfraSettings & { source: string; stateName?: string };
  }
}

type TestcontainersModule = typeof Testcontainers;

const teardowns: Array<() => Promise<void>> = [];
const log = (line: string) => process.stderr.write(`[global-setup] ${line}\n`);

async function tryContainers(): Promise<(InfraSettings & { source: string }) | undefined> {
  let tc: TestcontainersModule;
  try {
    tc = await import('testcontainers');
    await tc.getContainerRuntimeClient();
  } catch (e) {
    log(
      `no container runtime (${e instanceof Error ? e.message.split('\n')[0] : String(e)}); using local servers`,
    );
    return undefined;
  }
  // Only reached where Docker (or another runtime) exists; this machine kind has none.
  const { KafkaContainer } = await import('@testcontainers/kafka');
  const kafka = await new KafkaContainer('confluentinc/cp-kafka:8.1.0').withKraft().start();
  teardowns.push(async () => void (await kafka.stop()));
  const secret = 'custody-container-secret';
  const s3 = await new tc.GenericContainer('versity/versitygw:v1.8.0')
    .withEnvironment({ ROOT_ACCESS_KEY: 'custody-local', ROOT_SECRET_KEY: secret })
    .withCommand(['--port', ':7070', 'posix', '--versioning-dir', '/tmp/versions', '/tmp'])
    .withExposedPorts(7070)
    .withWaitStrategy(tc.Wait.forListeningPorts())
    .start();
  teardowns.push(async () => void (await s3.stop()));
  return {
    source: 'testcontainers',
    KAFKA_BROKERS: `${kafka.getHost()}:${kafka.getMappedPort(9093)}`,
    S3_ENDPOINT: `http://${s3.getHost()}:${s3.getMappedPort(7070)}`,
    S3_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'custody-local',
    AWS_SECRET_ACCESS_KEY: secret,
  };
}

export async function setup(project: TestProject): Promise<void> {
  const env = process.env;
  if (env['KAFKA_BROKERS'] && env['S3_ENDPOINT']) {
    if (!env['AWS_ACCESS_KEY_ID'] || !env['AWS_SECRET_ACCESS_KEY']) {
      throw new Error('S3_ENDPOINT is set, so AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set too');
    }
    log(`using servers from the environment: Kafka ${env['KAFKA_BROKERS']}, S3 ${env['S3_ENDPOINT']}`);
    project.provide('infra', {
      source: 'environment',
      KAFKA_BROKERS: env['KAFKA_BROKERS'],
      S3_ENDPOINT: env['S3_ENDPOINT'],
      S3_REGION: env['S3_REGION'] ?? 'us-east-1',
      AWS_ACCESS_KEY_ID: env['AWS_ACCESS_KEY_ID'],
      AWS_SECRET_ACCESS_KEY: env['AWS_SECRET_ACCESS_KEY'],
    });
    return;
  }
  if (env['KAFKA_BROKERS'] || env['S3_ENDPOINT']) {
    throw new Error(
      'set both KAFKA_BROKERS and S3_ENDPOINT to use external servers, or neither to start them here',
    );
  }
  const containers = await tryContainers();
  if (containers) {
    log(`started containers: Kafka ${containers.KAFKA_BROKERS}, S3 ${containers.S3_ENDPOINT}`);
    project.provide('infra', containers);
    return;
  }
  const name = `test-${process.pid}`;
  const infra = await startInfra({ name, log: (l) => log(l) });
  teardowns.push(() => stopInfra({ name, log, removeState: true }));
  log(
    `started local servers: Kafka ${infra.settings.KAFKA_BROKERS} (pid ${infra.pids.kafka}), versitygw ${infra.settings.S3_ENDPOINT} (pid ${infra.pids.s3})`,
  );
  project.provide('infra', { source: 'local', stateName: name, ...infra.settings });
}

export async function teardown(): Promise<void> {
  for (const t of teardowns.reverse()) await t();
}
