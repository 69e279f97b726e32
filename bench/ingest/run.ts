/**
 * `npm run bench:ingest`: notification frames/s through `custody ingest` into a real Kafka broker, beside
 * the floor — a bare kafkajs producer sending the very records custody wrote, with the same settings
 * (idempotent, acks=all, one request in flight, batches of up to 500) — measured in the same run.
 *
 * Load: realistic conversation events from the emulator's simulation, published by the emulator's
 * notification WebSocket at a fixed offered rate (in this process: custody shares the 2 cores with the
 * load generator and the emulator, which makes the custody figures conservative). Latency is from frame
 * received on the socket to Kafka ack, exact per frame. Results: bench/results/ingest-<timestamp>.json.
 *
 * Options (env): BENCH_RATES=1000,2500,5000,10000  BENCH_SECONDS=8  BENCH_REPEATS=3
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { Kafka, logLevel } from 'kafkajs';
import { median, quantile } from '../support.ts';
import { startEmulator } from '../../dev/emulator/index.ts';
import type { ScriptedEvent } from '../../dev/emulator/model.ts';
import { createRng, randomConversations } from '../../dev/emulator/simulation/index.ts';
import { KAFKA_VERSION, startInfra, stopInfra } from '../../infra/local.ts';
import { Secret } from '../../src/config.ts';
import type { Config } from '../../src/config.ts';
import { SdkGenesysApi } from '../../src/ingest/genesys-api.ts';
import { startIngest } from '../../src/ingest/ingest-pipeline.ts';
import { createEncoders } from '../../src/kafka/record-codecs.ts';
import { KafkaRecordProducer } from '../../src/kafka/record-producer.ts';
import { ensureTopics } from '../../src/kafka/topics.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createRegistry, ingestMetrics } from '../../src/observability/metrics.ts';

const RATES = (process.env['BENCH_RATES'] ?? '1000,2500,5000,10000').split(',').map(Number);
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 8);
const REPEATS = Number(process.env['BENCH_REPEATS'] ?? 3);
const log = (line: string) => process.stderr.write(`[bench:ingest] ${line}\n`);

async function main(): Promise<void> {
  let brokers = process.env['KAFKA_BROKERS'];
  const ownInfra = !brokers;
  if (ownInfra) brokers = (await startInfra({ name: 'bench', log })).settings.KAFKA_BROKERS;
  const kafka = new Kafka({
    clientId: 'bench',
    brokers: (brokers as string).split(','),
    logLevel: logLevel.NOTHING,
  });
  const suffix = Date.now().toString(36);
  const topics: Config['topics'] = {
    partitions: 6,
    notifications: `bench.notifications.${suffix}`,
    sessionTags: `bench.session-tags.${suffix}`,
    recordingExports: `bench.recording-exports.${suffix}`,
    sinkState: `bench.sink-state.${suffix}`,
    manifests: `bench.manifests.${suffix}`,
    dlq: `bench.dlq.${suffix}`,
  };
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, topics, ['notifications', 'sessionTags', 'dlq']);

  // A pool of realistic conversation events (every topic a user subscription receives).
  const rng = createRng(42);
  const emu = await startEmulator({ clientId: 'bench', clientSecret: 'bench-secret', seed: 42, users: 40 });
  const org = emu.org;
  const scripts = randomConversations(
    org,
    rng,
    Date.parse('2026-03-01T08:00:00Z'),
    Date.parse('2026-03-01T18:00:00Z'),
    8,
  );
  const pool: ScriptedEvent[] = scripts
    .flatMap((s) => s.events)
    .filter((e) => e.topicName.startsWith('v2.users.'))
    .sort((a, b) => a.at - b.at);
  log(`event pool: ${pool.length} events from ${scripts.length} conversations, ${org.users.length} users`);

  const latencies: number[] = [];
  let acked = 0;
  let lastAckAt = 0;
  const ingest = await startIngest({
    api: new SdkGenesysApi({
      apiUrl: emu.baseUrl,
      clientId: 'bench',
      clientSecret: new Secret('bench-secret'),
    }),
    producer: new KafkaRecordProducer(kafka),
    encoders: await createEncoders({ brokers: [], clientId: 'bench', ssl: false }, topics),
    topics,
    instance: 'bench',
    log: createLogger({ level: 'error', instance: 'bench' }),
    metrics: ingestMetrics(createRegistry()),
    onAcked: (receivedAt, ackedAt) => {
      latencies.push(ackedAt - receivedAt);
      acked++;
      lastAckAt = ackedAt;
    },
  });

  let next = 0;
  const runs: Array<{
    rate: number;
    repeat: number;
    offered: number;
    achieved: number;
    p50: number;
    p99: number;
    max: number;
  }> = [];
  for (const rate of RATES) {
    for (let repeat = 0; repeat < REPEATS; repeat++) {
      latencies.length = 0;
      acked = 0;
      const total = rate * SECONDS;
      const start = Date.now();
      let sent = 0;
      // Paced in 5 ms ticks: send what the schedule says is due.
      while (sent < total) {
        const due = Math.min(total, Math.floor(((Date.now() - start) / 1000) * rate));
        for (; sent < due; sent++) {
          const ev = pool[next++ % pool.length] as ScriptedEvent;
          emu.control.emit({ topicName: ev.topicName, eventBody: ev.eventBody });
        }
        await new Promise((r) => setTimeout(r, 5));
      }
      const deadline = Date.now() + 60_000;
      while (acked < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      await ingest.flush();
      const sorted = [...latencies].sort((a, b) => a - b);
      const run = {
        rate,
        repeat,
        offered: total,
        achieved: Math.round(acked / ((lastAckAt - start) / 1000)),
        p50: quantile(sorted, 0.5),
        p99: quantile(sorted, 0.99),
        max: sorted[sorted.length - 1] ?? NaN,
      };
      runs.push(run);
      log(
        `rate ${rate}/s #${repeat + 1}: achieved ${run.achieved}/s, p50 ${run.p50} ms, p99 ${run.p99} ms (${acked}/${total} acked)`,
      );
    }
  }
  await ingest.stop();
  await emu.close();

  // The floor: the exact records custody wrote, re-sent by a bare kafkajs producer with the same settings.
  const records: Array<{ topic: string; key: Buffer | null; value: Buffer | null }> = [];
  for (const topic of [topics.notifications, topics.sessionTags]) {
    const consumer = kafka.consumer({ groupId: `bench-read-${suffix}-${topic}` });
    const ends = await admin.fetchTopicOffsets(topic);
    let remaining = ends.reduce((n, e) => n + Number(e.high), 0);
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve) => {
      void consumer.run({
        eachMessage: async ({ message }) => {
          records.push({ topic: `${topic}.floor`, key: message.key, value: message.value });
          if (--remaining === 0) resolve();
        },
      });
    });
    await consumer.disconnect();
  }
  await admin.createTopics({
    waitForLeaders: true,
    topics: [topics.notifications, topics.sessionTags].map((t) => ({
      topic: `${t}.floor`,
      numPartitions: topics.partitions,
    })),
  });
  const framesWritten = records.filter((r) => r.topic.startsWith(topics.notifications)).length;
  const recordsPerFrame = records.length / framesWritten;
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const floorRuns: number[] = [];
  for (let repeat = 0; repeat < REPEATS; repeat++) {
    const start = Date.now();
    // Same batching rule as custody's delivery buffer: up to 500 frames and 512 KiB per request.
    for (let i = 0; i < records.length;) {
      const byTopic = new Map<string, Array<{ key: Buffer | null; value: Buffer | null }>>();
      let bytes = 0;
      const end = Math.min(records.length, i + Math.round(500 * recordsPerFrame));
      for (; i < end && bytes < 512 * 1024; i++) {
        const r = records[i] as (typeof records)[number];
        bytes += (r.value?.byteLength ?? 0) + (r.key?.byteLength ?? 0);
        const list = byTopic.get(r.topic) ?? [];
        list.push({ key: r.key, value: r.value });
        byTopic.set(r.topic, list);
      }
      await producer.sendBatch({
        acks: -1,
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
      });
    }
    const framesPerSecond = Math.round(records.length / recordsPerFrame / ((Date.now() - start) / 1000));
    floorRuns.push(framesPerSecond);
    log(
      `floor #${repeat + 1}: bare kafkajs producer ${framesPerSecond} frames/s (${records.length} records, ${recordsPerFrame.toFixed(2)} records per frame)`,
    );
  }
  await producer.disconnect();
  await admin.disconnect();
  if (ownInfra) await stopInfra({ name: 'bench', log, removeState: true });

  const floor = median(floorRuns);
  const summary = RATES.map((rate) => {
    const rs = runs.filter((r) => r.rate === rate);
    const achieved = median(rs.map((r) => r.achieved));
    return {
      offeredPerSecond: rate,
      achievedPerSecondMedian: achieved,
      p50MsMedian: median(rs.map((r) => r.p50)),
      p99MsMedian: median(rs.map((r) => r.p99)),
      ratioToFloor: Number((achieved / floor).toFixed(2)),
    };
  });
  const result = {
    benchmark: 'ingest',
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
    kafka: KAFKA_VERSION,
    secondsPerRun: SECONDS,
    repeats: REPEATS,
    recordsPerFrame: Number(recordsPerFrame.toFixed(2)),
    floorFramesPerSecondMedian: floor,
    floorRuns,
    summary,
    runs,
  };
  mkdirSync(new URL('../results/', import.meta.url), { recursive: true });
  const file = new URL(`../results/ingest-${result.date.replace(/[:.]/g, '-')}.json`, import.meta.url);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(
    [
      `| offered frames/s | achieved (median) | p50 ms | p99 ms | achieved ÷ bare producer (${floor} frames/s) |`,
      '|---|---|---|---|---|',
      ...summary.map(
        (s) =>
          `| ${s.offeredPerSecond} | ${s.achievedPerSecondMedian} | ${s.p50MsMedian} | ${s.p99MsMedian} | ${s.ratioToFloor} |`,
      ),
      '',
      `written ${file.pathname}`,
      '',
    ].join('\n'),
  );
}

main().catch((e: unknown) => {
  process.stderr.write(`[bench:ingest] failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
