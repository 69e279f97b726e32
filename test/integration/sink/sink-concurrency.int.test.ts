/**
 * Several sink instances in one consumer group over the same inputs — one of them killed with SIGKILL mid-run —
 * leave exactly one valid latest manifest per recording, every S3 version of it in one intact hash chain.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningEmulator } from '../../../dev/emulator/index.ts';
import type { SealedManifest } from '../../../src/enrich/integrity.ts';
import { verifyManifest } from '../../../src/enrich/verify.ts';
import type { RunningSink } from '../../../src/sink/sink-pipeline.ts';
import { kafkaClient, s3Client, uniqueName } from '../../support/clients.ts';
import { infraEnv, spawnCustody } from '../../support/custody-process.ts';
import {
  createLockedBucket,
  createTopics,
  exportCodec,
  getBytes,
  listKeys,
  objectVersions,
  produce,
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
  stopSinksAndEmulator,
} from '../../support/sink-fixtures.ts';

let emu: RunningEmulator | undefined;
let child: ChildProcess | undefined;
const sinks: RunningSink[] = [];
afterEach(async () => {
  child?.kill('SIGKILL');
  child = undefined;
  await stopSinksAndEmulator(sinks, emu);
  emu = undefined;
});

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('custody sink instances in one group', () => {
  it('converge on one intact chain per recording, even with an instance killed by SIGKILL mid-run', async () => {
    const s3 = s3Client();
    const kafka = kafkaClient('sink-group');
    const bucket = uniqueName('sink');
    await createLockedBucket(s3, bucket);
    emu = await runExportingEmulator(bucket, {
      seed: 9,
      start: '2026-03-01T09:00:00Z',
      conversations: [
        { kind: 'inbound-acd-webrtc', at: '2026-03-01T09:02:00Z', durationSeconds: 60 },
        { kind: 'consult-transfer', at: '2026-03-01T09:04:00Z', durationSeconds: 120 },
        { kind: 'outbound-webrtc', at: '2026-03-01T09:06:00Z', durationSeconds: 60 },
        { kind: 'blind-transfer', at: '2026-03-01T09:08:00Z', durationSeconds: 90 },
      ],
    });
    const exports = await recordingExportsOf(s3, bucket);
    const snapshots = snapshotsOf(emu);
    const topics = sinkTopics();
    await createTopics(kafka, Object.values(topics));
    const signer = testSigningKey();
    const keys = new Map([[signer.keyId, signer.publicKey]]);
    const groupId = uniqueName('custody-sink');

    // The first instance runs in a child process: it starts, writes some manifests, and is killed without warning.
    const dir = mkdtempSync(join(tmpdir(), 'sink-key-'));
    const keyFile = join(dir, 'signing.pem');
    writeFileSync(keyFile, signer.pem, { mode: 0o600 });
    // The real `custody sink` command, configured by environment variables only, as deployed.
    const sinkProcess = spawnCustody(['sink'], {
      ...infraEnv(),
      S3_BUCKET: bucket,
      CUSTODY_SIGNING_KEY_FILE: keyFile,
      CUSTODY_INSTANCE_ID: 'sink-killed',
      CUSTODY_SINK_GROUP_ID: groupId,
      CUSTODY_SINK_PARTITION_CONCURRENCY: '1',
      CUSTODY_MANIFEST_LEGAL_HOLD: 'true',
      CUSTODY_HTTP_PORT: '0',
      CUSTODY_TOPIC_PARTITIONS: '3',
      CUSTODY_TOPIC_SESSION_TAGS: topics.sessionTags,
      CUSTODY_TOPIC_RECORDING_EXPORTS: topics.recordingExports,
      CUSTODY_TOPIC_LEGAL_HOLDS: topics.legalHolds,
      CUSTODY_TOPIC_SINK_STATE: topics.sinkState,
      CUSTODY_TOPIC_MANIFESTS: topics.manifests,
      CUSTODY_TOPIC_DLQ: topics.dlq,
    });
    child = sinkProcess.child;
    const proc = child;
    await sinkProcess.waitForLog('custody sink running');

    // Exports first (incomplete manifests), then the tags, and every record twice.
    const exportRecords = exports.map((e) => ({ key: e.conversationId, value: exportCodec.encode(e) }));
    const tagRecords = [...snapshots].map(([key, s]) => ({ key, value: tagsCodec.encode(s) }));
    await produce(kafka, topics.recordingExports, [...exportRecords, ...exportRecords]);
    await until('the child to write a manifest', async () =>
      (await listKeys(s3, bucket)).some((k) => k.endsWith('.opus_manifest.json')),
    );
    await produce(kafka, topics.sessionTags, [...tagRecords, ...tagRecords]);
    proc.kill('SIGKILL');
    await new Promise((r) => proc.once('exit', r));
    child = undefined;

    // Two instances take over the group (after the dead member's session expires) and race each other.
    const a = await startTestSink(kafka, s3, signer, testSinkOptions(topics, groupId, 'sink-a'));
    const b = await startTestSink(kafka, s3, signer, testSinkOptions(topics, groupId, 'sink-b'));
    sinks.push(a, b);
    await produce(kafka, topics.sessionTags, tagRecords);
    await produce(kafka, topics.recordingExports, exportRecords);
    await waitForCaughtUp(kafka, groupId, [topics.sessionTags, topics.recordingExports], 55_000);

    for (const e of exports) {
      const key = manifestKeyOf(e);
      const versions = (await objectVersions(s3, bucket, key)).map((v) => ({
        ...v,
        manifest: JSON.parse(v.bytes.toString('utf8')) as SealedManifest,
      }));
      versions.sort((x, y) => x.manifest.manifest_version - y.manifest.manifest_version);
      // Every S3 version is a distinct link: versions 1..n, no two writers produced the same version number.
      expect(versions.map((v) => v.manifest.manifest_version)).toEqual(versions.map((_, n) => n + 1));
      versions.forEach((v, n) => {
        const report = verifyManifest(v.bytes, keys, n === 0 ? {} : { previous: versions[n - 1]?.bytes });
        expect(report.checks.filter((c) => !c.ok)).toEqual([]);
      });
      const latest = versions.at(-1)?.manifest;
      expect(latest?.completeness.status).toBe('complete');
      // The latest version is the one S3 serves.
      expect(await getBytes(s3, bucket, key)).toEqual(versions.at(-1)?.bytes);
    }
  }, 120_000);
});
