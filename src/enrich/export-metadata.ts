/**
 * Validation of the `{recordingId}.opus_metadata.json` file that Genesys's S3 export writes beside each recording.
 *
 * The official schema is only partly published (research/genesys.md §1.4): mediaType, mediaSubtype, provider and
 * userIds are documented; conversationId, recordingId, startTime, endTime, durationMs and initialDirection are what
 * real files are observed to carry. Which of them are always present is UNCONFIRMED; this module requires the ones
 * the manifest needs and type-checks the optional ones when present (`null` counts as absent).
 *
 * Unknown fields are KEPT: Genesys may add fields, and the manifest carries the metadata verbatim. The SHA-256 is
 * over the exact bytes (not a re-serialisation), so the manifest proves which file it describes.
 */
import { z } from 'zod';
import { canonicalProblem } from './canonical-json.ts';
import type { JsonObject } from './canonical-json.ts';
import type { ExportKey } from './export-layout.ts';
import { sha256Hex } from './sha256.ts';
import { err, ok } from './result.ts';
import type { Result } from './result.ts';

/** The fields custody uses, type-checked. Optional ones are `null` when absent. */
export type ExportMetadataFields = Readonly<{
  mediaType: string;
  mediaSubtype: string | null;
  provider: string | null;
  userIds: readonly string[] | null;
  conversationId: string;
  recordingId: string;
  /** As written by Genesys (ISO-8601 with offset); not normalised. */
  startTime: string;
  endTime: string;
  durationMs: number;
  initialDirection: string | null;
}>;

/** A valid metadata file. */
export type ExportMetadata = Readonly<{
  fields: ExportMetadataFields;
  /** The parsed JSON object, every field kept. */
  verbatim: JsonObject;
  /** Lower-case hex SHA-256 of the exact bytes. */
  sha256: string;
  /** Byte length of the file. */
  size: number;
}>;

/** Stable codes for {@link MetadataFailure}. */
export type MetadataFailureReason =
  'not-utf8' | 'not-json' | 'not-an-object' | 'not-i-json' | 'schema' | 'id-mismatch' | 'too-large';

/**
 * Largest metadata file read. Genesys's are about a kilobyte; a larger one is evidence of something else and is
 * hashed in full but not read into memory or embedded.
 */
export const MAX_METADATA_BYTES = 1024 * 1024;

/** The failure of a metadata file over MAX_METADATA_BYTES (hashed while streaming, never parsed). */
export function oversizedMetadata(sha256: string, size: number): MetadataFailure {
  return {
    reason: 'too-large',
    detail: `metadata is ${size} bytes, over the ${MAX_METADATA_BYTES}-byte limit; hashed, not parsed`,
    issues: [],
    sha256,
    size,
  };
}

/** Why a metadata file was rejected. Carries the bytes' hash, so an invalid file is still identified as evidence. */
export type MetadataFailure = Readonly<{
  reason: MetadataFailureReason;
  /** A sentence without payload values (field names and rule violations only). */
  detail: string;
  /** Schema issues as JSON-path-ish strings and messages; empty for other reasons. */
  issues: readonly Readonly<{ path: string; message: string }>[];
  sha256: string;
  size: number;
}>;

const optionalString = z.string().nullish();
const isoWithOffset = z.iso.datetime({ offset: true });

// Loose: unknown members pass through untouched (they are kept verbatim anyway).
const metadataSchema = z.looseObject({
  mediaType: z.string().min(1),
  mediaSubtype: optionalString,
  provider: optionalString,
  userIds: z.array(z.string()).nullish(),
  conversationId: z.string().min(1),
  recordingId: z.string().min(1),
  startTime: isoWithOffset,
  endTime: isoWithOffset,
  durationMs: z.number().nonnegative(),
  initialDirection: optionalString,
});

const BOM = '\uFEFF';

/**
 * Parses and validates the bytes of a `*.opus_metadata.json` object against the key it was read from.
 *
 * Checks, in order: UTF-8 (a leading BOM is tolerated), JSON, a JSON object, I-JSON (canonicalisable, so the
 * manifest can embed it), the field types above, and that `conversationId`/`recordingId` equal the key's ids
 * (case-insensitively; the key's ids are already lower-case). Pure; never throws.
 */
export function parseExportMetadata(
  bytes: Uint8Array,
  key: Pick<ExportKey, 'conversationId' | 'recordingId'>,
): Result<ExportMetadata, MetadataFailure> {
  const sha256 = sha256Hex(bytes);
  const size = bytes.byteLength;
  const fail = (
    reason: MetadataFailureReason,
    detail: string,
    issues: MetadataFailure['issues'] = [],
  ): Result<never, MetadataFailure> => err({ reason, detail, issues, sha256, size });

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return fail('not-utf8', 'metadata is not valid UTF-8');
  }
  if (text.startsWith(BOM)) text = text.slice(BOM.length);

  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // The parser's message can quote payload text; keep the detail generic.
    return fail('not-json', 'metadata is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return fail('not-an-object', 'metadata JSON is not an object');
  }
  const problem = canonicalProblem(parsed);
  if (problem !== undefined) {
    // The problem names a JSON pointer and a rule (lone surrogate, nesting depth), never a value.
    return fail('not-i-json', `metadata is not I-JSON: ${problem}`);
  }

  const checked = metadataSchema.safeParse(parsed);
  if (!checked.success) {
    const issues = checked.error.issues.map((issue) => ({
      path: issue.path.map(String).join('.'),
      message: issue.message,
    }));
    return fail(
      'schema',
      `metadata fields invalid: ${issues.map((i) => i.path || '(root)').join(', ')}`,
      issues,
    );
  }
  const m = checked.data;
  const mismatched = [
    m.conversationId.toLowerCase() !== key.conversationId ? 'conversationId' : undefined,
    m.recordingId.toLowerCase() !== key.recordingId ? 'recordingId' : undefined,
  ].filter((x): x is string => x !== undefined);
  if (mismatched.length > 0) {
    return fail('id-mismatch', `metadata ${mismatched.join(' and ')} differ(s) from the S3 key`);
  }

  return ok({
    fields: {
      mediaType: m.mediaType,
      mediaSubtype: m.mediaSubtype ?? null,
      provider: m.provider ?? null,
      userIds: m.userIds ?? null,
      conversationId: m.conversationId,
      recordingId: m.recordingId,
      startTime: m.startTime,
      endTime: m.endTime,
      durationMs: m.durationMs,
      initialDirection: m.initialDirection ?? null,
    },
    verbatim: parsed as JsonObject,
    sha256,
    size,
  });
}
