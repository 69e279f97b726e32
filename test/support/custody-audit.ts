/**
 * The bucket audited as opposing counsel would, after a fault scenario: every exported recording has exactly
 * one manifest chain; every version of it verifies on its own (schema, canonical form, hash, signature with the
 * public key only) and links to the version before it (hash and version number), so a fork or a silent restart of
 * the chain shows; the newest version's audio and metadata hashes match the objects in S3 now; and every dead
 * letter says why. Vitest-free: the soak script uses it too.
 */
import { createHash } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { GetObjectCommand, ListObjectVersionsCommand } from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Kafka } from 'kafkajs';
import { manifestKeyFor, parseExportKey } from '../../src/enrich/export-layout.ts';
import type { SealedManifest } from '../../src/enrich/integrity.ts';
import { verifyAgainstObjects, verifyManifest } from '../../src/enrich/verify.ts';
import { singleObjectCodecFor } from '../../src/kafka/avro-codec.ts';
import { waitUntil } from './deployment.ts';
import type { DeadLetter } from '../../src/kafka/avro-codec.ts';

export type AuditFinding = Readonly<{ key: string; problem: string }>;

export type AuditResult = Readonly<{
  /** Recordings the bucket holds (audio or metadata under the export layout). */
  expected: number;
  /** Recordings with at least one manifest version. */
  written: number;
  /** Recordings whose newest manifest says `complete`. */
  complete: number;
  /** Recordings without any manifest. */
  lost: readonly string[];
  /** Manifest versions in all chains. */
  versions: number;
  /** Chains with two versions claiming one place (same version number or same predecessor), or restarted at 1. */
  forks: number;
  /** Every check that failed, with the object key. */
  failures: readonly AuditFinding[];
  deadLetters: Readonly<{ count: number; byCode: Record<string, number>; withoutReason: number }>;
}>;

type Version = Readonly<{ versionId: string; lastModified: number; isLatest: boolean }>;

async function listVersions(s3: S3Client, bucket: string) {
  const objects = new Map<string, Version[]>();
  let keyMarker: string | undefined;
  let versionMarker: string | undefined;
  for (;;) {
    const page = await s3.send(
      new ListObjectVersionsCommand({ Bucket: bucket, KeyMarker: keyMarker, VersionIdMarker: versionMarker }),
    );
    for (const v of page.Versions ?? []) {
      if (!v.Key) continue;
      const list = objects.get(v.Key) ?? [];
      list.push({
        versionId: v.VersionId ?? 'null',
        lastModified: v.LastModified?.getTime() ?? 0,
        isLatest: v.IsLatest === true,
      });
      objects.set(v.Key, list);
    }
    if (!page.IsTruncated) return objects;
    keyMarker = page.NextKeyMarker;
    versionMarker = page.NextVersionIdMarker;
  }
}

async function getBytes(s3: S3Client, bucket: string, key: string, versionId?: string): Promise<Buffer> {
  const res = await s3.send(
    new GetObjectCommand({
      Bucket: bucket,
      Key: key,
      VersionId: versionId && versionId !== 'null' ? versionId : undefined,
    }),
  );
  return Buffer.from(
    await (res.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
  );
}

/** Audits every recording exported to `bucket` and every manifest custody wrote for it. */
export async function auditBucket(opts: {
  s3: S3Client;
  bucket: string;
  publicKeys: ReadonlyMap<string, KeyObject>;
  /** Re-hash the audio and metadata objects (a GET each); on by default. */
  rehash?: boolean;
  /** Read and verify every manifest version (a GET each); off only to count what exists. On by default. */
  verify?: boolean;
}): Promise<Omit<AuditResult, 'deadLetters'> & { newest: SealedManifest[] }> {
  const { s3, bucket } = opts;
  const objects = await listVersions(s3, bucket);
  const recordings = new Map<string, { manifestKey: string; audioKey?: string; metadataKey?: string }>();
  for (const key of objects.keys()) {
    const parsed = parseExportKey(key);
    if (!parsed.ok) continue;
    const manifestKey = manifestKeyFor(parsed.value);
    const r = recordings.get(manifestKey) ?? { manifestKey };
    if (parsed.value.kind === 'audio') r.audioKey = key;
    else r.metadataKey = key;
    recordings.set(manifestKey, r);
  }
  const failures: AuditFinding[] = [];
  const lost: string[] = [];
  let written = 0;
  let complete = 0;
  let versions = 0;
  let forks = 0;
  const newestOfEach: SealedManifest[] = [];
  for (const r of recordings.values()) {
    const manifestVersions = objects.get(r.manifestKey) ?? [];
    if (manifestVersions.length === 0) {
      lost.push(r.audioKey ?? r.metadataKey ?? r.manifestKey);
      continue;
    }
    written++;
    versions += manifestVersions.length;
    if (opts.verify === false) continue;
    // S3 lists versions newest first with second-resolution times, so the order of a chain is its own
    // version numbers; two versions with one number are a fork.
    const fetched: Array<{ versionId: string; bytes: Buffer; n: number }> = [];
    for (const v of manifestVersions) {
      const bytes = await getBytes(s3, bucket, r.manifestKey, v.versionId);
      let n = Number.NaN;
      try {
        n = Number((JSON.parse(bytes.toString('utf8')) as { manifest_version?: unknown }).manifest_version);
      } catch {
        // verifyManifest reports unreadable JSON below.
      }
      fetched.push({ versionId: v.versionId, bytes, n });
    }
    fetched.sort((x, y) => x.n - y.n);
    let previous: Buffer | undefined;
    let newest: SealedManifest | null = null;
    let forked = new Set(fetched.map((f) => f.n)).size !== fetched.length;
    if (forked)
      failures.push({ key: r.manifestKey, problem: 'two versions carry the same manifest_version (a fork)' });
    if (fetched[0] !== undefined && fetched[0].n !== 1) {
      failures.push({ key: r.manifestKey, problem: `the chain starts at version ${fetched[0].n}, not 1` });
      forked = true;
    }
    for (const f of fetched) {
      const report = verifyManifest(f.bytes, opts.publicKeys, previous === undefined ? {} : { previous });
      for (const c of report.checks.filter((x) => !x.ok)) {
        failures.push({ key: `${r.manifestKey}@${f.versionId}`, problem: `${c.name}: ${c.detail}` });
        if (c.name === 'chain') forked = true;
      }
      previous = f.bytes;
      newest = report.manifest ?? newest;
    }
    if (forked) forks++;
    if (newest) newestOfEach.push(newest);
    if (newest?.completeness.status === 'complete') complete++;
    if (newest && opts.rehash !== false) {
      const sha = async (key: string | undefined) =>
        key === undefined
          ? undefined
          : createHash('sha256')
              .update(await getBytes(s3, bucket, key))
              .digest('hex');
      const objectsNow = verifyAgainstObjects(newest, {
        audioSha256: newest.audio ? await sha(r.audioKey) : undefined,
        metadataSha256: newest.genesys_metadata.sha256 ? await sha(r.metadataKey) : undefined,
      });
      for (const c of objectsNow.checks.filter((x) => !x.ok))
        failures.push({ key: r.manifestKey, problem: `${c.name}: ${c.detail}` });
    }
  }
  return {
    expected: recordings.size,
    written,
    complete,
    lost,
    versions,
    forks,
    failures,
    newest: newestOfEach,
  };
}

const deadLetterCodec = singleObjectCodecFor('dead-letter.v1');

/** Reads the dead-letter topic to its end: counts by error code, and letters without a reason. */
export async function auditDeadLetters(kafka: Kafka, topic: string): Promise<AuditResult['deadLetters']> {
  const admin = kafka.admin();
  await admin.connect();
  let ends: Array<{ partition: number; high: string; low: string }>;
  try {
    if (!(await admin.listTopics()).includes(topic)) return { count: 0, byCode: {}, withoutReason: 0 };
    ends = await admin.fetchTopicOffsets(topic);
  } finally {
    await admin.disconnect();
  }
  const remaining = new Map(ends.filter((e) => e.high !== e.low).map((e) => [e.partition, BigInt(e.high)]));
  const letters: DeadLetter[] = [];
  if (remaining.size > 0) {
    const consumer = kafka.consumer({ groupId: `audit-${topic}-${Date.now()}` });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out reading ${topic}`)), 60_000);
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          if (message.value) letters.push(await deadLetterCodec.decode(message.value));
          const end = remaining.get(partition);
          if (end !== undefined && BigInt(message.offset) + 1n >= end) remaining.delete(partition);
          if (remaining.size === 0) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    }).finally(() => consumer.disconnect());
  }
  const byCode: Record<string, number> = {};
  for (const l of letters) byCode[l.errorCode] = (byCode[l.errorCode] ?? 0) + 1;
  return {
    count: letters.length,
    byCode,
    withoutReason: letters.filter((l) => !l.reason.trim() || !l.errorCode.trim()).length,
  };
}

/**
 * Waits until every recording in the bucket has a manifest (polling the audit without re-hashing), and resolves
 * with that audit; rejects after `timeoutMs`. `onPoll` sees each intermediate audit (progress lines).
 */
export function waitForEveryManifest(
  opts: Parameters<typeof auditBucket>[0],
  timeoutMs: number,
  everyMs: number,
  onPoll?: (a: Omit<AuditResult, 'deadLetters'>) => void,
): Promise<Omit<AuditResult, 'deadLetters'>> {
  return waitUntil(
    'a manifest for every export',
    async () => {
      const a = await auditBucket({ ...opts, rehash: false, verify: false });
      onPoll?.(a);
      return a.expected > 0 && a.lost.length === 0 ? a : undefined;
    },
    timeoutMs,
    everyMs,
  );
}
