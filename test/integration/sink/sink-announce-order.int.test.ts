/**
 * The changelog never says "announced" before the announcement is acknowledged, even while the session-tags and
 * export batches of one partition run at once (partitionsConsumedConcurrently 2) with several conversations in
 * flight, and announcements are slow to be acknowledged. A restore trusts that mark: a state written first and a
 * crash right after would lose the announcement for good (the replay skips what the state says was announced).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningEmulator } from '../../../dev/emulator/index.ts';
import { KafkaRecordProducer } from '../../../src/kafka/record-producer.ts';
import type { KeyedRecord, RecordProducer } from '../../../src/kafka/record-producer.ts';
import { isStateFailure, parseConversationState } from '../../../src/sink/join-state.ts';
import { sleep } from '../../../src/runtime/backoff.ts';
import type { RunningSink } from '../../../src/sink/sink-pipeline.ts';
import { kafkaClient, s3Client, uniqueName } from '../../support/clients.ts';
import {
  callsScenario,
  createLockedBucket,
  createTopics,
  exportCodec,
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
  writtenCodec,
} from '../../support/sink-fixtures.ts';

const SCENARIO = callsScenario(23, 10, [
  'inbound-acd-webrtc',
  'consult-transfer',
  'outbound-webrtc',
  'blind-transfer',
]);

let emu: RunningEmulator | undefined;
const sinks: RunningSink[] = [];
afterEach(async () => {
  await stopSinksAndEmulator(sinks, emu);
  emu = undefined;
});

describe('custody sink, announcements and its changelog', () => {
  it('acknowledges every announcement before a changelog record says it was announced', async () => {
    const s3 = s3Client();
    const kafka = kafkaClient('sink-announce-order');
    const bucket = uniqueName('sink-order');
    await createLockedBucket(s3, bucket);
    emu = await runExportingEmulator(bucket, SCENARIO);
    const exports = await recordingExportsOf(s3, bucket);
    const snapshots = snapshotsOf(emu);
    const topics = sinkTopics();
    await createTopics(kafka, Object.values(topics), 1);
    const options = {
      ...testSinkOptions(topics, uniqueName('custody-sink'), 'sink-a'),
      partitionsConsumedConcurrently: 2,
      conversationsInFlight: 4,
    };

    // The sink's own producer (real Kafka), with announcements acknowledged 200 ms late, and a log of what was
    // acknowledged when and of when each changelog write started.
    const real = new KafkaRecordProducer(kafka);
    const acked = new Map<string, number>(); // `${recordingId}#${version}` → acknowledged at (ms)
    const changelogWrites: { startedAt: number; records: KeyedRecord[] }[] = [];
    const producer: RecordProducer = {
      async send(records) {
        const startedAt = performance.now();
        const announcements = records.filter((r) => r.topic === topics.manifests);
        const changelog = records.filter((r) => r.topic === topics.sinkState);
        if (changelog.length > 0) changelogWrites.push({ startedAt, records: changelog });
        if (announcements.length > 0) await sleep(200);
        const result = await real.send(records);
        const at = performance.now();
        for (const r of announcements) {
          const w = writtenCodec.decode(r.value as Buffer);
          acked.set(`${w.recordingId}#${w.manifestVersion}`, at);
        }
        return result;
      },
      close: () => real.close(),
    };
    const signer = testSigningKey();
    sinks.push(await startTestSink(kafka, s3, signer, options, producer));

    // Both inputs busy at once: each conversation's exports, then (a moment later) its tags, which make a new
    // manifest version, so both batches reconcile and announce.
    for (const conversationId of new Set(exports.map((e) => e.conversationId))) {
      await produce(
        kafka,
        topics.recordingExports,
        exports
          .filter((e) => e.conversationId === conversationId)
          .map((e) => ({ key: conversationId, value: exportCodec.encode(e) })),
      );
      const tags = snapshots.get(conversationId);
      if (tags !== undefined)
        await produce(kafka, topics.sessionTags, [{ key: conversationId, value: tagsCodec.encode(tags) }]);
    }
    await waitForCaughtUp(kafka, options.groupId, [topics.sessionTags, topics.recordingExports], 90_000);

    let marks = 0;
    const early: string[] = [];
    for (const write of changelogWrites) {
      for (const r of write.records) {
        const state = parseConversationState(String(r.key), r.value as Buffer);
        if (isStateFailure(state)) throw new Error(state.detail);
        for (const [recordingId, rec] of Object.entries(state.exports?.recordings ?? {})) {
          if (rec.announced === null) continue;
          marks++;
          const at = acked.get(`${recordingId}#${rec.announced.manifestVersion}`);
          if (at === undefined || at > write.startedAt)
            early.push(`${recordingId} v${rec.announced.manifestVersion}`);
        }
      }
    }
    expect(marks).toBeGreaterThan(exports.length);
    expect(early).toEqual([]);
  }, 120_000);
});
