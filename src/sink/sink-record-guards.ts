/**
 * Hand-written fast paths in front of the sink's input schemas: `sessionTagsSnapshotSchema` (join-state.ts) and
 * the recording-export schema (sink-records.ts), which stay the specification. A guard answers true only when its
 * schema would accept the record and give it back deep-equal (see src/enrich/data-guards.ts); on false the
 * validator runs the schema as before, so dead-letter reasons do not change. The bounds and patterns below copy
 * the schemas'; test/unit/sink/sink-record-guards.test.ts compares guard and schema on realistic records, on their
 * boundaries and on many damaged copies. Change a schema and its guard together.
 */
import type { Guard } from '../enrich/data-guards.ts';
import {
  array,
  boolean,
  integer,
  nullable,
  oneOf,
  prototypesAreClean,
  strictObject,
  string,
} from '../enrich/data-guards.ts';
import { legFieldsByKind } from '../enrich/session-tags.ts';
import type { SessionTagsSnapshot } from '../enrich/session-tags.ts';
import type { RecordingExport } from '../kafka/avro-codec.ts';

const UUID_LOWER = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const UTC_HOUR = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):00:00\.000Z$/;
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
/** Epoch ms that `Date` can represent. */
const epochMs = integer(0, 8_640_000_000_000_000);
const uuidLower = string(0, Infinity, UUID_LOWER);

// --- session-tags snapshot (join-state.ts) ---------------------------------------------------------------------

const stateText = string(1, 4096);
const tagSource = strictObject({
  kind: oneOf(['notification', 'api', 'user-context']),
  topicName: nullable(stateText),
  correlationId: nullable(stateText),
  api: nullable(stateText),
  field: nullable(stateText),
});

function tag(value: Guard): Guard {
  return nullable(
    strictObject({
      value,
      provenance: oneOf(['live', 'reconciled']),
      source: tagSource,
      observedAt: nullable(integer()),
      capturedAt: epochMs,
      firstCapturedAt: epochMs,
    }),
  );
}

const text = tag(string(0, 4096));
const flag = tag(boolean);
const instant = tag(epochMs);

const snapshot = strictObject({
  conversationId: uuidLower,
  legs: array(
    strictObject({
      legKey: stateText,
      participantId: stateText,
      ...legFieldsByKind({ text, flag, instant }),
    }),
    10_000,
  ),
});

/** Whether `sessionTagsSnapshotSchema` would accept `value` unchanged (false may also mean "ask the schema"). */
export function isSessionTagsSnapshot(value: unknown): value is SessionTagsSnapshot {
  return prototypesAreClean() && snapshot(value);
}

// --- recording export (sink-records.ts) ------------------------------------------------------------------------

const exportText = string(1, 1024);
const exportedObject = nullable(
  strictObject({
    key: exportText,
    versionId: nullable(exportText),
    size: integer(0),
    etag: exportText,
    lastModifiedMs: epochMs,
  }),
);

const recordingExport = strictObject({
  bucket: string(0, Infinity, BUCKET),
  orgId: uuidLower,
  conversationId: uuidLower,
  recordingId: uuidLower,
  partitionHour: string(0, Infinity, UTC_HOUR),
  audio: exportedObject,
  metadata: exportedObject,
  detectedAtMs: epochMs,
  detectedBy: exportText,
  detectorInstance: exportText,
  detectorVersion: exportText,
  job: nullable(
    strictObject({
      jobId: exportText,
      createdBy: nullable(exportText),
      states: array(strictObject({ state: exportText, observedAtMs: epochMs }), 1000),
    }),
  ),
});

/** Whether the recording-export schema would accept `value` unchanged (false may also mean "ask the schema"). */
export function isRecordingExport(value: unknown): value is RecordingExport {
  return prototypesAreClean() && recordingExport(value);
}
