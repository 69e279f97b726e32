/**
 * `custody exports watch` left alone with real Kafka and real S3 (versitygw), as users deploy it:
 * - the export bucket does not exist yet (the Genesys integration creates it on its first export): the watch
 *   waits, not ready with the reason, logs one line when it starts waiting and one when it recovers, then
 *   publishes (before: an uncaught NoSuchBucket ended it);
 * - S3 throttles in the middle of a pass, Kafka refuses a send: the pass waits in place and finishes;
 * - a fatal error stops the loop: `failed` rejects and `onFailure` is called, so the process can end;
 * - a pass of 2,000 exports publishes in chunks of at most 500 records against the broker's default
 *   max.message.bytes, and its checkpoint advances only over acknowledged chunks (before: one send of the whole
 *   pass, and the checkpoint only after it);
 * - a record the producer rejects as too large is dead-lettered with the reason, once, not retried forever.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CreateBucketCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import type { Kafka } from 'kafkajs';
import { Registry } from 'prom-client';
import { singleObjectCodecFor } from '../../../src/kafka/avro-codec.ts';
import type { DeadLetter, RecordingExport } from '../../../src/kafka/avro-codec.ts';
import { KafkaRecordProducer, RecordTooLargeError } from '../../../src/kafka/record-producer.ts';
import type { RecordProducer } from '../../../src/kafka/record-producer.ts';
import { createLogger } from '../../../src/observability/logger.ts';
import type { Logger } from '../../../src/observability/logger.ts';
import { Conditions } from '../../../src/runtime/conditions.ts';
import { isFatal } from '../../../src/runtime/errors.ts';
import type {
  ExportsWatchDeps,
  ExportsWatchOptions,
  RunningExportsWatch,
} from '../../../src/exports/exports-watch.ts';
import { defaultCheckpointKey, startExportsWatch } from '../../../src/exports/exports-watch.ts';
import { infra, kafkaClient, s3Client, uniqueName } from '../../support/clients.ts';
import { readTopicToEnd } from '../../support/kafka-read.ts';
import { startS3FaultProxy } from '../../support/s3-fault-proxy.ts';

const exportCodec = singleObjectCodecFor('recording-export.v1');
const dlqCodec = singleObjectCodecFor('dead-letter.v1');
const encoders = { 'recording-export.v1': exportCodec, 'dead-letter.v1': dlqCodec };
const FAST = { initialMs: 20, maxMs: 200 };
const WAITING = 'waiting (retrying with backoff)';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

type Env = { kafka: Kafka; s3: S3Client; bucket: string; exportsTopic: string; dlqTopic: string };

async function environment(opts: { createBucket?: boolean; objectLock?: boolean } = {}): Promise<Env> {
  const kafka = kafkaClient('export-unattended-test');
  const s3 = s3Client();
  const bucket = uniqueName('unattended-exports');
  if (opts.createBucket ?? true) {
    await s3.send(
      new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: opts.objectLock ?? true }),
    );
  }
  const exportsTopic = uniqueName('recording-exports');
  const dlqTopic = uniqueName('dlq');
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: [exportsTopic, dlqTopic].map((topic) => ({ topic, numPartitions: 3 })),
  });
  await admin.disconnect();
  cleanups.push(async () => s3.destroy());
  return { kafka, s3, bucket, exportsTopic, dlqTopic };
}

/** A logger whose JSON lines are kept, to count what an outage logs. */
function capturingLogger(): { log: Logger; messages: () => string[] } {
  const lines: string[] = [];
  const log = createLogger({
    level: 'info',
    instance: 'test',
    destination: { write: (line: string) => void lines.push(line) },
  });
  return { log, messages: () => lines.map((l) => String((JSON.parse(l) as { msg?: unknown }).msg)) };
}

function realProducer(env: Env): KafkaRecordProducer {
  const producer = new KafkaRecordProducer(env.kafka);
  cleanups.push(() => producer.close());
  return producer;
}

async function watcher(
  env: Env,
  deps: Partial<ExportsWatchDeps>,
  opts: Partial<ExportsWatchOptions> = {},
): Promise<RunningExportsWatch> {
  const w = await startExportsWatch(
    {
      s3: env.s3,
      producer: deps.producer ?? realProducer(env),
      encoders,
      log: createLogger({ level: 'silent', instance: 'test' }),
      registry: new Registry(),
      backoff: FAST,
      ...deps,
    },
    {
      bucket: env.bucket,
      topics: { recordingExports: env.exportsTopic, dlq: env.dlqTopic },
      instance: 'unattended-test',
      watcherName: 'it',
      scanIntervalMs: 0,
      ...opts,
    },
  );
  cleanups.push(() => w.stop());
  return w;
}

async function exportsOn(env: Env): Promise<RecordingExport[]> {
  return (await readTopicToEnd(env.kafka, env.exportsTopic)).map((r) =>
    exportCodec.decode(r.value ?? Buffer.alloc(0)),
  );
}

async function deadLettersOn(env: Env): Promise<DeadLetter[]> {
  return (await readTopicToEnd(env.kafka, env.dlqTopic)).map((r) =>
    dlqCodec.decode(r.value ?? Buffer.alloc(0)),
  );
}

async function until<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 30_000,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function hourFolder(orgId: string, ms: number): string {
  const d = new Date(ms);
  return `${orgId}/year=${d.getUTCFullYear()}/month=${d.getUTCMonth() + 1}/day=${d.getUTCDate()}/hour=${d.getUTCHours()}/`;
}

/** Puts one recording (audio and metadata) in the current hour; returns the audio key. */
async function putRecording(s3: S3Client, bucket: string, org: string, conv = randomUUID()): Promise<string> {
  const audio = `${hourFolder(org, Date.now())}conversation_id=${conv}/${randomUUID()}.opus`;
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: audio, Body: 'audio' }));
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${audio}_metadata.json`, Body: '{}' }));
  return audio;
}

async function storedCheckpoint(env: Env, name: string) {
  const res = await env.s3.send(
    new GetObjectCommand({ Bucket: env.bucket, Key: defaultCheckpointKey(name) }),
  );
  return JSON.parse((await res.Body?.transformToString()) ?? '{}') as {
    hours: Record<string, { emitted: Record<string, unknown> }>;
  };
}

/** A producer around `inner` that records each send's size and can fail chosen sends. */
function spyProducer(
  inner: RecordProducer,
  failure: (sendNo: number, records: readonly { key: string | null; topic: string }[]) => Error | undefined,
) {
  const sends: number[] = [];
  const producer: RecordProducer = {
    async send(records) {
      sends.push(records.length);
      const e = failure(sends.length, records);
      if (e) throw e;
      return inner.send(records);
    },
    close: () => inner.close(),
  };
  return { producer, sends };
}

describe('custody exports watch, unattended: waiting out S3 and Kafka', () => {
  it('waits, not ready, while the export bucket does not exist yet; one line each way; then publishes', async () => {
    const env = await environment({ createBucket: false });
    const { log, messages } = capturingLogger();
    const conditions = new Conditions(log);
    const producer = realProducer(env);
    const starting = startExportsWatch(
      { s3: env.s3, producer, encoders, log, conditions, registry: new Registry(), backoff: FAST },
      {
        bucket: env.bucket,
        topics: { recordingExports: env.exportsTopic, dlq: env.dlqTopic },
        instance: 'unattended-test',
        watcherName: 'it',
        scanIntervalMs: 100,
      },
    );
    let started: RunningExportsWatch | undefined;
    starting.then(
      (w) => {
        started = w;
        cleanups.push(() => w.stop());
      },
      () => undefined,
    );
    const reason = await until('a not-ready reason', () => conditions.notReadyReason());
    expect(reason).toContain(`waiting for S3 bucket ${env.bucket}`);
    expect(reason).toContain('NoSuchBucket');
    // Several attempts later it still waits, with one log line so far.
    await new Promise((r) => setTimeout(r, 800));
    expect(started).toBeUndefined();
    expect(messages().filter((m) => m.endsWith(WAITING))).toEqual([`S3 bucket ${env.bucket}: ${WAITING}`]);

    // The integration creates the bucket with its first export.
    await env.s3.send(new CreateBucketCommand({ Bucket: env.bucket }));
    const audio = await putRecording(env.s3, env.bucket, randomUUID());
    await starting;
    const records = await until('the export on Kafka', async () => {
      const got = await exportsOn(env);
      return got.length > 0 ? got : undefined;
    });
    expect(records.map((r) => r.audio?.key)).toEqual([audio]);
    expect(conditions.notReadyReason()).toBeUndefined();
    expect(started?.notReadyReason()).toBeUndefined();
    expect(messages().filter((m) => m.endsWith(WAITING))).toHaveLength(1);
    expect(messages().filter((m) => m.endsWith(': recovered'))).toEqual([
      `S3 bucket ${env.bucket}: recovered`,
    ]);
  });

  it('waits in the middle of a pass while S3 throttles, reporting why, and finishes the pass', async () => {
    const env = await environment();
    const i = infra();
    const proxy = await startS3FaultProxy(i.S3_ENDPOINT);
    cleanups.push(() => proxy.close());
    const viaProxy = new S3Client({
      endpoint: proxy.endpoint,
      region: i.S3_REGION,
      forcePathStyle: true,
      credentials: { accessKeyId: i.AWS_ACCESS_KEY_ID, secretAccessKey: i.AWS_SECRET_ACCESS_KEY },
      maxAttempts: 1,
    });
    cleanups.push(async () => viaProxy.destroy());
    const { log, messages } = capturingLogger();
    const w = await watcher({ ...env, s3: viaProxy }, { log });
    await putRecording(env.s3, env.bucket, randomUUID());

    proxy.setFaults({ errorRate: 1, error: 'SlowDown' });
    const pass = w.scanOnce();
    const reason = await until('a not-ready reason', () => w.notReadyReason());
    expect(reason).toContain('SlowDown');
    await new Promise((r) => setTimeout(r, 500));
    proxy.clearFaults();
    expect(await pass).toMatchObject({ recordingsEmitted: 1 });
    expect(w.notReadyReason()).toBeUndefined();
    expect(messages().filter((m) => m.endsWith(WAITING))).toEqual([`S3 bucket ${env.bucket}: ${WAITING}`]);
    expect(messages().filter((m) => m.endsWith(': recovered'))).toEqual([
      `S3 bucket ${env.bucket}: recovered`,
    ]);
    expect(await exportsOn(env)).toHaveLength(1);
  });

  it('waits while Kafka refuses sends (retriable), then publishes; the checkpoint follows only then', async () => {
    const env = await environment();
    const { log, messages } = capturingLogger();
    const refused = Object.assign(new Error('Connection error: connect ECONNREFUSED 127.0.0.1:9092'), {
      name: 'KafkaJSConnectionError',
    });
    const { producer, sends } = spyProducer(realProducer(env), (n) => (n <= 3 ? refused : undefined));
    const w = await watcher(env, { producer, log });
    await putRecording(env.s3, env.bucket, randomUUID());
    expect(await w.scanOnce()).toMatchObject({ recordingsEmitted: 1, checkpointWritten: true });
    expect(sends).toEqual([1, 1, 1, 1]);
    expect(messages().filter((m) => m.endsWith(WAITING))).toEqual([`Kafka: ${WAITING}`]);
    expect(messages().filter((m) => m.endsWith(': recovered'))).toEqual(['Kafka: recovered']);
    expect(await exportsOn(env)).toHaveLength(1);
    expect((await w.scanOnce()).recordingsEmitted).toBe(0);
  });

  it('a fatal error stops the loop for good: `failed` rejects and onFailure is called', async () => {
    const env = await environment();
    let deny = false;
    const accessDenied = () =>
      new S3ServiceException({
        name: 'AccessDenied',
        $fault: 'client',
        $metadata: { httpStatusCode: 403 },
        message: 'Access Denied',
      });
    // The real client, refusing every request once `deny` is set (a policy change while running).
    const s3 = new Proxy(env.s3, {
      get(target, prop, receiver) {
        if (prop === 'send') {
          return (command: Parameters<S3Client['send']>[0]) =>
            deny ? Promise.reject(accessDenied()) : target.send(command);
        }
        return Reflect.get(target, prop, receiver) as unknown;
      },
    });
    const failures: unknown[] = [];
    const w = await watcher({ ...env, s3 }, { onFailure: (e) => failures.push(e) }, { scanIntervalMs: 50 });
    deny = true;
    const e = await w.failed.catch((err: unknown) => err);
    expect(isFatal(e)).toBe(true);
    expect(failures).toEqual([e]);
    expect(w.notReadyReason()).toContain('AccessDenied');

    // And a watch that cannot even read its checkpoint fails at start, at once (no waiting).
    const t0 = Date.now();
    await expect(watcher({ ...env, s3 }, {})).rejects.toMatchObject({ name: 'AccessDenied' });
    expect(Date.now() - t0).toBeLessThan(2_000);
  });
});

describe('custody exports watch, unattended: large passes', () => {
  it('publishes a pass of 2,000 exports in chunks of ≤ 500 to real Kafka; the checkpoint follows acknowledged chunks', async () => {
    const env = await environment({ objectLock: false });
    const N = 2_000;
    const org = randomUUID();
    const folder = hourFolder(org, Date.now());
    const convs = Array.from({ length: 100 }, () => randomUUID());
    const keys = Array.from(
      { length: N },
      (_, n) => `${folder}conversation_id=${convs[n % 100]}/${randomUUID()}.opus`,
    );
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < keys.length) {
          const key = keys[next++] as string;
          await env.s3.send(new PutObjectCommand({ Bucket: env.bucket, Key: key, Body: 'a' }));
        }
      }),
    );
    // Audio only, published at once (no pairing grace), so the pass carries all N.
    const opts = { pairGraceMs: 0, lookbackHours: 1 };

    // One pass publishes all of them, never more than 500 per send (~1.2 MB in all: over max.message.bytes).
    const whole = spyProducer(realProducer(env), () => undefined);
    const w1 = await watcher(env, { producer: whole.producer }, { ...opts, watcherName: 'whole' });
    expect(await w1.scanOnce()).toMatchObject({ recordingsEmitted: N, sends: 4 });
    expect(whole.sends).toEqual([500, 500, 500, 500]);
    const first = await exportsOn(env);
    expect(first).toHaveLength(N);
    expect(new Set(first.map((r) => r.audio?.key))).toEqual(new Set(keys));

    // Another watcher whose third send fails for good: only the two acknowledged chunks are in its checkpoint…
    const broken = spyProducer(realProducer(env), (n) =>
      n === 3 ? new Error('injected send failure') : undefined,
    );
    const w2 = await watcher(env, { producer: broken.producer }, { ...opts, watcherName: 'partial' });
    await expect(w2.scanOnce()).rejects.toThrow('injected send failure');
    await w2.stop();
    const stored = await storedCheckpoint(env, 'partial');
    expect(Object.values(stored.hours).flatMap((h) => Object.keys(h.emitted))).toHaveLength(1_000);
    // …so its restart publishes exactly the rest: every recording once per watcher, none twice.
    const w3 = await watcher(env, {}, { ...opts, watcherName: 'partial' });
    expect(await w3.scanOnce()).toMatchObject({ recordingsEmitted: N - 1_000 });
    const all = await exportsOn(env);
    expect(all).toHaveLength(2 * N);
    const perKey = new Map<string, number>();
    for (const r of all) perKey.set(r.audio?.key ?? '', (perKey.get(r.audio?.key ?? '') ?? 0) + 1);
    expect([...perKey.values()].every((n) => n === 2)).toBe(true);
    expect(perKey.size).toBe(N);
  }, 240_000);

  it('dead-letters a record the producer rejects as too large, with the reason, once', async () => {
    const env = await environment();
    const org = randomUUID();
    const bigConv = randomUUID();
    const big = await putRecording(env.s3, env.bucket, org, bigConv);
    await putRecording(env.s3, env.bucket, org);
    await putRecording(env.s3, env.bucket, org);
    const { producer } = spyProducer(realProducer(env), (_n, records) => {
      const r = records.find((x) => x.key === bigConv && x.topic === env.exportsTopic);
      return r ? new RecordTooLargeError(r.topic, 2_000_000, 1_000_000) : undefined;
    });
    const w = await watcher(env, { producer });
    expect(await w.scanOnce()).toMatchObject({ recordingsEmitted: 2, recordsTooLarge: 1 });
    expect((await exportsOn(env)).map((r) => r.conversationId)).not.toContain(bigConv);
    const dead = await deadLettersOn(env);
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({
      errorCode: 'CUSTODY_SINK_EXPORT_RECORD_TOO_LARGE',
      stage: 'exports',
      source: { kind: 's3' },
    });
    expect(dead[0]?.reason).toContain('2000000 bytes');
    const named = JSON.parse(dead[0]?.value?.toString('utf8') ?? '{}') as { audio?: { key?: string } };
    expect(named.audio?.key).toBe(big);
    // Not retried: the next pass sends nothing for it.
    expect(await w.scanOnce()).toMatchObject({ recordingsEmitted: 0, recordsTooLarge: 0 });
    expect(await deadLettersOn(env)).toHaveLength(1);
  });
});
