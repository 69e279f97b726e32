/**
 * Runtime schemas of the manifest body and the sealed manifest, for `buildManifest` (never emit an invalid
 * manifest) and `verifyManifest` (is the file manifest-shaped). `schemas/manifest.v1.schema.json` states the
 * same shape as JSON Schema 2020-12 for readers outside custody; a test keeps the two in agreement.
 */
import { z } from 'zod';
import { UTC_MILLIS, custodyEntrySchema } from './custody-entry.ts';

/** Shared with manifest-guards.ts, the hand-written fast path in front of {@link manifestSchema}. */
export const SHA256_HEX_RE = /^[0-9a-f]{64}$/;
export const UUID_LOWER_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const nonEmpty = z.string().min(1);
const sha256Hex = z.string().regex(SHA256_HEX_RE);
const utcMillis = z.string().regex(UTC_MILLIS);
const isoWithOffset = z.iso.datetime({ offset: true });
const uuid = z.string().regex(UUID_LOWER_RE);

const tagField = z
  .strictObject({
    value: z.union([z.string(), z.boolean(), z.null()]),
    provenance: z.enum(['live', 'reconciled', 'absent']),
    captured_at: utcMillis.nullable(),
    source: nonEmpty.nullable(),
    absence: z
      .strictObject({
        reason: z.enum(['not_provided_by_genesys', 'not_captured', 'no_leg']),
        source: nonEmpty.nullable(),
        checked_at: utcMillis.nullable(),
      })
      .optional(),
  })
  .refine((f) => f.absence === undefined || f.provenance === 'absent', {
    message: 'only an absent field says why it is absent',
  })
  .refine(
    (f) =>
      f.provenance === 'absent'
        ? f.value === null && f.captured_at === null && f.source === null
        : f.captured_at !== null && f.source !== null,
    { message: 'absent fields carry only nulls; captured fields carry captured_at and source' },
  );

const s3Ref = z.strictObject({
  bucket: nonEmpty,
  key: nonEmpty,
  version_id: nonEmpty.nullable(),
  etag: nonEmpty,
  last_modified: utcMillis,
});

const participant = z.strictObject({
  participant_id: z.string().nullable(),
  communication_id: z.string().nullable(),
  user_id: z.string().nullable(),
  purpose: z.string().nullable(),
  direction: z.string().nullable(),
  station_id: z.string().nullable(),
  station_type: z.string().nullable(),
  is_webrtc: z.boolean().nullable(),
  peer_id: z.string().nullable(),
  provider: z.string().nullable(),
  self_address: z.string().nullable(),
  other_address: z.string().nullable(),
  client_ip: z.string().nullable(),
  connected_time: z.string().nullable(),
  disconnected_time: z.string().nullable(),
  persistent_connection_state: z.string().nullable(),
  recording: z.boolean().nullable(),
  state: z.string().optional(),
  disconnect_type: z.string().optional(),
  held: z.boolean().optional(),
  confined: z.boolean().optional(),
  muted: z.boolean().optional(),
  ever_held: z.boolean().optional(),
  ever_confined: z.boolean().optional(),
  ever_muted: z.boolean().optional(),
  start_hold_time: z.string().optional(),
  start_acw_time: z.string().optional(),
  end_acw_time: z.string().optional(),
  edge_id: z.string().optional(),
  protocol_call_id: z.string().optional(),
  error_code: z.string().optional(),
});

/** `integrity`, added by `sealManifest`. */
export const integritySchema = z.strictObject({
  algorithm: z.literal('Ed25519'),
  canonicalization: z.literal('RFC8785'),
  manifest_sha256: sha256Hex,
  previous_manifest_sha256: sha256Hex.nullable(),
  // 64 signature bytes in canonical standard base64: the last data character carries 2 bits, so only A/Q/g/w
  // (any other would decode to the same bytes and let the file change without breaking the signature).
  signature: z.string().regex(/^[A-Za-z0-9+/]{85}[AQgw]==$/),
  key_id: z.string().regex(/^[0-9a-f]{16}$/),
});

const bodyShape = {
  schema_version: z.literal(1),
  org_id: uuid,
  conversation_id: uuid,
  recording_id: uuid,
  start_time: isoWithOffset.nullable(),
  end_time: isoWithOffset.nullable(),
  duration_ms: z.number().nonnegative().nullable(),
  webrtc: z.strictObject({
    selection: z.strictObject({
      rule: nonEmpty,
      candidates: z.number().int().nonnegative(),
      participant_id: z.string().nullable(),
      communication_id: z.string().nullable(),
      user_id: z.string().nullable(),
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
  participants: z.array(participant),
  legal_hold_status: z.strictObject({
    status: z.enum(['none', 'on', 'released']),
    matter: nonEmpty.nullable(),
    applied_at: utcMillis.nullable(),
    released_at: utcMillis.nullable(),
    source: nonEmpty,
    matters: z
      .array(
        z.strictObject({
          matter: nonEmpty,
          status: z.enum(['on', 'released']),
          applied_at: utcMillis,
          applied_by: nonEmpty,
          released_at: utcMillis.nullable(),
          released_by: nonEmpty.nullable(),
          reason: nonEmpty.nullable(),
        }),
      )
      .optional(),
    enforced: z.boolean().optional(),
  }),
  chain_of_custody: z.array(custodyEntrySchema),
  genesys_metadata: z.strictObject({
    status: z.enum(['valid', 'invalid', 'missing']),
    verbatim: z.record(z.string(), z.json()).nullable(),
    sha256: sha256Hex.nullable(),
    failure: z.strictObject({ reason: nonEmpty, detail: nonEmpty }).nullable(),
    s3: s3Ref.extend({ size: z.number().int().nonnegative() }).nullable(),
  }),
  audio: z.strictObject({ sha256: sha256Hex, size: z.number().int().nonnegative(), s3: s3Ref }).nullable(),
  completeness: z.strictObject({
    status: z.enum(['complete', 'incomplete']),
    missing: z.array(z.strictObject({ field: nonEmpty, reason: nonEmpty })),
  }),
  manifest_version: z.number().int().positive(),
  previous_manifest_sha256: sha256Hex.nullable(),
  generated_by: z.strictObject({ component: nonEmpty, version: nonEmpty, instance: nonEmpty }),
};

type Body = z.infer<z.ZodObject<typeof bodyShape>>;

/**
 * Rules between fields that JSON Schema can state only awkwardly; also enforced in the JSON Schema. Exported for
 * manifest-guards.ts, which must apply exactly these rules.
 */
export function crossFieldIssues(m: Body): string[] {
  const issues: string[] = [];
  if ((m.manifest_version === 1) !== (m.previous_manifest_sha256 === null)) {
    issues.push('previous_manifest_sha256 must be null exactly when manifest_version is 1');
  }
  if ((m.completeness.status === 'complete') !== (m.completeness.missing.length === 0)) {
    issues.push('completeness.status must be complete exactly when nothing is missing');
  }
  const g = m.genesys_metadata;
  const shapeOk =
    g.status === 'valid'
      ? g.verbatim !== null && g.sha256 !== null && g.s3 !== null && g.failure === null
      : g.status === 'invalid'
        ? g.verbatim === null && g.sha256 !== null && g.s3 !== null && g.failure !== null
        : g.verbatim === null && g.sha256 === null && g.s3 === null && g.failure === null;
  if (!shapeOk) issues.push(`genesys_metadata fields do not fit status ${g.status}`);
  const h = m.legal_hold_status;
  const holdOk =
    h.status === 'none'
      ? h.matter === null && h.applied_at === null && h.released_at === null
      : h.matter !== null && h.applied_at !== null && (h.status === 'released') === (h.released_at !== null);
  if (!holdOk) issues.push(`legal_hold_status fields do not fit status ${h.status}`);
  return issues;
}

function refine(m: Body, ctx: z.RefinementCtx): void {
  for (const message of crossFieldIssues(m)) ctx.addIssue({ code: 'custom', message });
}

/** The manifest body (what is hashed and signed). */
export const manifestSchema = z.strictObject(bodyShape).superRefine(refine);

/** A sealed manifest: the body plus `integrity`. */
export const sealedManifestSchema = z
  .strictObject({ ...bodyShape, integrity: integritySchema })
  .superRefine(refine);
