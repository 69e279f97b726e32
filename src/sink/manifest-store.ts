/**
 * The S3 objects the sink reads and writes conditionally: manifests and the join-state objects.
 *
 * Every write is a compare-and-swap: `If-None-Match: *` to create, `If-Match: <ETag read>` to replace. A lost race
 * (412 Precondition Failed, or 409 when S3 sees concurrent conditional writes) is a value, `conflict`, never an
 * exception: the caller re-reads, re-merges and tries again. Every body carries `x-amz-checksum-sha256`, so S3
 * rejects a corrupted upload (and Object Lock retention, which requires a checksum, works). Versioning keeps every
 * version; nothing here deletes.
 */
import { createHash } from 'node:crypto';
import { GetObjectCommand, PutObjectCommand, S3ServiceException } from '@aws-sdk/client-s3';
import type { PutObjectCommandInput, S3Client } from '@aws-sdk/client-s3';

/** An object as read: its bytes and the identity a conditional write needs. */
export type StoredObject = Readonly<{
  bytes: Buffer;
  etag: string;
  versionId: string | null;
  lastModifiedMs: number;
}>;

/** The outcome of a conditional write. */
export type PutOutcome =
  Readonly<{ status: 'written'; etag: string; versionId: string | null }> | Readonly<{ status: 'conflict' }>;

/** Which precondition a write carries. */
export type WriteCondition = Readonly<{ ifMatch: string }> | Readonly<{ ifNoneMatch: '*' }>;

/** Object Lock applied to each manifest version written (the bucket must have Object Lock enabled). */
export type ManifestLock = Readonly<{
  legalHold: boolean;
  retention?: Readonly<{ mode: 'GOVERNANCE' | 'COMPLIANCE'; days: number }>;
}>;

/** Whether an S3 error means "no such object (version)". */
export function isNotFound(e: unknown): boolean {
  return (
    e instanceof S3ServiceException &&
    (e.$metadata.httpStatusCode === 404 || e.name === 'NoSuchKey' || e.name === 'NoSuchVersion')
  );
}

/** Whether an S3 error is a lost conditional write. */
export function isConflict(e: unknown): boolean {
  return (
    e instanceof S3ServiceException &&
    (e.$metadata.httpStatusCode === 412 ||
      e.name === 'PreconditionFailed' ||
      e.$metadata.httpStatusCode === 409 ||
      e.name === 'ConditionalRequestConflict')
  );
}

/** Reads and writes whole small objects (manifests, state) with preconditions. */
export class S3ObjectStore {
  readonly #s3: S3Client;
  readonly #now: () => number;

  constructor(s3: S3Client, now: () => number) {
    this.#s3 = s3;
    this.#now = now;
  }

  /** The latest version of an object, or `undefined` when there is none (or its latest version is a delete marker). */
  async get(bucket: string, key: string): Promise<StoredObject | undefined> {
    try {
      const res = await this.#s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      const bytes = Buffer.from((await res.Body?.transformToByteArray()) ?? []);
      if (res.ETag === undefined) throw new Error(`S3 returned no ETag for ${key}`);
      return {
        bytes,
        etag: res.ETag,
        versionId: res.VersionId && res.VersionId !== 'null' ? res.VersionId : null,
        lastModifiedMs: res.LastModified?.getTime() ?? 0,
      };
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  /** Writes `bytes` under `condition`; `conflict` when another writer got there first. */
  async put(
    bucket: string,
    key: string,
    bytes: Buffer,
    condition: WriteCondition,
    extra: Readonly<{ lock?: ManifestLock }> = {},
  ): Promise<PutOutcome> {
    const input: PutObjectCommandInput = {
      Bucket: bucket,
      Key: key,
      Body: bytes,
      ContentType: 'application/json',
      ContentLength: bytes.byteLength,
      ChecksumAlgorithm: 'SHA256',
      ChecksumSHA256: createHash('sha256').update(bytes).digest('base64'),
      ...('ifMatch' in condition ? { IfMatch: condition.ifMatch } : { IfNoneMatch: condition.ifNoneMatch }),
    };
    const lock = extra.lock;
    if (lock?.legalHold === true) input.ObjectLockLegalHoldStatus = 'ON';
    if (lock?.retention !== undefined) {
      input.ObjectLockMode = lock.retention.mode;
      input.ObjectLockRetainUntilDate = new Date(this.#now() + lock.retention.days * 86_400_000);
    }
    try {
      const res = await this.#s3.send(new PutObjectCommand(input));
      return {
        status: 'written',
        etag: res.ETag ?? '',
        versionId: res.VersionId && res.VersionId !== 'null' ? res.VersionId : null,
      };
    } catch (e) {
      if (isConflict(e)) return { status: 'conflict' };
      throw e;
    }
  }
}
