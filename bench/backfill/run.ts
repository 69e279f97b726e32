/**
 * `npm run bench:replay`: how fast `custody backfill` replays the sink's input topics through the join, beside
 * the floor measured in the same run: a bare kafkajs consumer (its own group, no work per record) reading the same
 * two topics from the same offsets to their end.
 *
 * Setup: the sink benchmark's workload (BENCH_RECORDINGS exported recordings in a versioned Object-Lock bucket, one
 * session-tags snapshot per conversation, one RecordingExport per recording); every snapshot is produced
 * BENCH_TAG_UPDATES times (a live call updates its snapshot many times), then the live sink (`startSink`) runs
 * over it once, writing every manifest and its join state. Each repeat then runs the floor and a fresh backfill job
 * (`runBackfill`, the code `custody backfill` runs, without rescan or reconstruction: the topics already hold
 * everything) over the whole range, one after the other. The backfill's replay rate is its join phase: records
 * replayed ÷ the time from starting its sink (group join and state restore included) to its last commit. The floor
 * is timed the same way, from starting its consumer to its last record. A repeat is valid only if the backfill
 * wrote no manifest (the live sink had) and dead-lettered nothing. Figures are medians; the ratio is
 * median(custody) ÷ median(floor).
 *
 * Options (env): BENCH_RECORDINGS=1000  BENCH_TAG_UPDATES=10  BENCH_REPEATS=3  BENCH_PARTITIONS=6
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { pino } from 'pino';
import { runBackfill } from '../../src/backfill/backfill.ts';
import type { BackfillReport } from '../../src/backfill/backfill.ts';
import { KafkaRecordProducer } from '../../src/kafka/record-producer.ts';
import { signingKeyOf } from '../../src/sink/signing-key.ts';
import { createSinkCodecs } from '../../src/sink/sink-codecs.ts';
import { DEFAULT_SINK_OPTIONS } from '../../src/sink/sink-pipeline.ts';
import type { SinkOptions } from '../../src/sink/sink-pipeline.ts';
import {
  bareConsumerReadMs,
  benchInfra,
  benchLog,
  deleteBenchTopics,
  machineInfo,
  median,
  round,
  writeResult,
} from '../support.ts';
import { meteredS3 } from '../sink/s3-meter.ts';
import { runSink, runTopics } from '../sink/sink-run.ts';
import { buildWorkload } from '../sink/workload.ts';

const env = process.env;
const num = (name: string, fallback: number): number => {
  const v = Number(env[name] ?? fallback);
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive integer`);
  return v;
};
const RECORDINGS = num('BENCH_RECORDINGS', 1000);
const TAG_UPDATES = num('BENCH_TAG_UPDATES', 10);
const REPEATS = num('BENCH_REPEATS', 3);
const PARTITIONS = num('BENCH_PARTITIONS', 6);
const log = benchLog('replay');

/** A bare consumer reading `topics` from the start until it has seen `total` records (it commits, as the join does). */
async function floorRun(kafka: Kafka, topics: readonly string[], total: number) {
  const ms = await bareConsumerReadMs(kafka, {
    groupPrefix: 'bench-replay-floor',
    topics,
    total,
    autoCommit: true,
  });
  return { records: total, ms: Math.round(ms), recordsPerSecond: round((total * 1000) / ms) };
}

async function main(): Promise<void> {
  const infra = await benchInfra('replay', log);
  const settings = infra.settings;
  const kafka = new Kafka({
    clientId: 'bench-replay',
    brokers: settings.KAFKA_BROKERS.split(','),
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  const input = kafka.producer();
  await Promise.all([admin.connect(), input.connect()]);
  const s3 = meteredS3(settings);
  const run = `${Date.now().toString(36)}-${randomUUID().slice(0, 4)}`;
  const bucket = `bench-replay-${run}`;
  const createdTopics: string[] = [];
  const announcer = new KafkaRecordProducer(kafka);
  const signer = signingKeyOf(generateKeyPairSync('ed25519').privateKey);
  try {
    let started = performance.now();
    const base = await buildWorkload(s3.client, {
      bucket,
      recordings: RECORDINGS,
      audioBytes: 16 * 1024,
      seed: 7,
    });
    const workload = {
      ...base,
      tagsRecords: Array.from({ length: TAG_UPDATES }, () => base.tagsRecords).flat(),
    };
    const total = workload.tagsRecords.length + workload.exportRecords.length;
    log(
      `workload: ${base.recordings.length} recordings, ${total} input records, uploaded in ${Math.round(performance.now() - started)} ms`,
    );

    started = performance.now();
    await runSink(
      { io: { kafka, admin, producer: input }, s3, signer, producer: announcer, createdTopics },
      workload,
      { run, concurrency: 2, partitions: PARTITIONS, legalHold: false, timeoutMs: 600_000 },
    );
    log(`live sink wrote every manifest in ${Math.round(performance.now() - started)} ms`);

    // The live sink's topics and settings.
    const topics = {
      partitions: PARTITIONS,
      notifications: 'unused',
      eventBridge: 'unused',
      ...runTopics(run),
    };
    const sink: SinkOptions = {
      ...DEFAULT_SINK_OPTIONS,
      groupId: `bench-sink-${run}`,
      topics,
      manifestPrefix: `custody-bench/${run}`,
      instance: 'bench-backfill',
      version: '0.1.0-bench',
    };
    const codecs = await createSinkCodecs({ brokers: [], clientId: 'bench', ssl: false }, topics);
    const hours = base.recordings.map((r) => Date.parse(r.record.partitionHour));
    const scope = {
      kind: 'range' as const,
      fromMs: Math.min(...hours),
      toMs: Math.max(...hours) + 3_600_000,
    };

    const repeats: Array<{
      repeat: number;
      floor: Awaited<ReturnType<typeof floorRun>>;
      custody: BackfillReport['replay'] & { totalMs: number; discoverAndRestore: number };
    }> = [];
    for (let repeat = 1; repeat <= REPEATS; repeat++) {
      const floor = await floorRun(kafka, [topics.sessionTags, topics.recordingExports], total);
      const report = await runBackfill(
        {
          kafka,
          s3: s3.client,
          producer: announcer,
          signer,
          codecs,
          tagsEncoder: { encode: () => Buffer.alloc(0) },
          log: pino({ level: env['BENCH_LOG_LEVEL'] ?? 'warn' }),
          now: () => Date.now(),
        },
        { jobId: `bench-${run}-${repeat}`, scope, lookbackMs: 0, sink, concurrency: 1 },
      );
      if (
        report.manifests.written !== 0 ||
        report.manifests.deadLettered !== 0 ||
        report.recordings !== base.recordings.length
      )
        throw new Error(
          `backfill repeat ${repeat} invalid: ${JSON.stringify(report.manifests)}, ${report.recordings} recordings`,
        );
      repeats.push({
        repeat,
        floor,
        custody: { ...report.replay, totalMs: report.ms, discoverAndRestore: report.ms - report.replay.ms },
      });
      log(
        `repeat ${repeat}: floor ${floor.recordsPerSecond} records/s, backfill ${round(report.replay.recordsPerSecond)} records/s ` +
          `(${report.replay.records} records, join ${report.replay.ms} ms, whole run ${report.ms} ms; manifests ${JSON.stringify(report.manifests)})`,
      );
    }
    const floorMedian = median(repeats.map((r) => r.floor.recordsPerSecond));
    const custodyMedian = median(repeats.map((r) => r.custody.recordsPerSecond));
    const result = {
      benchmark: 'replay',
      date: new Date().toISOString(),
      machine: machineInfo(infra.ownInfra),
      workload: {
        recordings: base.recordings.length,
        conversations: base.snapshots.size,
        tagUpdates: TAG_UPDATES,
        records: total,
        partitions: PARTITIONS,
      },
      target: 'backfill replay ≥ 0.8× a bare kafkajs consumer reading the same topics',
      medians: {
        floorRecordsPerSecond: round(floorMedian),
        backfillRecordsPerSecond: round(custodyMedian),
        ratio: round(custodyMedian / floorMedian, 2),
      },
      repeats,
    };
    const file = writeResult('replay', result.date, result);
    log(
      `median: floor ${result.medians.floorRecordsPerSecond}/s, backfill ${result.medians.backfillRecordsPerSecond}/s, ratio ${result.medians.ratio}; ${file}`,
    );
  } finally {
    await announcer.close().catch(() => undefined);
    await input.disconnect().catch(() => undefined);
    await deleteBenchTopics(admin, createdTopics, log);
    await admin.disconnect().catch(() => undefined);
    await infra.stop();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:replay failed: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
