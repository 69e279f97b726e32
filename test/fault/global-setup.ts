/**
 * The fault suite's own servers: always local (infra/local.ts), never shared with the integration project,
 * because scenarios kill and restart them.
 */
import type { TestProject } from 'vitest/node';
import { startInfra, stopInfra } from '../../infra/local.ts';

const name = `fault-${process.pid}`;
const log = (line: string) => process.stderr.write(`[fault-setup] ${line}\n`);

export async function setup(project: TestProject): Promise<void> {
  const infra = await startInfra({ name, log });
  log(`Kafka ${infra.settings.KAFKA_BROKERS}, versitygw ${infra.settings.S3_ENDPOINT}`);
  project.provide('infra', { source: 'local', stateName: name, ...infra.settings });
}

export async function teardown(): Promise<void> {
  await stopInfra({ name, log, removeState: true });
}
