/**
 * Bad input never stops the sink and is never silently skipped: invalid metadata and a missing audio object give
 * incomplete manifests that say why; a record with a non-UUID conversation id or undecodable bytes goes to the
 * dead-letter topic with its source; every other recording still gets its complete manifest.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningEmulator } from '../../../dev/emulator/index.ts';
import type { SealedManifest } from '../../../src/enrich/integrity.ts';
import { verifyManifest } from '../../../src/enrich/verify.ts';
import type { RecordingExport } from '../../../src/kafka/avro-codec.ts';
import type { RunningSink } from '../../../src/sink/sink-pipeline.ts';
import { kafkaClient, s3Client, uniqueName } from '../../support/clients.ts';
import {
  createLockedBucket,
  createTopics,
  deadLetterCodec,
  exportCodec,
  getBytes,
  produce,
  readAll,
  recordingExportsOf,
  runExportingEmulator,
  sinkTopics,
  snapshotsOf,
  startTestSink,
  tagsCodec,
  testSigningKey,
  testSinkOptions,
  waitForCaughtUp,
  manifestKeyOf,
} from '../../support/sink-fixtures.ts';

let emu: RunningEmulator | undefined;
let sink: RunningSink | undefined;
afterEach(async () => {
  await sink?.stop();
  sink = undefined;
  if (emu) {
    await emu.exports.stop();
    await emu.close();
  }
  emu = undefined;
});

describe('custody sink with bad input', () => {
  it('writes incomplete manifests with the reason, dead-letters what has no manifest, and carries on', async () => {
    const s3 = s3Client();
    const kafka = kafkaClient('sink-faults');
    const bucket = uniqueName('sink');
    await createLockedBucket(s3, bucket);
    emu = await runExportingEmulator(bucket, {
      seed: 5,
      start: '2026-03-01T09:00:00Z',
      conversations: [
        { kind: 'inbound-acd-webrtc', at: '2026-03-01T09:02:00Z', durationSeconds: 60 },
        { kind: 'outbound-webrtc', at: '2026-03-01T09:04:00Z', durationSeconds: 60 },
        { kind: 'inbound-acd-webrtc', at: '2026-03-01T09:06:00Z', durationSeconds: 60 },
      ],
    });
    const scripts = emu.conversations.all();
    const [corrupt, noAudio, healthy] = scripts.map((s) => s.recordings[0]);
    if (!corrupt || !noAudio || !healthy) throw new Error('scenario without recordings');

    // Genesys (or anyone) writes a broken metadata file: a new version the detector sees.
    const exportsBefore = await recordingExportsOf(s3, bucket);
    const corruptExport = exportsBefore.find((e) => e.recordingId === corrupt.recordingId);
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: corruptExport?.metadata?.key,
        Body: '{"mediaType": "Call", truncated',
      }),
    );
    const exports = (await recordingExportsOf(s3, bucket)).map((e) =>
      e.recordingId === noAudio.recordingId ? { ...e, audio: null } : e,
    );
    const snapshots = snapshotsOf(emu);

    const topics = sinkTopics();
    await createTopics(kafka, Object.values(topics));
    const badId: RecordingExport = { ...(exports[0] as RecordingExport), conversationId: 'not-a-uuid' };
    await produce(
      kafka,
      topics.sessionTags,
      [...snapshots].map(([key, s]) => ({ key, value: tagsCodec.encode(s) })),
    );
    await produce(kafka, topics.recordingExports, [
      { key: 'not-a-uuid', value: exportCodec.encode(badId) },
      { key: healthy.conversationId, value: Buffer.from([0xc3, 0x01, 0xde, 0xad]) },
      ...exports.map((e) => ({ key: e.conversationId, value: exportCodec.encode(e) })),
    ]);
    const signer = testSigningKey();
    const keys = new Map([[signer.keyId, signer.publicKey]]);
    const options = testSinkOptions(topics, uniqueName('custody-sink'), 'sink-faults');
    sink = await startTestSink(kafka, s3, signer, options);
    await waitForCaughtUp(kafka, options.groupId, [topics.sessionTags, topics.recordingExports]);

    const latest = async (e: RecordingExport): Promise<SealedManifest> => {
      const bytes = await getBytes(s3, bucket, manifestKeyOf(e));
      const report = verifyManifest(bytes, keys);
      expect(report.checks.filter((c) => !c.ok && c.name !== 'chain')).toEqual([]);
      return JSON.parse(bytes.toString('utf8')) as SealedManifest;
    };
    const byId = (id: string) => exports.find((e) => e.recordingId === id) as RecordingExport;

    const m1 = await latest(byId(corrupt.recordingId));
    expect(m1.completeness).toEqual({
      status: 'incomplete',
      missing: [{ field: 'genesys_metadata', reason: 'invalid-not-json' }],
    });
    expect(m1.genesys_metadata).toMatchObject({
      status: 'invalid',
      verbatim: null,
      failure: { reason: 'not-json' },
    });
    // The WebRTC details are still there: only the metadata is wrong.
    expect(m1.webrtc.station_id.provenance).toBe('live');

    const m2 = await latest(byId(noAudio.recordingId));
    expect(m2.audio).toBeNull();
    expect(m2.completeness.missing).toContainEqual({ field: 'audio', reason: 'object-missing' });
    expect(m2.completeness.status).toBe('incomplete');

    const m3 = await latest(byId(healthy.recordingId));
    expect(m3.completeness.status).toBe('complete');

    const letters = (await readAll(kafka, topics.dlq)).map((r) => deadLetterCodec.decode(r.value));
    expect(letters.map((l) => l.errorCode).sort()).toEqual([
      'CUSTODY_SINK_INVALID_EXPORT',
      'CUSTODY_SINK_UNDECODABLE',
    ]);
    for (const l of letters) {
      expect(l.stage).toBe('sink');
      expect(l.source).toMatchObject({ kind: 'kafka', topic: topics.recordingExports });
      expect(l.instance).toBe('sink-faults');
      expect(l.reason).not.toContain('not-a-uuid');
    }
    const invalid = letters.find((l) => l.errorCode === 'CUSTODY_SINK_INVALID_EXPORT');
    expect(invalid?.key?.toString()).toBe('not-a-uuid');
    expect(invalid?.value).toEqual(exportCodec.encode(badId));
  });
});
