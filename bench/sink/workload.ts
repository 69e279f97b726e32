/**
 * The sink benchmark's input: N exported recordings in a versioned Object-Lock bucket, laid out and described
 * exactly as the Genesys export integration (and the emulator) writes them, plus what custody's other stages
 * would have put on Kafka for them — one session-tags snapshot per conversation and one RecordingExport per
 * recording.
 *
 * Conversations come from the emulator's seeded simulation (its realistic mix of kinds: transfers have two
 * recordings, and so on), so the join does real work: the snapshots are the pure ingest extraction run over each
 * conversation's scripted notifications, as the sink's integration tests build them. With `tagUpdates: 'each'`
 * every conversation's snapshot is sent after each of its events that changed it, all conversations interleaved in
 * the order their events were received, as `custody ingest` sends them at low rates (production's shape: the sink
 * merges and writes state for every one). Audio is random bytes behind
 * valid Ogg Opus header pages (random, so nothing downstream can compress or dedupe it).
 */
import { randomBytes } from 'node:crypto';
import {
  CreateBucketCommand,
  HeadObjectCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import { capturedSnapshots, capturedUpdates } from '../../dev/captured-snapshots.ts';
import { opusHeaderPages } from '../../dev/emulator/platform/export-audio.ts';
import { exportKeys } from '../../dev/emulator/platform/export-layout.ts';
import { exportMetadata } from '../../dev/emulator/platform/export-metadata.ts';
import type { ConversationScript, SimOrg, SimRecording } from '../../dev/emulator/model.ts';
import { createOrg, createRng, randomConversations } from '../../dev/emulator/simulation/index.ts';
import { parseExportKey } from '../../src/enrich/export-layout.ts';
import type { SessionTagsSnapshot } from '../../src/enrich/session-tags.ts';
import type { ExportedObject, RecordingExport } from '../../src/kafka/avro-codec.ts';
import { singleObjectCodecFor } from '../../src/kafka/avro-codec.ts';

/** One exported recording, as the sink and the floor see it. */
export type BenchRecording = Readonly<{
  conversationId: string;
  recordingId: string;
  bucket: string;
  audio: ExportedObject;
  metadata: ExportedObject;
  /** The RecordingExport `custody exports` would publish for it. */
  record: RecordingExport;
}>;

export type Workload = Readonly<{
  bucket: string;
  recordings: readonly BenchRecording[];
  /** Final snapshot per conversation (every conversation with a recording here). */
  snapshots: ReadonlyMap<string, SessionTagsSnapshot>;
  /** The session-tags records: one per conversation (its final snapshot), or one per update ('each'). */
  tagsRecords: ReadonlyArray<{ key: string; value: Buffer }>;
  exportRecords: ReadonlyArray<{ key: string; value: Buffer }>;
  audioBytes: number;
  metadataBytesMean: number;
}>;

const tagsCodec = singleObjectCodecFor('session-tags.v1');
const exportCodec = singleObjectCodecFor('recording-export.v1');

/** Creates a versioned bucket with Object Lock, as the export integration's bucket would be. */
export async function createLockedBucket(s3: S3Client, bucket: string): Promise<void> {
  await s3.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: true }));
  await s3.send(
    new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }),
  );
}

/** Whole conversations of seeded random traffic, holding exactly `n` recordings between them. */
function conversationsWith(org: SimOrg, seed: number, n: number): ConversationScript[] {
  const rng = createRng(seed);
  const picked: ConversationScript[] = [];
  let count = 0;
  let from = Date.parse('2026-03-02T08:00:00Z');
  while (count < n) {
    for (const script of randomConversations(org, rng, from, from + 3_600_000, 6)) {
      const k = script.recordings.length;
      if (k === 0 || count + k > n) continue;
      picked.push(script);
      count += k;
      if (count === n) break;
    }
    from += 3_600_000;
  }
  return picked;
}

async function putAndHead(
  s3: S3Client,
  bucket: string,
  key: string,
  body: Buffer,
  contentType: string,
): Promise<ExportedObject> {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType }));
  const h = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  return {
    key,
    versionId: h.VersionId && h.VersionId !== 'null' ? h.VersionId : null,
    size: h.ContentLength ?? body.byteLength,
    etag: h.ETag ?? '',
    lastModifiedMs: h.LastModified?.getTime() ?? 0,
  };
}

/** Runs `fn` over `items` with at most `concurrency` calls in flight; results in input order. */
export async function pool<T, R>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return out;
}

/** Uploads `n` recordings of `audioBytes` each into a new locked bucket and builds their Kafka records. */
export async function buildWorkload(
  s3: S3Client,
  opts: Readonly<{
    bucket: string;
    recordings: number;
    audioBytes: number;
    seed: number;
    /** 'final' (default): one snapshot per conversation; 'each': every update of it, interleaved in time. */
    tagUpdates?: 'final' | 'each';
  }>,
): Promise<Workload> {
  const { bucket } = opts;
  await createLockedBucket(s3, bucket);
  const org = createOrg(createRng(opts.seed), { users: 40 });
  const scripts = conversationsWith(org, opts.seed, opts.recordings);
  const jobs: { script: ConversationScript; recording: SimRecording }[] = scripts.flatMap((script) =>
    script.recordings.map((recording) => ({ script, recording })),
  );
  const detectedAtMs = Date.now();
  let metadataBytes = 0;
  const recordings = await pool(jobs, 8, async ({ script, recording }): Promise<BenchRecording> => {
    const keys = exportKeys(org.orgId, script.startTime, script.conversationId, recording.recordingId);
    const header = opusHeaderPages(recording.recordingId.charCodeAt(0));
    const audioBody = Buffer.concat([header, randomBytes(Math.max(0, opts.audioBytes - header.length))]);
    const metadataBody = Buffer.from(JSON.stringify(exportMetadata(script, recording)));
    metadataBytes += metadataBody.byteLength;
    const audio = await putAndHead(s3, bucket, keys.audioKey, audioBody, 'audio/ogg');
    const metadata = await putAndHead(s3, bucket, keys.metadataKey, metadataBody, 'application/json');
    const parsed = parseExportKey(keys.audioKey);
    if (!parsed.ok) throw new Error(`workload key rejected: ${parsed.error.detail}`);
    const record: RecordingExport = {
      bucket,
      orgId: parsed.value.orgId,
      conversationId: script.conversationId,
      recordingId: recording.recordingId,
      partitionHour: parsed.value.partitionHour,
      audio,
      metadata,
      detectedAtMs,
      detectedBy: 'scan',
      detectorInstance: 'bench-detector',
      detectorVersion: '0.1.0',
      job: null,
    };
    return {
      conversationId: script.conversationId,
      recordingId: recording.recordingId,
      bucket,
      audio,
      metadata,
      record,
    };
  });
  const snapshots = capturedSnapshots(org, scripts);
  return {
    bucket,
    recordings,
    snapshots,
    tagsRecords:
      opts.tagUpdates === 'each'
        ? capturedUpdates(org, scripts).map((u) => ({
            key: u.conversationId,
            value: tagsCodec.encode(u.snapshot),
          }))
        : [...snapshots].map(([key, s]) => ({ key, value: tagsCodec.encode(s) })),
    exportRecords: recordings.map((r) => ({ key: r.conversationId, value: exportCodec.encode(r.record) })),
    audioBytes: opts.audioBytes,
    metadataBytesMean: Math.round(metadataBytes / Math.max(1, recordings.length)),
  };
}
