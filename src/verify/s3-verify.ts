/**
 * The S3 side of `custody verify`: lists every version under the export prefix (page by page, in key order),
 * groups the objects of each conversation folder, and audits its recordings with bounded concurrency while the
 * listing goes on. Audio and metadata are streamed through SHA-256, never held whole. What is wrong is decided by
 * the pure core (src/enrich/audit.ts); this module only reads.
 */
import { createHash } from 'node:crypto';
import {
  GetObjectCommand,
  GetObjectLegalHoldCommand,
  GetObjectLockConfigurationCommand,
  ListObjectVersionsCommand,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import { auditRecording, holdTargets } from '../enrich/audit.ts';
import type {
  AuditOptions,
  ExportObjectFact,
  HoldState,
  ManifestVersionFact,
  RecordingAudit,
} from '../enrich/audit.ts';
import { manifestKeyFor, normalizeKeyPrefix, parseExportKey } from '../enrich/export-layout.ts';

/** What to audit. */
export type VerifyScope = Readonly<{
  bucket: string;
  /** The export prefix (CUSTODY_EXPORTS_PREFIX), `''` for the bucket root. */
  prefix: string;
  /** Where manifests live (CUSTODY_MANIFEST_BUCKET / CUSTODY_MANIFEST_PREFIX); default beside the audio. */
  manifestBucket?: string;
  manifestPrefix?: string;
  /** Conversations starting at or after `from` and before `to` (epoch ms; the export layout's hour). */
  from?: number;
  to?: number;
  /** Only these conversations (lower-case UUIDs). */
  conversations?: ReadonlySet<string>;
}>;

export type VerifyRunOptions = Omit<AuditOptions, 'objectLock'> &
  Readonly<{
    /** Recordings audited at once (each is a handful of GETs). */
    concurrency: number;
    /** Read the manifests and re-hash the objects (false: only find which recordings have a manifest). */
    read?: boolean;
    onRecording?: (audit: RecordingAudit) => void;
    /** Called after each listing page and each audited recording. */
    onProgress?: (p: Readonly<{ listed: number; audited: number; listingDone: boolean }>) => void;
    signal?: AbortSignal;
    /** Versions per listing page (default: the server's, 1,000 on S3). */
    pageSize?: number;
  }>;

/** Raised when the audit cannot run at all (bucket unreachable, access denied); not a finding. */
export class VerifyUnavailableError extends Error {
  override readonly name = 'VerifyUnavailableError';
}

type Entry = Readonly<{
  versionId: string;
  isLatest: boolean;
  deleteMarker: boolean;
  /** LastModified, epoch ms (absent when the server gave none). */
  lastModified?: number;
}>;

type Group = {
  audio?: string;
  metadata?: string;
  manifestKey: string;
  conversationId: string;
  recordingId: string;
  partitionHour: string;
};

const status = (e: unknown) => (e instanceof S3ServiceException ? e.$metadata.httpStatusCode : undefined);
const isNotFound = (e: unknown) =>
  status(e) === 404 ||
  (e instanceof S3ServiceException && (e.name === 'NoSuchKey' || e.name === 'NoSuchVersion'));

/** Whether the bucket has Object Lock enabled. */
export async function bucketObjectLock(s3: S3Client, bucket: string): Promise<boolean> {
  try {
    const res = await s3.send(new GetObjectLockConfigurationCommand({ Bucket: bucket }));
    return res.ObjectLockConfiguration?.ObjectLockEnabled === 'Enabled';
  } catch (e) {
    if (e instanceof S3ServiceException && /ObjectLockConfiguration/i.test(e.name)) return false;
    if (e instanceof S3ServiceException && e.name === 'NoSuchBucket')
      throw new VerifyUnavailableError(`bucket ${bucket} does not exist`);
    throw unavailable(bucket, e);
  }
}

function unavailable(bucket: string, e: unknown): VerifyUnavailableError {
  const why =
    e instanceof S3ServiceException
      ? `${e.name} (HTTP ${e.$metadata.httpStatusCode ?? '?'})`
      : e instanceof Error
        ? e.message
        : String(e);
  return new VerifyUnavailableError(`cannot read bucket ${bucket}: ${why}`);
}

async function readLegalHold(
  s3: S3Client,
  bucket: string,
  key: string,
  versionId: string,
): Promise<HoldState> {
  try {
    const res = await s3.send(
      new GetObjectLegalHoldCommand({
        Bucket: bucket,
        Key: key,
        VersionId: versionId === 'null' ? undefined : versionId,
      }),
    );
    return res.LegalHold?.Status === 'ON' ? 'ON' : 'OFF';
  } catch (e) {
    // A version that never had a hold answers "no lock configuration" on some servers.
    if (e instanceof S3ServiceException && /ObjectLockConfiguration|NoSuchObjectLock/i.test(e.name))
      return 'OFF';
    return 'unknown';
  }
}

async function readVersion(
  s3: S3Client,
  bucket: string,
  key: string,
  versionId: string,
): Promise<Uint8Array> {
  const res = await s3.send(
    new GetObjectCommand({
      Bucket: bucket,
      Key: key,
      VersionId: versionId === 'null' ? undefined : versionId,
    }),
  );
  const chunks: Buffer[] = [];
  for await (const c of res.Body as AsyncIterable<Uint8Array>) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

/** The current version of `key`, streamed through SHA-256; undefined when the key holds nothing now. */
async function hashCurrent(
  s3: S3Client,
  bucket: string,
  key: string,
): Promise<{ versionId: string | null; sha256: string } | undefined> {
  try {
    const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const hash = createHash('sha256');
    for await (const c of res.Body as AsyncIterable<Uint8Array>) hash.update(c);
    return {
      versionId: res.VersionId && res.VersionId !== 'null' ? res.VersionId : null,
      sha256: hash.digest('hex'),
    };
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

/** Runs at most `limit` tasks at once; `run` waits while all slots are taken (backpressure on the listing). */
function pool(limit: number) {
  const running = new Set<Promise<void>>();
  let failure: unknown;
  return {
    async run(task: () => Promise<void>): Promise<void> {
      while (running.size >= limit) await Promise.race(running);
      if (failure !== undefined) throw failure;
      const p: Promise<void> = task()
        .catch((e: unknown) => {
          failure ??= e;
        })
        .finally(() => running.delete(p));
      running.add(p);
    },
    async drain(): Promise<void> {
      await Promise.all(running);
      if (failure !== undefined) throw failure;
    },
  };
}

/**
 * Audits every recording under the scope. Resolves when all are audited; each audit is handed to
 * `onRecording` as it finishes. Rejects with {@link VerifyUnavailableError} when the bucket cannot be read.
 */
export async function verifyBucket(
  s3: S3Client,
  scope: VerifyScope,
  opts: VerifyRunOptions,
): Promise<{ objectLock: boolean; audited: number }> {
  const prefix = normalizeKeyPrefix(scope.prefix);
  if (!prefix.ok) throw new RangeError(`invalid export prefix: ${prefix.error.detail}`);
  const manifestBucket = scope.manifestBucket ?? scope.bucket;
  const manifestPrefix = scope.manifestPrefix ?? '';
  const besideAudio = manifestBucket === scope.bucket && manifestPrefix === '';
  const objectLock = await bucketObjectLock(s3, scope.bucket);
  const manifestLock =
    manifestBucket === scope.bucket ? objectLock : await bucketObjectLock(s3, manifestBucket);
  const auditOptions: AuditOptions = { ...opts, objectLock: manifestLock };
  const read = opts.read !== false;

  const work = pool(Math.max(1, opts.concurrency));
  let listed = 0;
  let audited = 0;
  let listingDone = false;
  const progress = () => opts.onProgress?.({ listed, audited, listingDone });

  const inScope = (g: Group) => {
    if (scope.conversations && !scope.conversations.has(g.conversationId)) return false;
    const hour = Date.parse(g.partitionHour);
    // The layout knows the hour only: a range starting inside an hour includes that hour.
    if (scope.from !== undefined && hour + 3_600_000 <= scope.from) return false;
    if (scope.to !== undefined && hour >= scope.to) return false;
    return true;
  };

  const auditGroup = async (g: Group, entries: ReadonlyMap<string, Entry[]>) => {
    let manifestEntries = besideAudio ? (entries.get(g.manifestKey) ?? []) : undefined;
    if (manifestEntries === undefined)
      manifestEntries = await listKeyVersions(s3, manifestBucket, g.manifestKey);
    const latest = manifestEntries.find((e) => e.isLatest);
    const stored = manifestEntries.filter((e) => !e.deleteMarker);
    const manifestVersions: ManifestVersionFact[] = [];
    if (read)
      for (const v of stored)
        manifestVersions.push({
          versionId: v.versionId,
          bytes: await readVersion(s3, manifestBucket, g.manifestKey, v.versionId),
        });

    const holds = read ? holdTargets(manifestVersions, auditOptions) : undefined;
    if (holds?.manifestVersions)
      for (const [i, v] of manifestVersions.entries())
        manifestVersions[i] = {
          ...v,
          legalHold: await readLegalHold(s3, manifestBucket, g.manifestKey, v.versionId),
        };

    const current = async (key: string | undefined): Promise<ExportObjectFact | undefined> => {
      if (key === undefined) return undefined;
      const list = entries.get(key) ?? [];
      const top = list.find((e) => e.isLatest);
      if (top?.deleteMarker) return { state: 'deleted', key };
      if (!read) return { state: 'present', key, versionId: top?.versionId ?? null };
      const now = await hashCurrent(s3, scope.bucket, key);
      if (now === undefined) return { state: 'deleted', key };
      const legalHold =
        holds?.exportObjects === true
          ? await readLegalHold(s3, scope.bucket, key, now.versionId ?? 'null')
          : undefined;
      return { state: 'present', key, versionId: now.versionId, sha256: now.sha256, legalHold };
    };

    const facts = {
      manifestKey: g.manifestKey,
      conversationId: g.conversationId,
      recordingId: g.recordingId,
      partitionHour: g.partitionHour,
      audio: await current(g.audio),
      metadata: await current(g.metadata),
      manifestVersions,
      manifestDeleted: latest?.deleteMarker === true,
      exportedAt: exportedAt(entries, g),
    };
    if (read) opts.onRecording?.(auditRecording(facts, auditOptions));
    else {
      // Counting only: which recordings have a manifest, nothing verified.
      const counted = auditRecording(
        { ...facts, manifestVersions: [], manifestDeleted: false },
        auditOptions,
      );
      opts.onRecording?.({
        ...counted,
        status: stored.length > 0 ? 'verified' : counted.status,
        versions: stored.length,
        findings: stored.length > 0 ? [] : counted.findings,
      });
    }
    audited++;
    progress();
  };

  // One conversation folder at a time: the listing is in key order, so a folder is complete once the listing
  // has moved past it, and its recordings can be audited while the next pages are listed.
  let folder: string | undefined;
  let entries = new Map<string, Entry[]>();
  const flush = async () => {
    const groups = new Map<string, Group>();
    for (const key of entries.keys()) {
      const parsed = parseExportKey(
        key.endsWith('.opus_manifest.json') ? key.replace(/_manifest\.json$/, '') : key,
        {
          prefix: prefix.value,
        },
      );
      if (!parsed.ok) continue;
      const p = parsed.value;
      const manifestKey = manifestKeyFor(p, manifestPrefix);
      const g = groups.get(p.recordingId) ?? {
        manifestKey,
        conversationId: p.conversationId,
        recordingId: p.recordingId,
        partitionHour: p.partitionHour,
      };
      if (key.endsWith('.opus_manifest.json')) {
        // A manifest with no export beside it: audited too (its objects are then missing).
      } else if (p.kind === 'audio') g.audio = key;
      else g.metadata = key;
      groups.set(p.recordingId, g);
    }
    const mine = entries;
    entries = new Map();
    for (const g of groups.values()) {
      if (!inScope(g)) continue;
      if (!besideAudio && g.audio === undefined && g.metadata === undefined) continue;
      await work.run(() => auditGroup(g, mine));
    }
  };

  let keyMarker: string | undefined;
  let versionMarker: string | undefined;
  const listPrefix = prefix.value === '' ? undefined : `${prefix.value}/`;
  for (;;) {
    if (opts.signal?.aborted) throw new VerifyUnavailableError('stopped');
    let page;
    try {
      page = await s3.send(
        new ListObjectVersionsCommand({
          Bucket: scope.bucket,
          Prefix: listPrefix,
          KeyMarker: keyMarker,
          VersionIdMarker: versionMarker,
          MaxKeys: opts.pageSize,
        }),
      );
    } catch (e) {
      throw unavailable(scope.bucket, e);
    }
    const all = [
      ...(page.Versions ?? []).map((v) => ({
        key: v.Key,
        versionId: v.VersionId,
        isLatest: v.IsLatest,
        deleteMarker: false,
        lastModified: v.LastModified?.getTime(),
      })),
      ...(page.DeleteMarkers ?? []).map((v) => ({
        key: v.Key,
        versionId: v.VersionId,
        isLatest: v.IsLatest,
        deleteMarker: true,
        lastModified: undefined,
      })),
    ].sort((a, b) => ((a.key ?? '') < (b.key ?? '') ? -1 : (a.key ?? '') > (b.key ?? '') ? 1 : 0));
    for (const v of all) {
      if (!v.key) continue;
      const dir = v.key.slice(0, v.key.lastIndexOf('/') + 1);
      if (dir !== folder) {
        await flush();
        folder = dir;
      }
      const list = entries.get(v.key) ?? [];
      // Some S3-compatible servers (versitygw up to at least 1.8.0) repeat a key's versions when a page ends in
      // the middle of them: a version listed twice must not count as two versions (it would look like a fork).
      if (list.some((e) => e.versionId === (v.versionId ?? 'null'))) continue;
      list.push({
        versionId: v.versionId ?? 'null',
        isLatest: v.isLatest === true,
        deleteMarker: v.deleteMarker,
        lastModified: v.lastModified,
      });
      entries.set(v.key, list);
      if (!v.deleteMarker) listed++;
    }
    progress();
    if (!page.IsTruncated) break;
    keyMarker = page.NextKeyMarker;
    versionMarker = page.NextVersionIdMarker;
  }
  await flush();
  listingDone = true;
  await work.drain();
  progress();
  return { objectLock: manifestLock, audited };
}

/** When the recording's export was last written: the newest LastModified of its audio and metadata objects. */
function exportedAt(entries: ReadonlyMap<string, Entry[]>, g: Group): number | undefined {
  let newest: number | undefined;
  for (const key of [g.audio, g.metadata]) {
    const t = key === undefined ? undefined : entries.get(key)?.find((e) => e.isLatest)?.lastModified;
    if (t !== undefined && (newest === undefined || t > newest)) newest = t;
  }
  return newest;
}

async function listKeyVersions(s3: S3Client, bucket: string, key: string): Promise<Entry[]> {
  const out: Entry[] = [];
  let keyMarker: string | undefined;
  let versionMarker: string | undefined;
  for (;;) {
    const page = await s3.send(
      new ListObjectVersionsCommand({
        Bucket: bucket,
        Prefix: key,
        KeyMarker: keyMarker,
        VersionIdMarker: versionMarker,
      }),
    );
    // A version repeated across pages (see above) is kept once.
    const add = (versionId: string, isLatest: boolean, deleteMarker: boolean): void => {
      if (!out.some((e) => e.versionId === versionId)) out.push({ versionId, isLatest, deleteMarker });
    };
    for (const v of page.Versions ?? [])
      if (v.Key === key) add(v.VersionId ?? 'null', v.IsLatest === true, false);
    for (const v of page.DeleteMarkers ?? [])
      if (v.Key === key) add(v.VersionId ?? 'null', v.IsLatest === true, true);
    if (!page.IsTruncated) return out;
    keyMarker = page.NextKeyMarker;
    versionMarker = page.NextVersionIdMarker;
  }
}
