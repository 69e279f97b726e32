/**
 * The S3 floor: per recording, only the S3 work no manifest writer can avoid — GetObject of the audio version
 * streamed through SHA-256 and GetObject of the metadata version read whole (both at once, as the sink reads
 * them), then one PutObject of a manifest-sized JSON body with `x-amz-checksum-sha256` (and the same Object Lock
 * legal hold as the sink, when it uses one).
 * `concurrency` workers share the recordings, each doing one recording at a time, as the sink's partitions do.
 *
 * Not in the floor, by design: Kafka (consume, commit, announce), the join state in S3, the read of the current
 * manifest, building, validating and signing the manifest. Those are custody's cost.
 */
import { createHash } from 'node:crypto';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { PutObjectCommandInput, S3Client } from '@aws-sdk/client-s3';
import { manifestKeyFor, parseExportKey } from '../../src/enrich/export-layout.ts';
import type { BenchRecording } from './workload.ts';
import { pool } from './workload.ts';

export type FloorOptions = Readonly<{
  concurrency: number;
  /** Manifests go under this prefix (fresh per run, so no put ever meets an existing key). */
  manifestPrefix: string;
  /** Size of each manifest body, to match what custody writes. */
  manifestBytes: number;
  legalHold: boolean;
}>;

export type FloorRun = Readonly<{
  ms: number;
  manifestsPerSecond: number;
  /** CPU time of this process per wall second (the floor is all this process does meanwhile). */
  nodeCpuShare: number;
}>;

async function body(s3: S3Client, bucket: string, key: string, versionId: string | null) {
  const res = await s3.send(
    new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId ?? undefined }),
  );
  if (res.Body === undefined) throw new Error(`floor: no body for ${key}`);
  return res.Body as AsyncIterable<Uint8Array>;
}

async function oneRecording(s3: S3Client, r: BenchRecording, opts: FloorOptions): Promise<void> {
  // Both reads at once, as the sink does them.
  const audio = async () => {
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of await body(s3, r.bucket, r.audio.key, r.audio.versionId)) {
      hash.update(chunk);
      size += chunk.byteLength;
    }
    return { hash, size };
  };
  const metadataBytes = async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of await body(s3, r.bucket, r.metadata.key, r.metadata.versionId))
      chunks.push(Buffer.from(chunk));
    return Buffer.concat(chunks);
  };
  const [{ hash, size }, metadata] = await Promise.all([audio(), metadataBytes()]);
  const parsed = parseExportKey(r.audio.key);
  if (!parsed.ok) throw new Error(`floor: bad key ${r.audio.key}`);
  const text = JSON.stringify({
    recording_id: r.recordingId,
    audio: { sha256: hash.digest('hex'), size },
    metadata: { sha256: createHash('sha256').update(metadata).digest('hex'), size: metadata.byteLength },
    padding: '',
  });
  const padding = 'x'.repeat(Math.max(0, opts.manifestBytes - text.length));
  const bytes = Buffer.from(text.replace('"padding":""', `"padding":"${padding}"`));
  const input: PutObjectCommandInput = {
    Bucket: r.bucket,
    Key: manifestKeyFor(parsed.value, opts.manifestPrefix),
    Body: bytes,
    ContentType: 'application/json',
    ContentLength: bytes.byteLength,
    ChecksumAlgorithm: 'SHA256',
    ChecksumSHA256: createHash('sha256').update(bytes).digest('base64'),
  };
  if (opts.legalHold) input.ObjectLockLegalHoldStatus = 'ON';
  await s3.send(new PutObjectCommand(input));
}

/** One timed floor run over every recording. */
export async function runFloor(
  s3: S3Client,
  recordings: readonly BenchRecording[],
  opts: FloorOptions,
): Promise<FloorRun> {
  const cpu0 = process.cpuUsage();
  const started = performance.now();
  await pool(recordings, opts.concurrency, (r) => oneRecording(s3, r, opts));
  const ms = performance.now() - started;
  const cpu = process.cpuUsage(cpu0);
  return {
    ms: Math.round(ms),
    manifestsPerSecond: Number((recordings.length / (ms / 1000)).toFixed(1)),
    nodeCpuShare: Number(((cpu.user + cpu.system) / 1000 / ms).toFixed(2)),
  };
}
