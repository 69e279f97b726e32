import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig, SETTING_NAMES } from '../../src/config.ts';
import { ROLE_HTTP_PORTS } from '../../src/roles/wiring.ts';

interface ComposeService {
  build?: unknown;
  image?: string;
  command?: string[];
  restart?: string;
  healthcheck?: { test?: string[] };
  environment?: Record<string, string | number> | string[];
}

const compose = parse(readFileSync(new URL('../../docker-compose.yml', import.meta.url), 'utf8'), {
  merge: true,
}) as {
  services: Record<string, ComposeService>;
};
const custodyServices = Object.entries(compose.services).filter(([, s]) => s.build !== undefined);

function envOf(s: ComposeService): Record<string, string> {
  const e = s.environment ?? {};
  if (Array.isArray(e))
    return Object.fromEntries(e.map((kv) => kv.split(/=(.*)/s).slice(0, 2) as [string, string]));
  return Object.fromEntries(Object.entries(e).map(([k, v]) => [k, String(v)]));
}

/** Replaces compose's ${VAR:-default} with its default, as compose does when VAR is unset. */
const withDefaults = (v: string) => v.replace(/\$\{[A-Z0-9_]+:-([^}]*)\}/g, '$1');

describe('docker-compose.yml', () => {
  it('runs the custody roles ingest, exports watch and sink', () => {
    expect(custodyServices.map(([name]) => name).sort()).toEqual(['exports-watch', 'ingest', 'sink']);
  });

  it.each(custodyServices)(
    '%s is restarted unless stopped and probed on its own /readyz port',
    (_name, service) => {
      expect(service.restart).toBe('unless-stopped');
      const role = { ingest: 'ingest', 'exports watch': 'exportsWatch', sink: 'sink' } as const;
      const command = (service.command ?? []).join(' ') as keyof typeof role;
      const port = ROLE_HTTP_PORTS[role[command]];
      expect(port).toBeDefined();
      expect((service.healthcheck?.test ?? []).join(' ')).toContain(`http://127.0.0.1:${port}/readyz`);
    },
  );

  it.each(custodyServices)('%s sets only variables the config schema knows', (_name, service) => {
    const env = envOf(service);
    expect(Object.keys(env).length).toBeGreaterThan(0);
    for (const key of Object.keys(env))
      expect(SETTING_NAMES, `${key} is not a custody setting`).toContain(key);
  });

  it.each(custodyServices)('%s has values the config schema accepts', (_name, service) => {
    const env = Object.fromEntries(Object.entries(envOf(service)).map(([k, v]) => [k, withDefaults(v)]));
    // GENESYS_CLIENT_* default to empty in compose; fill them as a user's .env would.
    const config = loadConfig({ ...env, GENESYS_CLIENT_ID: 'id', GENESYS_CLIENT_SECRET: 'secret' }, [
      'genesys',
      'kafka',
      'bucket',
      'signing',
    ]);
    expect(config.kafka.brokers).toEqual(['kafka:9092']);
    expect(config.s3.endpoint).toBe('http://s3:7070');
  });

  it('uses the official Apache Kafka image and an S3 server with Object Lock', () => {
    expect(compose.services['kafka']?.image).toMatch(/^apache\/kafka:4\.1\./);
    expect(compose.services['s3']?.image).toMatch(/^versity\/versitygw:/);
  });
});
