/**
 * `npm run bench:sink`: manifests/s through `custody sink` (startSink, in this process) against the real Kafka
 * broker and the real S3 server, beside the S3 floor measured in the same run: a bare @aws-sdk/client-s3 loop
 * doing only the S3 work every manifest needs (stream-hash the audio, read the metadata, put the manifest) at the
 * same concurrency.
 *
 * Load: N exported recordings (random ~600 KB audio + realistic metadata, Genesys export layout) in a versioned
 * Object-Lock bucket, the conversations' session-tags snapshots and the recordings' RecordingExport records on
 * fresh topics (bench/sink/workload.ts). Concurrency = the sink's partitionsConsumedConcurrently: each of those
 * partitions is processed BENCH_IN_FLIGHT conversations at a time (the sink's conversationsInFlight), so the floor
 * runs concurrency × in-flight workers, one recording at a time each. Every level runs `repeats` times, sink and floor alternating; figures are medians, the ratio is
 * median(custody) ÷ median(floor). Results: bench/results/sink-<timestamp>.json.
 *
 * Options (env): BENCH_RECORDINGS=200  BENCH_REPEATS=3  BENCH_CONCURRENCY=1,2,4  BENCH_AUDIO_KB=600
 *   BENCH_PARTITIONS=6 (partitions of every topic; custody's default)  BENCH_LEGAL_HOLD=1 (legal hold on every
 *   manifest, sink and floor alike; custody's default is off)  BENCH_KEEP=1 (keep the bucket afterwards)
 *   BENCH_LABEL=text (stored in the results, e.g. what code was measured)
 *   BENCH_TAG_UPDATES=final|each (final, default: one session-tags snapshot per conversation; each: every update of
 *   it, interleaved in time as ingest sends them, so the tags phase does production's share of the work)
 *   BENCH_IN_FLIGHT=4 (the sink's conversationsInFlight; default the sink's own)
 *   BENCH_S3_LATENCY_MS=0 (added before every S3 request of custody and the floor alike: a remote S3's round trip)
 *
 * Profiling: `BENCH_CONCURRENCY=1 BENCH_REPEATS=1 node --cpu-prof --import tsx bench/sink/run.ts`; each phase's
 * `monotonicUs` in the results bounds its samples in the profile (same clock).
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import {
  DeleteBucketCommand,
  DeleteObjectsCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
} from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import { Kafka, logLevel } from 'kafkajs';
import { compressionType } from '../../src/kafka/kafkajs-codecs.ts';
import { KafkaRecordProducer } from '../../src/kafka/record-producer.ts';
import { signingKeyOf } from '../../src/sink/signing-key.ts';
import {
  benchCompression,
  benchHeapGrowth,
  benchInfra,
  benchKafkajs,
  benchLog,
  deleteBenchTopics,
  machineInfo,
  median,
  round,
  writeResult,
} from '../support.ts';
import { runFloor } from './floor.ts';
import type { FloorRun } from './floor.ts';
import { meteredS3, totals } from './s3-meter.ts';
import type { OperationStats } from './s3-meter.ts';
import { createRunTopics, runSink, runTopics } from './sink-run.ts';
import { DEFAULT_SINK_OPTIONS } from '../../src/sink/sink-pipeline.ts';
import type { SinkRun } from './sink-run.ts';
import { buildWorkload } from './workload.ts';

const env = process.env;
const heapGrowth = benchHeapGrowth();
const positive = (name: string, fallback: string): number[] => {
  const values = (env[name] ?? fallback).split(',').map(Number);
  if (!values.every((v) => Number.isInteger(v) && v > 0))
    throw new Error(`${name} must be a positive integer (or a comma-separated list for BENCH_CONCURRENCY)`);
  return values;
};
const [RECORDINGS = 200] = positive('BENCH_RECORDINGS', '200');
const [REPEATS = 3] = positive('BENCH_REPEATS', '3');
const LEVELS = positive('BENCH_CONCURRENCY', '1,2,4');
const AUDIO_BYTES = (positive('BENCH_AUDIO_KB', '600')[0] ?? 600) * 1024;
const [PARTITIONS = 6] = positive('BENCH_PARTITIONS', '6');
const [IN_FLIGHT = 4] = positive('BENCH_IN_FLIGHT', String(DEFAULT_SINK_OPTIONS.conversationsInFlight));
const S3_LATENCY_MS = Number(env['BENCH_S3_LATENCY_MS'] ?? '0');
if (!Number.isFinite(S3_LATENCY_MS) || S3_LATENCY_MS < 0) throw new Error('BENCH_S3_LATENCY_MS must be ≥ 0');
const LEGAL_HOLD = env['BENCH_LEGAL_HOLD'] === '1';
const KEEP = env['BENCH_KEEP'] === '1';
const LABEL = env['BENCH_LABEL'];
const TAG_UPDATES = ((value = 'final'): 'final' | 'each' => {
  if (value !== 'final' && value !== 'each') throw new Error('BENCH_TAG_UPDATES must be final or each');
  return value;
})(env['BENCH_TAG_UPDATES']);
const log = benchLog('sink');

type Pair = {
  concurrency: number;
  repeat: number;
  /** 1-minute load average when the pair started (other work on the machine shows here). */
  loadAverage1m: number;
  sink: Omit<SinkRun, 'manifestKeys'>;
  floor: FloorRun & { s3: Record<string, OperationStats> };
};

const perManifest = (stats: Record<string, OperationStats>, n: number) => {
  const t = totals(stats);
  return { requests: round(t.requests / n, 1), ms: round(t.ms / n, 1) };
};

const mergeStats = (...all: Record<string, OperationStats>[]): Record<string, OperationStats> => {
  const out: Record<string, OperationStats> = {};
  for (const stats of all)
    for (const [op, s] of Object.entries(stats)) {
      const o = (out[op] ??= { requests: 0, ms: 0 });
      o.requests += s.requests;
      o.ms += s.ms;
    }
  return out;
};

/** Mean size of the manifests the sink wrote (the floor writes bodies of this size). */
async function manifestSize(s3: S3Client, bucket: string, keys: SinkRun['manifestKeys']): Promise<number> {
  const sizes: number[] = [];
  for (const k of keys.slice(0, 20)) {
    const h = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: k.key }));
    sizes.push(h.ContentLength ?? 0);
  }
  return Math.round(sizes.reduce((a, b) => a + b, 0) / sizes.length);
}

/** Best effort: deletes every version in the bucket, then the bucket. */
async function removeBucket(s3: S3Client, bucket: string): Promise<void> {
  for (;;) {
    const page = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, MaxKeys: 500 }));
    const objects = [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])].map((v) => ({
      Key: v.Key ?? '',
      VersionId: v.VersionId,
    }));
    if (objects.length === 0) break;
    await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: objects, Quiet: true } }));
  }
  await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
}

async function main(): Promise<void> {
  const infra = await benchInfra('sink', log);
  const settings = infra.settings;
  const kafkajs = benchKafkajs();
  const compression = benchCompression();
  log(`${kafkajs.detail}; record batches: ${compression} (KAFKA_COMPRESSION)`);
  const kafka = new Kafka({
    clientId: 'bench-sink',
    brokers: settings.KAFKA_BROKERS.split(','),
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  const input = kafka.producer();
  await Promise.all([admin.connect(), input.connect()]);
  const setup = meteredS3(settings);
  const sinkS3 = meteredS3(settings, S3_LATENCY_MS);
  const floorS3 = meteredS3(settings, S3_LATENCY_MS);
  const suffix = `${Date.now().toString(36)}-${randomUUID().slice(0, 4)}`;
  const bucket = `bench-sink-${suffix}`;

  const runName = (concurrency: number, repeat: number) => `c${concurrency}-r${repeat}-${suffix}`;
  for (const concurrency of LEVELS)
    for (let repeat = 0; repeat < REPEATS; repeat++)
      await createRunTopics(admin, runName(concurrency, repeat), PARTITIONS);
  let started = performance.now();
  const workload = await buildWorkload(setup.client, {
    bucket,
    recordings: RECORDINGS,
    audioBytes: AUDIO_BYTES,
    seed: 42,
    tagUpdates: TAG_UPDATES,
  });
  const conversations = workload.snapshots.size;
  log(
    `workload: ${workload.recordings.length} recordings of ${AUDIO_BYTES} B in ${conversations} conversations ` +
      `(metadata ~${workload.metadataBytesMean} B, ${workload.tagsRecords.length} session-tags records) uploaded to ${bucket} in ${Math.round(performance.now() - started)} ms`,
  );

  const signer = signingKeyOf(generateKeyPairSync('ed25519').privateKey);
  const announcer = new KafkaRecordProducer(kafka, { compression });
  // A producer's first send waits for its idempotent producer id (hundreds of ms on a fresh KRaft broker): start-up
  // work a long-running sink pays once, which would otherwise land in the first run's tags phase.
  const warmup = `bench.warmup.${suffix}`;
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic: warmup, numPartitions: 1 }] });
  await announcer.send([{ topic: warmup, key: 'warmup', value: Buffer.from('warmup') }]);
  const n = workload.recordings.length;
  const pairs: Pair[] = [];
  let manifestBytes: number | undefined;
  const createdTopics: string[] = [warmup];
  try {
    for (const concurrency of LEVELS) {
      for (let repeat = 0; repeat < REPEATS; repeat++) {
        const run = runName(concurrency, repeat);
        const loadAverage1m = round(loadavg()[0] ?? NaN, 2);
        const sink = await runSink(
          {
            io: { kafka, admin, producer: input, compression: compressionType(compression) },
            s3: sinkS3,
            signer,
            producer: announcer,
            createdTopics,
          },
          workload,
          {
            run,
            concurrency,
            inFlight: IN_FLIGHT,
            partitions: PARTITIONS,
            legalHold: LEGAL_HOLD,
            timeoutMs: 300_000,
          },
        );
        manifestBytes ??= await manifestSize(setup.client, bucket, sink.manifestKeys);
        floorS3.reset();
        const floor = await runFloor(floorS3.client, workload.recordings, {
          concurrency: concurrency * IN_FLIGHT,
          manifestPrefix: `floor/${run}`,
          manifestBytes,
          legalHold: LEGAL_HOLD,
        });
        const { manifestKeys: _keys, ...sinkFigures } = sink;
        pairs.push({
          concurrency,
          repeat,
          loadAverage1m,
          sink: sinkFigures,
          floor: { ...floor, s3: floorS3.snapshot() },
        });
        log(
          `concurrency ${concurrency} #${repeat + 1}: custody ${sink.manifestsPerSecond}/s ` +
            `(tags ${sink.tags.ms} ms + exports ${sink.exports.ms} ms; exports phase alone ${sink.exportsPhaseManifestsPerSecond}/s), ` +
            `floor ${floor.manifestsPerSecond}/s (${floor.ms} ms), ratio ${round(sink.manifestsPerSecond / floor.manifestsPerSecond, 2)}`,
        );
      }
    }
  } finally {
    for (const concurrency of LEVELS)
      for (let repeat = 0; repeat < REPEATS; repeat++)
        createdTopics.push(...Object.values(runTopics(runName(concurrency, repeat))));
    await Promise.all([announcer.close(), input.disconnect()]);
    await deleteBenchTopics(admin, createdTopics, log);
    await admin.disconnect();
    if (!KEEP && !LEGAL_HOLD) {
      started = performance.now();
      await removeBucket(setup.client, bucket).catch((e: unknown) =>
        log(`could not remove ${bucket}: ${e instanceof Error ? e.message : String(e)}`),
      );
      log(`removed ${bucket} in ${Math.round(performance.now() - started)} ms`);
    } else {
      log(`kept ${bucket}${LEGAL_HOLD ? ' (its manifests are under legal hold)' : ''}`);
    }
    await infra.stop();
  }

  // Client CPU (this process) per manifest: what custody's Node process and the floor's spend on each recording.
  const sinkCpuMs = (p: Pair) =>
    (p.sink.tags.ms * p.sink.tags.nodeCpuShare + p.sink.exports.ms * p.sink.exports.nodeCpuShare) / n;
  const floorCpuMs = (p: Pair) => (p.floor.ms * p.floor.nodeCpuShare) / n;
  const summary = LEVELS.map((concurrency) => {
    const ps = pairs.filter((p) => p.concurrency === concurrency);
    const custody = median(ps.map((p) => p.sink.manifestsPerSecond));
    const floor = median(ps.map((p) => p.floor.manifestsPerSecond));
    const mid = ps.find((p) => p.sink.manifestsPerSecond === custody) ?? ps[0];
    const sinkStats = mid ? mergeStats(mid.sink.tags.s3, mid.sink.exports.s3) : {};
    return {
      concurrency,
      custodyManifestsPerSecondMedian: custody,
      floorManifestsPerSecondMedian: floor,
      ratioToFloor: round(custody / floor, 2),
      // Each custody run against the floor run right after it (less exposed to drifting machine load).
      pairedRatioMedian: round(
        median(ps.map((p) => p.sink.manifestsPerSecond / p.floor.manifestsPerSecond)),
        2,
      ),
      custodyExportsPhaseManifestsPerSecondMedian: median(
        ps.map((p) => p.sink.exportsPhaseManifestsPerSecond),
      ),
      exportsPhaseRatioToFloor: round(
        median(ps.map((p) => p.sink.exportsPhaseManifestsPerSecond)) / floor,
        2,
      ),
      custodyCpuMsPerManifestMedian: round(median(ps.map(sinkCpuMs)), 1),
      // The tags phase per session-tags record (wall and this process's CPU).
      tagsPhaseMsPerRecordMedian: round(
        median(ps.map((p) => p.sink.tags.ms / workload.tagsRecords.length)),
        2,
      ),
      tagsPhaseCpuMsPerRecordMedian: round(
        median(ps.map((p) => (p.sink.tags.ms * p.sink.tags.nodeCpuShare) / workload.tagsRecords.length)),
        2,
      ),
      floorCpuMsPerManifestMedian: round(median(ps.map(floorCpuMs)), 1),
      // From the median custody run. Join-state requests (anything under _custody/) should be none: the state is in Kafka.
      custodyS3PerManifest: perManifest(sinkStats, n),
      custodyJoinStateS3PerManifest: perManifest(
        Object.fromEntries(Object.entries(sinkStats).filter(([k]) => k.endsWith(' join-state'))),
        n,
      ),
      custodyS3ByRequest: sinkStats,
      floorS3PerManifest: mid ? perManifest(mid.floor.s3, n) : undefined,
      announceMsPerManifest: mid ? round(mid.sink.announceMs / n, 1) : NaN,
      offsetCommits: mid
        ? (mid.sink.tags.kafkaConsumerRequests['OffsetCommit']?.requests ?? 0) +
          (mid.sink.exports.kafkaConsumerRequests['OffsetCommit']?.requests ?? 0)
        : NaN,
      machineBusyShareExportsPhase: mid?.sink.exports.machineBusyShare,
    };
  });
  const result = {
    benchmark: 'sink',
    date: new Date().toISOString(),
    label: LABEL ?? null,
    machine: machineInfo(infra.ownInfra),
    kafkajs: kafkajs.detail,
    kafkaCompression: compression,
    heapGrowingPercent: heapGrowth,
    settings: {
      recordings: n,
      conversations,
      tagUpdates: TAG_UPDATES,
      sessionTagsRecords: workload.tagsRecords.length,
      audioBytes: AUDIO_BYTES,
      metadataBytesMean: workload.metadataBytesMean,
      manifestBytesMean: manifestBytes,
      partitionsPerTopic: PARTITIONS,
      repeats: REPEATS,
      legalHold: LEGAL_HOLD,
      inFlight: IN_FLIGHT,
      s3LatencyMs: S3_LATENCY_MS,
      concurrency:
        "the sink's partitionsConsumedConcurrently, each partition with inFlight conversations at a time (conversationsInFlight); the floor runs concurrency × inFlight workers, one recording at a time each",
      custodyRate:
        'recordings / (tags phase + exports phase); start-up (connect, group join, join-state restore) excluded',
      floorWork:
        'GetObject audio streamed through SHA-256, GetObject metadata, PutObject manifest with ChecksumSHA256',
    },
    summary,
    runs: pairs,
  };
  const file = writeResult('sink', result.date, result);
  process.stdout.write(
    [
      `custody sink: ${n} recordings (${AUDIO_BYTES / 1024} KB audio) in ${conversations} conversations, ` +
        `${workload.tagsRecords.length} session-tags records (${TAG_UPDATES}), ${REPEATS} repeats, medians`,
      '',
      '| partitions consumed concurrently | custody manifests/s | S3 floor manifests/s | custody ÷ floor | S3 requests per manifest (custody / floor) | client CPU ms per manifest (custody / floor) | tags phase CPU ms per record |',
      '|---|---|---|---|---|---|---|',
      ...summary.map(
        (s) =>
          `| ${s.concurrency} | ${s.custodyManifestsPerSecondMedian} | ${s.floorManifestsPerSecondMedian} | ${s.ratioToFloor} | ` +
          `${s.custodyS3PerManifest.requests} (${s.custodyJoinStateS3PerManifest.requests} join state) / ${s.floorS3PerManifest?.requests ?? '?'} | ` +
          `${s.custodyCpuMsPerManifestMedian} / ${s.floorCpuMsPerManifestMedian} | ${s.tagsPhaseCpuMsPerRecordMedian} |`,
      ),
      '',
      `written ${file}`,
      '',
    ].join('\n'),
  );
}

main().catch((e: unknown) => {
  process.stderr.write(`[bench:sink] failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
