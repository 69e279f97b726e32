/**
 * Reading export objects for the manifest: the audio is streamed through SHA-256 (never buffered whole), the
 * metadata is read whole (it is small and the manifest embeds it verbatim). Both read the exact object version
 * the export record names — by version id on a versioned bucket, else by `If-Match` on its ETag — so the hash
 * is of the object the manifest describes, not of whatever the key holds now.
 */
import { createHash } from 'node:crypto';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import type { GetObjectCommandInput, S3Client } from '@aws-sdk/client-s3';
import type { ExportedObject } from '../kafka/avro-codec.ts';
import { isConflict, isNotFound } from './manifest-store.ts';

/** A hashed object, or why it could not be read. `changed`: an unversioned key now holds other content. */
export type ObjectRead<T> =
  Readonly<{ status: 'read'; value: T }> | Readonly<{ status: 'missing' }> | Readonly<{ status: 'changed' }>;

function requestFor(bucket: string, object: ExportedObject): GetObjectCommandInput {
  return object.versionId === null
    ? { Bucket: bucket, Key: object.key, IfMatch: object.etag }
    : { Bucket: bucket, Key: object.key, VersionId: object.versionId };
}

async function read<T>(
  s3: S3Client,
  bucket: string,
  object: ExportedObject,
  consume: (body: AsyncIterable<Uint8Array>) => Promise<T>,
): Promise<ObjectRead<T>> {
  try {
    const res = await s3.send(new GetObjectCommand(requestFor(bucket, object)));
    if (res.Body === undefined) return { status: 'missing' };
    return { status: 'read', value: await consume(res.Body as AsyncIterable<Uint8Array>) };
  } catch (e) {
    if (isNotFound(e)) return { status: 'missing' };
    if (isConflict(e)) return { status: 'changed' };
    throw e;
  }
}

/** Streams an object version through SHA-256. */
export function hashObject(
  s3: S3Client,
  bucket: string,
  object: ExportedObject,
): Promise<ObjectRead<{ sha256: string; size: number }>> {
  return read(s3, bucket, object, async (body) => {
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of body) {
      hash.update(chunk);
      size += chunk.byteLength;
    }
    return { sha256: hash.digest('hex'), size };
  });
}

/**
 * Reads an object version whole (for the small metadata file), keeping at most `maxBytes` in memory: a larger
 * object is still hashed in full while streaming, and comes back `truncated` with its real size.
 */
export function readObjectBytes(
  s3: S3Client,
  bucket: string,
  object: ExportedObject,
  maxBytes = Number.POSITIVE_INFINITY,
): Promise<ObjectRead<{ bytes: Buffer; sha256: string; size: number; truncated: boolean }>> {
  return read(s3, bucket, object, async (body) => {
    const hash = createHash('sha256');
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of body) {
      hash.update(chunk);
      if (size + chunk.byteLength <= maxBytes) chunks.push(Buffer.from(chunk));
      size += chunk.byteLength;
    }
    return { bytes: Buffer.concat(chunks), sha256: hash.digest('hex'), size, truncated: size > maxBytes };
  });
}
