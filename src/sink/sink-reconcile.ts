/**
 * `reconcile(conversationId)`: the sink's one reaction to any input. It reads the conversation's join state from
 * S3, hashes what has not been hashed (and records the hash in the state, so every instance reports the same hash
 * time), builds each recording's manifest with `src/enrich`, and writes a new manifest version only when the
 * manifest would differ materially from the current one — conditionally on the current version's ETag. Each
 * version written is announced on `custody.manifests.v1` before the caller commits its offset.
 */
import type { KeyObject } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import { buildCustodyTimeline } from '../enrich/custody.ts';
import type { CustodyEntry } from '../enrich/custody.ts';
import { manifestKeyFor, parseExportKey } from '../enrich/export-layout.ts';
import type { ExportKey } from '../enrich/export-layout.ts';
import { MAX_METADATA_BYTES, oversizedMetadata, parseExportMetadata } from '../enrich/export-metadata.ts';
import { manifestSha256, sealManifest, serializeSealedManifest } from '../enrich/integrity.ts';
import type { SealedManifest } from '../enrich/integrity.ts';
import { buildManifest } from '../enrich/manifest.ts';
import type { AudioInput, GeneratedBy, Manifest, MetadataInput, S3ObjectRef } from '../enrich/manifest.ts';
import { verifyManifest } from '../enrich/verify.ts';
import type { ExportedObject, ManifestWritten } from '../kafka/avro-codec.ts';
import { EXPORTS_FORMAT } from './join-state.ts';
import type { ObjectHash, RecordingState } from './join-state.ts';
import { instantOfMs, manifestLegsOf } from './manifest-inputs.ts';
import type { ManifestLock, S3ObjectStore, StoredObject } from './manifest-store.ts';
import { hashObject, readObjectBytes } from './object-hashing.ts';
import type { SigningKey } from './signing-key.ts';
import { SinkError } from './sink-errors.ts';
import type { SinkErrorCode } from './sink-records.ts';
import type { ExportsRead, JoinStateStore, TagsRead } from './sink-state-store.ts';
import { custodyEntries, manifestWrittenEntry } from './sink-timeline.ts';

export type ReconcileOptions = Readonly<{
  /** Bucket of the manifests; default: the bucket of each recording's export. */
  manifestBucket?: string;
  /** Prefix for manifests instead of "beside the audio" (`''`). */
  manifestPrefix: string;
  /** Prefix the Genesys integration writes under (`''` for none). */
  exportPrefix: string;
  lock?: ManifestLock;
  maxConflictRetries: number;
}>;

export type ReconcileDeps = Readonly<{
  s3: S3Client;
  objects: S3ObjectStore;
  state: JoinStateStore;
  signer: SigningKey;
  /** Keys whose manifests the sink accepts as the current version (its own and earlier ones). */
  trustedKeys: ReadonlyMap<string, KeyObject>;
  generatedBy: GeneratedBy;
  now: () => number;
  options: ReconcileOptions;
  /** Produces a ManifestWritten record; resolves once Kafka acknowledged it. */
  announce: (record: ManifestWritten) => Promise<void>;
  /** Dead-letters the triggering record for one recording that cannot get a manifest. */
  deadLetter: (code: SinkErrorCode, reason: string) => Promise<void>;
}>;

/** What a reconcile did, for logs and tests. */
export type ReconcileResult = Readonly<{ written: number; unchanged: number; deadLettered: number }>;

type Reads = {
  audioHash: ObjectHash | null;
  /** `oversized`: over MAX_METADATA_BYTES, hashed but not parsed. */
  metadata: Readonly<{ bytes: Buffer; hash: ObjectHash; oversized: boolean }> | 'missing';
};

const LEGAL_HOLD_SOURCE = 'custody (no legal-hold events consumed yet)';

function refOf(bucket: string, o: ExportedObject): S3ObjectRef {
  return {
    bucket,
    key: o.key,
    version_id: o.versionId,
    etag: o.etag,
    last_modified: instantOfMs(o.lastModifiedMs) ?? '1970-01-01T00:00:00.000Z',
  };
}

function hashOf(o: ExportedObject, sha256: string, size: number, deps: ReconcileDeps): ObjectHash {
  return {
    versionId: o.versionId,
    etag: o.etag,
    sha256,
    size,
    hashedAtMs: deps.now(),
    instance: deps.generatedBy.instance,
    version: deps.generatedBy.version,
  };
}

/** Reads (and where needed hashes) the recording's objects. Audio is hashed once per version, then taken from state. */
async function readObjects(rec: RecordingState, deps: ReconcileDeps): Promise<Reads> {
  let audioHash = rec.audioHash;
  if (audioHash === null && rec.audio !== null) {
    const read = await hashObject(deps.s3, rec.bucket, rec.audio.object);
    if (read.status === 'read')
      audioHash = hashOf(rec.audio.object, read.value.sha256, read.value.size, deps);
  }
  let metadata: Reads['metadata'] = 'missing';
  if (rec.metadata !== null) {
    const read = await readObjectBytes(deps.s3, rec.bucket, rec.metadata.object, MAX_METADATA_BYTES);
    if (read.status === 'read') {
      const computed = hashOf(rec.metadata.object, read.value.sha256, read.value.size, deps);
      const stored = rec.metadataHash;
      metadata = {
        bytes: read.value.bytes,
        hash: stored !== null && stored.sha256 === computed.sha256 ? stored : computed,
        oversized: read.value.truncated,
      };
    }
  }
  return { audioHash, metadata };
}

function exportKeyOf(rec: RecordingState, exportPrefix: string): ExportKey {
  const key = rec.audio?.object.key ?? rec.metadata?.object.key;
  const parsed = key === undefined ? undefined : parseExportKey(key, { prefix: exportPrefix });
  if (parsed === undefined || !parsed.ok) {
    throw new SinkError('CUSTODY_SINK_STATE_CORRUPT', 'stored recording has no valid export key', false);
  }
  return parsed.value;
}

type Current = Readonly<{ object: StoredObject; manifest: SealedManifest }>;

function metadataInputOf(rec: RecordingState, reads: Reads, exportKey: ExportKey): MetadataInput {
  if (rec.metadata === null || reads.metadata === 'missing') return { status: 'missing' };
  const s3 = refOf(rec.bucket, rec.metadata.object);
  if (reads.metadata.oversized) {
    return {
      status: 'invalid',
      failure: oversizedMetadata(reads.metadata.hash.sha256, reads.metadata.hash.size),
      s3,
    };
  }
  const parsed = parseExportMetadata(reads.metadata.bytes, exportKey);
  return parsed.ok
    ? { status: 'valid', metadata: parsed.value, s3 }
    : { status: 'invalid', failure: parsed.error, s3 };
}

/**
 * Reconciles every recording of a conversation. Throws {@link SinkError} (retriable or not) or S3 errors; a
 * recording whose manifest cannot be built is dead-lettered and the others proceed.
 *
 * `exportsWritten`: `exports.json` as the caller just wrote it (state and ETag), used instead of reading it back
 * on the first attempt. Every later write is conditional on that ETag, so a state changed meanwhile is detected
 * exactly as if it had been read.
 */
export async function reconcile(
  conversationId: string,
  deps: ReconcileDeps,
  exportsWritten?: ExportsRead,
): Promise<ReconcileResult> {
  for (let attempt = 0; attempt < deps.options.maxConflictRetries; attempt++) {
    const result = await reconcileOnce(conversationId, deps, attempt === 0 ? exportsWritten : undefined);
    if (result !== 'stale') return result;
  }
  throw new SinkError('CUSTODY_SINK_CONFLICTS', `export objects of ${conversationId} kept changing`, true);
}

function sameObject(a: ExportedObject | undefined, b: ExportedObject | undefined): boolean {
  return a?.key === b?.key && a?.versionId === b?.versionId && a?.etag === b?.etag;
}

async function reconcileOnce(
  conversationId: string,
  deps: ReconcileDeps,
  exportsWritten: ExportsRead | undefined,
): Promise<ReconcileResult | 'stale'> {
  // Exports first: without a recording there is nothing to reconcile, and the tags need not be read. (Either
  // order is safe: the caller wrote its input before these reads, so of two instances that wrote tags and
  // exports at the same time, at least one reads both.)
  const exportsRead = exportsWritten ?? (await deps.state.readExports(conversationId));
  if (exportsRead === undefined) return { written: 0, unchanged: 0, deadLettered: 0 };
  const tags = await deps.state.readTags(conversationId);
  const before = exportsRead.state;

  const reads = new Map<string, Reads>();
  const newHashes: Record<string, RecordingState> = {};
  for (const [rid, rec] of Object.entries(before.recordings)) {
    const r = await readObjects(rec, deps);
    reads.set(rid, r);
    const metadataHash = r.metadata === 'missing' ? rec.metadataHash : r.metadata.hash;
    if (r.audioHash !== rec.audioHash || metadataHash !== rec.metadataHash) {
      newHashes[rid] = { ...rec, audioHash: r.audioHash, metadataHash };
    }
  }
  // Store new hashes first: the earliest stored hash of a version wins, so every instance reports the same time.
  const hashed =
    Object.keys(newHashes).length === 0
      ? exportsRead
      : await deps.state.mergeExports(
          { format: EXPORTS_FORMAT, conversationId, recordings: newHashes },
          exportsRead,
        );
  const state = hashed.state;

  let written = 0;
  let unchanged = 0;
  let deadLettered = 0;
  const announced: Record<string, RecordingState> = {};
  for (const [rid, rec] of Object.entries(state.recordings)) {
    const r = reads.get(rid);
    const old = before.recordings[rid];
    if (r === undefined || old === undefined) continue; // added meanwhile: the record that added it reconciles it
    // Another instance recorded a newer object version while we read: start over with the new state.
    if (
      !sameObject(rec.audio?.object, old.audio?.object) ||
      !sameObject(rec.metadata?.object, old.metadata?.object)
    ) {
      return 'stale';
    }
    const stored: Reads = {
      audioHash: r.audioHash === null ? null : (rec.audioHash ?? r.audioHash),
      metadata:
        r.metadata !== 'missing' &&
        rec.metadataHash !== null &&
        rec.metadataHash.sha256 === r.metadata.hash.sha256
          ? { bytes: r.metadata.bytes, hash: rec.metadataHash, oversized: r.metadata.oversized }
          : r.metadata,
    };
    const outcome = await reconcileRecording(conversationId, rid, rec, stored, tags, deps);
    if (outcome.kind === 'dead-letter') {
      await deps.deadLetter(outcome.code, outcome.reason);
      deadLettered++;
      continue;
    }
    if (outcome.kind === 'written') written++;
    else unchanged++;
    if (outcome.announced !== null) announced[rid] = { ...rec, announced: outcome.announced };
  }
  if (Object.keys(announced).length > 0) {
    await deps.state.mergeExports({ format: EXPORTS_FORMAT, conversationId, recordings: announced }, hashed);
  }
  return { written, unchanged, deadLettered };
}

type RecordingOutcome =
  | Readonly<{ kind: 'written' | 'unchanged'; announced: RecordingState['announced'] }>
  | Readonly<{ kind: 'dead-letter'; code: SinkErrorCode; reason: string }>;

function previousWrittenOf(current: Current | undefined): CustodyEntry[] {
  return current === undefined
    ? []
    : current.manifest.chain_of_custody.filter((e) => e.event === 'manifest_written');
}

async function readCurrent(
  bucket: string,
  key: string,
  conversationId: string,
  recordingId: string,
  deps: ReconcileDeps,
): Promise<Current | undefined | Readonly<{ unverifiable: string }>> {
  const object = await deps.objects.get(bucket, key);
  if (object === undefined) return undefined;
  const report = verifyManifest(object.bytes, deps.trustedKeys);
  if (!report.ok || report.manifest === null) {
    const failed = report.checks.filter((c) => !c.ok).map((c) => c.name);
    return { unverifiable: `current manifest ${key} does not verify (${failed.join(', ')})` };
  }
  if (report.manifest.conversation_id !== conversationId || report.manifest.recording_id !== recordingId) {
    return { unverifiable: `current manifest ${key} is for another recording` };
  }
  return { object, manifest: report.manifest };
}

async function reconcileRecording(
  conversationId: string,
  recordingId: string,
  rec: RecordingState,
  reads: Reads,
  tags: TagsRead | undefined,
  deps: ReconcileDeps,
): Promise<RecordingOutcome> {
  const { options } = deps;
  const exportKey = exportKeyOf(rec, options.exportPrefix);
  const bucket = options.manifestBucket ?? rec.bucket;
  const key = manifestKeyFor(exportKey, options.manifestPrefix);
  const metadata = metadataInputOf(rec, reads, exportKey);
  const audio: AudioInput | null =
    rec.audio === null || reads.audioHash === null
      ? null
      : {
          sha256: reads.audioHash.sha256,
          size: reads.audioHash.size,
          s3: refOf(rec.bucket, rec.audio.object),
          expectedSize: rec.audio.object.size,
        };
  const legs = manifestLegsOf(tags?.state.snapshot);

  const build = (
    version: number,
    previous: string | null,
    generatedBy: GeneratedBy,
    previousWritten: readonly CustodyEntry[],
  ): Manifest | string => {
    const timeline = buildCustodyTimeline(
      custodyEntries({
        tags,
        recording: rec,
        audioHash: audio === null ? null : reads.audioHash,
        metadataHash:
          metadata.status === 'missing' || reads.metadata === 'missing' ? null : reads.metadata.hash,
        previousWritten,
      }),
    );
    if (!timeline.ok) return `custody timeline invalid: ${timeline.error.detail}`;
    const manifest = buildManifest({
      exportKey,
      metadata,
      audio,
      legs,
      legalHold: { status: 'none', source: LEGAL_HOLD_SOURCE },
      custody: timeline.value,
      manifestVersion: version,
      previousManifestSha256: previous,
      generatedBy,
    });
    return manifest.ok ? manifest.value : `manifest invalid: ${manifest.error.issues.slice(0, 5).join('; ')}`;
  };

  // No version announced yet: almost always there is no manifest, so the first write is tried without reading
  // it (If-None-Match: a manifest that does exist refuses the write, and the next round reads it as usual). That
  // round is extra: it does not count against maxConflictRetries.
  const optimistic = rec.announced === null ? 1 : 0;
  for (let attempt = 0; attempt < options.maxConflictRetries + optimistic; attempt++) {
    const current =
      attempt < optimistic ? undefined : await readCurrent(bucket, key, conversationId, recordingId, deps);
    if (current !== undefined && 'unverifiable' in current) {
      return {
        kind: 'dead-letter',
        code: 'CUSTODY_SINK_CURRENT_MANIFEST_UNVERIFIABLE',
        reason: current.unverifiable,
      };
    }
    if (current === undefined && attempt >= optimistic && rec.announced !== null) {
      // Version n was written and announced, yet no manifest is there now (deleted, or the bucket was swapped).
      // Starting again at version 1 would hide that from every later reader: stop and say so instead.
      return {
        kind: 'dead-letter',
        code: 'CUSTODY_SINK_MANIFEST_MISSING',
        reason: `manifest version ${rec.announced.manifestVersion} (sha256 ${rec.announced.manifestSha256}) was written and announced, but ${key} holds no manifest now; not starting a new chain`,
      };
    }
    const prior = previousWrittenOf(current);
    if (current !== undefined) {
      const m = current.manifest;
      // Materially identical = the same body when built as the current version by the current writer.
      const same = build(m.manifest_version, m.previous_manifest_sha256, m.generated_by, prior);
      if (typeof same === 'string')
        return { kind: 'dead-letter', code: 'CUSTODY_SINK_MANIFEST_INVALID', reason: same };
      if (manifestSha256(same) === m.integrity.manifest_sha256) {
        const announced = await announceIfNeeded(rec, bucket, key, current, deps);
        return { kind: 'unchanged', announced };
      }
    }
    const currentWritten =
      current === undefined
        ? undefined
        : manifestWrittenEntry({
            bucket,
            key,
            versionId: current.object.versionId,
            lastModifiedMs: current.object.lastModifiedMs,
            manifestVersion: current.manifest.manifest_version,
            manifestSha256: current.manifest.integrity.manifest_sha256,
            generatedBy: current.manifest.generated_by,
          });
    const next = build(
      current === undefined ? 1 : current.manifest.manifest_version + 1,
      current === undefined ? null : current.manifest.integrity.manifest_sha256,
      deps.generatedBy,
      currentWritten === undefined ? prior : [...prior, currentWritten],
    );
    if (typeof next === 'string')
      return { kind: 'dead-letter', code: 'CUSTODY_SINK_MANIFEST_INVALID', reason: next };
    const sealed = sealManifest(next, deps.signer);
    const bytes = serializeSealedManifest(sealed);
    const outcome = await deps.objects.put(
      bucket,
      key,
      bytes,
      current === undefined ? { ifNoneMatch: '*' } : { ifMatch: current.object.etag },
      { lock: options.lock },
    );
    if (outcome.status === 'conflict') continue; // another instance wrote first: re-read and recompute
    await deps.announce(
      writtenRecord(
        sealed,
        bucket,
        key,
        outcome.versionId,
        deps.now(),
        deps.generatedBy.instance,
        deps.signer.keyId,
      ),
    );
    return {
      kind: 'written',
      announced: {
        manifestVersion: sealed.manifest_version,
        manifestSha256: sealed.integrity.manifest_sha256,
      },
    };
  }
  throw new SinkError(
    'CUSTODY_SINK_CONFLICTS',
    `gave up on ${key} after ${options.maxConflictRetries} lost races`,
    true,
  );
}

/** Announces the current version when the state does not record it as announced (a crash between write and produce). */
async function announceIfNeeded(
  rec: RecordingState,
  bucket: string,
  key: string,
  current: Current,
  deps: ReconcileDeps,
): Promise<RecordingState['announced']> {
  const m = current.manifest;
  if (rec.announced !== null && rec.announced.manifestVersion >= m.manifest_version) return null;
  await deps.announce(
    writtenRecord(
      m,
      bucket,
      key,
      current.object.versionId,
      current.object.lastModifiedMs,
      m.generated_by.instance,
      m.integrity.key_id,
    ),
  );
  return { manifestVersion: m.manifest_version, manifestSha256: m.integrity.manifest_sha256 };
}

function writtenRecord(
  m: SealedManifest,
  bucket: string,
  key: string,
  versionId: string | null,
  writtenAtMs: number,
  writerInstance: string,
  keyId: string,
): ManifestWritten {
  return {
    conversationId: m.conversation_id,
    recordingId: m.recording_id,
    bucket,
    key,
    versionId,
    manifestVersion: m.manifest_version,
    manifestSha256: m.integrity.manifest_sha256,
    previousManifestSha256: m.previous_manifest_sha256,
    completeness: m.completeness.status,
    missing: m.completeness.missing.map((x) => `${x.field}: ${x.reason}`),
    keyId,
    writtenAtMs,
    writerInstance,
  };
}
