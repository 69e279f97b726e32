/**
 * Start-up as users deploy custody: several roles at the same moment, ports on one host, topics created by
 * whichever role comes first. Each case is one observed failure that ended a role before the fix.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ensureTopics } from '../../src/kafka/topics.ts';
import { FatalError } from '../../src/runtime/errors.ts';
import { freePort } from '../../infra/local.ts';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { kafkaClient, s3Client, uniqueName } from '../support/clients.ts';
import { infraEnv, spawnCustody } from '../support/custody-process.ts';
import type { CustodyProcess } from '../support/custody-process.ts';
import { testSigningKey } from '../support/sink-fixtures.ts';

const STACK = /^\s+at .+(\(.*:\d+:\d+\)|:\d+:\d+)$/m;
const procs: CustodyProcess[] = [];
afterEach((ctx) => {
  for (const p of procs.splice(0)) {
    if (ctx.task.result?.state === 'fail')
      process.stderr.write(
        `${p
          .logs()
          .slice(-30)
          .map((l) => JSON.stringify(l))
          .join('\n')}\n${p.stderr()}\n`,
      );
    p.child.kill('SIGKILL');
  }
});

function topicsEnv() {
  const base = uniqueName('start');
  return {
    CUSTODY_TOPIC_NOTIFICATIONS: `${base}.notifications`,
    CUSTODY_TOPIC_SESSION_TAGS: `${base}.tags`,
    CUSTODY_TOPIC_RECORDING_EXPORTS: `${base}.exports`,
    CUSTODY_TOPIC_LEGAL_HOLDS: `${base}.legal-holds`,
    CUSTODY_TOPIC_SINK_STATE: `${base}.sink-state`,
    CUSTODY_TOPIC_MANIFESTS: `${base}.manifests`,
    CUSTODY_TOPIC_DLQ: `${base}.dlq`,
    CUSTODY_TOPIC_PARTITIONS: '3',
  };
}

async function bucket(): Promise<string> {
  const name = uniqueName('start');
  await s3Client().send(new CreateBucketCommand({ Bucket: name }));
  return name;
}

function keyFile(): string {
  const file = join(mkdtempSync(join(tmpdir(), 'start-key-')), 'signing.pem');
  writeFileSync(file, testSigningKey().pem, { mode: 0o600 });
  return file;
}

describe('start-up', () => {
  it('several processes creating the same topics at once all succeed', async () => {
    const kafka = kafkaClient('startup-race');
    const env = topicsEnv();
    const topics = {
      partitions: 3,
      notifications: env.CUSTODY_TOPIC_NOTIFICATIONS,
      eventBridge: 'unused-eventbridge',
      sessionTags: env.CUSTODY_TOPIC_SESSION_TAGS,
      recordingExports: env.CUSTODY_TOPIC_RECORDING_EXPORTS,
      legalHolds: env.CUSTODY_TOPIC_LEGAL_HOLDS,
      sinkState: env.CUSTODY_TOPIC_SINK_STATE,
      manifests: env.CUSTODY_TOPIC_MANIFESTS,
      dlq: env.CUSTODY_TOPIC_DLQ,
    };
    const admins = Array.from({ length: 4 }, () => kafka.admin());
    await Promise.all(admins.map((a) => a.connect()));
    try {
      const results = await Promise.all(
        admins.map((a) => ensureTopics(a, topics, ['sessionTags', 'recordingExports', 'dlq'])),
      );
      for (const r of results) expect([...r.values()]).toEqual([3, 3, 3]);
      // Any other refusal is the operator's to fix, in one line naming the topic and the broker's reason (kafkajs's
      // own line about it, which names neither, is written at debug).
      const refused = { ...topics, partitions: 0, sessionTags: `${topics.sessionTags}.refused` };
      const error = await ensureTopics(admins[0]!, refused, ['sessionTags']).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(FatalError);
      expect(error).toMatchObject({ setting: 'CUSTODY_TOPIC_PARTITIONS' });
      const message = (error as Error).message;
      expect(message.startsWith(`Kafka refused to create topic ${refused.sessionTags}: `), message).toBe(
        true,
      );
      expect(message).toMatch(/\(INVALID_PARTITIONS\)$/);
    } finally {
      await Promise.all(admins.map((a) => a.disconnect()));
    }
  });

  it('a port in use ends the role with one line naming CUSTODY_HTTP_PORT, exit 78, no stack trace', async () => {
    const port = String(await freePort());
    const env = { ...infraEnv(), ...topicsEnv(), S3_BUCKET: uniqueName('start'), CUSTODY_HTTP_PORT: port };
    const first = spawnCustody(['sink'], { ...env, CUSTODY_SIGNING_KEY_FILE: keyFile() });
    procs.push(first);
    await first.waitForLog('custody sink running', 60_000);
    const second = spawnCustody(['exports', 'watch'], env);
    procs.push(second);
    expect(await second.exited).toBe(78);
    const fatal = second.logs().filter((l) => l['level'] === 'fatal');
    expect(fatal).toHaveLength(1);
    expect(String(fatal[0]?.['msg'])).toContain('CUSTODY_HTTP_PORT');
    expect(fatal[0]?.['setting']).toBe('CUSTODY_HTTP_PORT');
    const all = `${second
      .logs()
      .map((l) => JSON.stringify(l))
      .join('\n')}\n${second.stderr()}`;
    expect(all).not.toMatch(STACK);
  });

  it('exports watch and sink on one host use their own default ports', async () => {
    const env = { ...infraEnv(), ...topicsEnv(), S3_BUCKET: await bucket() };
    const sink = spawnCustody(['sink'], { ...env, CUSTODY_SIGNING_KEY_FILE: keyFile() });
    const watch = spawnCustody(['exports', 'watch'], env);
    procs.push(sink, watch);
    const [s, w] = await Promise.all([
      sink.waitForLog('custody sink running', 60_000),
      watch.waitForLog('custody exports watch running', 60_000),
    ]);
    expect(s['httpPort']).toBe(9466);
    expect(w['httpPort']).toBe(9465);
    sink.child.kill('SIGTERM');
    watch.child.kill('SIGTERM');
    expect(await sink.exited).toBe(0);
    expect(await watch.exited).toBe(0);
  });

  it('a role started before its broker waits, is not ready meanwhile, and starts once the broker is there', async () => {
    // Nothing listens on this port until the "broker" (a TCP forwarder to the real one) starts.
    const { createServer, connect } = await import('node:net');
    const port = await freePort();
    const brokerAddress = (infraEnv()['KAFKA_BROKERS'] ?? '').split(',')[0] ?? '';
    const [host = '127.0.0.1', realPort = '9092'] = brokerAddress.split(':');
    const env = {
      ...infraEnv(),
      ...topicsEnv(),
      S3_BUCKET: await bucket(),
      CUSTODY_HTTP_PORT: String(await freePort()),
      KAFKA_BROKERS: `127.0.0.1:${port}`,
    };
    const watch = spawnCustody(['exports', 'watch'], env);
    procs.push(watch);
    await watch.waitForLog('Kafka topics: waiting (retrying with backoff)', 30_000);
    const ready = await fetch(`http://127.0.0.1:${env.CUSTODY_HTTP_PORT}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.text()).toContain('waiting for Kafka topics');
    // The broker advertises its own address; metadata requests after bootstrap go there directly.
    const proxy = createServer((c) => {
      const up = connect(Number(realPort), host);
      c.pipe(up).pipe(c);
      up.on('error', () => c.destroy());
      c.on('error', () => up.destroy());
    });
    await new Promise<void>((r) => proxy.listen(port, '127.0.0.1', () => r()));
    try {
      await watch.waitForLog('custody exports watch running', 60_000);
      const waits = watch.logs().filter((l) => l['msg'] === 'Kafka topics: waiting (retrying with backoff)');
      expect(waits.length).toBeLessThanOrEqual(2);
      expect(watch.logs().some((l) => l['msg'] === 'Kafka topics: recovered')).toBe(true);
      watch.child.kill('SIGTERM');
      expect(await watch.exited).toBe(0);
      expect(`${watch.stderr()}`).not.toMatch(STACK);
    } finally {
      proxy.close();
    }
  });

  it('exports watch started before the export bucket exists waits for it, not ready, then runs', async () => {
    const name = uniqueName('late');
    const port = String(await freePort());
    const env = { ...infraEnv(), ...topicsEnv(), S3_BUCKET: name, CUSTODY_HTTP_PORT: port };
    const watch = spawnCustody(['exports', 'watch'], env);
    procs.push(watch);
    await watch.waitForLog(`S3 bucket ${name}: waiting (retrying with backoff)`, 60_000);
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.text()).toContain('NoSuchBucket');
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 3_000));
    await s3Client().send(new CreateBucketCommand({ Bucket: name }));
    await watch.waitForLog('custody exports watch running', 60_000);
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
    const waits = watch
      .logs()
      .filter((l) => l['msg'] === `S3 bucket ${name}: waiting (retrying with backoff)`);
    expect(waits).toHaveLength(1);
    watch.child.kill('SIGTERM');
    expect(await watch.exited).toBe(0);
    expect(watch.stderr()).not.toMatch(STACK);
  });
});
