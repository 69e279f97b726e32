/**
 * Micro-benchmark of the sink's input and output checks: each zod schema's safeParse against the hand-written
 * guard that now runs first (src/enrich/manifest-guards.ts, isCustodyEntry in src/enrich/custody.ts,
 * src/sink/sink-record-guards.ts), on realistic values (the manifest fixture, simulated session-tags snapshots
 * through the Avro codec, a published recording export). Prints µs per call, median of 7 rounds.
 *
 *   npx tsx bench/sink/guards.ts
 */
import { capturedSnapshots } from '../../dev/captured-snapshots.ts';
import { exportKeys } from '../../dev/emulator/platform/export-layout.ts';
import { createOrg, createRng, randomConversations } from '../../dev/emulator/simulation/index.ts';
import { custodyEntrySchema, isCustodyEntry } from '../../src/enrich/custody-entry.ts';
import { ISO_DATETIME_WITH_OFFSET } from '../../src/enrich/data-guards.ts';
import { parseExportKey } from '../../src/enrich/export-layout.ts';
import { isManifestBody } from '../../src/enrich/manifest-guards.ts';
import { manifestSchema } from '../../src/enrich/manifest-schema.ts';
import type { RecordingExport } from '../../src/kafka/avro-codec.ts';
import { singleObjectCodecFor, toPlainData } from '../../src/kafka/avro-codec.ts';
import { sessionTagsSnapshotSchema } from '../../src/sink/join-state.ts';
import { isRecordingExport, isSessionTagsSnapshot } from '../../src/sink/sink-record-guards.ts';
import { recordingExportSchema } from '../../src/sink/sink-records.ts';
import { sampleEntries, sampleManifest } from '../../test/fixtures/manifest/sample.ts';
import { z } from 'zod';

/** µs per call of `fn` over `inputs` (median of 7 rounds after a warm-up round). */
function usPerCall(inputs: readonly unknown[], fn: (x: unknown) => unknown, calls = 20_000): number {
  const rounds: number[] = [];
  let sink = 0;
  for (let r = 0; r < 8; r++) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) if (fn(inputs[i % inputs.length])) sink++;
    const us = Number(process.hrtime.bigint() - t) / 1000 / calls;
    if (r > 0) rounds.push(us);
  }
  if (sink < 0) console.log(sink);
  return rounds.sort((a, b) => a - b)[3] as number;
}

const org = createOrg(createRng(7), { users: 40 });
const T0 = Date.parse('2026-03-02T08:00:00Z');
const scripts = randomConversations(org, createRng(7), T0, T0 + 1_800_000, 6);
const tagsCodec = singleObjectCodecFor('session-tags.v1');
const exportCodec = singleObjectCodecFor('recording-export.v1');
const snapshots = [...capturedSnapshots(org, scripts).values()].map((s) =>
  toPlainData(tagsCodec.decode(tagsCodec.encode(s))),
);
const script = scripts.find((s) => s.recordings.length > 0);
if (script === undefined) throw new Error('no recording');
const recordingId = script.recordings[0]?.recordingId ?? '';
const keys = exportKeys(org.orgId, script.startTime, script.conversationId, recordingId);
const layout = parseExportKey(keys.audioKey);
if (!layout.ok) throw new Error('bad key');
const object = (key: string) => ({ key, versionId: 'v1', size: 1000, etag: '"e"', lastModifiedMs: T0 });
const record: RecordingExport = {
  bucket: 'genesys-exports',
  orgId: layout.value.orgId,
  conversationId: script.conversationId,
  recordingId,
  partitionHour: layout.value.partitionHour,
  audio: object(keys.audioKey),
  metadata: object(keys.metadataKey),
  detectedAtMs: T0,
  detectedBy: 'scan',
  detectorInstance: 'a',
  detectorVersion: '0.1.0',
  job: null,
};
const exports = [toPlainData(exportCodec.decode(exportCodec.encode(record)))];
const manifests = [sampleManifest()];
const entries = sampleEntries();
const isoWithOffset = z.iso.datetime({ offset: true });
const times = ['2024-03-07T09:15:02.123Z', '2024-03-07T10:15:02.1+01:00'];

const rows: [string, readonly unknown[], (x: unknown) => unknown, (x: unknown) => unknown, number][] = [
  ['manifest body', manifests, (x) => manifestSchema.safeParse(x).success, isManifestBody, 5_000],
  ['custody entry', entries, (x) => custodyEntrySchema.safeParse(x).success, isCustodyEntry, 50_000],
  [
    'session-tags snapshot',
    snapshots,
    (x) => sessionTagsSnapshotSchema.safeParse(x).success,
    isSessionTagsSnapshot,
    10_000,
  ],
  ['recording export', exports, (x) => recordingExportSchema.safeParse(x).success, isRecordingExport, 50_000],
  [
    'ISO time with offset',
    times,
    (x) => isoWithOffset.safeParse(x).success,
    (x) => ISO_DATETIME_WITH_OFFSET.test(x as string),
    100_000,
  ],
];
console.log(
  `${snapshots.length} snapshots, ${(snapshots as { legs: unknown[] }[]).reduce((n, s) => n + s.legs.length, 0) / snapshots.length} legs on average`,
);
console.log('check                    zod µs/call   guard µs/call   speed-up');
for (const [name, inputs, zod, guard, calls] of rows) {
  if (!inputs.every((x) => guard(x))) throw new Error(`${name}: the guard does not take the fast path`);
  const a = usPerCall(inputs, zod, calls);
  const b = usPerCall(inputs, guard, calls);
  console.log(
    `${name.padEnd(24)} ${a.toFixed(2).padStart(11)} ${b.toFixed(2).padStart(15)} ${(a / b).toFixed(1).padStart(9)}x`,
  );
}
