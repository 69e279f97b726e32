/**
 * The bucket audited as opposing counsel would, after a fault scenario: every exported recording has exactly
 * one manifest chain; every version of it verifies on its own (schema, canonical form, hash, signature with the
 * public key only) and links to the version before it (hash and version number), so a fork or a silent restart of
 * the chain shows; the newest version's audio and metadata hashes match the objects in S3 now; and every dead
 * letter says why. Vitest-free: the soak script uses it too.
 */
import type { KeyObject } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Kafka } from 'kafkajs';
import type { SealedManifest } from '../../src/enrich/integrity.ts';
import { compileManifestJsonSchema } from '../../src/verify/manifest-json-schema.ts';
import { verifyBucket } from '../../src/verify/s3-verify.ts';
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

/**
 * Audits every recording exported to `bucket` and every manifest custody wrote for it, with the one
 * implementation `custody verify` uses (src/verify/s3-verify.ts over src/enrich/audit.ts), in the shape the
 * fault suite and the soak report.
 */
export async function auditBucket(opts: {
  s3: S3Client;
  bucket: string;
  publicKeys: ReadonlyMap<string, KeyObject>;
  /** Read and verify every manifest version and re-hash the objects; off only to count what exists. On by default. */
  verify?: boolean;
  /** Every manifest version must be under legal hold (CUSTODY_MANIFEST_LEGAL_HOLD); off by default. */
  expectManifestHold?: boolean;
  /** Versions per listing page (small pages exercise the server's pagination). */
  pageSize?: number;
}): Promise<Omit<AuditResult, 'deadLetters'> & { newest: SealedManifest[] }> {
  const failures: AuditFinding[] = [];
  const lost: string[] = [];
  const newest: SealedManifest[] = [];
  let expected = 0;
  let written = 0;
  let complete = 0;
  let versions = 0;
  let forks = 0;
  await verifyBucket(
    opts.s3,
    { bucket: opts.bucket, prefix: '' },
    {
      publicKeys: opts.publicKeys,
      expectManifestHold: opts.expectManifestHold ?? false,
      jsonSchema: compileManifestJsonSchema(),
      concurrency: 8,
      pageSize: opts.pageSize,
      read: opts.verify !== false,
      onRecording: (a) => {
        expected++;
        versions += a.versions;
        if (a.status === 'missing') {
          lost.push(a.manifestKey);
          return;
        }
        written++;
        if (a.forked) forks++;
        if (a.completeness === 'complete') complete++;
        if (a.newest) newest.push(a.newest);
        for (const f of a.findings) failures.push({ key: f.key, problem: `${f.check}: ${f.detail}` });
      },
    },
  );
  return { expected, written, complete, lost, versions, forks, failures, newest };
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
      const a = await auditBucket({ ...opts, verify: false });
      onPoll?.(a);
      return a.expected > 0 && a.lost.length === 0 ? a : undefined;
    },
    timeoutMs,
    everyMs,
  );
}
