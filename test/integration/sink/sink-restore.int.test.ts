/**
 * The sink's join state lives in memory and in its changelog topic, not in S3: against real Kafka and S3, a first
 * start reads the tags before the exports and pays only the three S3 requests a manifest needs; a restarted
 * instance restores the state from the changelog, so a replay costs no S3 request and later tags continue the
 * chain without re-hashing the audio.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningEmulator } from '../../../dev/emulator/index.ts';
import type { SealedManifest } from '../../../src/enrich/integrity.ts';
import type { RunningSink } from '../../../src/sink/sink-pipeline.ts';
import { kafkaClient, s3Client, uniqueName } from '../../support/clients.ts';
import {
  createLockedBucket,
  createTopics,
  exportCodec,
  manifestKeyOf,
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
  stopSinksAndEmulator,
} from '../../support/sink-fixtures.ts';

let emu: RunningEmulator | undefined;
const sinks: RunningSink[] = [];

afterEach(async () => {
  await stopSinksAndEmulator(sinks, emu);
  emu = undefined;
});

/** Counts the S3 commands a client sends, by name. */
function metered(s3: S3Client): Map<string, number> {
  const counts = new Map<string, number>();
  s3.middlewareStack.add(
    (next, context) => async (args) => {
      const name = context.commandName ?? 'unknown';
      counts.set(name, (counts.get(name) ?? 0) + 1);
      return next(args);
    },
    { step: 'initialize', name: 'countCommands' },
  );
  return counts;
}

const total = (counts: Map<string, number>): number => [...counts.values()].reduce((a, b) => a + b, 0);

const SCENARIO = {
  seed: 23,
  start: '2026-03-01T09:00:00Z',
  conversations: [
    { kind: 'inbound-acd-webrtc', at: '2026-03-01T09:02:00Z', durationSeconds: 60 },
    { kind: 'outbound-webrtc', at: '2026-03-01T09:04:00Z', durationSeconds: 60 },
    { kind: 'consult-transfer', at: '2026-03-01T09:06:00Z', durationSeconds: 90 },
  ],
} as const;

/** The scenario's calls exported into a fresh locked bucket by the emulator, and fresh sink topics. */
async function exportedScenario(clientId: string) {
  const admin = s3Client();
  const kafka = kafkaClient(clientId);
  const bucket = uniqueName('restore');
  await createLockedBucket(admin, bucket);
  const running = await runExportingEmulator(bucket, {
    ...SCENARIO,
    conversations: [...SCENARIO.conversations],
  });
  emu = running; // stopped by afterEach
  const exports = await recordingExportsOf(admin, bucket);
  const topics = sinkTopics();
  await createTopics(kafka, Object.values(topics));
  return { admin, kafka, bucket, emulator: running, exports, topics };
}

describe('custody sink join state', () => {
  it('on a first start reads the tags before the exports: one complete v1 each, three S3 requests per manifest', async () => {
    const { admin, kafka, bucket, emulator, exports, topics } = await exportedScenario('sink-first-start');
    // Both topics full before the sink starts, exports first: the order a replay or a late start sees.
    await produce(
      kafka,
      topics.recordingExports,
      exports.map((e) => ({ key: e.conversationId, value: exportCodec.encode(e) })),
    );
    await produce(
      kafka,
      topics.sessionTags,
      [...snapshotsOf(emulator)].map(([key, s]) => ({ key, value: tagsCodec.encode(s) })),
    );
    const s3 = s3Client();
    const counts = metered(s3);
    const options = testSinkOptions(topics, uniqueName('custody-sink'), 'first');
    const sink = await startTestSink(kafka, s3, testSigningKey(), options);
    sinks.push(sink);
    await waitForCaughtUp(kafka, options.groupId, [topics.sessionTags, topics.recordingExports]);

    for (const e of exports) {
      const versions = await objectVersions(admin, bucket, manifestKeyOf(e));
      expect(versions).toHaveLength(1);
      const m = JSON.parse(versions[0]?.bytes.toString('utf8') ?? '{}') as SealedManifest;
      expect(m.completeness.status).toBe('complete');
    }
    // GET audio (hashed as it streams), GET metadata, PUT manifest: nothing else, no join state in S3.
    expect(Object.fromEntries(counts)).toEqual({
      GetObjectCommand: 2 * exports.length,
      PutObjectCommand: exports.length,
    });
    expect(sink.table.restores.some((r) => r.tagsRecords > 0)).toBe(true);
    expect((await readAll(kafka, topics.sinkState)).length).toBeGreaterThan(0);
  });

  // 0 decoded states kept: every use decodes the compressed value, every change is encoded at once (the path a
  // conversation takes once it is no longer among a partition's recently used).
  it.each([
    ['decoded states kept in memory', undefined],
    ['no decoded state kept', 0],
  ])(
    'after a restart restores the state from its changelog: a replay costs nothing, later tags continue the chain (%s)',
    async (_name, decoded) => {
      const { admin, kafka, bucket, emulator, exports, topics } = await exportedScenario('sink-restart');
      const signer = testSigningKey();
      const groupId = uniqueName('custody-sink');

      // First instance: exports only, so every recording gets an incomplete v1.
      const optionsOf = (instance: string) => ({
        ...testSinkOptions(topics, groupId, instance),
        decodedStatesPerPartition: decoded,
      });
      const first = await startTestSink(kafka, s3Client(), signer, optionsOf('before'));
      await produce(
        kafka,
        topics.recordingExports,
        exports.map((e) => ({ key: e.conversationId, value: exportCodec.encode(e) })),
      );
      await waitForCaughtUp(kafka, groupId, [topics.recordingExports]);
      await first.stop();

      // Second instance of the same group: it restores from the changelog before it processes anything.
      const s3 = s3Client();
      const counts = metered(s3);
      const second = await startTestSink(kafka, s3, signer, optionsOf('after'));
      sinks.push(second);
      await produce(
        kafka,
        topics.recordingExports,
        exports.map((e) => ({ key: e.conversationId, value: exportCodec.encode(e) })),
      );
      await waitForCaughtUp(kafka, groupId, [topics.recordingExports]);
      expect(second.table.restores.reduce((n, r) => n + r.changelogRecords, 0)).toBeGreaterThan(0);
      expect(total(counts)).toBe(0);
      for (const e of exports) expect(await objectVersions(admin, bucket, manifestKeyOf(e))).toHaveLength(1);

      // Tags now: v2, chained to v1, complete; the audio hash comes from the state (no second audio read).
      await produce(
        kafka,
        topics.sessionTags,
        [...snapshotsOf(emulator)].map(([key, s]) => ({ key, value: tagsCodec.encode(s) })),
      );
      await waitForCaughtUp(kafka, groupId, [topics.sessionTags, topics.recordingExports]);
      for (const e of exports) {
        const versions = (await objectVersions(admin, bucket, manifestKeyOf(e)))
          .map((v) => JSON.parse(v.bytes.toString('utf8')) as SealedManifest)
          .sort((a, b) => a.manifest_version - b.manifest_version);
        expect(versions.map((m) => m.manifest_version)).toEqual([1, 2]);
        expect(versions[1]?.previous_manifest_sha256).toBe(versions[0]?.integrity.manifest_sha256);
        expect(versions[1]?.completeness.status).toBe('complete');
        expect(versions[1]?.audio?.sha256).toBe(versions[0]?.audio?.sha256);
      }
      // Per recording: GET metadata, GET the current manifest (verified, its chain continued), PUT.
      expect(Object.fromEntries(counts)).toEqual({
        GetObjectCommand: 2 * exports.length,
        PutObjectCommand: exports.length,
      });
    },
  );
});
