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
import { KafkaRecordProducer } from '../../src/kafka/record-producer.ts';
import { encodeConversationState } from '../../src/sink/join-state.ts';
import { JoinTable } from '../../src/sink/join-table.ts';
import { stateOf } from './state-fixture.ts';
import {
  bareConsumerReadMs,
  benchHeapGrowth,
  benchInfra,
  benchLog,
  deleteBenchTopics,
  machineInfo,
  median,
  round,
  writeResult,
} from '../support.ts';

const env = process.env;
const heapGrowth = benchHeapGrowth();
const CONVERSATIONS = Number(env['BENCH_CONVERSATIONS'] ?? 100_000);
const REPEATS = Number(env['BENCH_REPEATS'] ?? 3);
const PARTITIONS = Number(env['BENCH_PARTITIONS'] ?? 6);
const log = benchLog('sink-restore');

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
      const s = stateOf(i, PARTITIONS);
      const value = encodeConversationState(s);
      bytes += value.byteLength;
      records.push({ topic: changelog, key: s.conversationId, value });
    }
    await producer.send(records);
  }
  const meanBytes = Math.round(bytes / CONVERSATIONS);
  log(
    `produced ${CONVERSATIONS} states (mean ${meanBytes} B) to ${changelog} in ${Math.round(performance.now() - started)} ms`,
  );

  // Like the restore: no offset commits, every record handed over in batches.
  const floorRun = (): Promise<number> =>
    bareConsumerReadMs(kafka, {
      groupPrefix: 'bench-restore-floor',
      topics: [changelog],
      total: CONVERSATIONS,
      autoCommit: false,
    });

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
    await deleteBenchTopics(admin, [changelog, tagsTopic], log);
    await admin.disconnect();
    await infra.stop();
  }
  const floorMs = median(runs.map((r) => r.floorMs));
  const custodyMs = median(runs.map((r) => r.custodyMs));
  const result = {
    benchmark: 'sink-restore',
    heapGrowingPercent: heapGrowth,
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
