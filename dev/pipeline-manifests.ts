/**
 * Reading back what the local pipeline (dev/pipeline.ts) wrote: the exported recordings in the bucket, their
 * manifests (every version), and an auditor's verification of them against the S3 objects they describe.
 */
import { createHash } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { GetObjectCommand, ListObjectsV2Command, ListObjectVersionsCommand } from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import { manifestKeyFor, parseExportKey } from '../src/enrich/export-layout.ts';
import type { ExportKey } from '../src/enrich/export-layout.ts';
import type { SealedManifest } from '../src/enrich/integrity.ts';
import { verifyAgainstObjects, verifyManifest } from '../src/enrich/verify.ts';
import type { CheckName, VerificationCheck, VerificationReport } from '../src/enrich/verify.ts';

/** One exported recording and the latest version of its manifest. */
export type StoredManifest = Readonly<{
  conversationId: string;
  recordingId: string;
  audioKey: string | undefined;
  metadataKey: string | undefined;
  manifestKey: string;
  /** The manifest file exactly as stored (latest version). */
  bytes: Buffer;
  manifest: SealedManifest;
}>;

/** Every stored version of one manifest, oldest first, each verified against its predecessor. */
export type ManifestVerification = Readonly<{
  versions: ReadonlyArray<Readonly<{ versionId: string; bytes: Buffer; report: VerificationReport }>>;
  /** The latest version's hashes compared with the S3 objects it names, re-read and re-hashed now. */
  objects: VerificationReport;
  ok: boolean;
}>;

async function listKeys(s3: S3Client, bucket: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    keys.push(...(page.Contents ?? []).flatMap((o) => (o.Key === undefined ? [] : [o.Key])));
    token = page.NextContinuationToken;
  } while (token);
  return keys.sort();
}

/** The bytes of an object version; undefined when it does not exist. */
export async function getObjectBytes(
  s3: S3Client,
  bucket: string,
  key: string,
  versionId?: string | null,
): Promise<Buffer | undefined> {
  try {
    const res = await s3.send(
      new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId ?? undefined }),
    );
    return Buffer.from((await res.Body?.transformToByteArray()) ?? []);
  } catch (e) {
    const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status === 404) return undefined;
    throw e;
  }
}

type ExportedRecording = { first: ExportKey; audioKey?: string; metadataKey?: string };

/** The recordings in the bucket, by recording id (custody's own objects are not exports and are skipped). */
async function exportedRecordings(s3: S3Client, bucket: string): Promise<Map<string, ExportedRecording>> {
  const out = new Map<string, ExportedRecording>();
  for (const key of await listKeys(s3, bucket)) {
    const parsed = parseExportKey(key);
    if (!parsed.ok) continue;
    const k = parsed.value;
    const r = out.get(k.recordingId) ?? { first: k };
    if (k.kind === 'audio') r.audioKey = key;
    else r.metadataKey = key;
    out.set(k.recordingId, r);
  }
  return out;
}

/** Why a recording has no finished manifest yet, or its manifest when it has one. */
async function manifestOf(
  s3: S3Client,
  bucket: string,
  r: ExportedRecording,
): Promise<StoredManifest | string> {
  const manifestKey = manifestKeyFor(r.first);
  const bytes = await getObjectBytes(s3, bucket, manifestKey);
  if (bytes === undefined) return 'no manifest yet';
  const manifest = JSON.parse(bytes.toString('utf8')) as SealedManifest;
  if (manifest.completeness.status !== 'complete') {
    const missing = manifest.completeness.missing.map((m) => `${m.field} (${m.reason})`).join(', ');
    return `manifest v${manifest.manifest_version} incomplete: ${missing}`;
  }
  return {
    conversationId: r.first.conversationId,
    recordingId: r.first.recordingId,
    audioKey: r.audioKey,
    metadataKey: r.metadataKey,
    manifestKey,
    bytes,
    manifest,
  };
}

type ManifestWait = Readonly<{
  s3: S3Client;
  bucket: string;
  timeoutMs: number;
  /** Recordings the scenario exports, and how many the emulator has exported so far. */
  expected: number;
  exported: () => number;
  /** Why the pipeline is not healthy ('' when it is), for the timeout message. */
  health: () => string;
}>;

/** One look at the bucket: the finished manifests, and what is still missing (nothing = done). */
async function lookOnce(o: ManifestWait): Promise<{ done: StoredManifest[]; waiting: string[] }> {
  if (o.exported() < o.expected) {
    return {
      done: [],
      waiting: [`${o.exported()} of ${o.expected} recordings exported by the emulator so far`],
    };
  }
  const recordings = await exportedRecordings(o.s3, o.bucket);
  const done: StoredManifest[] = [];
  const waiting =
    recordings.size < o.expected ? [`only ${recordings.size} of ${o.expected} in the bucket`] : [];
  for (const [recordingId, r] of recordings) {
    const m = await manifestOf(o.s3, o.bucket, r);
    if (typeof m === 'string') waiting.push(`recording ${recordingId}: ${m}`);
    else done.push(m);
  }
  return { done, waiting };
}

/**
 * Polls the bucket until `expected` recordings are exported and each has a complete manifest; returns them ordered
 * by recording start time.
 * @throws after `timeoutMs` with every recording still waiting and why, plus the pipeline's health.
 */
export async function awaitManifests(o: ManifestWait): Promise<StoredManifest[]> {
  const deadline = Date.now() + o.timeoutMs;
  for (;;) {
    const { done, waiting } = await lookOnce(o);
    if (waiting.length === 0) {
      return done.sort(
        (a, b) =>
          (a.manifest.start_time ?? '').localeCompare(b.manifest.start_time ?? '') ||
          a.recordingId.localeCompare(b.recordingId),
      );
    }
    if (Date.now() > deadline) {
      const health = o.health();
      throw new Error(
        `not every exported recording got a complete manifest within ${o.timeoutMs} ms:\n  ` +
          `${waiting.join('\n  ')}${health ? `\npipeline health: ${health}` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

const goneCheck = (name: CheckName, key: string): VerificationCheck => ({
  name,
  ok: false,
  skipped: false,
  detail: `the object version the manifest names is not in S3 (${key})`,
});

/**
 * Verifies a stored manifest as an auditor would, trusting nothing the sink says: every version's canonical form,
 * hash, signature (with `publicKeys` only), custody timeline and link to the version before it; and the latest
 * version's audio and metadata hashes against the exact S3 object versions it names, read again now.
 */
export async function verifyStoredManifest(
  s3: S3Client,
  bucket: string,
  manifestKey: string,
  publicKeys: ReadonlyMap<string, KeyObject>,
): Promise<ManifestVerification> {
  const listed = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: manifestKey }));
  const stored: Array<{ versionId: string; bytes: Buffer; version: number }> = [];
  for (const v of (listed.Versions ?? []).filter((x) => x.Key === manifestKey)) {
    const bytes = await getObjectBytes(s3, bucket, manifestKey, v.VersionId);
    if (bytes === undefined) continue;
    const parsed = JSON.parse(bytes.toString('utf8')) as { manifest_version?: number };
    stored.push({ versionId: v.VersionId ?? 'null', bytes, version: parsed.manifest_version ?? 0 });
  }
  stored.sort((a, b) => a.version - b.version);
  const versions = stored.map((v, i) => ({
    versionId: v.versionId,
    bytes: v.bytes,
    report: verifyManifest(v.bytes, publicKeys, i === 0 ? {} : { previous: stored[i - 1]?.bytes }),
  }));

  const latest = versions.at(-1)?.report.manifest;
  let objects: VerificationReport;
  if (latest === undefined || latest === null) {
    objects = { ok: false, checks: [], manifest: null };
  } else {
    const audio = latest.audio?.s3;
    const meta = latest.genesys_metadata.s3;
    const audioBytes = audio && (await getObjectBytes(s3, audio.bucket, audio.key, audio.version_id));
    const metaBytes = meta && (await getObjectBytes(s3, meta.bucket, meta.key, meta.version_id));
    const compared = verifyAgainstObjects(latest, {
      audioSha256: audioBytes ? sha256(audioBytes) : undefined,
      metadataSha256: metaBytes ? sha256(metaBytes) : undefined,
    });
    // An object the manifest names but S3 no longer has is a failure, not a skipped check.
    const gone: VerificationCheck[] = [
      ...(audio && !audioBytes ? [goneCheck('audio-sha256', audio.key)] : []),
      ...(meta && !metaBytes ? [goneCheck('metadata-sha256', meta.key)] : []),
    ];
    const checks = [...compared.checks.filter((c) => !gone.some((g) => g.name === c.name)), ...gone];
    objects = { ok: checks.every((c) => c.ok), checks, manifest: compared.manifest };
  }
  const ok = versions.length > 0 && versions.every((v) => v.report.ok) && objects.ok;
  return { versions, objects, ok };
}
