/**
 * `npm run bench:sink-restore`: how long a sink instance takes to restore its join state after a restart, for
 * BENCH_CONVERSATIONS (default 100,000) conversations, beside the floor measured in the same run: a bare kafkajs
 * consumer reading the same changelog topic to its end and doing nothing with the records.
 *
 * Each conversation's state is realistic in size: two legs of WebRTC session tags (every field, with provenance
 * and capture times) and one recording with its export facts, both hashes and the manifest version announced.
 * The restore is the sink's own (src/sink/join-table.ts: the changelog and the uncommitted session tags of every
 * partition, parsed, validated and merged). Each repeat runs the floor and custody one after the other; figures
 * are medians, the ratio is median(custody) ÷ median(floor). RSS is this process's, after the restore.
 *
 * Options (env): BENCH_CONVERSATIONS=100000  BENCH_REPEATS=3  BENCH_PARTITIONS=6
 */
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { pino } from 'pino';
import { mergeSessionTags } from '../../src/enrich/session-tags-merge.ts';
import { notificationSource } from '../../src/enrich/session-tags.ts';
import type { TagObservation } from '../../src/enrich/session-tags.ts';
import { KafkaRecordProducer } from '../../src/kafka/record-producer.ts';
import {
  STATE_FORMAT,
  applyRecordingExport,
  applySessionTags,
  stateBytes,
} from '../../src/sink/join-state.ts';
import type { ConversationState, ExportsState } from '../../src/sink/join-state.ts';
import { JoinTable } from '../../src/sink/join-table.ts';
import { benchInfra, benchLog, machineInfo, median, round, writeResult } from '../support.ts';

const env = process.env;
const CONVERSATIONS = Number(env['BENCH_CONVERSATIONS'] ?? 100_000);
const REPEATS = Number(env['BENCH_REPEATS'] ?? 3);
const PARTITIONS = Number(env['BENCH_PARTITIONS'] ?? 6);
const log = benchLog('sink-restore');

const T = Date.parse('2026-03-01T09:02:00.000Z');
const hex = (n: number, len: number) => n.toString(16).padStart(len, '0').slice(-len);
const uuid = (n: number, salt: number) =>
  `${hex(salt, 8)}-${hex(n >>> 16, 4)}-4${hex(n, 3)}-8${hex(n * 7, 3)}-${hex(n * 2654435761, 12)}`;

/** A realistic conversation state: two fully tagged legs, one hashed and announced recording. */
function stateOf(i: number): ConversationState {
  const conversationId = uuid(i, 0xc0ffee);
  const source = notificationSource(`v2.users.${uuid(i, 0xa11ce)}.conversations.calls`, uuid(i, 0xbeef));
  const leg = (participantId: string, agent: boolean, at: number): TagObservation => ({
    conversationId,
    legKey: participantId,
    participantId,
    provenance: 'live',
    source,
    observedAt: at - 3,
    receivedAt: at,
    fields: {
      communicationId: uuid(i + 1, 0xc0),
      userId: agent ? uuid(i, 0xa11ce) : undefined,
      purpose: agent ? 'agent' : 'customer',
      direction: 'inbound',
      stationId: agent ? uuid(i, 0x57a) : undefined,
      stationType: agent ? 'inin_webrtc_softphone' : undefined,
      isWebRtc: agent,
      peerId: uuid(i, 0x9ee),
      provider: 'Edge',
      selfAddress: agent ? `sip:${hex(i, 24)}+org.orgspan.com` : 'tel:+13175550100',
      otherAddress: agent ? 'tel:+13175550100' : 'tel:+13175550199',
      publicIpAddress: agent ? '203.0.113.7' : undefined,
      connectedTime: T + i,
      disconnectedTime: T + i + 180_000,
      recordingState: 'active',
      recording: true,
    },
  });
  const snapshot = mergeSessionTags(undefined, [
    leg(uuid(i, 0x1), false, T + i),
    leg(uuid(i, 0x2), true, T + i + 5),
  ]);
  const pointer = { topic: 'custody.session-tags.v1', partition: i % PARTITIONS, offset: String(i) };
  const tags = applySessionTags(undefined, snapshot, pointer);
  const recordingId = uuid(i, 0x4ec);
  const key = (ext: string) =>
    `org/year=2026/month=3/day=1/hour=9/conversation_id=${conversationId}/${recordingId}${ext}`;
  const object = (ext: string, size: number) => ({
    key: key(ext),
    versionId: hex(i, 26),
    size,
    etag: `"${hex(i * 31, 32)}"`,
    lastModifiedMs: T + i + 300_000,
  });
  const base = applyRecordingExport(
    undefined,
    {
      bucket: 'exports',
      orgId: uuid(1, 0x0a9),
      conversationId,
      recordingId,
      partitionHour: '2026-03-01T09:00:00.000Z',
      audio: object('.opus', 614_400),
      metadata: object('.opus_metadata.json', 2_048),
      detectedAtMs: T + i + 360_000,
      detectedBy: 'scan',
      detectorInstance: 'exports-0',
      detectorVersion: '0.1.0',
      job: null,
    },
    { topic: 'custody.recording-exports.v1', partition: i % PARTITIONS, offset: String(i) },
  );
  const rec = base.recordings[recordingId];
  if (rec === undefined) throw new Error('unreachable');
  const hash = (size: number) => ({
    versionId: hex(i, 26),
    etag: `"${hex(i * 31, 32)}"`,
    sha256: hex(i, 8).repeat(8),
    size,
    hashedAtMs: T + i + 361_000,
    instance: 'sink-0',
    version: '0.1.0',
  });
  const exports: ExportsState = {
    ...base,
    recordings: {
      [recordingId]: {
        ...rec,
        audioHash: hash(614_400),
        metadataHash: hash(2_048),
        announced: {
          manifestVersion: 1,
          manifestSha256: hex(i, 16).repeat(4),
          inputs: hex(i * 3, 16).repeat(4),
        },
      },
    },
  };
  return { format: STATE_FORMAT, conversationId, tags, exports };
}

async function main(): Promise<void> {
  const infra = await benchInfra('sink-restore', log);
  const kafka = new Kafka({
    clientId: 'bench-restore',
    brokers: infra.settings.KAFKA_BROKERS.split(','),
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  const run = `${Date.now().toString(36)}-${randomUUID().slice(0, 4)}`;
  const changelog = `bench.sink-state.${run}`;
  const tagsTopic = `bench.session-tags.${run}`;
  await admin.createTopics({
    waitForLeaders: true,
    topics: [changelog, tagsTopic].map((topic) => ({
      topic,
      numPartitions: PARTITIONS,
      configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
    })),
  });
  const producer = new KafkaRecordProducer(kafka);
  let bytes = 0;
  const started = performance.now();
  for (let from = 0; from < CONVERSATIONS; from += 2_000) {
    const records = [];
    for (let i = from; i < Math.min(CONVERSATIONS, from + 2_000); i++) {
      const s = stateOf(i);
      const value = stateBytes(s);
      bytes += value.byteLength;
      records.push({ topic: changelog, key: s.conversationId, value });
    }
    await producer.send(records);
  }
  const meanBytes = Math.round(bytes / CONVERSATIONS);
  log(
    `produced ${CONVERSATIONS} states (mean ${meanBytes} B) to ${changelog} in ${Math.round(performance.now() - started)} ms`,
  );

  const floorRun = async (): Promise<number> => {
    const consumer = kafka.consumer({ groupId: `bench-restore-floor-${randomUUID()}` });
    const t0 = performance.now();
    await consumer.connect();
    await consumer.subscribe({ topic: changelog, fromBeginning: true });
    let seen = 0;
    let done: () => void = () => undefined;
    const finished = new Promise<void>((r) => (done = r));
    await consumer.run({
      eachBatch: async ({ batch }) => {
        seen += batch.messages.length;
        if (seen >= CONVERSATIONS) done();
      },
    });
    await finished;
    const ms = performance.now() - t0;
    await consumer.disconnect();
    return ms;
  };

  const custodyRun = async (): Promise<{ ms: number; rssMb: number; held: number }> => {
    const t0 = performance.now();
    const table = new JoinTable(
      {
        kafka,
        admin,
        producer,
        log: pino({ level: 'silent' }),
        decodeTags: async () => undefined,
        pointerOf: (topic, partition, m) => ({ topic, partition, offset: m.offset }),
      },
      {
        changelogTopic: changelog,
        sessionTagsTopic: tagsTopic,
        groupId: `bench-restore-${randomUUID()}`,
        instance: 'bench',
      },
    );
    const partitions = [...Array(PARTITIONS).keys()];
    table.assigned(partitions);
    await Promise.all(partitions.map((p) => table.ready(p)));
    const ms = performance.now() - t0;
    const held = table.size();
    if (held !== CONVERSATIONS) throw new Error(`restored ${held} of ${CONVERSATIONS} conversations`);
    return { ms, rssMb: round(process.memoryUsage().rss / 1024 / 1024, 0), held };
  };

  const runs: { floorMs: number; custodyMs: number; rssMb: number }[] = [];
  try {
    for (let r = 0; r < REPEATS; r++) {
      const floorMs = await floorRun();
      global.gc?.();
      const c = await custodyRun();
      runs.push({ floorMs: Math.round(floorMs), custodyMs: Math.round(c.ms), rssMb: c.rssMb });
      log(
        `#${r + 1}: floor ${Math.round(floorMs)} ms, custody restore ${Math.round(c.ms)} ms (${c.held} conversations, RSS ${c.rssMb} MB)`,
      );
      global.gc?.();
    }
  } finally {
    await producer.close();
    await admin.deleteTopics({ topics: [changelog, tagsTopic] }).catch(() => undefined);
    await admin.disconnect();
    await infra.stop();
  }
  const floorMs = median(runs.map((r) => r.floorMs));
  const custodyMs = median(runs.map((r) => r.custodyMs));
  const result = {
    benchmark: 'sink-restore',
    date: new Date().toISOString(),
    machine: machineInfo(infra.ownInfra),
    settings: {
      conversations: CONVERSATIONS,
      partitions: PARTITIONS,
      repeats: REPEATS,
      stateBytesMean: meanBytes,
    },
    runs,
    summary: {
      floorMsMedian: floorMs,
      custodyRestoreMsMedian: custodyMs,
      custodyConversationsPerSecond: round(CONVERSATIONS / (custodyMs / 1000), 0),
      floorRecordsPerSecond: round(CONVERSATIONS / (floorMs / 1000), 0),
      ratioToFloor: round(floorMs / custodyMs, 2),
      rssMbAfterRestoreMedian: median(runs.map((r) => r.rssMb)),
    },
  };
  const file = writeResult('sink-restore', result.date, result);
  log(`summary ${JSON.stringify(result.summary)}`);
  log(`written to ${file}`);
}

await main();
