/**
 * Inputs and probes for the sink's integration tests: an Object-Lock bucket filled by the Genesys emulator's
 * export integration, RecordingExport records built by listing and HEADing it, session-tag snapshots built by
 * running the pure ingest extraction over the emulator's scripted events, and readers for S3 versions and topics.
 */
import { generateKeyPairSync } from 'node:crypto';
import {
  CreateBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  GetObjectCommand,
  PutBucketVersioningCommand,
} from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Kafka } from 'kafkajs';
import { pino } from 'pino';
import { capturedSnapshots } from '../../dev/captured-snapshots.ts';
import { startEmulator } from '../../dev/emulator/index.ts';
import type { RunningEmulator } from '../../dev/emulator/index.ts';
import type { ConversationKind, Scenario } from '../../dev/emulator/model.ts';
import { manifestKeyFor, parseExportKey } from '../../src/enrich/export-layout.ts';
import type { SessionTagsSnapshot } from '../../src/enrich/session-tags.ts';
import type { RecordingExport } from '../../src/kafka/avro-codec.ts';
import { singleObjectCodecFor } from '../../src/kafka/avro-codec.ts';
import type { RecordProducer } from '../../src/kafka/record-producer.ts';
import { signingKeyOf } from '../../src/sink/signing-key.ts';
import { createSinkCodecs } from '../../src/sink/sink-codecs.ts';
import { DEFAULT_SINK_OPTIONS, startSink } from '../../src/sink/sink-pipeline.ts';
import type { RunningSink, SinkOptions } from '../../src/sink/sink-pipeline.ts';
import type { SigningKey } from '../../src/sink/signing-key.ts';
import { infra, uniqueName } from './clients.ts';

export const EXPORT_AFTER_MINUTES = 5;

/** The manifest key beside a detected recording's audio (or metadata when the audio is missing). */
export function manifestKeyOf(e: RecordingExport): string {
  const parsed = parseExportKey(e.audio?.key ?? e.metadata?.key ?? '');
  if (!parsed.ok) throw new Error('fixture export key');
  return manifestKeyFor(parsed.value);
}

/** A fresh Ed25519 signing key (tests only; production loads CUSTODY_SIGNING_KEY_FILE). */
export function testSigningKey(): SigningKey & { pem: string } {
  const { privateKey } = generateKeyPairSync('ed25519');
  return { ...signingKeyOf(privateKey), pem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

/** Creates a versioned bucket with Object Lock, as the export integration's bucket would be. */
export async function createLockedBucket(s3: S3Client, bucket: string): Promise<void> {
  await s3.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: true }));
  await s3.send(
    new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }),
  );
}

/** Starts the emulator exporting to `bucket`, runs the scenario to its end, and waits for every export. */
export async function runExportingEmulator(bucket: string, scenario: Scenario): Promise<RunningEmulator> {
  const i = infra();
  const emu = await startEmulator({
    clientId: 'sink-test',
    clientSecret: 'sink-test-secret',
    speed: 0.001,
    scenario,
    exportAfterMinutes: EXPORT_AFTER_MINUTES,
    exportTarget: {
      endpoint: i.S3_ENDPOINT,
      region: i.S3_REGION,
      bucket,
      accessKeyId: i.AWS_ACCESS_KEY_ID,
      secretAccessKey: i.AWS_SECRET_ACCESS_KEY,
    },
  });
  const lastEnd = Math.max(...emu.conversations.all().map((s) => s.endTime));
  await emu.clock.advance(lastEnd + (EXPORT_AFTER_MINUTES + 1) * 60_000 - emu.clock.now());
  await emu.exports.flush();
  return emu;
}

export async function listKeys(s3: S3Client, bucket: string, prefix?: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    keys.push(...(page.Contents ?? []).map((o) => o.Key ?? ''));
    token = page.NextContinuationToken;
  } while (token);
  return keys.sort();
}

export async function getBytes(
  s3: S3Client,
  bucket: string,
  key: string,
  versionId?: string,
): Promise<Buffer> {
  const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }));
  return Buffer.from((await res.Body?.transformToByteArray()) ?? []);
}

async function head(s3: S3Client, bucket: string, key: string): Promise<RecordingExport['audio']> {
  const h = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  return {
    key,
    versionId: h.VersionId && h.VersionId !== 'null' ? h.VersionId : null,
    size: h.ContentLength ?? 0,
    etag: h.ETag ?? '',
    lastModifiedMs: h.LastModified?.getTime() ?? 0,
  };
}

/** One RecordingExport per recording in the bucket (what `custody exports watch` would produce). */
export async function recordingExportsOf(
  s3: S3Client,
  bucket: string,
  detectedAtMs = Date.now(),
): Promise<RecordingExport[]> {
  const byRecording = new Map<string, RecordingExport>();
  for (const key of await listKeys(s3, bucket)) {
    const parsed = parseExportKey(key);
    if (!parsed.ok) continue;
    const k = parsed.value;
    const before = byRecording.get(k.recordingId) ?? {
      bucket,
      orgId: k.orgId,
      conversationId: k.conversationId,
      recordingId: k.recordingId,
      partitionHour: k.partitionHour,
      audio: null,
      metadata: null,
      detectedAtMs,
      detectedBy: 'scan',
      detectorInstance: 'test-detector',
      detectorVersion: '0.1.0',
      job: null,
    };
    const object = await head(s3, bucket, key);
    byRecording.set(
      k.recordingId,
      k.kind === 'audio' ? { ...before, audio: object } : { ...before, metadata: object },
    );
  }
  return [...byRecording.values()].sort((a, b) => (a.recordingId < b.recordingId ? -1 : 1));
}

/** Snapshots as `custody ingest` would capture them from the emulator's conversations. */
export function snapshotsOf(emu: RunningEmulator): Map<string, SessionTagsSnapshot> {
  return capturedSnapshots(emu.org, emu.conversations.all());
}

export async function createTopics(kafka: Kafka, topics: readonly string[], partitions = 3): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: topics.map((topic) => ({ topic, numPartitions: partitions })),
  });
  await admin.disconnect();
}

/** Unique topic names for one test. */
export function sinkTopics() {
  return {
    sessionTags: uniqueName('tags'),
    recordingExports: uniqueName('exports'),
    legalHolds: uniqueName('holds'),
    sinkState: uniqueName('sink-state'),
    manifests: uniqueName('manifests'),
    dlq: uniqueName('dlq'),
  };
}

export const tagsCodec = singleObjectCodecFor('session-tags.v1');
export const exportCodec = singleObjectCodecFor('recording-export.v1');
export const writtenCodec = singleObjectCodecFor('manifest-written.v1');
export const deadLetterCodec = singleObjectCodecFor('dead-letter.v1');

export async function produce(
  kafka: Kafka,
  topic: string,
  records: ReadonlyArray<{ key: string; value: Buffer }>,
): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic, messages: records.map((r) => ({ key: r.key, value: r.value })) });
  await producer.disconnect();
}

/** Waits until `groupId` has committed every input topic to its end (the sink finished what was produced). */
export async function waitForCaughtUp(
  kafka: Kafka,
  groupId: string,
  topics: readonly string[],
  timeoutMs = 45_000,
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      let behind = 0;
      for (const topic of topics) {
        const ends = await admin.fetchTopicOffsets(topic);
        const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
        for (const end of ends) {
          const c = committed?.partitions.find((p) => p.partition === end.partition);
          const at = c === undefined || c.offset === '-1' ? BigInt(end.low) : BigInt(c.offset);
          if (at < BigInt(end.high)) behind++;
        }
      }
      if (behind === 0) return;
      if (Date.now() > deadline)
        throw new Error(`group ${groupId} did not catch up (${behind} partitions behind)`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await admin.disconnect();
  }
}

/** Every record of a topic, read to its current end. */
export async function readAll(
  kafka: Kafka,
  topic: string,
): Promise<Array<{ key: string | null; value: Buffer }>> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const remaining = new Map(ends.filter((e) => e.high !== e.low).map((e) => [e.partition, BigInt(e.high)]));
  const out: Array<{ key: string | null; value: Buffer }> = [];
  if (remaining.size === 0) return out;
  const consumer = kafka.consumer({ groupId: uniqueName('reader') });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out reading ${topic}`)), 30_000);
    consumer
      .run({
        eachMessage: async ({ partition, message }) => {
          out.push({ key: message.key?.toString() ?? null, value: message.value ?? Buffer.alloc(0) });
          const end = remaining.get(partition);
          if (end !== undefined && BigInt(message.offset) + 1n >= end) remaining.delete(partition);
          if (remaining.size === 0) {
            clearTimeout(timer);
            resolve();
          }
        },
      })
      .catch(reject);
  });
  await consumer.disconnect();
  return out;
}

/** Every version of an object, oldest first, with its bytes. */
export async function objectVersions(
  s3: S3Client,
  bucket: string,
  key: string,
): Promise<Array<{ versionId: string; bytes: Buffer }>> {
  const res = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key }));
  const versions = (res.Versions ?? [])
    .filter((v) => v.Key === key)
    .sort((a, b) => (a.LastModified?.getTime() ?? 0) - (b.LastModified?.getTime() ?? 0));
  const out: Array<{ versionId: string; bytes: Buffer }> = [];
  for (const v of versions) {
    out.push({ versionId: v.VersionId ?? '', bytes: await getBytes(s3, bucket, key, v.VersionId) });
  }
  return out;
}

/** `count` short calls three minutes apart from 09:02, of `kinds` in turn. */
export function callsScenario(seed: number, count: number, kinds: readonly ConversationKind[]): Scenario {
  return {
    seed,
    start: '2026-03-01T09:00:00Z',
    conversations: Array.from({ length: count }, (_, i) => ({
      kind: kinds[i % kinds.length] as ConversationKind,
      at: new Date(Date.parse('2026-03-01T09:02:00Z') + i * 180_000).toISOString(),
      durationSeconds: 60,
    })),
  };
}

/** Stops the sinks a test started, then its emulator (an afterEach). */
export async function stopSinksAndEmulator(
  sinks: RunningSink[],
  emu: RunningEmulator | undefined,
): Promise<void> {
  for (const s of sinks.splice(0)) await s.stop();
  if (emu) {
    await emu.exports.stop();
    await emu.close();
  }
}

/** The sink options the tests use (manifests beside the exports). */
export function testSinkOptions(
  topics: ReturnType<typeof sinkTopics>,
  groupId: string,
  instance: string,
): SinkOptions {
  return {
    ...DEFAULT_SINK_OPTIONS,
    groupId,
    topics,
    instance,
    version: '0.1.0-test',
    lock: { legalHold: true },
  };
}

/** Starts a sink in this process (with `producer`: the records it writes go through it). */
export async function startTestSink(
  kafka: Kafka,
  s3: S3Client,
  signer: SigningKey,
  options: SinkOptions,
  producer?: RecordProducer,
): Promise<RunningSink> {
  return startSink(
    {
      kafka,
      s3,
      signer,
      producer,
      logger: process.env['SINK_DEBUG'] ? pino({ level: 'debug' }, pino.destination(2)) : undefined,
      codecs: await createSinkCodecs({ brokers: [], clientId: 'x', ssl: false }, topicsConfig(options)),
    },
    options,
  );
}

function topicsConfig(options: SinkOptions) {
  return {
    partitions: 3,
    notifications: 'unused-notifications',
    eventBridge: 'unused-eventbridge',
    sessionTags: options.topics.sessionTags,
    recordingExports: options.topics.recordingExports,
    legalHolds: options.topics.legalHolds,
    sinkState: options.topics.sinkState,
    manifests: options.topics.manifests,
    dlq: options.topics.dlq,
  };
}
