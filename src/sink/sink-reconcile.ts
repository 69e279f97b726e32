/**
 * `reconcile(conversation)`: the sink's one reaction to any input. Given the conversation's join state (held in
 * memory by the instance that owns its partition), it hashes what has not been hashed (the hash and its time go
 * into the state, so the manifest reports the same hash time forever), builds each recording's manifest with
 * `src/enrich`, and writes a new manifest version only when the manifest would differ materially from the current
 * one — conditionally, so a zombie instance that lost the partition cannot fork the chain. Each version written is
 * announced on `custody.manifests.v1` before the caller commits its offset.
 *
 * S3 requests: a recording whose inputs (tags, export facts, hashes, custody version) are the ones its announced
 * manifest was built from costs none. Otherwise its audio is stream-hashed once per object version and its
 * metadata read; the first version is written with `If-None-Match: *` without reading anything else, so the usual
 * case costs exactly the three requests every manifest needs. A later version reads the current manifest (to
 * verify it and continue its chain) and writes with `If-Match`.
 */
import type { KeyObject } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import { buildCustodyTimeline } from '../enrich/custody.ts';
import type { CustodyEntry } from '../enrich/custody-entry.ts';
import { legalHoldCustodyEntries, legalHoldInputOf } from '../enrich/legal-holds.ts';
import type { LegalHoldsState } from '../enrich/legal-holds.ts';
import { manifestKeyFor, parseExportKey } from '../enrich/export-layout.ts';
import type { ExportKey } from '../enrich/export-layout.ts';
import { MAX_METADATA_BYTES, oversizedMetadata, parseExportMetadata } from '../enrich/export-metadata.ts';
import { manifestSha256, sealManifest, serializeSealedManifest, sha256Hex } from '../enrich/integrity.ts';
import type { SealedManifest } from '../enrich/integrity.ts';
import { buildManifest } from '../enrich/manifest.ts';
import type {
  AudioInput,
  GeneratedBy,
  LegalHoldInput,
  Manifest,
  MetadataInput,
  S3ObjectRef,
} from '../enrich/manifest.ts';
import { verifyManifest } from '../enrich/verify.ts';
import type { ExportedObject, ManifestWritten } from '../kafka/avro-codec.ts';
import { EXPORTS_FORMAT, partsBytes } from './join-state.ts';
import type { Announced, ExportsState, ObjectHash, RecordingState, SessionTagsState } from './join-state.ts';
import { instantOfMs, manifestLegsOf } from './manifest-inputs.ts';
import type { ManifestLock, S3ObjectStore, StoredObject } from './manifest-store.ts';
import { hashObject, readObjectBytes } from './object-hashing.ts';
import { setLegalHoldOnAllVersions } from './object-legal-holds.ts';
import type { ObjectLockProbe } from './object-legal-holds.ts';
import type { SigningKey } from './signing-key.ts';
import { SinkError } from './sink-errors.ts';
import type { SinkErrorCode } from './sink-records.ts';
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
  /** Whether a bucket has Object Lock (asked only for conversations that have legal holds). */
  objectLock: ObjectLockProbe;
  /** Name of the legal-holds topic (the manifest's `legal_hold_status.source`). */
  legalHoldsTopic: string;
}>;

/** What a reconcile did, for logs, metrics and tests. `skipped`: inputs unchanged, no S3 request made. */
export type ReconcileResult = Readonly<{
  written: number;
  unchanged: number;
  deadLettered: number;
  skipped: number;
}>;

type Reads = {
  audioHash: ObjectHash | null;
  /** `oversized`: over MAX_METADATA_BYTES, hashed but not parsed. */
  metadata: Readonly<{ bytes: Buffer; hash: ObjectHash; oversized: boolean }> | 'missing';
};

const NO_HOLD_SOURCE = 'custody (no legal-hold event for this conversation)';

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

/**
 * Reads (and where needed hashes) the recording's objects. Audio is hashed once per version, then taken from state.
 * The audio and the metadata are read at the same time: against a remote S3 each read is a round trip or more, and
 * a partition's recordings are processed one after another.
 */
async function readObjects(rec: RecordingState, deps: ReconcileDeps): Promise<Reads> {
  const audio = async (): Promise<ObjectHash | null> => {
    if (rec.audioHash !== null || rec.audio === null) return rec.audioHash;
    const read = await hashObject(deps.s3, rec.bucket, rec.audio.object);
    return read.status === 'read' ? hashOf(rec.audio.object, read.value.sha256, read.value.size, deps) : null;
  };
  const metadata = async (): Promise<Reads['metadata']> => {
    if (rec.metadata === null) return 'missing';
    const read = await readObjectBytes(deps.s3, rec.bucket, rec.metadata.object, MAX_METADATA_BYTES);
    if (read.status !== 'read') return 'missing';
    const computed = hashOf(rec.metadata.object, read.value.sha256, read.value.size, deps);
    const stored = rec.metadataHash;
    return {
      bytes: read.value.bytes,
      hash: stored !== null && stored.sha256 === computed.sha256 ? stored : computed,
      oversized: read.value.truncated,
    };
  };
  const [audioHash, metadataRead] = await Promise.all([audio(), metadata()]);
  return { audioHash, metadata: metadataRead };
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
 * Digest of everything a recording's manifest is built from besides the current manifest itself: the tags, the
 * recording's export facts and hashes, and the custody version that builds it (an upgrade re-checks each manifest
 * once, on its conversation's next input).
 */
export function inputsDigest(
  tags: SessionTagsState | undefined,
  rec: RecordingState,
  version: string,
  holds?: LegalHoldsState,
): string {
  // Holds are left out when there are none, so digests of conversations never held stay what they were.
  const recording = { ...rec, announced: null };
  return sha256Hex(
    partsBytes(
      holds === undefined
        ? { tags: tags ?? null, recording, version }
        : { tags: tags ?? null, recording, version, holds },
    ),
  );
}

/**
 * Brings the S3 Object Lock legal holds of a recording's objects in line with its conversation's holds, before the
 * manifest that states them is written: ON on every version of the audio, metadata and manifest while any matter
 * holds the conversation; OFF on all of them once the last matter released it (the manifest versions stay held
 * when every manifest version is held anyway, CUSTODY_MANIFEST_LEGAL_HOLD). Returns the manifest's legal-hold
 * input, `enforced: false` when a bucket has no Object Lock.
 */
async function syncLegalHolds(
  holds: LegalHoldsState | undefined,
  rec: RecordingState,
  manifest: Readonly<{ bucket: string; key: string }>,
  deps: ReconcileDeps,
): Promise<LegalHoldInput> {
  const source = deps.legalHoldsTopic;
  const status = legalHoldInputOf(holds, source, true);
  if (status.status === 'none')
    return { status: 'none', source: holds === undefined ? NO_HOLD_SOURCE : source };
  const objects = [rec.audio, rec.metadata].flatMap((d) => (d === null ? [] : [d.object.key]));
  const lockable =
    (await deps.objectLock.enabled(rec.bucket)) && (await deps.objectLock.enabled(manifest.bucket));
  if (!lockable) return legalHoldInputOf(holds, source, false);
  const on = status.status === 'on';
  for (const key of objects) await setLegalHoldOnAllVersions(deps.s3, rec.bucket, key, on ? 'ON' : 'OFF');
  if (on || deps.options.lock?.legalHold !== true) {
    await setLegalHoldOnAllVersions(deps.s3, manifest.bucket, manifest.key, on ? 'ON' : 'OFF');
  }
  return status;
}

/**
 * Reconciles every recording of a conversation. Returns the exports state with what it learnt (hashes, the
 * versions announced and the inputs they were built from), for the caller to merge into the join state. Throws
 * {@link SinkError} (retriable or not) or S3 errors; a recording whose manifest cannot be built is dead-lettered
 * and the others proceed.
 */
export async function reconcile(
  tags: SessionTagsState | undefined,
  exports: ExportsState,
  holds: LegalHoldsState | undefined,
  deps: ReconcileDeps,
): Promise<Readonly<{ result: ReconcileResult; exports: ExportsState }>> {
  const conversationId = exports.conversationId;
  const version = deps.generatedBy.version;
  let written = 0;
  let unchanged = 0;
  let deadLettered = 0;
  let skipped = 0;
  const learnt: Record<string, RecordingState> = {};
  for (const [rid, before] of Object.entries(exports.recordings)) {
    if (before.announced !== null && before.announced.inputs === inputsDigest(tags, before, version, holds)) {
      skipped++;
      continue;
    }
    const r = await readObjects(before, deps);
    const withHashes = (reads: Reads): RecordingState => ({
      ...before,
      audioHash: reads.audioHash,
      metadataHash: reads.metadata === 'missing' ? before.metadataHash : reads.metadata.hash,
    });
    const rec = withHashes(r);
    if (rec.audioHash !== before.audioHash || rec.metadataHash !== before.metadataHash) learnt[rid] = rec;
    const outcome = await reconcileRecording(conversationId, rid, rec, r, tags, holds, deps);
    if (outcome.kind === 'dead-letter') {
      await deps.deadLetter(outcome.code, outcome.reason);
      deadLettered++;
      continue;
    }
    if (outcome.kind === 'written') written++;
    else unchanged++;
    // The hashes the manifest reports (an earlier writer's, when it hashed the same object versions first).
    const built = withHashes(outcome.reads);
    learnt[rid] = {
      ...built,
      announced: { ...outcome.announced, inputs: inputsDigest(tags, built, version, holds) },
    };
  }
  return {
    result: { written, unchanged, deadLettered, skipped },
    exports: { format: EXPORTS_FORMAT, conversationId, recordings: learnt },
  };
}

type RecordingOutcome =
  | Readonly<{ kind: 'written' | 'unchanged'; announced: Omit<Announced, 'inputs'>; reads: Reads }>
  | Readonly<{ kind: 'dead-letter'; code: SinkErrorCode; reason: string }>;

function previousWrittenOf(current: Current | undefined): CustodyEntry[] {
  return current === undefined
    ? []
    : current.manifest.chain_of_custody.filter((e) => e.event === 'manifest_written');
}

/**
 * The hash the current manifest reports for an object, when it is the very object version this reconcile hashed
 * (same key, version id, SHA-256 and size): another writer (the instance that held the partition before a
 * rebalance, or `custody backfill`) hashed it first, and that earlier hash, with its time and actor, is the fact
 * the chain already records. Adopting it keeps a rebuild from the same inputs materially identical instead of
 * writing a new version that differs only in when the same bytes were hashed again.
 */
function hashRecordedIn(
  manifest: SealedManifest,
  event: 'audio_hashed' | 'metadata_hashed',
  bucket: string,
  object: ExportedObject,
  ours: ObjectHash,
): ObjectHash {
  for (const e of manifest.chain_of_custody) {
    if (e.event !== event || e.actor.kind !== 'custody' || e.evidence === null || !('s3' in e.evidence))
      continue;
    const where = e.evidence.s3;
    if (where.bucket !== bucket || where.key !== object.key || where.version_id !== object.versionId)
      continue;
    if (e.detail?.sha256 !== ours.sha256 || e.detail.size !== ours.size) continue;
    const at = Date.parse(e.at);
    if (!Number.isFinite(at)) continue;
    return { ...ours, hashedAtMs: at, instance: e.actor.instance, version: e.actor.version };
  }
  return ours;
}

/** `reads` with the hashes the current manifest already records for the same object versions. */
function adoptRecordedHashes(rec: RecordingState, reads: Reads, manifest: SealedManifest): Reads {
  const audioHash =
    reads.audioHash === null || rec.audio === null
      ? reads.audioHash
      : hashRecordedIn(manifest, 'audio_hashed', rec.bucket, rec.audio.object, reads.audioHash);
  let metadata = reads.metadata;
  if (metadata !== 'missing' && rec.metadata !== null) {
    const hash = hashRecordedIn(manifest, 'metadata_hashed', rec.bucket, rec.metadata.object, metadata.hash);
    if (hash !== metadata.hash) metadata = { ...metadata, hash };
  }
  return audioHash === reads.audioHash && metadata === reads.metadata ? reads : { audioHash, metadata };
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
  hashed: Reads,
  tags: SessionTagsState | undefined,
  holds: LegalHoldsState | undefined,
  deps: ReconcileDeps,
): Promise<RecordingOutcome> {
  let reads = hashed;
  const { options } = deps;
  const exportKey = exportKeyOf(rec, options.exportPrefix);
  const bucket = options.manifestBucket ?? rec.bucket;
  const key = manifestKeyFor(exportKey, options.manifestPrefix);
  const legalHold = await syncLegalHolds(holds, rec, { bucket, key }, deps);
  // While held, every manifest version is written under legal hold (on top of any configured lock).
  const lock =
    legalHold.status === 'on' && legalHold.enforced === true
      ? { ...options.lock, legalHold: true }
      : options.lock;
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
  const legs = manifestLegsOf(tags?.snapshot);

  const build = (
    version: number,
    previous: string | null,
    generatedBy: GeneratedBy,
    previousWritten: readonly CustodyEntry[],
  ): Manifest | string => {
    const timeline = buildCustodyTimeline([
      ...custodyEntries({
        tags,
        recording: rec,
        audioHash: audio === null ? null : reads.audioHash,
        metadataHash:
          metadata.status === 'missing' || reads.metadata === 'missing' ? null : reads.metadata.hash,
        previousWritten,
      }),
      ...legalHoldCustodyEntries(holds),
    ]);
    if (!timeline.ok) return `custody timeline invalid: ${timeline.error.detail}`;
    const manifest = buildManifest({
      exportKey,
      metadata,
      audio,
      legs,
      legalHold,
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
    if (current !== undefined) reads = adoptRecordedHashes(rec, hashed, current.manifest);
    if (current !== undefined) {
      const m = current.manifest;
      // Materially identical = the same body when built as the current version by the current writer.
      const same = build(m.manifest_version, m.previous_manifest_sha256, m.generated_by, prior);
      if (typeof same === 'string')
        return { kind: 'dead-letter', code: 'CUSTODY_SINK_MANIFEST_INVALID', reason: same };
      if (manifestSha256(same) === m.integrity.manifest_sha256) {
        const announced = await announceIfNeeded(rec, bucket, key, current, deps);
        return { kind: 'unchanged', announced, reads };
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
      { lock },
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
      reads,
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
): Promise<Omit<Announced, 'inputs'>> {
  const m = current.manifest;
  if (rec.announced !== null && rec.announced.manifestVersion >= m.manifest_version) return rec.announced;
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
