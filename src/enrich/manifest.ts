/**
 * The legal-discovery manifest of one exported recording (research/anchors.md §4.8): who and what the recording
 * is, the WebRTC session details Genesys's export lacks (with provenance), every participant leg, the legal-hold
 * status, the chain of custody, the Genesys metadata verbatim with its hash, the audio's hash, what is still
 * missing, and the manifest's place in its version chain.
 *
 * `buildManifest` is a pure function of its input: the same facts in any order (legs, custody entries) give the
 * same manifest and so the same canonical bytes. `manifest_version` and `previous_manifest_sha256` are in the
 * body, so the signature covers the hash chain. To decide whether anything changed, a writer rebuilds the
 * manifest with the CURRENT version's `manifest_version`/`previous_manifest_sha256` and compares hashes; only if
 * they differ does it write version + 1 pointing at the current hash.
 */
import { CanonicalJsonError, canonicalizeFrozen } from './canonical-json.ts';
import type { JsonObject } from './canonical-json.ts';
import type { CustodyTimeline } from './custody.ts';
import { UTC_MILLIS } from './custody-entry.ts';
import type { ExportKey } from './export-layout.ts';
import type { ExportMetadata, MetadataFailure } from './export-metadata.ts';
import { LEG_SELECTION_RULE, selectRecordingLeg, summarizeParticipants } from './manifest-legs.ts';
import type { CapturedTag, ManifestLegInput, ParticipantSummary } from './manifest-legs.ts';
import { isManifestBody } from './manifest-guards.ts';
import { manifestSchema } from './manifest-schema.ts';
import { err, ok } from './result.ts';
import type { Result } from './result.ts';

export type { CapturedTag, ManifestLegInput, ParticipantSummary } from './manifest-legs.ts';

export const MANIFEST_SCHEMA_VERSION = 1;

/** An S3 object version as read by the shell. `last_modified` is UTC ms ISO; `version_id` null if unversioned. */
export type S3ObjectRef = Readonly<{
  bucket: string;
  key: string;
  version_id: string | null;
  etag: string;
  last_modified: string;
}>;

/** The metadata object: parsed and valid, present but invalid, or not (yet) in S3. */
export type MetadataInput =
  | Readonly<{ status: 'valid'; metadata: ExportMetadata; s3: S3ObjectRef }>
  | Readonly<{ status: 'invalid'; failure: MetadataFailure; s3: S3ObjectRef }>
  | Readonly<{ status: 'missing' }>;

/** The audio object, hashed by the shell while streaming it. */
export type AudioInput = Readonly<{
  sha256: string;
  /** Bytes hashed. */
  size: number;
  s3: S3ObjectRef;
  /** The size the export listing reported for this object version; a different hashed size is a finding. */
  expectedSize?: number;
}>;

/** One matter's hold on a recording, as the manifest lists it. */
export type ManifestHoldMatter = Readonly<{
  matter: string;
  status: 'on' | 'released';
  applied_at: string;
  applied_by: string;
  released_at: string | null;
  released_by: string | null;
  reason: string | null;
}>;

/** What every held (or released) status may add: each matter, and whether S3 Object Lock enforces it. */
type HoldDetails = Readonly<{ matters?: readonly ManifestHoldMatter[]; enforced?: boolean }>;

/** Legal-hold state as known to custody (custody.legal-holds.v1, folded by the sink). */
export type LegalHoldInput =
  | Readonly<{ status: 'none'; source: string }>
  | (Readonly<{ status: 'on'; matter: string; applied_at: string; source: string }> & HoldDetails)
  | (Readonly<{
      status: 'released';
      matter: string;
      applied_at: string;
      released_at: string;
      source: string;
    }> &
      HoldDetails);

/** The custody process that builds the manifest. */
export type GeneratedBy = Readonly<{ component: string; version: string; instance: string }>;

/** Everything a manifest is built from. */
export type ManifestInput = Readonly<{
  exportKey: Pick<ExportKey, 'orgId' | 'conversationId' | 'recordingId'>;
  metadata: MetadataInput;
  audio: AudioInput | null;
  legs: readonly ManifestLegInput[];
  legalHold: LegalHoldInput;
  custody: CustodyTimeline;
  /** 1 for the first manifest of a recording, then +1 per new version. */
  manifestVersion: number;
  /** `integrity.manifest_sha256` of the previous version; null for version 1. */
  previousManifestSha256: string | null;
  generatedBy: GeneratedBy;
}>;

/**
 * Why a WebRTC field has no value:
 * - `not_provided_by_genesys`: custody captured the leg from a source whose Genesys model carries the field, and
 *   Genesys left it out (`source`/`checked_at` point at the first such capture);
 * - `not_captured`: custody holds no capture of the leg from a source that carries the field;
 * - `no_leg`: no leg of the conversation matches the recording, so there is nothing to read it from.
 */
export type AbsenceReason = 'not_provided_by_genesys' | 'not_captured' | 'no_leg';

export type ManifestAbsence = Readonly<{
  reason: AbsenceReason;
  source: string | null;
  checked_at: string | null;
}>;

/**
 * A session-tag field in the manifest; `absent` (all null) when never captured. In the `webrtc` section an absent
 * field also says why (`absence`).
 */
export type ManifestTagField = Readonly<{
  value: string | boolean | null;
  provenance: 'live' | 'reconciled' | 'absent';
  captured_at: string | null;
  source: string | null;
  absence?: ManifestAbsence;
}>;

/** The WebRTC section: the recording's leg (see manifest-legs.ts for the rule) and its session details. */
export type ManifestWebrtc = Readonly<{
  selection: Readonly<{
    rule: string;
    candidates: number;
    participant_id: string | null;
    communication_id: string | null;
    user_id: string | null;
  }>;
  is_webrtc: ManifestTagField;
  /** The call's communication id (the server-side session id; browser SDK session ids are not observable). */
  webrtc_session_id: ManifestTagField;
  /**
   * Genesys's `publicIpAddress` of the leg, or the REST `clientIpAddress` (`source` says which; meaning
   * UNCONFIRMED, research/genesys.md §6 q7). When empty, `absence.reason` says whether Genesys did not provide it.
   */
  client_ip: ManifestTagField;
  station_id: ManifestTagField;
  station_type: ManifestTagField;
  peer_id: ManifestTagField;
  provider: ManifestTagField;
  self_address: ManifestTagField;
  other_address: ManifestTagField;
  persistent_connection_state: ManifestTagField;
}>;

export type ManifestS3 = Readonly<{
  bucket: string;
  key: string;
  version_id: string | null;
  etag: string;
  last_modified: string;
}>;

export type ManifestGenesysMetadata = Readonly<{
  status: 'valid' | 'invalid' | 'missing';
  verbatim: JsonObject | null;
  sha256: string | null;
  failure: Readonly<{ reason: string; detail: string }> | null;
  s3: (ManifestS3 & Readonly<{ size: number }>) | null;
}>;

export type ManifestLegalHold = Readonly<{
  status: 'none' | 'on' | 'released';
  matter: string | null;
  applied_at: string | null;
  released_at: string | null;
  source: string;
  /** Every matter that holds or held the recording (absent in manifests before holds were consumed). */
  matters?: readonly ManifestHoldMatter[];
  /** Whether S3 Object Lock legal holds match `status` (false: the bucket has no Object Lock). */
  enforced?: boolean;
}>;

export type MissingItem = Readonly<{ field: string; reason: string }>;

/** The signed body of a manifest (everything but `integrity`). */
export type Manifest = Readonly<{
  schema_version: number;
  org_id: string;
  conversation_id: string;
  recording_id: string;
  start_time: string | null;
  end_time: string | null;
  duration_ms: number | null;
  webrtc: ManifestWebrtc;
  participants: readonly ParticipantSummary[];
  legal_hold_status: ManifestLegalHold;
  chain_of_custody: CustodyTimeline;
  genesys_metadata: ManifestGenesysMetadata;
  audio: Readonly<{ sha256: string; size: number; s3: ManifestS3 }> | null;
  completeness: Readonly<{ status: 'complete' | 'incomplete'; missing: readonly MissingItem[] }>;
  manifest_version: number;
  previous_manifest_sha256: string | null;
  generated_by: GeneratedBy;
}>;

/** Why a manifest could not be built: the input would give a manifest that breaks its own schema. */
export type ManifestFailure = Readonly<{ reason: 'invalid-input'; issues: readonly string[] }>;

/** WebRTC fields whose absence makes a WebRTC recording's manifest incomplete. */
export const REQUIRED_WEBRTC_FIELDS = [
  'webrtc_session_id',
  'client_ip',
  'station_id',
  'station_type',
] as const;

const ABSENT: ManifestTagField = { value: null, provenance: 'absent', captured_at: null, source: null };

function tagField(tag: CapturedTag<string | boolean> | undefined): ManifestTagField {
  if (tag === undefined) return ABSENT;
  return {
    value: tag.value,
    provenance: tag.provenance,
    captured_at: tag.firstCapturedAt,
    source: tag.source,
  };
}

function s3Of(ref: S3ObjectRef): ManifestS3 {
  return {
    bucket: ref.bucket,
    key: ref.key,
    version_id: ref.version_id,
    etag: ref.etag,
    last_modified: ref.last_modified,
  };
}

/** The field, or if absent the field with the reason why (see {@link AbsenceReason}). */
function webrtcField(
  leg: ManifestLegInput | undefined,
  tag: CapturedTag<string | boolean> | undefined,
  providedBy?: CapturedTag<boolean>,
): ManifestTagField {
  if (tag !== undefined) return tagField(tag);
  if (leg === undefined) return { ...ABSENT, absence: { reason: 'no_leg', source: null, checked_at: null } };
  if (providedBy !== undefined) {
    return {
      ...ABSENT,
      absence: {
        reason: 'not_provided_by_genesys',
        source: providedBy.source,
        checked_at: providedBy.firstCapturedAt,
      },
    };
  }
  return { ...ABSENT, absence: { reason: 'not_captured', source: null, checked_at: null } };
}

function webrtcOf(leg: ManifestLegInput | undefined, candidates: number): ManifestWebrtc {
  return {
    selection: {
      rule: LEG_SELECTION_RULE,
      candidates,
      participant_id: leg?.participantId?.value ?? null,
      communication_id: leg?.communicationId?.value ?? null,
      user_id: leg?.userId?.value ?? null,
    },
    is_webrtc: webrtcField(leg, leg?.isWebRtc),
    webrtc_session_id: webrtcField(leg, leg?.communicationId),
    client_ip: webrtcField(leg, leg?.publicIpAddress, leg?.clientIpSourceSeen),
    station_id: webrtcField(leg, leg?.stationId),
    station_type: webrtcField(leg, leg?.stationType),
    peer_id: webrtcField(leg, leg?.peerId),
    provider: webrtcField(leg, leg?.provider),
    self_address: webrtcField(leg, leg?.selfAddress),
    other_address: webrtcField(leg, leg?.otherAddress),
    persistent_connection_state: webrtcField(leg, leg?.persistentConnectionState),
  };
}

function genesysMetadataOf(input: MetadataInput): ManifestGenesysMetadata {
  switch (input.status) {
    case 'valid':
      return {
        status: 'valid',
        verbatim: input.metadata.verbatim,
        sha256: input.metadata.sha256,
        failure: null,
        s3: { ...s3Of(input.s3), size: input.metadata.size },
      };
    case 'invalid':
      return {
        status: 'invalid',
        verbatim: null,
        sha256: input.failure.sha256,
        failure: { reason: input.failure.reason, detail: input.failure.detail },
        s3: { ...s3Of(input.s3), size: input.failure.size },
      };
    case 'missing':
      return { status: 'missing', verbatim: null, sha256: null, failure: null, s3: null };
    default: {
      const exhaustive: never = input;
      return exhaustive;
    }
  }
}

function legalHoldOf(hold: LegalHoldInput): ManifestLegalHold {
  const base = {
    status: hold.status,
    matter: hold.status === 'none' ? null : hold.matter,
    applied_at: hold.status === 'none' ? null : hold.applied_at,
    released_at: hold.status === 'released' ? hold.released_at : null,
    source: hold.source,
  };
  if (hold.status === 'none') return base;
  // Optional members are left out rather than null, so manifests built without them keep their exact bytes.
  return {
    ...base,
    ...(hold.matters === undefined ? {} : { matters: [...hold.matters] }),
    ...(hold.enforced === undefined ? {} : { enforced: hold.enforced }),
  };
}

function missingOf(input: ManifestInput, webrtc: ManifestWebrtc): MissingItem[] {
  const missing: MissingItem[] = [];
  if (input.audio === null) missing.push({ field: 'audio', reason: 'object-missing' });
  else if (input.audio.size === 0) missing.push({ field: 'audio', reason: 'empty-object' });
  else if (input.audio.expectedSize !== undefined && input.audio.expectedSize !== input.audio.size)
    missing.push({ field: 'audio', reason: 'size-differs-from-export' });
  if (input.metadata.status === 'missing')
    missing.push({ field: 'genesys_metadata', reason: 'object-missing' });
  if (input.metadata.status === 'invalid') {
    missing.push({ field: 'genesys_metadata', reason: `invalid-${input.metadata.failure.reason}` });
  }
  if (input.legs.length === 0) {
    missing.push({ field: 'participants', reason: 'no-session-tags' });
    missing.push({ field: 'webrtc', reason: 'no-session-tags' });
  } else if (webrtc.selection.candidates === 0) {
    missing.push({ field: 'webrtc', reason: 'no-leg-matches-recording' });
  } else if (webrtc.is_webrtc.provenance === 'absent') {
    missing.push({ field: 'webrtc.is_webrtc', reason: 'not-captured' });
  } else if (webrtc.is_webrtc.value === true) {
    for (const field of REQUIRED_WEBRTC_FIELDS) {
      // A value Genesys did not send will never arrive: it is stated in the field's `absence`, not listed as
      // missing, because `incomplete` means custody is still waiting for something (and writes a new version).
      if (
        webrtc[field].provenance === 'absent' &&
        webrtc[field].absence?.reason !== 'not_provided_by_genesys'
      )
        missing.push({ field: `webrtc.${field}`, reason: 'not-captured' });
    }
  }
  return missing.sort((a, b) => (a.field === b.field ? 0 : a.field < b.field ? -1 : 1));
}

/**
 * Builds a manifest body from what custody knows about one recording.
 *
 * Pure and order-independent (see the module comment). The result is checked against the manifest schema, so
 * input that would give an invalid manifest (a tag time not in UTC milliseconds, a malformed hash, version 1 with
 * a previous hash) comes back as a failure value for the shell to dead-letter, never as a manifest to sign.
 */
export function buildManifest(input: ManifestInput): Result<Manifest, ManifestFailure> {
  const fields = input.metadata.status === 'valid' ? input.metadata.metadata.fields : undefined;
  const selection = selectRecordingLeg(input.legs, fields);
  const webrtc = webrtcOf(selection.leg, selection.candidates);
  const missing = missingOf(input, webrtc);

  const manifest: Manifest = {
    schema_version: MANIFEST_SCHEMA_VERSION,
    org_id: input.exportKey.orgId,
    conversation_id: input.exportKey.conversationId,
    recording_id: input.exportKey.recordingId,
    start_time: fields?.startTime ?? null,
    end_time: fields?.endTime ?? null,
    duration_ms: fields?.durationMs ?? null,
    webrtc,
    participants: summarizeParticipants(input.legs),
    legal_hold_status: legalHoldOf(input.legalHold),
    chain_of_custody: input.custody,
    genesys_metadata: genesysMetadataOf(input.metadata),
    audio:
      input.audio === null
        ? null
        : { sha256: input.audio.sha256, size: input.audio.size, s3: s3Of(input.audio.s3) },
    completeness: { status: missing.length === 0 ? 'complete' : 'incomplete', missing },
    manifest_version: input.manifestVersion,
    previous_manifest_sha256: input.previousManifestSha256,
    generated_by: {
      component: input.generatedBy.component,
      version: input.generatedBy.version,
      instance: input.generatedBy.instance,
    },
  };

  // The hand-written guard is the fast path; the schema runs only when it says no (and then says why).
  const checked = isManifestBody(manifest) ? undefined : manifestSchema.safeParse(manifest);
  if (checked !== undefined && !checked.success) {
    return err({
      reason: 'invalid-input',
      issues: checked.error.issues.map(
        (i) => `${i.path.map(String).join('.') || '(manifest)'}: ${i.message}`,
      ),
    });
  }
  try {
    canonicalizeFrozen(manifest); // kept: sealing and hashing it use the same text
  } catch (e) {
    if (!(e instanceof CanonicalJsonError)) throw e;
    return err({
      reason: 'invalid-input',
      issues: ['(manifest): not I-JSON (a string holds a lone surrogate)'],
    });
  }
  return ok(manifest);
}

/** Whether `text` is the manifest's time form (UTC ms ISO); for shells preparing `S3ObjectRef.last_modified`. */
export function isManifestTime(text: string): boolean {
  return UTC_MILLIS.test(text);
}
