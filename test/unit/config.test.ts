import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, Secret } from '../../src/config.ts';

function problemsOf(
  env: Record<string, string>,
  needs: Parameters<typeof loadConfig>[1] = [],
): readonly string[] {
  try {
    loadConfig(env, needs);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
}

describe('loadConfig', () => {
  it('gives defaults and derives the Genesys API URL from the region', () => {
    const c = loadConfig({ GENESYS_REGION: 'mypurecloud.de', KAFKA_BROKERS: 'a:9092,b:9093' });
    expect(c.genesys.apiUrl).toBe('https://api.mypurecloud.de');
    expect(c.kafka.brokers).toEqual(['a:9092', 'b:9093']);
    expect(c.topics.sessionTags).toBe('custody.session-tags.v1');
    expect(c.s3.endpoint).toBeUndefined();
    expect(c.s3.forcePathStyle).toBe(false);
    expect(Object.isFrozen(c.kafka)).toBe(true);
  });

  it('reads the ingest source: the WebSocket by default, EventBridge from its bridge topic with its own group', () => {
    const d = loadConfig({});
    expect(d.ingest.source).toBe('websocket');
    expect(d.topics.eventBridge).toBe('genesys.eventbridge.v1');
    expect(d.ingest.eventBridgeGroup).toBe('custody-ingest-eventbridge');
    const e = loadConfig({
      CUSTODY_INGEST_SOURCE: 'eventbridge',
      CUSTODY_TOPIC_EVENTBRIDGE: 'acme.genesys-events',
      CUSTODY_INGEST_EVENTBRIDGE_GROUP: 'acme-ingest',
    });
    expect([e.ingest.source, e.topics.eventBridge, e.ingest.eventBridgeGroup]).toEqual([
      'eventbridge',
      'acme.genesys-events',
      'acme-ingest',
    ]);
    expect(problemsOf({ CUSTODY_INGEST_SOURCE: 'sqs' }).join('\n')).toContain('CUSTODY_INGEST_SOURCE');
  });

  it("reads the producers' compression: none by default, gzip or zstd when set, anything else refused", () => {
    expect(loadConfig({}).kafka.compression).toBe('none');
    expect(loadConfig({ KAFKA_COMPRESSION: 'zstd' }).kafka.compression).toBe('zstd');
    expect(loadConfig({ KAFKA_COMPRESSION: 'gzip' }).kafka.compression).toBe('gzip');
    expect(problemsOf({ KAFKA_COMPRESSION: 'lz4' }).join('\n')).toContain('KAFKA_COMPRESSION');
  });

  it('reads how far ahead of now exports watch lists hour folders: one hour by default, none allowed', () => {
    expect(loadConfig({}).exports.lookaheadHours).toBe(1);
    expect(loadConfig({ CUSTODY_EXPORTS_LOOKAHEAD_HOURS: '24' }).exports.lookaheadHours).toBe(24);
    expect(loadConfig({ CUSTODY_EXPORTS_LOOKAHEAD_HOURS: '0' }).exports.lookaheadHours).toBe(0);
    expect(problemsOf({ CUSTODY_EXPORTS_LOOKAHEAD_HOURS: '-1' }).join('\n')).toContain(
      'CUSTODY_EXPORTS_LOOKAHEAD_HOURS',
    );
  });

  it('prefers GENESYS_API_URL and forces path style for a custom S3 endpoint', () => {
    const c = loadConfig({
      GENESYS_REGION: 'mypurecloud.com',
      GENESYS_API_URL: 'http://127.0.0.1:8080',
      S3_ENDPOINT: 'http://127.0.0.1:7070',
    });
    expect(c.genesys.apiUrl).toBe('http://127.0.0.1:8080');
    expect(c.s3.forcePathStyle).toBe(true);
  });

  it('reports every problem at once, by name', () => {
    const problems = problemsOf(
      {
        KAFKA_BROKERS: 'nohostport',
        CUSTODY_TOPIC_DLQ: 'bad topic!',
        CUSTODY_HTTP_PORT: '70000',
        CUSTODY_TYPO: 'x',
      },
      ['genesys', 'signing'],
    );
    const names = problems.map((p) => p.split(':')[0]);
    expect(names).toEqual(
      expect.arrayContaining([
        'KAFKA_BROKERS',
        'CUSTODY_TOPIC_DLQ',
        'CUSTODY_HTTP_PORT',
        'CUSTODY_TYPO',
        'GENESYS_REGION or GENESYS_API_URL',
        'GENESYS_CLIENT_ID',
        'GENESYS_CLIENT_SECRET',
        'CUSTODY_SIGNING_KEY_FILE',
      ]),
    );
    expect(problems).toHaveLength(8);
  });

  it('never prints a secret value, even when it is invalid or the config is dumped', () => {
    const secret = 'hunter2-super-secret';
    const err = (() => {
      try {
        loadConfig({
          GENESYS_CLIENT_SECRET: secret,
          KAFKA_SASL_MECHANISM: 'plain',
          KAFKA_SASL_PASSWORD: secret,
          KAFKA_BROKERS: 'x',
        });
      } catch (e) {
        return e as ConfigError;
      }
      throw new Error('expected a ConfigError');
    })();
    expect(err.message).not.toContain(secret);
    expect(err.message).toContain('KAFKA_SASL_USERNAME');

    const c = loadConfig({
      GENESYS_CLIENT_SECRET: secret,
      AWS_ACCESS_KEY_ID: 'id',
      AWS_SECRET_ACCESS_KEY: secret,
    });
    expect(JSON.stringify(c)).not.toContain(secret);
    expect(inspect(c, { depth: 10 })).not.toContain(secret);
    expect(String(c.genesys.clientSecret)).toBe('[redacted]');
    expect(c.genesys.clientSecret).toBeInstanceOf(Secret);
    expect(c.genesys.clientSecret?.reveal()).toBe(secret);
  });

  it('requires AWS key id and secret together', () => {
    expect(problemsOf({ AWS_ACCESS_KEY_ID: 'id' })).toEqual(['AWS_SECRET_ACCESS_KEY: required together']);
  });

  it('reads an optional JSON file, with the environment winning over it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'custody-config-'));
    const file = join(dir, 'custody.json');
    writeFileSync(
      file,
      JSON.stringify({
        KAFKA_BROKERS: 'file:9092',
        S3_BUCKET: 'exports-bucket',
        CUSTODY_TOPIC_PARTITIONS: 12,
      }),
    );
    const c = loadConfig({ CUSTODY_CONFIG_FILE: file, KAFKA_BROKERS: 'env:9092' });
    expect(c.kafka.brokers).toEqual(['env:9092']);
    expect(c.s3.bucket).toBe('exports-bucket');
    expect(c.topics.partitions).toBe(12);

    writeFileSync(file, '{not json');
    expect(problemsOf({ CUSTODY_CONFIG_FILE: file })).toEqual([
      'CUSTODY_CONFIG_FILE: the file is not valid JSON',
    ]);
    writeFileSync(file, JSON.stringify({ UNKNOWN_THING: 'x' }));
    expect(problemsOf({ CUSTODY_CONFIG_FILE: file })).toEqual([
      'UNKNOWN_THING (in CUSTODY_CONFIG_FILE): unknown setting',
    ]);
  });
});
