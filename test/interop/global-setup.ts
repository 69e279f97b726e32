/**
 * What the interop tests need besides Kafka and S3 (test/support/global-setup.ts): a real Schema Registry
 * (Apicurio Registry, infra/registry.ts; or SCHEMA_REGISTRY_URL from the environment) and the Python consumer's
 * virtual environment. The registry starts only for this project, so the other suites do not pay for it.
 */
import type { TestProject } from 'vitest/node';
import { infraHome, startRegistry, stopInfra } from '../../infra/local.ts';
import { ensurePythonEnv } from './python-env.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    interop: { registryUrl: string; python: string };
  }
}

const log = (line: string) => process.stderr.write(`[interop-setup] ${line}\n`);
let stop: (() => Promise<void>) | undefined;

export async function setup(project: TestProject): Promise<void> {
  // The virtual environment first: pip and the registry's JVM would compete for two cores.
  const python = ensurePythonEnv(infraHome, log);
  let registryUrl = process.env['SCHEMA_REGISTRY_URL'];
  if (registryUrl) {
    log(`using the schema registry from the environment: ${registryUrl}`);
  } else {
    const name = `registry-${process.pid}`;
    const started = await startRegistry({ name, log });
    stop = () => stopInfra({ name, log, removeState: true });
    registryUrl = started.url;
  }
  project.provide('interop', { registryUrl, python });
}

export async function teardown(): Promise<void> {
  await stop?.();
}
