/**
 * `custody sink` as a process when S3 is not ready for it: the bucket it keeps its join state in does not exist
 * yet (the Genesys integration creates the export bucket on its first export). Before the fix kafkajs retried the
 * batch six times within a second and stopped the consumer for good, while /healthz said 200 and no manifest was
 * ever written. Now the sink waits in place, not ready, and writes every manifest once the bucket exists.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningEmulator } from '../../../dev/emulator/index.ts';
import type { SealedManifest } from '../../../src/enrich/integrity.ts';
import { verifyManifest } from '../../../src/enrich/verify.ts';
import { freePort } from '../../../infra/local.ts';
import { kafkaClient, s3Client, uniqueName } from '../../support/clients.ts';
import { infraEnv, spawnCustody } from '../../support/custody-process.ts';
import type { CustodyProcess } from '../../support/custody-process.ts';
import {
  createLockedBucket,
  createTopics,
  exportCodec,
  getBytes,
  manifestKeyOf,
  produce,
  recordingExportsOf,
  runExportingEmulator,
  sinkTopics,
  snapshotsOf,
  tagsCodec,
  testSigningKey,
} from '../../support/sink-fixtures.ts';

let emu: RunningEmulator | undefined;
const procs: CustodyProcess[] = [];
afterEach(async (ctx) => {
  for (const p of procs.splice(0)) {
    if (ctx.task.result?.state === 'fail')
      process.stderr.write(
        `${p
          .logs()
          .slice(-40)
          .map((l) => JSON.stringify(l))
          .join('\n')}\n${p.stderr()}\n`,
      );
    p.child.kill('SIGKILL');
  }
  if (emu) {
    await emu.exports.stop();
    await emu.close();
  }
  emu = undefined;
});

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('custody sink, unattended', () => {
  it('waits, not ready, while its manifest bucket does not exist, then writes every manifest', async () => {
    const s3 = s3Client();
    const kafka = kafkaClient('sink-unattended');
    const bucket = uniqueName('unattended');
    const manifestBucket = uniqueName('late-manifests');
    await createLockedBucket(s3, bucket);
    emu = await runExportingEmulator(bucket, {
      seed: 31,
      start: '2026-03-01T09:00:00Z',
      conversations: [
        { kind: 'inbound-acd-webrtc', at: '2026-03-01T09:02:00Z', durationSeconds: 60 },
        { kind: 'outbound-webrtc', at: '2026-03-01T09:04:00Z', durationSeconds: 60 },
      ],
    });
    const expected = await recordingExportsOf(s3, bucket);
    expect(expected.length).toBeGreaterThan(0);
    const topics = sinkTopics();
    await createTopics(kafka, Object.values(topics));
    await produce(
      kafka,
      topics.sessionTags,
      [...snapshotsOf(emu)].map(([key, s]) => ({ key, value: tagsCodec.encode(s) })),
    );
    await produce(
      kafka,
      topics.recordingExports,
      expected.map((e) => ({ key: e.conversationId, value: exportCodec.encode(e) })),
    );

    const signer = testSigningKey();
    const keyFile = join(mkdtempSync(join(tmpdir(), 'unattended-key-')), 'signing.pem');
    writeFileSync(keyFile, signer.pem, { mode: 0o600 });
    const port = await freePort();
    const sink = spawnCustody(['sink'], {
      ...infraEnv(),
      S3_BUCKET: bucket,
      CUSTODY_MANIFEST_BUCKET: manifestBucket,
      CUSTODY_HTTP_PORT: String(port),
      CUSTODY_TOPIC_PARTITIONS: '3',
      CUSTODY_TOPIC_SESSION_TAGS: topics.sessionTags,
      CUSTODY_TOPIC_RECORDING_EXPORTS: topics.recordingExports,
      CUSTODY_TOPIC_LEGAL_HOLDS: topics.legalHolds,
      CUSTODY_TOPIC_SINK_STATE: topics.sinkState,
      CUSTODY_TOPIC_MANIFESTS: topics.manifests,
      CUSTODY_TOPIC_DLQ: topics.dlq,
      CUSTODY_SIGNING_KEY_FILE: keyFile,
      CUSTODY_INSTANCE_ID: 'unattended-sink',
      CUSTODY_SINK_GROUP_ID: uniqueName('unattended-sink'),
    });
    procs.push(sink);
    await sink.waitForLog('sink: waiting (retrying with backoff)', 60_000);
    const notReady = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(notReady.status).toBe(503);
    expect(await notReady.text()).toContain('NoSuchBucket');

    // Longer than kafkajs's own retries last (the old failure stopped the consumer within a second).
    await new Promise((r) => setTimeout(r, 12_000));
    expect(sink.child.exitCode).toBeNull();
    await s3.send(new CreateBucketCommand({ Bucket: manifestBucket }));

    for (const e of expected) {
      const key = manifestKeyOf(e);
      const bytes = await until(`manifest ${key}`, async () => {
        const b = await getBytes(s3, manifestBucket, key).catch(() => undefined);
        const m = b && (JSON.parse(b.toString('utf8')) as SealedManifest);
        return m?.completeness.status === 'complete' ? b : undefined;
      });
      const report = verifyManifest(bytes, new Map([[signer.keyId, signer.publicKey]]));
      expect(report.checks.filter((c) => !c.ok)).toEqual([]);
    }
    await until('ready', async () =>
      (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200 ? true : undefined,
    );
    const waits = sink.logs().filter((l) => l['msg'] === 'sink: waiting (retrying with backoff)');
    expect(waits).toHaveLength(1);
    expect(sink.logs().filter((l) => l['msg'] === 'sink: recovered')).toHaveLength(1);
    sink.child.kill('SIGTERM');
    expect(await sink.exited).toBe(0);
  }, 150_000);
});
