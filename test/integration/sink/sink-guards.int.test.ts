/**
 * What the sink refuses, each as a dead letter with the reason rather than a silent act: a manifest chain whose
 * head vanished after a later version was announced (starting again at version 1 would hide it), and an export
 * record naming a bucket the sink is not configured for (it must never read from, or sign into, any bucket an
 * input record names).
 */
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningEmulator } from '../../../dev/emulator/index.ts';
import type { RunningSink } from '../../../src/sink/sink-pipeline.ts';
import { kafkaClient, s3Client, uniqueName } from '../../support/clients.ts';
import {
  createLockedBucket,
  createTopics,
  deadLetterCodec,
  exportCodec,
  getBytes,
  manifestKeyOf,
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

describe('custody sink guards', () => {
  it('dead-letters a vanished chain head and a foreign bucket, and writes nothing for either', async () => {
    const s3 = s3Client();
    const kafka = kafkaClient('sink-guards');
    const bucket = uniqueName('guards');
    await createLockedBucket(s3, bucket);
    emu = await runExportingEmulator(bucket, {
      seed: 13,
      start: '2026-03-01T09:00:00Z',
      conversations: [{ kind: 'inbound-acd-webrtc', at: '2026-03-01T09:02:00Z', durationSeconds: 60 }],
    });
    const [first] = await recordingExportsOf(s3, bucket);
    if (!first) throw new Error('no export');
    const topics = sinkTopics();
    await createTopics(kafka, Object.values(topics));
    const signer = testSigningKey();
    const options = {
      ...testSinkOptions(topics, uniqueName('guards-sink'), 'guards'),
      allowedBuckets: [bucket],
    };
    sinks.push(await startTestSink(kafka, s3, signer, options));

    // Version 1, announced.
    await produce(kafka, topics.recordingExports, [
      { key: first.conversationId, value: exportCodec.encode(first) },
    ]);
    await waitForCaughtUp(kafka, options.groupId, [topics.recordingExports]);
    const key = manifestKeyOf(first);
    expect(await getBytes(s3, bucket, key)).toBeDefined();

    // The head vanishes (a delete marker), then new tags ask for version 2.
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    const tags = snapshotsOf(emu).get(first.conversationId);
    if (!tags) throw new Error('no tags');
    await produce(kafka, topics.sessionTags, [{ key: first.conversationId, value: tagsCodec.encode(tags) }]);
    // An export naming a bucket the sink was not configured for.
    await produce(kafka, topics.recordingExports, [
      { key: first.conversationId, value: exportCodec.encode({ ...first, bucket: 'someone-elses-bucket' }) },
    ]);
    await waitForCaughtUp(kafka, options.groupId, [topics.sessionTags, topics.recordingExports]);

    const letters = await Promise.all(
      (await readAll(kafka, topics.dlq)).map((r) => deadLetterCodec.decode(r.value as Buffer)),
    );
    const codes = letters.map((l) => l.errorCode).sort();
    expect(codes).toEqual(['CUSTODY_SINK_BUCKET_NOT_ALLOWED', 'CUSTODY_SINK_MANIFEST_MISSING']);
    expect(letters.find((l) => l.errorCode === 'CUSTODY_SINK_MANIFEST_MISSING')?.reason).toMatch(
      /manifest version 1 .* was written and announced/,
    );
    // No silent new chain: the key still holds no manifest.
    await expect(getBytes(s3, bucket, key)).rejects.toThrow();
  });
});
