/**
 * S3 Object Lock legal holds on a recording's objects, as the legal holds of its conversation require: every
 * version of the audio, the metadata and the manifest (versions written before the hold included; versions
 * written while it is on are written held). Setting a hold that is already set changes nothing, so a replay
 * repeats it harmlessly.
 *
 * A bucket without Object Lock cannot hold anything: the caller learns that once per bucket and process
 * (`objectLockEnabled`) and records in the manifest that the hold is not enforced, rather than failing on every
 * recording; `custody verify` then reports it.
 */
import {
  GetObjectLockConfigurationCommand,
  ListObjectVersionsCommand,
  PutObjectLegalHoldCommand,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';

/** Whether buckets have Object Lock enabled, asked once per bucket and process. */
export class ObjectLockProbe {
  readonly #s3: S3Client;
  readonly #known = new Map<string, Promise<boolean>>();

  constructor(s3: S3Client) {
    this.#s3 = s3;
  }

  enabled(bucket: string): Promise<boolean> {
    let answer = this.#known.get(bucket);
    if (answer === undefined) {
      answer = this.#ask(bucket);
      this.#known.set(bucket, answer);
      // A failed question (S3 down) is asked again next time.
      answer.catch(() => this.#known.delete(bucket));
    }
    return answer;
  }

  async #ask(bucket: string): Promise<boolean> {
    try {
      const res = await this.#s3.send(new GetObjectLockConfigurationCommand({ Bucket: bucket }));
      return res.ObjectLockConfiguration?.ObjectLockEnabled === 'Enabled';
    } catch (e) {
      if (e instanceof S3ServiceException && /ObjectLockConfiguration/i.test(e.name)) return false;
      throw e;
    }
  }
}

/** Every version id of exactly `key` (delete markers excluded; `null` for an unversioned object). */
async function versionsOf(s3: S3Client, bucket: string, key: string): Promise<Array<string | undefined>> {
  const out: Array<string | undefined> = [];
  let keyMarker: string | undefined;
  let versionIdMarker: string | undefined;
  for (;;) {
    const res = await s3.send(
      new ListObjectVersionsCommand({
        Bucket: bucket,
        Prefix: key,
        KeyMarker: keyMarker,
        VersionIdMarker: versionIdMarker,
      }),
    );
    for (const v of res.Versions ?? []) {
      if (v.Key !== key) continue;
      out.push(v.VersionId === undefined || v.VersionId === 'null' ? undefined : v.VersionId);
    }
    if (res.IsTruncated !== true) return out;
    keyMarker = res.NextKeyMarker;
    versionIdMarker = res.NextVersionIdMarker;
  }
}

/** Sets the legal hold of every version of `key` to `status`; returns how many versions were set. */
export async function setLegalHoldOnAllVersions(
  s3: S3Client,
  bucket: string,
  key: string,
  status: 'ON' | 'OFF',
): Promise<number> {
  const versions = await versionsOf(s3, bucket, key);
  for (const versionId of versions) {
    await s3.send(
      new PutObjectLegalHoldCommand({
        Bucket: bucket,
        Key: key,
        VersionId: versionId,
        LegalHold: { Status: status },
      }),
    );
  }
  return versions.length;
}
