/**
 * The sink's input guards against their zod schemas: true for realistic records (session-tags snapshots the ingest
 * extraction captures from simulated conversations, recording exports as custody exports publishes them, both
 * through the Avro codec as the sink decodes them), and never true where the schema would reject the record or hand
 * back something different (every node damaged in many ways, at the schemas' bounds, and random replacements).
 * Through the validators, a rejected record still reads as before.
 */
import { fc, test } from '@fast-check/vitest';
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { capturedSnapshots } from '../../../dev/captured-snapshots.ts';
import { exportKeys } from '../../../dev/emulator/platform/export-layout.ts';
import { createOrg, createRng, randomConversations } from '../../../dev/emulator/simulation/index.ts';
import { parseExportKey } from '../../../src/enrich/export-layout.ts';
import type { SessionTagsSnapshot } from '../../../src/enrich/session-tags.ts';
import type { RecordingExport } from '../../../src/kafka/avro-codec.ts';
import { singleObjectCodecFor } from '../../../src/kafka/avro-codec.ts';
import { sessionTagsSnapshotSchema } from '../../../src/sink/join-state.ts';
import { isRecordingExport, isSessionTagsSnapshot } from '../../../src/sink/sink-record-guards.ts';
import {
  recordingExportSchema,
  validateRecordingExport,
  validateSessionTags,
} from '../../../src/sink/sink-records.ts';
import { expectSound, mutationsOf, nodesOf, withAt } from '../../support/guard-differential.ts';

const tagsCodec = singleObjectCodecFor('session-tags.v1');
const exportCodec = singleObjectCodecFor('recording-export.v1');

const org = createOrg(createRng(7), { users: 12 });
const T0 = Date.parse('2026-03-02T08:00:00Z');
const scripts = randomConversations(org, createRng(7), T0, T0 + 600_000, 6);

/** Snapshots as the sink sees them: captured from the simulation, then through the Avro codec. */
const allSnapshots: SessionTagsSnapshot[] = [...capturedSnapshots(org, scripts).values()].map((s) =>
  tagsCodec.decode(tagsCodec.encode(s)),
);
/** The smallest first (damaged everywhere below), then one of each other number of legs. */
const snapshots: SessionTagsSnapshot[] = [
  ...new Map(
    [...allSnapshots].sort((a, b) => a.legs.length - b.legs.length).map((s) => [s.legs.length, s]),
  ).values(),
];

function exportOf(i: number, job: RecordingExport['job']): RecordingExport {
  const script = scripts.find((s) => s.recordings.length > 0);
  if (script === undefined) throw new Error('no recorded conversation');
  const recording = script.recordings[0]!;
  const keys = exportKeys(org.orgId, script.startTime, script.conversationId, recording.recordingId);
  const parsed = parseExportKey(keys.audioKey);
  if (!parsed.ok) throw new Error(parsed.error.detail);
  const object = (key: string, size: number) => ({
    key,
    versionId: i % 2 === 0 ? `v-${i}` : null,
    size,
    etag: `"${'0a'.repeat(16)}"`,
    lastModifiedMs: T0 + 3_600_000,
  });
  const record: RecordingExport = {
    bucket: 'genesys-exports',
    orgId: parsed.value.orgId,
    conversationId: script.conversationId,
    recordingId: recording.recordingId,
    partitionHour: parsed.value.partitionHour,
    audio: i === 2 ? null : object(keys.audioKey, 48_213),
    metadata: object(keys.metadataKey, 912),
    detectedAtMs: T0 + 3_700_000,
    detectedBy: i === 1 ? 'job' : 'scan',
    detectorInstance: 'exports-a',
    detectorVersion: '0.1.0',
    job,
  };
  return exportCodec.decode(exportCodec.encode(record));
}

const exports: RecordingExport[] = [
  exportOf(0, null),
  exportOf(1, {
    jobId: 'c0ffee00-0000-4000-8000-000000000001',
    createdBy: null,
    states: [
      { state: 'Submitted', observedAtMs: T0 + 3_600_100 },
      { state: 'Fulfilled', observedAtMs: T0 + 3_650_000 },
    ],
  }),
  exportOf(2, { jobId: 'j', createdBy: 'ops', states: [] }),
];

describe('isSessionTagsSnapshot', () => {
  it('has a guard for every leg field of the schema, and none the schema lacks', () => {
    const legShape = sessionTagsSnapshotSchema.shape.legs.element.shape;
    const leg = snapshots[0]?.legs[0];
    expect(Object.keys(leg ?? {}).sort()).toEqual(Object.keys(legShape).sort());
  });

  it('accepts captured snapshots, which the schema gives back unchanged', () => {
    expect(snapshots.length).toBeGreaterThan(2);
    for (const s of allSnapshots) {
      expect(isSessionTagsSnapshot(s)).toBe(true);
      const parsed = sessionTagsSnapshotSchema.safeParse(s);
      expect(parsed.success && isDeepStrictEqual(parsed.data, s)).toBe(true);
    }
  });

  it('never accepts what the schema rejects or changes: every node damaged', () => {
    // The smallest snapshot, every node (each leg holds every field; more legs would repeat the same checks).
    const inputs = mutationsOf(snapshots[0]);
    const { guardTrue, zodTrue } = expectSound(isSessionTagsSnapshot, sessionTagsSnapshotSchema, inputs);
    expect(guardTrue).toBeGreaterThan(100);
    expect(zodTrue).toBeGreaterThanOrEqual(guardTrue);
  }, 30_000);

  test.prop([fc.nat(), fc.anything({ withNullPrototype: true, withSparseArray: true })], { numRuns: 300 })(
    'never accepts what the schema rejects or changes: random values at random nodes',
    (n, value) => {
      const base = snapshots[n % snapshots.length];
      const nodes = nodesOf(base);
      const [path] = nodes[n % nodes.length]!;
      expectSound(isSessionTagsSnapshot, sessionTagsSnapshotSchema, [withAt(base, path, value)]);
    },
  );

  it('leaves rejections to the schema: the dead-letter reason is unchanged', () => {
    const s = snapshots[0]!;
    const bad = withAt(s, ['legs', 0, 'participantId'], '');
    expect(validateSessionTags(s.conversationId, bad)).toEqual({
      rejected: true,
      code: 'CUSTODY_SINK_INVALID_TAGS',
      reason: 'session-tags snapshot invalid at legs.0.participantId',
    });
    expect(validateSessionTags(s.conversationId, s)).toMatchObject({ rejected: false, snapshot: s });
  });
});

describe('isRecordingExport', () => {
  it('accepts recording exports as published, which the schema gives back unchanged', () => {
    for (const e of exports) {
      expect(isRecordingExport(e)).toBe(true);
      const parsed = recordingExportSchema.safeParse(e);
      expect(parsed.success && isDeepStrictEqual(parsed.data, e)).toBe(true);
    }
  });

  it('never accepts what the schema rejects or changes: every node damaged', () => {
    const { guardTrue, zodTrue } = expectSound(
      isRecordingExport,
      recordingExportSchema,
      exports.flatMap((e) => mutationsOf(e)),
    );
    expect(guardTrue).toBeGreaterThan(50);
    expect(zodTrue).toBeGreaterThanOrEqual(guardTrue);
  });

  test.prop([fc.nat(), fc.anything({ withNullPrototype: true, withSparseArray: true })], { numRuns: 300 })(
    'never accepts what the schema rejects or changes: random values at random nodes',
    (n, value) => {
      const base = exports[n % exports.length];
      const nodes = nodesOf(base);
      const [path] = nodes[n % nodes.length]!;
      expectSound(isRecordingExport, recordingExportSchema, [withAt(base, path, value)]);
    },
  );

  it('leaves rejections to the schema: the dead-letter reason is unchanged', () => {
    const e = exports[0]!;
    expect(validateRecordingExport(e.conversationId, { ...e, bucket: 'A' }, '')).toEqual({
      rejected: true,
      code: 'CUSTODY_SINK_INVALID_EXPORT',
      reason: 'recording export invalid at bucket',
    });
    expect(validateRecordingExport(e.conversationId, e, '')).toMatchObject({ rejected: false, record: e });
  });
});
