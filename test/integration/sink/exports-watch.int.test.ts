/**
 * `custody exports watch` against real Kafka and real S3 (versitygw), with the Genesys emulator exporting a
 * scenario into the bucket: exactly one RecordingExport per exported recording, nothing twice, re-emission on a
 * new version, restart from the S3 checkpoint, invalid keys dead-lettered once, the pairing grace for a lone
 * object (injected clock), and the S3-event path (a realistic notification built from real objects).
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Kafka } from 'kafkajs';
import { Registry } from 'prom-client';
import { startEmulator, type RunningEmulator } from '../../../dev/emulator/index.ts';
import type { ConversationKind } from '../../../dev/emulator/model.ts';
import { singleObjectCodecFor } from '../../../src/kafka/avro-codec.ts';
import type { DeadLetter, RecordingExport } from '../../../src/kafka/avro-codec.ts';
import { KafkaRecordProducer } from '../../../src/kafka/record-producer.ts';
import { createLogger } from '../../../src/observability/logger.ts';
import type { ExportsWatchOptions, RunningExportsWatch } from '../../../src/sink/exports-watch.ts';
import { defaultCheckpointKey, startExportsWatch } from '../../../src/sink/exports-watch.ts';
import { infra, kafkaClient, s3Client, uniqueName } from '../../support/clients.ts';
import { readTopicToEnd } from '../../support/kafka-read.ts';

const exportCodec = singleObjectCodecFor('recording-export.v1');
const dlqCodec = singleObjectCodecFor('dead-letter.v1');
const encoders = { 'recording-export.v1': exportCodec, 'dead-letter.v1': dlqCodec };
const log = createLogger({ level: 'silent', instance: 'test' });
const MIN = 60_000;
const GRACE = 10 * MIN;

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

type Env = { kafka: Kafka; s3: S3Client; bucket: string; exportsTopic: string; dlqTopic: string };

async function environment(): Promise<Env> {
  const kafka = kafkaClient('exports-watch-test');
  const s3 = s3Client();
  const bucket = uniqueName('exports-watch');
  await s3.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: true }));
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

async function watcher(
  env: Env,
  now: () => number,
  opts: Partial<ExportsWatchOptions> = {},
  registry = new Registry(),
): Promise<RunningExportsWatch> {
  const producer = new KafkaRecordProducer(env.kafka);
  const w = await startExportsWatch(
    { s3: env.s3, producer, encoders, log, kafka: env.kafka, registry, now },
    {
      bucket: env.bucket,
      topics: { recordingExports: env.exportsTopic, dlq: env.dlqTopic },
      instance: 'watch-test',
      watcherName: 'it',
      scanIntervalMs: 0,
      ...opts,
    },
  );
  cleanups.push(async () => {
    await w.stop();
    await producer.close();
  });
  return w;
}

async function exportsOn(env: Env): Promise<Array<{ key: string | null; value: RecordingExport }>> {
  const records = await readTopicToEnd(env.kafka, env.exportsTopic);
  return records.map((r) => ({ key: r.key, value: exportCodec.decode(r.value ?? Buffer.alloc(0)) }));
}

async function deadLettersOn(env: Env): Promise<DeadLetter[]> {
  return (await readTopicToEnd(env.kafka, env.dlqTopic)).map((r) =>
    dlqCodec.decode(r.value ?? Buffer.alloc(0)),
  );
}

/** Re-reads a topic until it holds at least `n` records (offset-based; no fixed sleeps). */
async function waitForCount<T>(read: () => Promise<T[]>, n: number, timeoutMs = 30_000): Promise<T[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = await read();
    if (got.length >= n || Date.now() > deadline) return got;
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function put(s3: S3Client, bucket: string, key: string, body: string) {
  return s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
}

async function head(s3: S3Client, bucket: string, key: string) {
  return s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
}

function hourFolder(orgId: string, ms: number): string {
  const d = new Date(ms);
  return `${orgId}/year=${d.getUTCFullYear()}/month=${d.getUTCMonth() + 1}/day=${d.getUTCDate()}/hour=${d.getUTCHours()}/`;
}

describe('custody exports watch: scanning', () => {
  let emu: RunningEmulator | undefined;
  afterEach(async () => {
    await emu?.close();
    emu = undefined;
  });

  it('emits exactly one record per exported recording, re-emits new versions only, and survives a restart', async () => {
    const env = await environment();
    const i = infra();
    const start = Date.parse('2026-03-01T09:00:00.000Z');
    const at = (m: number) => new Date(start + m * MIN).toISOString();
    const kinds: ConversationKind[] = [
      'inbound-acd-webrtc',
      'consult-transfer',
      'same-agent-multiple-legs',
      'sip-desk-phone',
      'unrecorded',
    ];
    emu = await startEmulator({
      clientId: 'exports-watch',
      clientSecret: 'exports-watch-secret',
      speed: 60,
      exportAfterMinutes: 5,
      exportTarget: {
        endpoint: i.S3_ENDPOINT,
        region: i.S3_REGION,
        bucket: env.bucket,
        accessKeyId: i.AWS_ACCESS_KEY_ID,
        secretAccessKey: i.AWS_SECRET_ACCESS_KEY,
      },
      scenario: {
        seed: 11,
        start: at(0),
        conversations: [
          ...kinds.map((kind, n) => ({ kind, at: at(3 + n * 4), durationSeconds: 120 })),
          { kind: 'hour-boundary' as const, at: at(30) },
        ],
      },
    });
    const e = emu;
    const scripts = e.control.groundTruth();
    const lastEnd = Math.max(...scripts.map((s) => s.endTime));
    await e.clock.advance(lastEnd + 6 * MIN - e.clock.now());
    await e.exports.flush();

    const truth = scripts.flatMap((s) => s.recordings.map((r) => ({ script: s, recording: r })));
    expect(truth.length).toBeGreaterThan(5);
    expect(scripts.find((s) => s.kind === 'unrecorded')?.recordings).toHaveLength(0);
    const crossing = scripts.find((s) => s.kind === 'hour-boundary');
    expect(new Date(crossing?.startTime ?? 0).getUTCHours()).not.toBe(
      new Date(crossing?.endTime ?? 0).getUTCHours(),
    );

    const now = () => e.clock.now();
    const w1 = await watcher(env, now);
    const first = await w1.scanOnce();
    expect(first.recordingsEmitted).toBe(truth.length);
    expect(first.invalidKeys).toBe(0);

    const records = await exportsOn(env);
    expect(records).toHaveLength(truth.length);
    expect(new Set(records.map((r) => r.value.recordingId))).toEqual(
      new Set(truth.map((t) => t.recording.recordingId)),
    );
    for (const { script, recording } of truth) {
      const rec = records.find((r) => r.value.recordingId === recording.recordingId);
      expect(rec?.key).toBe(script.conversationId);
      const v = rec?.value;
      expect(v?.conversationId).toBe(script.conversationId);
      expect(v?.orgId).toBe(e.org.orgId);
      expect(v?.partitionHour).toBe(
        new Date(Math.floor(script.startTime / 3_600_000) * 3_600_000).toISOString(),
      );
      expect(v?.detectedBy).toBe('scan');
      expect(v?.detectorInstance).toBe('watch-test');
      expect(v?.job).toBeNull();
      const folder = `${hourFolder(e.org.orgId, script.startTime)}conversation_id=${script.conversationId}/`;
      expect(v?.audio?.key).toBe(`${folder}${recording.recordingId}.opus`);
      expect(v?.metadata?.key).toBe(`${folder}${recording.recordingId}.opus_metadata.json`);
      expect(v?.audio?.size).toBe(recording.sizeBytes);
      for (const obj of [v?.audio, v?.metadata]) {
        const h = await head(env.s3, env.bucket, obj?.key ?? '');
        expect(obj?.etag).toBe(h.ETag);
        expect(obj?.versionId).toBe(h.VersionId);
        expect(obj?.size).toBe(h.ContentLength);
        expect(Math.abs((obj?.lastModifiedMs ?? 0) - (h.LastModified?.getTime() ?? -1))).toBeLessThan(1000);
      }
    }

    // A second pass emits nothing new (and needs no HEAD requests).
    const second = await w1.scanOnce();
    expect(second).toMatchObject({ recordingsEmitted: 0, headRequests: 0 });
    expect(await exportsOn(env)).toHaveLength(truth.length);

    // A new version of one metadata object re-emits that recording once.
    const target = records[0]?.value;
    const newMeta = await put(env.s3, env.bucket, target?.metadata?.key ?? '', '{"rewritten":true}');
    const third = await w1.scanOnce();
    expect(third.recordingsEmitted).toBe(1);
    const afterRewrite = await exportsOn(env);
    expect(afterRewrite).toHaveLength(truth.length + 1);
    const reEmitted = afterRewrite.filter((r) => r.value.recordingId === target?.recordingId);
    expect(reEmitted).toHaveLength(2);
    expect(reEmitted.map((r) => r.value.metadata?.versionId)).toContain(newMeta.VersionId);
    expect(reEmitted.map((r) => r.value.metadata?.etag)).toContain(newMeta.ETag);
    expect((await w1.scanOnce()).recordingsEmitted).toBe(0);
    await w1.stop();

    // A restarted watcher (new instance, same checkpoint in S3) emits nothing new.
    const w2 = await watcher(env, now);
    expect((await w2.scanOnce()).recordingsEmitted).toBe(0);
    expect(await exportsOn(env)).toHaveLength(truth.length + 1);

    // An invalid key is dead-lettered exactly once while a new valid recording and other files proceed.
    const script = truth[0]?.script;
    const folder = hourFolder(e.org.orgId, script?.startTime ?? 0);
    const badKey = `${folder}conversation_id=not-a-uuid/${randomUUID()}.opus`;
    await put(env.s3, env.bucket, badKey, 'x');
    await put(env.s3, env.bucket, `${folder}conversation_id=${script?.conversationId}/notes.txt`, 'x');
    const extra = randomUUID();
    const extraBase = `${folder}conversation_id=${script?.conversationId}/${extra}.opus`;
    await put(env.s3, env.bucket, extraBase, 'audio');
    await put(env.s3, env.bucket, `${extraBase}_metadata.json`, '{}');
    const fourth = await w2.scanOnce();
    expect(fourth).toMatchObject({ recordingsEmitted: 1, invalidKeys: 1 });
    expect(fourth.objectsSkipped).toBeGreaterThanOrEqual(1);
    expect((await w2.scanOnce()).invalidKeys).toBe(0);
    const dead = await deadLettersOn(env);
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ errorCode: 'CUSTODY_SINK_INVALID_EXPORT_KEY', stage: 'exports' });
    expect(dead[0]?.source.kind).toBe('s3');
    expect(dead[0]?.value?.toString('utf8')).toBe(badKey);
    expect(dead[0]?.reason).toContain('conversationId is not a UUID');
    const all = await exportsOn(env);
    expect(all).toHaveLength(truth.length + 2);
    expect(all.some((r) => r.value.recordingId === extra)).toBe(true);
  });

  it('emits a lone audio object with metadata null only after the pairing grace, across a restart', async () => {
    const env = await environment();
    let t = Date.now();
    const now = () => t;
    const org = randomUUID();
    const conv = randomUUID();
    const rec = randomUUID();
    const audioKey = `${hourFolder(org, t - 2 * 3_600_000)}conversation_id=${conv}/${rec}.opus`;
    await put(env.s3, env.bucket, audioKey, 'lone audio');

    const w1 = await watcher(env, now, { pairGraceMs: GRACE });
    expect(await w1.scanOnce()).toMatchObject({ recordingsEmitted: 0, pending: 1 });
    t += GRACE - 1;
    expect((await w1.scanOnce()).recordingsEmitted).toBe(0);
    await w1.stop();

    // The alone-since time is in the checkpoint: a new instance emits as soon as the grace is over.
    t += 1;
    const w2 = await watcher(env, now, { pairGraceMs: GRACE });
    expect(await w2.scanOnce()).toMatchObject({ recordingsEmitted: 1, pending: 0 });
    const [lone] = await exportsOn(env);
    expect(lone?.value.metadata).toBeNull();
    expect(lone?.value.audio?.key).toBe(audioKey);
    expect((await w2.scanOnce()).recordingsEmitted).toBe(0);

    // The metadata arrives later: the completed pair is emitted once more.
    await put(env.s3, env.bucket, `${audioKey}_metadata.json`, '{}');
    expect((await w2.scanOnce()).recordingsEmitted).toBe(1);
    const records = await exportsOn(env);
    expect(records).toHaveLength(2);
    expect(records[1]?.value.metadata?.key).toBe(`${audioKey}_metadata.json`);
  });

  it('lists old hour folders only when a backfill range is requested', async () => {
    const env = await environment();
    const t = Date.now();
    const org = randomUUID();
    const oldHour = t - 30 * 24 * 3_600_000;
    const base = `${hourFolder(org, oldHour)}conversation_id=${randomUUID()}/${randomUUID()}.opus`;
    await put(env.s3, env.bucket, base, 'a');
    await put(env.s3, env.bucket, `${base}_metadata.json`, '{}');
    const w = await watcher(env, () => t);
    expect((await w.scanOnce()).recordingsEmitted).toBe(0);
    w.requestRange(oldHour - 3_600_000, oldHour + 3_600_000);
    expect((await w.scanOnce()).recordingsEmitted).toBe(1);
    // The range is done and its hours are pruned from the checkpoint.
    expect((await w.scanOnce()).recordingsEmitted).toBe(0);
  });
});

describe('custody exports watch: checkpoint concurrency', () => {
  it('two watchers with one name never overwrite each other: a lost conditional write re-reads and merges', async () => {
    const env = await environment();
    const t = Date.now();
    const org = randomUUID();
    const folder = `${hourFolder(org, t)}conversation_id=${randomUUID()}/`;
    const putRecording = async () => {
      const base = `${folder}${randomUUID()}.opus`;
      await put(env.s3, env.bucket, base, 'a');
      await put(env.s3, env.bucket, `${base}_metadata.json`, '{}');
    };
    const conflicts = async (registry: Registry) =>
      (await registry.getSingleMetric('custody_exports_watch_checkpoint_conflicts_total')?.get())?.values[0]
        ?.value ?? 0;
    const r1 = new Registry();
    const r2 = new Registry();
    // Both read "no checkpoint" at start.
    const w1 = await watcher(env, () => t, {}, r1);
    // (Another instance id, so its checkpoint differs byte-wise from w1's and gets another ETag.)
    const w2 = await watcher(env, () => t, { instance: 'watch-b' }, r2);
    await putRecording();
    expect(await w1.scanOnce()).toMatchObject({ recordingsEmitted: 1, checkpointWritten: true });
    // w2 emits the same recording (it had not seen w1's checkpoint); its If-None-Match write loses and merges.
    const rep2 = await w2.scanOnce();
    expect(rep2).toMatchObject({ recordingsEmitted: 1, checkpointWritten: true });
    expect(await conflicts(r2)).toBe(1);
    await putRecording();
    // w1's If-Match ETag is stale now: it merges w2's state into its own.
    expect(await w1.scanOnce()).toMatchObject({ recordingsEmitted: 1, checkpointWritten: true });
    expect(await conflicts(r1)).toBe(1);
    const stored = await env.s3.send(
      new GetObjectCommand({ Bucket: env.bucket, Key: defaultCheckpointKey('it') }),
    );
    const checkpoint = JSON.parse((await stored.Body?.transformToString()) ?? '{}') as {
      hours: Record<string, { emitted: Record<string, unknown> }>;
    };
    expect(Object.values(checkpoint.hours).flatMap((h) => Object.keys(h.emitted))).toHaveLength(2);
    // A third instance starts from the merged checkpoint and emits nothing.
    const w3 = await watcher(env, () => t);
    expect((await w3.scanOnce()).recordingsEmitted).toBe(0);
  });
});

describe('custody exports watch: S3 event notifications', () => {
  it('emits a RecordingExport for a notified export and dead-letters a malformed event', async () => {
    const env = await environment();
    const eventsTopic = uniqueName('s3-events');
    const admin = env.kafka.admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: eventsTopic, numPartitions: 1 }] });
    await admin.disconnect();

    // A prefix with a space: notification keys encode it as '+'.
    const prefix = 'genesys exports';
    const org = randomUUID();
    const conv = randomUUID();
    const rec = randomUUID();
    const t = Date.now();
    const audioKey = `${prefix}/${hourFolder(org, t)}conversation_id=${conv}/${rec}.opus`;
    const metadataKey = `${audioKey}_metadata.json`;
    await put(env.s3, env.bucket, audioKey, 'audio bytes');
    const meta = await put(env.s3, env.bucket, metadataKey, '{"recordingId":"x"}');
    const metaHead = await head(env.s3, env.bucket, metadataKey);

    const event = {
      Records: [
        {
          eventVersion: '2.1',
          eventSource: 'aws:s3',
          awsRegion: 'us-east-1',
          eventTime: new Date(t).toISOString(),
          eventName: 'ObjectCreated:Put',
          userIdentity: { principalId: 'AWS:GENESYS' },
          requestParameters: { sourceIPAddress: '203.0.113.7' },
          responseElements: { 'x-amz-request-id': 'REQ', 'x-amz-id-2': 'HOST' },
          s3: {
            s3SchemaVersion: '1.0',
            configurationId: 'custody-exports',
            bucket: {
              name: env.bucket,
              ownerIdentity: { principalId: 'OWNER' },
              arn: `arn:aws:s3:::${env.bucket}`,
            },
            object: {
              key: encodeURIComponent(metadataKey).replace(/%20/g, '+'),
              size: metaHead.ContentLength,
              eTag: (meta.ETag ?? '').replace(/"/g, ''),
              versionId: meta.VersionId,
              sequencer: '0062E99A88DC407460',
            },
          },
        },
      ],
    };
    expect(event.Records[0]?.s3.object.key).toContain('genesys+exports%2F');
    const producer = env.kafka.producer();
    await producer.connect();
    await producer.send({
      topic: eventsTopic,
      messages: [
        { key: 'k1', value: JSON.stringify(event) },
        { key: 'k2', value: JSON.stringify({ Records: [{ ...event.Records[0], eventSource: 'aws:sqs' }] }) },
      ],
    });
    await producer.disconnect();

    const w = await watcher(env, () => t, {
      prefix,
      s3Events: { topic: eventsTopic, groupId: uniqueName('s3events-group'), fromBeginning: true },
    });
    const records = await waitForCount(() => exportsOn(env), 1);
    expect(records).toHaveLength(1);
    const v = records[0]?.value;
    expect(records[0]?.key).toBe(conv);
    expect(v).toMatchObject({
      detectedBy: 's3-event',
      conversationId: conv,
      recordingId: rec,
      bucket: env.bucket,
    });
    expect(v?.metadata).toMatchObject({ key: metadataKey, versionId: meta.VersionId, etag: meta.ETag });
    expect(v?.audio?.key).toBe(audioKey);
    expect(v?.audio?.size).toBe(Buffer.byteLength('audio bytes'));

    const dead = await waitForCount(() => deadLettersOn(env), 1);
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ errorCode: 'CUSTODY_SINK_INVALID_S3_EVENT', stage: 'exports' });
    expect(dead[0]?.reason).toContain('eventSource');
    expect(dead[0]?.source).toMatchObject({ kind: 'kafka', topic: eventsTopic, offset: 1 });
    expect(dead[0]?.key?.toString()).toBe('k2');

    // The scanner knows the event path emitted it: no second record for the same pair.
    expect((await w.scanOnce()).recordingsEmitted).toBe(0);
    expect(await exportsOn(env)).toHaveLength(1);
    expect(defaultCheckpointKey('it')).toBe('_custody/exports-watch/it/checkpoint.json');
  });
});
