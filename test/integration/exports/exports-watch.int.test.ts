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
import type { ExportsWatchOptions, RunningExportsWatch } from '../../../src/exports/exports-watch.ts';
import { defaultCheckpointKey, startExportsWatch } from '../../../src/exports/exports-watch.ts';
import { collectJobExports } from '../../../src/exports/export-job-collector.ts';
import { LEDGER_FORMAT } from '../../../src/exports/export-job-ledger.ts';
import type { ExportJobLedger } from '../../../src/exports/export-job-ledger.ts';
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

describe('custody exports watch: down longer than the lookback', () => {
  it('catches up from its checkpoint: exports that arrived in hours that left the window are still emitted', async () => {
    const env = await environment();
    const t = Date.now();
    const org = randomUUID();
    const first = await watcher(env, () => t, { lookbackHours: 1 });
    const seed = `${hourFolder(org, t)}conversation_id=${randomUUID()}/${randomUUID()}.opus`;
    await put(env.s3, env.bucket, seed, 'a');
    await put(env.s3, env.bucket, `${seed}_metadata.json`, '{}');
    expect((await first.scanOnce()).recordingsEmitted).toBe(1);
    await first.stop();
    // While the watcher is down (5 h), a late export lands in the hour that was current at its last pass.
    const late = `${hourFolder(org, t)}conversation_id=${randomUUID()}/${randomUUID()}.opus`;
    await put(env.s3, env.bucket, late, 'b');
    await put(env.s3, env.bucket, `${late}_metadata.json`, '{}');
    const second = await watcher(env, () => t + 5 * 3_600_000, { lookbackHours: 1 });
    expect((await second.scanOnce()).recordingsEmitted).toBe(1);
    const emitted = (await exportsOn(env)).map((r) => r.value.audio?.key);
    expect(emitted).toContain(late);
  });

  it('lists every hour from the high-water hour on, a bounded number per pass, and says how far behind it is', async () => {
    const env = await environment();
    const H = 3_600_000;
    const t = Date.now();
    const org = randomUUID();
    const first = await watcher(env, () => t, { lookbackHours: 1 });
    const seed = `${hourFolder(org, t)}conversation_id=${randomUUID()}/${randomUUID()}.opus`;
    await put(env.s3, env.bucket, seed, 'a');
    await put(env.s3, env.bucket, `${seed}_metadata.json`, '{}');
    expect((await first.scanOnce()).recordingsEmitted).toBe(1);
    await first.stop();
    // Down for 10 h: exports land in the hour of the last pass and in one the watcher never had in its window.
    const lateKeys = [t, t + 4 * H].map(
      (at) => `${hourFolder(org, at)}conversation_id=${randomUUID()}/${randomUUID()}.opus`,
    );
    for (const k of lateKeys) {
      await put(env.s3, env.bucket, k, 'b');
      await put(env.s3, env.bucket, `${k}_metadata.json`, '{}');
    }
    const lines: string[] = [];
    const captured = createLogger({
      level: 'info',
      instance: 'test',
      destination: { write: (l: string) => void lines.push(l) },
    });
    const producer = new KafkaRecordProducer(env.kafka);
    const second = await startExportsWatch(
      { s3: env.s3, producer, encoders, log: captured, registry: new Registry(), now: () => t + 10 * H },
      {
        bucket: env.bucket,
        topics: { recordingExports: env.exportsTopic, dlq: env.dlqTopic },
        instance: 'watch-test',
        watcherName: 'it',
        scanIntervalMs: 0,
        lookbackHours: 1,
        maxRangeHoursPerPass: 2,
      },
    );
    cleanups.push(async () => {
      await second.stop();
      await producer.close();
    });
    // The catch-up is 10 hours (from the last pass's window start to this one's), 2 per pass.
    const reports = [];
    for (let pass = 0; pass < 5; pass++) reports.push(await second.scanOnce());
    expect(reports.map((r) => r.backlogHours)).toEqual([8, 6, 4, 2, 0]);
    expect(reports.map((r) => r.recordingsEmitted)).toEqual([1, 0, 1, 0, 0]);
    const behind = lines
      .map((l) => JSON.parse(l) as { msg: string; behindHours?: number })
      .filter((l) => l.behindHours !== undefined);
    expect(behind).toHaveLength(1);
    expect(behind[0]?.behindHours).toBe(10);
    expect(behind[0]?.msg).toContain('10 hour(s) behind');
    const emitted = (await exportsOn(env)).map((r) => r.value.audio?.key);
    expect(emitted).toHaveLength(3);
    for (const k of lateKeys) expect(emitted).toContain(k);
    // Caught up: a restart at the same time has nothing left to list.
    expect((await second.scanOnce()).backlogHours).toBe(0);
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

  it('revisits a lone object deferred on the event path, even in an hour far older than the scan window', async () => {
    const env = await environment();
    const eventsTopic = uniqueName('s3-events');
    const admin = env.kafka.admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: eventsTopic, numPartitions: 1 }] });
    await admin.disconnect();
    const org = randomUUID();
    const t = Date.now();
    // Last month's call, exported today by a bulk job: only its audio ever arrives.
    const audioKey = `${hourFolder(org, t - 30 * 24 * 3_600_000)}conversation_id=${randomUUID()}/${randomUUID()}.opus`;
    const put1 = await put(env.s3, env.bucket, audioKey, 'lone audio');
    const event = {
      Records: [
        {
          eventVersion: '2.1',
          eventSource: 'aws:s3',
          awsRegion: 'us-east-1',
          eventTime: new Date(t).toISOString(),
          eventName: 'ObjectCreated:Put',
          s3: {
            s3SchemaVersion: '1.0',
            bucket: { name: env.bucket, arn: `arn:aws:s3:::${env.bucket}` },
            object: {
              key: encodeURIComponent(audioKey),
              size: Buffer.byteLength('lone audio'),
              eTag: (put1.ETag ?? '').replace(/"/g, ''),
              versionId: put1.VersionId,
              sequencer: '0062E99A88DC407461',
            },
          },
        },
      ],
    };
    const producer = env.kafka.producer();
    await producer.connect();
    await producer.send({ topic: eventsTopic, messages: [{ key: 'k', value: JSON.stringify(event) }] });
    await producer.disconnect();
    let now = t;
    const registry = new Registry();
    const w1 = await watcher(
      env,
      () => now,
      {
        pairGraceMs: 60_000,
        s3Events: { topic: eventsTopic, groupId: uniqueName('s3events-group'), fromBeginning: true },
      },
      registry,
    );
    // The event is consumed and deferred (no sibling); the watcher stops before any scan pass of its own.
    await waitForCount(async () => {
      const text = await registry.metrics();
      return /custody_exports_watch_s3_events_total\{outcome="deferred"\} [1-9]/.test(text) ? [1] : [];
    }, 1);
    await w1.stop();
    // The deferral was in the checkpoint before the event was committed: a restarted watcher (no events) has it
    // pending, waits out the grace, then emits the audio alone, as for a lone object a pass found itself.
    const w2 = await watcher(env, () => now, { pairGraceMs: 60_000 });
    expect(await w2.scanOnce()).toMatchObject({ recordingsEmitted: 0, pending: 1 });
    now = t + 120_000;
    expect(await w2.scanOnce()).toMatchObject({ recordingsEmitted: 1, pending: 0 });
    const [record] = await exportsOn(env);
    expect(record?.value.audio?.key).toBe(audioKey);
    expect(record?.value.metadata).toBeNull();
  });
});

describe('custody exports run --wait: collecting a job’s exports', () => {
  it('publishes metadata that lands after its audio was published alone', async () => {
    const env = await environment();
    const org = randomUUID();
    const conv = randomUUID();
    const t = Date.now();
    const audioKey = `${hourFolder(org, t)}conversation_id=${conv}/${randomUUID()}.opus`;
    await put(env.s3, env.bucket, audioKey, 'audio');
    const ledger: ExportJobLedger = {
      format: LEDGER_FORMAT,
      jobId: randomUUID(),
      createdBy: null,
      runner: { instance: 'test', version: '0' },
      request: { action: 'EXPORT', actionDate: null, integrationId: null, interval: 'x/y' },
      states: [{ state: 'PROCESSING', observedAtMs: t - 60_000, genesys: null }],
      totals: { conversations: 1, recordings: 1, processed: 1, skipped: 0, failed: 0 },
      errorMessage: null,
      coverage: { listedAtMs: t, totalHits: 1, jobTotalConversations: 1, conversations: { [conv]: t } },
      failedRecordings: [],
      published: [],
      updatedAtMs: t,
    };
    let now = t;
    let passes = 0;
    const producer = new KafkaRecordProducer(env.kafka);
    cleanups.push(() => producer.close());
    const report = await collectJobExports(
      {
        s3: env.s3,
        producer,
        encoders,
        log,
        now: () => now,
        sleep: async () => {
          passes++;
          now += 1_000;
          // The metadata lands after the audio was published alone (grace 2 s).
          if (passes === 4) await put(env.s3, env.bucket, `${audioKey}_metadata.json`, '{}');
        },
      },
      {
        bucket: env.bucket,
        prefix: '',
        dayHourPadding: 'unpadded',
        topic: env.exportsTopic,
        detector: { instance: 'test', version: '0' },
        intervalMs: 1_000,
        timeoutMs: 20_000,
        pairGraceMs: 2_000,
        skewMs: 60_000,
        s3Concurrency: 2,
      },
      ledger,
      async () => undefined,
    );
    expect(report).toMatchObject({ expected: 1, published: 1, timedOut: false });
    const records = (await exportsOn(env)).map((r) => r.value);
    expect(records).toHaveLength(2);
    expect(records[0]?.metadata).toBeNull();
    expect(records[1]?.metadata?.key).toBe(`${audioKey}_metadata.json`);
    expect(records[1]?.audio?.key).toBe(audioKey);
  });
});
