/**
 * The S3 key layout of Genesys's "AWS S3 recording bulk actions" export, and where custody's manifest goes.
 *
 * Genesys writes (research/genesys.md §1.2–1.3):
 *   `[{prefix}/]{orgId}/year={Y}/month={M}/day={D}/hour={H}/conversation_id={conversationId}/{recordingId}.opus`
 *   and the sibling `{recordingId}.opus_metadata.json`.
 * The date is the conversation's start in UTC. Month is observed unpadded; day/hour padding is UNCONFIRMED, so
 * both `7` and `07` are accepted for month, day and hour (but not `007`, `+7` or ` 7`).
 *
 * Keys are classified three ways so the watcher can tell noise from trouble:
 * - an {@link ExportKey}: a valid audio or metadata key;
 * - `not-an-export`: some other object (a different file type, custody's own manifest, a folder marker, a key
 *   without the partition layout) — ignore it;
 * - `invalid`: looks like an export (export file name and partition segments) but breaks a rule (bad UUID, month
 *   13, `..`, unexpected segments) — report it, since an export may be going unprocessed.
 *
 * Keys must be given decoded: S3 event notifications URL-encode keys (`conversation_id%3D…`), and decoding is the
 * shell's job.
 */
import { err, ok } from './result.ts';
import type { Result } from './result.ts';

/** Which of the two Genesys export files a key names. */
export type ExportFileKind = 'audio' | 'metadata';

/** A parsed, valid export key. UUIDs are lower-cased; `key` keeps the key exactly as given. */
export type ExportKey = Readonly<{
  kind: ExportFileKind;
  /** The key exactly as given. */
  key: string;
  /** Bucket prefix before the org id, without a trailing slash; `''` for none. */
  prefix: string;
  orgId: string;
  year: number;
  month: number;
  day: number;
  hour: number;
  conversationId: string;
  recordingId: string;
  /** Start of the partition hour (the conversation's start hour, UTC) as `YYYY-MM-DDTHH:00:00.000Z`. */
  partitionHour: string;
}>;

/** Why a key was not accepted. `reason` is a stable code; `detail` is a human sentence without secrets. */
export type LayoutFailure = Readonly<{
  kind: 'not-an-export' | 'invalid';
  reason: LayoutFailureReason;
  detail: string;
  key: string;
}>;

/** Stable codes for {@link LayoutFailure}. */
export type LayoutFailureReason =
  | 'other-file-type'
  | 'custody-manifest'
  | 'folder-marker'
  | 'no-partition-layout'
  | 'outside-prefix'
  | 'bad-segment'
  | 'unexpected-segments'
  | 'bad-uuid'
  | 'bad-date';

/** Options for {@link parseExportKey}. */
export type ExportLayoutOptions = Readonly<{
  /**
   * The prefix the integration writes under, before `{orgId}` (e.g. `genesys/exports`); `''` (default) for none.
   * Slashes at either end are ignored. Keys outside it are `not-an-export`; extra segments inside it are `invalid`.
   */
  prefix?: string;
}>;

const AUDIO_SUFFIX = '.opus';
const METADATA_SUFFIX = '.opus_metadata.json';
const MANIFEST_SUFFIX = '.opus_manifest.json';
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
// Liberal about padding (UNCONFIRMED), strict about everything else.
const YEAR = /^year=(\d{4})$/;
const MONTH = /^month=(0?[1-9]|1[0-2])$/;
const DAY = /^day=(0?[1-9]|[12]\d|3[01])$/;
const HOUR = /^hour=(0?\d|1\d|2[0-3])$/;
const CONVERSATION = /^conversation_id=(.*)$/;

function fail(
  kind: LayoutFailure['kind'],
  reason: LayoutFailureReason,
  detail: string,
  key: string,
): Result<never, LayoutFailure> {
  return err({ kind, reason, detail, key });
}

function trimSlashes(prefix: string): string {
  return prefix.replace(/^\/+|\/+$/g, '');
}

/** Whether a path segment is unusable in a key we act on (empty from `//`, `.` or `..`). */
function isBadSegment(segment: string): boolean {
  return segment === '' || segment === '.' || segment === '..';
}

function daysInMonth(year: number, month: number): number {
  // Day 0 of the next month is the last day of this one; pure date arithmetic, not a clock read.
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

/**
 * Validates a key prefix from configuration (the export prefix or the manifest prefix).
 * @returns the prefix without surrounding slashes, or an `invalid` failure for `.`/`..`/empty inner segments.
 */
export function normalizeKeyPrefix(prefix: string): Result<string, LayoutFailure> {
  const trimmed = trimSlashes(prefix);
  if (trimmed === '') return ok('');
  if (trimmed.split('/').some(isBadSegment)) {
    return fail('invalid', 'bad-segment', 'prefix has an empty, "." or ".." segment', prefix);
  }
  return ok(trimmed);
}

function fileKind(name: string): ExportFileKind | 'manifest' | undefined {
  if (name.endsWith(METADATA_SUFFIX)) return 'metadata';
  if (name.endsWith(MANIFEST_SUFFIX)) return 'manifest';
  if (name.endsWith(AUDIO_SUFFIX)) return 'audio';
  return undefined;
}

/**
 * Parses an S3 key of the Genesys export layout.
 *
 * Pure; never throws. See the module comment for the three outcomes.
 */
export function parseExportKey(
  key: string,
  options: ExportLayoutOptions = {},
): Result<ExportKey, LayoutFailure> {
  if (key.endsWith('/')) return fail('not-an-export', 'folder-marker', 'key ends with "/"', key);
  const segments = key.split('/');
  const name = segments[segments.length - 1] ?? '';
  const kind = fileKind(name);
  if (kind === 'manifest') return fail('not-an-export', 'custody-manifest', 'a custody manifest', key);
  if (kind === undefined) {
    return fail('not-an-export', 'other-file-type', 'not a .opus or .opus_metadata.json file', key);
  }
  if (
    !segments.some((s) => s.startsWith('conversation_id=')) ||
    !segments.some((s) => s.startsWith('year='))
  ) {
    return fail('not-an-export', 'no-partition-layout', 'no year=/conversation_id= partition segments', key);
  }
  if (segments.some(isBadSegment)) {
    return fail('invalid', 'bad-segment', 'key has an empty, "." or ".." segment', key);
  }

  const prefixResult = normalizeKeyPrefix(options.prefix ?? '');
  if (!prefixResult.ok) return prefixResult;
  const prefix = prefixResult.value;
  const prefixSegments = prefix === '' ? [] : prefix.split('/');
  for (let i = 0; i < prefixSegments.length; i++) {
    if (segments[i] !== prefixSegments[i]) {
      return fail('not-an-export', 'outside-prefix', `key is not under the export prefix "${prefix}"`, key);
    }
  }
  const rest = segments.slice(prefixSegments.length);
  if (rest.length !== 7) {
    return fail(
      'invalid',
      'unexpected-segments',
      `expected {orgId}/year=/month=/day=/hour=/conversation_id=/{file} after the prefix, got ${rest.length} segments`,
      key,
    );
  }
  const [org = '', y = '', m = '', d = '', h = '', conv = ''] = rest;

  const yearMatch = YEAR.exec(y);
  const monthMatch = MONTH.exec(m);
  const dayMatch = DAY.exec(d);
  const hourMatch = HOUR.exec(h);
  const convMatch = CONVERSATION.exec(conv);
  if (!yearMatch || !monthMatch || !dayMatch || !hourMatch || !convMatch) {
    const which = [
      [yearMatch, 'year'],
      [monthMatch, 'month'],
      [dayMatch, 'day'],
      [hourMatch, 'hour'],
      [convMatch, 'conversation_id'],
    ]
      .filter(([match]) => !match)
      .map(([, label]) => label)
      .join(', ');
    const reason: LayoutFailureReason = convMatch ? 'bad-date' : 'unexpected-segments';
    return fail('invalid', reason, `bad or misplaced partition segment(s): ${which}`, key);
  }
  const year = Number(yearMatch[1]);
  const month = Number(monthMatch[1]);
  const day = Number(dayMatch[1]);
  const hour = Number(hourMatch[1]);
  if (day > daysInMonth(year, month)) {
    return fail('invalid', 'bad-date', `day ${day} does not exist in ${year}-${pad2(month)}`, key);
  }

  const rawConversationId = convMatch[1] ?? '';
  const suffix = kind === 'audio' ? AUDIO_SUFFIX : METADATA_SUFFIX;
  const rawRecordingId = name.slice(0, -suffix.length);
  for (const [label, value] of [
    ['orgId', org],
    ['conversationId', rawConversationId],
    ['recordingId', rawRecordingId],
  ] as const) {
    if (!UUID.test(value)) return fail('invalid', 'bad-uuid', `${label} is not a UUID`, key);
  }

  return ok({
    kind,
    key,
    prefix,
    orgId: org.toLowerCase(),
    year,
    month,
    day,
    hour,
    conversationId: rawConversationId.toLowerCase(),
    recordingId: rawRecordingId.toLowerCase(),
    partitionHour: `${year}-${pad2(month)}-${pad2(day)}T${pad2(hour)}:00:00.000Z`,
  });
}

/** The folder of an export key (everything before the file name, no trailing slash), exactly as in the key. */
function folderOf(exportKey: ExportKey): string {
  return exportKey.key.slice(0, exportKey.key.lastIndexOf('/'));
}

/** The file-name stem as it appears in the key (the recording id in its original case). */
function stemOf(exportKey: ExportKey): string {
  const name = exportKey.key.slice(exportKey.key.lastIndexOf('/') + 1);
  return name.slice(0, -(exportKey.kind === 'audio' ? AUDIO_SUFFIX : METADATA_SUFFIX).length);
}

/**
 * The audio and metadata keys of the recording a key names (one of them is `exportKey.key` itself). Derived from
 * the key as written, so the segments' original padding and case are kept.
 */
export function exportSiblingKeys(exportKey: ExportKey): Readonly<{ audioKey: string; metadataKey: string }> {
  const base = `${folderOf(exportKey)}/${stemOf(exportKey)}`;
  return { audioKey: `${base}${AUDIO_SUFFIX}`, metadataKey: `${base}${METADATA_SUFFIX}` };
}

/**
 * The key of the recording's manifest: `{recordingId}.opus_manifest.json` beside the audio, or — for users who
 * cannot write into the export prefix — the same path relative to the export prefix under `manifestPrefix`.
 *
 * @param manifestPrefix a prefix that passed {@link normalizeKeyPrefix}; `''` or omitted for "beside the audio".
 * @throws {RangeError} if `manifestPrefix` has `.`/`..`/empty segments (configuration must be validated first).
 */
export function manifestKeyFor(exportKey: ExportKey, manifestPrefix = ''): string {
  const normalized = normalizeKeyPrefix(manifestPrefix);
  if (!normalized.ok) throw new RangeError(`invalid manifest prefix: ${normalized.error.detail}`);
  const besideAudio = `${folderOf(exportKey)}/${stemOf(exportKey)}${MANIFEST_SUFFIX}`;
  if (normalized.value === '') return besideAudio;
  const relative = exportKey.prefix === '' ? besideAudio : besideAudio.slice(exportKey.prefix.length + 1);
  return `${normalized.value}/${relative}`;
}
