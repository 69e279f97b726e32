/**
 * The hand-written fast path in front of `manifestSchema` (manifest-schema.ts, which stays the specification):
 * `isManifestBody` answers true only when the schema would accept the body and give it back deep-equal (see
 * data-guards.ts). buildManifest runs the schema whenever it answers false, so failures read exactly as before.
 * test/unit/enrich/manifest-guards.test.ts compares the two on built manifests and on many damaged copies of them.
 * Change the schema and this file together.
 */
import { UTC_MILLIS, isCustodyEntryShape } from './custody-entry.ts';
import type { Guard } from './data-guards.ts';
import {
  ISO_DATETIME_WITH_OFFSET,
  array,
  boolean,
  finiteNumber,
  integer,
  isJsonRecord,
  nullable,
  oneOf,
  prototypesAreClean,
  strictObject,
  string,
} from './data-guards.ts';
import type { Manifest } from './manifest.ts';
import { SHA256_HEX_RE, UUID_LOWER_RE, crossFieldIssues } from './manifest-schema.ts';

const anyString = string();
const nonEmpty = string(1);
const sha256Hex = string(0, Infinity, SHA256_HEX_RE);
const utcMillis = string(0, Infinity, UTC_MILLIS);
const isoWithOffset = string(0, Infinity, ISO_DATETIME_WITH_OFFSET);
const uuid = string(0, Infinity, UUID_LOWER_RE);
const count = integer(0);

const tagShape = strictObject(
  {
    value: (v) => v === null || typeof v === 'string' || typeof v === 'boolean',
    provenance: oneOf(['live', 'reconciled', 'absent']),
    captured_at: nullable(utcMillis),
    source: nullable(nonEmpty),
  },
  {
    absence: strictObject({
      reason: oneOf(['not_provided_by_genesys', 'not_captured', 'no_leg']),
      source: nullable(nonEmpty),
      checked_at: nullable(utcMillis),
    }),
  },
);

/** The schema's tagField with its two refinements. */
const tagField: Guard = (v) => {
  if (!tagShape(v)) return false;
  if (v.absence !== undefined && v.provenance !== 'absent') return false;
  return v.provenance === 'absent'
    ? v.value === null && v.captured_at === null && v.source === null
    : v.captured_at !== null && v.source !== null;
};

const s3Fields = {
  bucket: nonEmpty,
  key: nonEmpty,
  version_id: nullable(nonEmpty),
  etag: nonEmpty,
  last_modified: utcMillis,
};
const s3Ref = strictObject(s3Fields);

const nullableString = nullable(anyString);
const nullableBoolean = nullable(boolean);
const participant = strictObject(
  {
    participant_id: nullableString,
    communication_id: nullableString,
    user_id: nullableString,
    purpose: nullableString,
    direction: nullableString,
    station_id: nullableString,
    station_type: nullableString,
    is_webrtc: nullableBoolean,
    peer_id: nullableString,
    provider: nullableString,
    self_address: nullableString,
    other_address: nullableString,
    client_ip: nullableString,
    connected_time: nullableString,
    disconnected_time: nullableString,
    persistent_connection_state: nullableString,
    recording: nullableBoolean,
  },
  {
    state: anyString,
    disconnect_type: anyString,
    held: boolean,
    confined: boolean,
    muted: boolean,
    ever_held: boolean,
    ever_confined: boolean,
    ever_muted: boolean,
    start_hold_time: anyString,
    start_acw_time: anyString,
    end_acw_time: anyString,
    edge_id: anyString,
    protocol_call_id: anyString,
    error_code: anyString,
  },
);

const bodyShape = strictObject({
  schema_version: oneOf([1]),
  org_id: uuid,
  conversation_id: uuid,
  recording_id: uuid,
  start_time: nullable(isoWithOffset),
  end_time: nullable(isoWithOffset),
  duration_ms: nullable((v) => finiteNumber(v) && (v as number) >= 0),
  webrtc: strictObject({
    selection: strictObject({
      rule: nonEmpty,
      candidates: count,
      participant_id: nullableString,
      communication_id: nullableString,
      user_id: nullableString,
    }),
    is_webrtc: tagField,
    webrtc_session_id: tagField,
    client_ip: tagField,
    station_id: tagField,
    station_type: tagField,
    peer_id: tagField,
    provider: tagField,
    self_address: tagField,
    other_address: tagField,
    persistent_connection_state: tagField,
  }),
  participants: array(participant),
  legal_hold_status: strictObject(
    {
      status: oneOf(['none', 'on', 'released']),
      matter: nullable(nonEmpty),
      applied_at: nullable(utcMillis),
      released_at: nullable(utcMillis),
      source: nonEmpty,
    },
    {
      matters: array(
        strictObject({
          matter: nonEmpty,
          status: oneOf(['on', 'released']),
          applied_at: utcMillis,
          applied_by: nonEmpty,
          released_at: nullable(utcMillis),
          released_by: nullable(nonEmpty),
          reason: nullable(nonEmpty),
        }),
      ),
      enforced: boolean,
    },
  ),
  chain_of_custody: array(isCustodyEntryShape),
  genesys_metadata: strictObject({
    status: oneOf(['valid', 'invalid', 'missing']),
    verbatim: (v) => v === null || isJsonRecord(v),
    sha256: nullable(sha256Hex),
    failure: nullable(strictObject({ reason: nonEmpty, detail: nonEmpty })),
    s3: nullable(strictObject({ ...s3Fields, size: count })),
  }),
  audio: nullable(strictObject({ sha256: sha256Hex, size: count, s3: s3Ref })),
  completeness: strictObject({
    status: oneOf(['complete', 'incomplete']),
    missing: array(strictObject({ field: nonEmpty, reason: nonEmpty })),
  }),
  manifest_version: integer(1),
  previous_manifest_sha256: nullable(sha256Hex),
  generated_by: strictObject({ component: nonEmpty, version: nonEmpty, instance: nonEmpty }),
});

/**
 * Whether `manifestSchema.safeParse(value)` would succeed with a value deep-equal to `value`. False may also mean
 * "not sure": the caller then asks the schema.
 */
export function isManifestBody(value: unknown): value is Manifest {
  return (
    prototypesAreClean() &&
    bodyShape(value) &&
    crossFieldIssues(value as Parameters<typeof crossFieldIssues>[0]).length === 0
  );
}
