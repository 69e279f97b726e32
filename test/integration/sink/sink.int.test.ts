/**
 * custody sink against real Kafka and real S3, fed from the Genesys emulator's exports and scripted events:
 * complete, verifiable manifests equal to the ground truth; export-before-tags (incomplete v1 → complete v2);
 * idempotent replays.
 */
import { createHash } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningEmulator } from '../../../dev/emulator/index.ts';
import type { Scenario } from '../../../dev/emulator/model.ts';
import type { SealedManifest } from '../../../src/enrich/integrity.ts';
import { verifyAgainstObjects, verifyManifest } from '../../../src/enrich/verify.ts';
import type { RunningSink } from '../../../src/sink/sink-pipeline.ts';
import { compileManifestJsonSchema } from '../../fixtures/manifest/json-schema.ts';
import { kafkaClient, s3Client, uniqueName } from '../../support/clients.ts';
import {
  createLockedBucket,
  createTopics,
  exportCodec,
  getBytes,
  objectVersions,
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
  writtenCodec,
  manifestKeyOf,
  stopSinksAndEmulator,
} from '../../support/sink-fixtures.ts';

const SCENARIO: Scenario = {
  seed: 7,
  start: '2026-03-01T09:00:00Z',
  conversations: [
    { kind: 'inbound-acd-webrtc', at: '2026-03-01T09:02:00Z', durationSeconds: 120 },
    { kind: 'outbound-webrtc', at: '2026-03-01T09:05:00Z', durationSeconds: 90 },
    { kind: 'consult-transfer', at: '2026-03-01T09:08:00Z', durationSeconds: 180 },
  ],
};

const validateSchema = compileManifestJsonSchema();
let emu: RunningEmulator | undefined;
const sinks: RunningSink[] = [];

afterEach(async () => {
  await stopSinksAndEmulator(sinks, emu);
  emu = undefined;
});

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** All versions of a manifest, ordered by manifest_version, each verified against its predecessor. */
async function verifiedChain(bucket: string, key: string, keys: ReadonlyMap<string, KeyObject>) {
  const versions = await objectVersions(s3Client(), bucket, key);
  const parsed = versions
    .map((v) => ({ ...v, manifest: JSON.parse(v.bytes.toString('utf8')) as SealedManifest }))
    .sort((a, b) => a.manifest.manifest_version - b.manifest.manifest_version);
  parsed.forEach((v, i) => {
    const report = verifyManifest(v.bytes, keys, i === 0 ? {} : { previous: parsed[i - 1]?.bytes });
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
    expect(v.manifest.manifest_version).toBe(i + 1);
    expect(validateSchema(v.manifest)).toBe(true);
  });
  return parsed;
}

describe('custody sink', () => {
  it('writes a complete, signed, verifiable manifest for every exported recording, equal to the ground truth', async () => {
    const s3 = s3Client();
    const kafka = kafkaClient('sink-complete');
    const bucket = uniqueName('sink');
    await createLockedBucket(s3, bucket);
    emu = await runExportingEmulator(bucket, SCENARIO);
    const exports = await recordingExportsOf(s3, bucket);
    const snapshots = snapshotsOf(emu);
    expect(exports.length).toBeGreaterThanOrEqual(3);

    const topics = sinkTopics();
    await createTopics(kafka, Object.values(topics));
    await produce(
      kafka,
      topics.sessionTags,
      [...snapshots].map(([key, s]) => ({ key, value: tagsCodec.encode(s) })),
    );
    await produce(
      kafka,
      topics.recordingExports,
      exports.map((e) => ({ key: e.conversationId, value: exportCodec.encode(e) })),
    );
    const signer = testSigningKey();
    const keys = new Map([[signer.keyId, signer.publicKey]]);
    const options = testSinkOptions(topics, uniqueName('custody-sink'), 'sink-a');
    sinks.push(await startTestSink(kafka, s3, signer, options));
    await waitForCaughtUp(kafka, options.groupId, [topics.sessionTags, topics.recordingExports]);

    const truth = emu.conversations.all();
    for (const e of exports) {
      const key = manifestKeyOf(e);
      const chain = await verifiedChain(bucket, key, keys);
      // Tags were produced first, but the two topics are consumed independently: v1 may predate the tags.
      const latest = chain.at(-1);
      if (latest === undefined) throw new Error(`no manifest for ${e.recordingId}`);
      const m = latest.manifest;
      expect(m.completeness).toEqual({ status: 'complete', missing: [] });
      expect(m.integrity.key_id).toBe(signer.keyId);

      // The hashes are the S3 objects' (re-hashed here).
      const audio = await getBytes(s3, bucket, e.audio?.key ?? '', e.audio?.versionId ?? undefined);
      const metadata = await getBytes(s3, bucket, e.metadata?.key ?? '', e.metadata?.versionId ?? undefined);
      const objects = verifyAgainstObjects(m, { audioSha256: sha(audio), metadataSha256: sha(metadata) });
      expect(objects.checks.filter((c) => !c.ok)).toEqual([]);
      expect(m.audio?.size).toBe(audio.byteLength);
      expect(m.audio?.s3.version_id).toBe(e.audio?.versionId);

      // The WebRTC fields are the ground truth of the recording's leg.
      const script = truth.find((s) => s.conversationId === e.conversationId);
      const recording = script?.recordings.find((r) => r.recordingId === e.recordingId);
      const leg = script?.groundTruth.find((l) => l.communicationId === m.webrtc.webrtc_session_id.value);
      if (!script || !recording || !leg) throw new Error(`no ground-truth leg for ${e.recordingId}`);
      expect(recording.userIds).toContain(leg.userId);
      expect(leg.isWebRtc).toBe(true);
      expect(m.webrtc.is_webrtc.value).toBe(true);
      // Genesys sends the client IP on a minority of WebRTC legs (the emulator likewise); when it did not, the
      // manifest says so instead of presenting an empty value as captured.
      expect(m.webrtc.client_ip.value).toBe(leg.publicIpAddress ?? null);
      if (leg.publicIpAddress === undefined)
        expect(m.webrtc.client_ip.absence?.reason).toBe('not_provided_by_genesys');
      expect(m.webrtc.station_id.value).toBe(leg.stationId);
      expect(m.webrtc.peer_id.value).toBe(leg.peerId ?? null);
      expect(m.webrtc.webrtc_session_id.provenance).toBe('live');
      expect(m.participants.length).toBe(snapshots.get(e.conversationId)?.legs.length);

      // The chain of custody covers capture, export, hashing, each with its clock.
      const events = new Set(m.chain_of_custody.map((c) => c.event));
      for (const ev of [
        'conversation_started',
        'leg_connected',
        'session_tags_captured',
        'audio_object_created',
        'metadata_object_created',
        'export_detected',
        'audio_hashed',
        'metadata_hashed',
      ]) {
        expect(events, ev).toContain(ev);
      }
      const hashed = m.chain_of_custody.find((c) => c.event === 'audio_hashed');
      expect(hashed).toMatchObject({ time_source: 'custody-process', detail: { sha256: sha(audio) } });
      const captured = m.chain_of_custody.find(
        (c) => c.event === 'session_tags_captured' && c.evidence !== null && 'kafka' in c.evidence,
      );
      expect(captured?.evidence).toMatchObject({ kafka: { topic: topics.sessionTags } });
    }

    // One ManifestWritten per version written, keyed by conversation.
    const written = (await readAll(kafka, topics.manifests)).map((r) => ({
      key: r.key,
      value: writtenCodec.decode(r.value),
    }));
    let versions = 0;
    for (const e of exports) versions += (await objectVersions(s3, bucket, manifestKeyOf(e))).length;
    expect(written).toHaveLength(versions);
    for (const w of written) {
      expect(w.key).toBe(w.value.conversationId);
      expect(w.value.keyId).toBe(signer.keyId);
      expect(w.value.writerInstance).toBe('sink-a');
    }

    // (c) Replaying the same inputs writes nothing new: no manifest version, no announcement, the same state.
    const latestState = (records: Awaited<ReturnType<typeof readAll>>) =>
      new Map(records.map((r) => [r.key, r.value.toString('base64')]));
    const stateBefore = latestState(await readAll(kafka, topics.sinkState));
    expect(stateBefore.size).toBeGreaterThan(0);
    await produce(
      kafka,
      topics.recordingExports,
      exports.map((e) => ({ key: e.conversationId, value: exportCodec.encode(e) })),
    );
    await produce(
      kafka,
      topics.sessionTags,
      [...snapshots].map(([key, s]) => ({ key, value: tagsCodec.encode(s) })),
    );
    await waitForCaughtUp(kafka, options.groupId, [topics.sessionTags, topics.recordingExports]);
    let after = 0;
    for (const e of exports) after += (await objectVersions(s3, bucket, manifestKeyOf(e))).length;
    expect(after).toBe(versions);
    expect(await readAll(kafka, topics.manifests)).toHaveLength(written.length);
    // The changelog may say (in headers) how far each conversation is reconciled now, never another state.
    expect(latestState(await readAll(kafka, topics.sinkState))).toEqual(stateBefore);
  });

  it('writes an incomplete v1 when the export comes before the tags, then a complete v2 chained to it', async () => {
    const s3 = s3Client();
    const kafka = kafkaClient('sink-order');
    const bucket = uniqueName('sink');
    await createLockedBucket(s3, bucket);
    emu = await runExportingEmulator(bucket, {
      seed: 11,
      start: '2026-03-01T09:00:00Z',
      conversations: [{ kind: 'inbound-acd-webrtc', at: '2026-03-01T09:02:00Z', durationSeconds: 60 }],
    });
    const exports = await recordingExportsOf(s3, bucket);
    const snapshots = snapshotsOf(emu);
    const topics = sinkTopics();
    await createTopics(kafka, Object.values(topics));
    const signer = testSigningKey();
    const keys = new Map([[signer.keyId, signer.publicKey]]);
    const options = testSinkOptions(topics, uniqueName('custody-sink'), 'sink-b');
    sinks.push(await startTestSink(kafka, s3, signer, options));

    await produce(
      kafka,
      topics.recordingExports,
      exports.map((e) => ({ key: e.conversationId, value: exportCodec.encode(e) })),
    );
    await waitForCaughtUp(kafka, options.groupId, [topics.recordingExports]);
    for (const e of exports) {
      const chain = await verifiedChain(bucket, manifestKeyOf(e), keys);
      expect(chain).toHaveLength(1);
      expect(chain[0]?.manifest.completeness).toEqual({
        status: 'incomplete',
        missing: [
          { field: 'participants', reason: 'no-session-tags' },
          { field: 'webrtc', reason: 'no-session-tags' },
        ],
      });
    }

    await produce(
      kafka,
      topics.sessionTags,
      [...snapshots].map(([key, s]) => ({ key, value: tagsCodec.encode(s) })),
    );
    await waitForCaughtUp(kafka, options.groupId, [topics.sessionTags, topics.recordingExports]);
    for (const e of exports) {
      const chain = await verifiedChain(bucket, manifestKeyOf(e), keys);
      expect(chain).toHaveLength(2);
      const [v1, v2] = chain;
      expect(v2?.manifest.completeness.status).toBe('complete');
      expect(v2?.manifest.previous_manifest_sha256).toBe(v1?.manifest.integrity.manifest_sha256);
      // v2's custody timeline records that v1 was written.
      expect(v2?.manifest.chain_of_custody.filter((c) => c.event === 'manifest_written')).toEqual([
        expect.objectContaining({
          detail: { manifest_version: 1, manifest_sha256: v1?.manifest.integrity.manifest_sha256 },
          evidence: { s3: { bucket, key: manifestKeyOf(e), version_id: v1?.versionId } },
        }),
      ]);
    }
  });
});
