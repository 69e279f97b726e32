/**
 * Several conversations of one partition reconciled at once (conversationsInFlight), against real Kafka and S3:
 * the reads overlap, no more than the limit run together, and while one conversation is held up the offset committed
 * never passes it, although every conversation after it has its manifests already.
 */
import type { InitializeHandler, InitializeHandlerArguments, MetadataBearer } from '@smithy/types';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningEmulator } from '../../../dev/emulator/index.ts';
import { sleep } from '../../../src/runtime/backoff.ts';
import type { RunningSink } from '../../../src/sink/sink-pipeline.ts';
import { kafkaClient, s3Client, uniqueName } from '../../support/clients.ts';
import {
  callsScenario,
  createLockedBucket,
  createTopics,
  exportCodec,
  listKeys,
  manifestKeyOf,
  produce,
  recordingExportsOf,
  runExportingEmulator,
  sinkTopics,
  snapshotsOf,
  startTestSink,
  stopSinksAndEmulator,
  tagsCodec,
  testSigningKey,
  testSinkOptions,
  waitForCaughtUp,
} from '../../support/sink-fixtures.ts';

const SCENARIO = callsScenario(11, 8, [
  'inbound-acd-webrtc',
  'outbound-webrtc',
  'consult-transfer',
  'blind-transfer',
]);

let emu: RunningEmulator | undefined;
const sinks: RunningSink[] = [];
afterEach(async () => {
  await stopSinksAndEmulator(sinks, emu);
  emu = undefined;
});

describe('custody sink, conversations in flight', () => {
  it('reconciles up to the limit at once and commits only past conversations whose manifests are written', async () => {
    const s3 = s3Client();
    const kafka = kafkaClient('sink-in-flight');
    const bucket = uniqueName('sink-inflight');
    await createLockedBucket(s3, bucket);
    emu = await runExportingEmulator(bucket, SCENARIO);
    const exports = await recordingExportsOf(s3, bucket);
    const conversations = [...new Set(exports.map((e) => e.conversationId))];
    expect(conversations.length).toBeGreaterThanOrEqual(6);

    // One partition per topic: every conversation is in the same batch.
    const topics = sinkTopics();
    await createTopics(kafka, Object.values(topics), 1);
    const signer = testSigningKey();
    const options = {
      ...testSinkOptions(topics, uniqueName('custody-sink'), 'sink-a'),
      conversationsInFlight: 3,
    };

    // The sink's own S3 client, slowed down: every audio read takes 300 ms, the first conversation's 6 s.
    const slowConversation = conversations[0] as string;
    const sinkS3 = s3Client();
    let inFlight = 0;
    let maxInFlight = 0;
    let slow: { startedAt: number; endedAt?: number } | undefined;
    sinkS3.middlewareStack.add(
      (next: InitializeHandler<object, MetadataBearer>, context) =>
        async (args: InitializeHandlerArguments<object>) => {
          const key = (args.input as { Key?: string }).Key ?? '';
          if (context.commandName !== 'GetObjectCommand' || !key.endsWith('.opus')) return next(args);
          const isSlow = key.includes(`/conversation_id=${slowConversation}/`);
          if (isSlow) slow = { startedAt: Date.now() };
          inFlight++;
          maxInFlight = Math.max(maxInFlight, inFlight);
          try {
            await sleep(isSlow ? 6_000 : 300);
            return await next(args);
          } finally {
            inFlight--;
            if (isSlow && slow) slow.endedAt = Date.now();
          }
        },
      { step: 'initialize', name: 'slowAudioReads' },
    );

    sinks.push(await startTestSink(kafka, sinkS3, signer, options));
    const snapshots = snapshotsOf(emu);
    await produce(
      kafka,
      topics.sessionTags,
      [...snapshots].map(([key, s]) => ({ key, value: tagsCodec.encode(s) })),
    );
    await waitForCaughtUp(kafka, options.groupId, [topics.sessionTags]);
    // The slow conversation's exports first, so everything after it in the partition waits on it to be committed.
    const ordered = [
      ...exports.filter((e) => e.conversationId === slowConversation),
      ...exports.filter((e) => e.conversationId !== slowConversation),
    ];
    await produce(
      kafka,
      topics.recordingExports,
      ordered.map((e) => ({ key: e.conversationId, value: exportCodec.encode(e) })),
    );

    // While the slow read is in flight: other manifests get written, the committed offset stays at 0.
    const admin = kafka.admin();
    await admin.connect();
    const others = ordered.filter((e) => e.conversationId !== slowConversation).map(manifestKeyOf);
    let writtenWhileHeld = 0;
    try {
      const deadline = Date.now() + 30_000;
      while (slow?.endedAt === undefined && Date.now() < deadline) {
        const [committed] = await admin.fetchOffsets({
          groupId: options.groupId,
          topics: [topics.recordingExports],
        });
        const offset = BigInt(committed?.partitions[0]?.offset ?? '-1');
        // Sampled before the slow read ended: it must not be past the slow conversation's record (offset 0).
        if (slow !== undefined && slow.endedAt === undefined) expect(offset <= 0n).toBe(true);
        const keys = new Set(await listKeys(s3, bucket));
        if (slow?.endedAt === undefined)
          writtenWhileHeld = Math.max(writtenWhileHeld, others.filter((k) => keys.has(k)).length);
        await sleep(100);
      }
    } finally {
      await admin.disconnect();
    }
    expect(slow?.endedAt).toBeDefined();
    // Commits do not wait for the slow conversation: every other manifest was written while it was held.
    expect(writtenWhileHeld).toBe(others.length);
    expect(maxInFlight).toBeGreaterThan(1);
    expect(maxInFlight).toBeLessThanOrEqual(3);

    await waitForCaughtUp(kafka, options.groupId, [topics.sessionTags, topics.recordingExports]);
    const keys = new Set(await listKeys(s3, bucket));
    expect(ordered.map(manifestKeyOf).filter((k) => !keys.has(k))).toEqual([]);
  }, 90_000);
});
