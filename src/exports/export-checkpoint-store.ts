/**
 * Keeps the exports watcher's checkpoint as one JSON object in S3, written conditionally: `If-None-Match: *` when
 * none existed, `If-Match: <ETag read>` afterwards. A write that loses (412, or AWS's 409 for a concurrent
 * conditional write) reports a conflict instead of overwriting: the caller re-reads, merges and retries.
 */
import { GetObjectCommand, PutObjectCommand, S3ServiceException } from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Checkpoint } from './export-checkpoint.ts';
import { parseCheckpoint } from './export-checkpoint.ts';

/** A checkpoint error the watcher cannot recover from by itself (bad state, wrong watcher). Not retriable. */
export class CheckpointError extends Error {
  readonly code: 'CUSTODY_SINK_CHECKPOINT_INVALID' | 'CUSTODY_SINK_CHECKPOINT_CONFLICT';
  readonly retriable = false;
  constructor(code: CheckpointError['code'], message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CheckpointError';
    this.code = code;
  }
}

/** What was read: the checkpoint (undefined when none exists yet) and the ETag to write against. */
export type StoredCheckpoint = Readonly<{ checkpoint: Checkpoint | undefined; etag: string | undefined }>;

/** Outcome of a conditional write. */
export type CheckpointWrite = Readonly<{ written: true; etag: string }> | Readonly<{ written: false }>;

function status(e: unknown): number | undefined {
  return e instanceof S3ServiceException ? e.$metadata.httpStatusCode : undefined;
}

/** The checkpoint object of one watcher. */
export class S3CheckpointStore {
  readonly bucket: string;
  readonly key: string;
  readonly #s3: S3Client;

  constructor(s3: S3Client, bucket: string, key: string) {
    this.#s3 = s3;
    this.bucket = bucket;
    this.key = key;
  }

  /**
   * Reads and validates the checkpoint.
   * @throws {CheckpointError} `CUSTODY_SINK_CHECKPOINT_INVALID` when the object is not a valid checkpoint of
   *   `watcher` — never silently starts over, which would re-emit the whole window.
   */
  async read(watcher: string): Promise<StoredCheckpoint> {
    let text: string;
    let etag: string | undefined;
    try {
      const res = await this.#s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key }));
      text = (await res.Body?.transformToString('utf8')) ?? '';
      etag = res.ETag;
    } catch (e) {
      if (status(e) === 404) return { checkpoint: undefined, etag: undefined };
      throw e;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new CheckpointError(
        'CUSTODY_SINK_CHECKPOINT_INVALID',
        `checkpoint s3://${this.bucket}/${this.key} is not JSON; move it away to start over`,
      );
    }
    const parsed = parseCheckpoint(json);
    if (!parsed.ok) {
      throw new CheckpointError(
        'CUSTODY_SINK_CHECKPOINT_INVALID',
        `checkpoint s3://${this.bucket}/${this.key} is invalid (${parsed.error}); move it away to start over`,
      );
    }
    if (parsed.value.watcher !== watcher) {
      throw new CheckpointError(
        'CUSTODY_SINK_CHECKPOINT_INVALID',
        `checkpoint s3://${this.bucket}/${this.key} belongs to watcher "${parsed.value.watcher}", not "${watcher}"`,
      );
    }
    if (etag === undefined) {
      throw new CheckpointError(
        'CUSTODY_SINK_CHECKPOINT_INVALID',
        'S3 returned the checkpoint without an ETag',
      );
    }
    return { checkpoint: parsed.value, etag };
  }

  /** Writes `checkpoint` if the stored object is still the one with `etag` (or, without `etag`, if none exists). */
  async write(checkpoint: Checkpoint, etag: string | undefined): Promise<CheckpointWrite> {
    try {
      const res = await this.#s3.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.key,
          Body: JSON.stringify(checkpoint),
          ContentType: 'application/json',
          ...(etag === undefined ? { IfNoneMatch: '*' } : { IfMatch: etag }),
        }),
      );
      if (res.ETag === undefined) {
        throw new CheckpointError(
          'CUSTODY_SINK_CHECKPOINT_INVALID',
          'S3 accepted the checkpoint without an ETag',
        );
      }
      return { written: true, etag: res.ETag };
    } catch (e) {
      const code = status(e);
      if (code === 412 || code === 409) return { written: false };
      // Some servers answer If-None-Match: * on an existing key with 412, others with PreconditionFailed names.
      if (e instanceof S3ServiceException && e.name === 'PreconditionFailed') return { written: false };
      throw e;
    }
  }
}
