/**
 * The S3 calls the exports watcher makes: paged ListObjectsV2 of one folder, a Delimiter listing of the org
 * folders, and HEAD for an object's version id. Listing keys are returned exactly as S3 gives them (never
 * URL-decoded: only event notifications encode keys).
 */
import { HeadObjectCommand, ListObjectsV2Command, S3ServiceException } from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import type { ObjectVersion } from './export-records.ts';

/** One object of a listing (ListObjectsV2 has no version ids). */
export type ListedObject = Readonly<{ key: string; etag: string; size: number; lastModifiedMs: number }>;

const ORG_FOLDER = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** Every object under `prefix` (paged). Entries without a key or ETag are dropped (none are expected). */
export async function listFolder(
  s3: S3Client,
  bucket: string,
  prefix: string,
): Promise<{ objects: ListedObject[]; requests: number }> {
  const objects: ListedObject[] = [];
  let token: string | undefined;
  let requests = 0;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    requests++;
    for (const o of page.Contents ?? []) {
      if (o.Key === undefined || o.ETag === undefined) continue;
      objects.push({
        key: o.Key,
        etag: o.ETag,
        size: o.Size ?? 0,
        lastModifiedMs: o.LastModified?.getTime() ?? 0,
      });
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return { objects, requests };
}

/**
 * The org folders directly under the export prefix (`prefix` normalized, `''` for the bucket root): common
 * prefixes whose name is a UUID, so custody's own `_custody/` state and other folders are never scanned.
 */
export async function listOrgFolders(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const base = prefix === '' ? '' : `${prefix}/`;
  const orgs: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: base, Delimiter: '/', ContinuationToken: token }),
    );
    for (const p of page.CommonPrefixes ?? []) {
      const name = (p.Prefix ?? '').slice(base.length).replace(/\/$/, '');
      if (ORG_FOLDER.test(name)) orgs.push(name);
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return orgs.sort();
}

/** The current version of an object, or undefined when it does not exist (any more). */
export async function headVersion(
  s3: S3Client,
  bucket: string,
  key: string,
): Promise<ObjectVersion | undefined> {
  try {
    const res = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    if (res.ETag === undefined) return undefined;
    return {
      key,
      etag: res.ETag,
      versionId: res.VersionId === undefined || res.VersionId === 'null' ? null : res.VersionId,
      size: res.ContentLength ?? 0,
      lastModifiedMs: res.LastModified?.getTime() ?? 0,
    };
  } catch (e) {
    if (e instanceof S3ServiceException && e.$metadata.httpStatusCode === 404) return undefined;
    throw e;
  }
}
