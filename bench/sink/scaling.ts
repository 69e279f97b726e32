/**
 * `npm run bench:sink-scale`: manifests/s with 1, 2 and 4 `custody sink` processes in one consumer group on the
 * same partitions (BENCH_PARTITIONS, default 6), the way users scale it. Each run gets fresh topics and a fresh
 * manifest prefix over one workload (bench/sink/workload.ts); the processes are started and the group is stable
 * before any input arrives; then the session tags and the exports are produced and the run ends when the group
 * has committed the last export (the sink commits only after the manifest is written and announced). Figures are
 * medians of BENCH_REPEATS runs; speed-up is relative to one instance. This machine has 2 cores shared by Kafka,
 * the S3 server and every sink process, so it shows what more instances cost here, not what they gain on a cluster.
 *
 * Options (env): BENCH_RECORDINGS=200  BENCH_REPEATS=3  BENCH_INSTANCES=1,2,4  BENCH_PARTITIONS=6
 */
import { randomUUID } from 'node:crypto';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { Kafka, logLevel } from 'kafkajs';
import type { Admin } from 'kafkajs';
import { createDeployment } from '../../test/support/deployment.ts';
import type { SupervisedRole } from '../../test/support/deployment.ts';
import {
  benchInfra,
  benchLog,
  deleteBenchTopics,
  machineInfo,
  median,
  round,
  writeResult,
} from '../support.ts';
import { meteredS3 } from './s3-meter.ts';
import { buildWorkload } from './workload.ts';

const env = process.env;
const list = (name: string, fallback: string) => (env[name] ?? fallback).split(',').map(Number);
const RECORDINGS = Number(env['BENCH_RECORDINGS'] ?? 200);
const REPEATS = Number(env['BENCH_REPEATS'] ?? 3);
const INSTANCES = list('BENCH_INSTANCES', '1,2,4');
const PARTITIONS = Number(env['BENCH_PARTITIONS'] ?? 6);
const log = benchLog('sink-scale');

async function until(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Whether the group has committed every partition of `topic` to its end. */
async function committedToEnd(admin: Admin, groupId: string, topic: string): Promise<boolean> {
  const [ends, committed] = await Promise.all([
    admin.fetchTopicOffsets(topic),
    admin.fetchOffsets({ groupId, topics: [topic] }),
  ]);
  const done = new Map(committed[0]?.partitions.map((p) => [p.partition, BigInt(p.offset)]) ?? []);
  return ends.every((e) => e.high === e.low || (done.get(e.partition) ?? -1n) >= BigInt(e.high));
}

async function main(): Promise<void> {
  const infra = await benchInfra('sink-scale', log);
  const kafka = new Kafka({
    clientId: 'bench-scale',
    brokers: infra.settings.KAFKA_BROKERS.split(','),
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  const producer = kafka.producer();
  await Promise.all([admin.connect(), producer.connect()]);
  const setup = meteredS3(infra.settings);
  const suffix = `${Date.now().toString(36)}-${randomUUID().slice(0, 4)}`;
  const bucket = `bench-scale-${suffix}`;
  const workload = await buildWorkload(setup.client, {
    bucket,
    recordings: RECORDINGS,
    audioBytes: 600 * 1024,
    seed: 42,
  });
  const n = workload.recordings.length;
  log(`workload: ${n} recordings in ${workload.snapshots.size} conversations in ${bucket}`);

  const runs: {
    instances: number;
    repeat: number;
    ms: number;
    exportsMs: number;
    manifestsPerSecond: number;
  }[] = [];
  const created: string[] = [];
  try {
    for (let repeat = 0; repeat < REPEATS; repeat++) {
      for (const instances of INSTANCES) {
        const run = `i${instances}-r${repeat}-${suffix}`;
        const deployment = createDeployment({
          infra: infra.settings,
          name: `scale-${run}`,
          env: {
            S3_BUCKET: bucket,
            CUSTODY_TOPIC_PARTITIONS: String(PARTITIONS),
            CUSTODY_MANIFEST_PREFIX: `scale/${run}/`,
            CUSTODY_LOG_LEVEL: 'warn',
          },
        });
        const topics = deployment.topics;
        await admin.createTopics({
          waitForLeaders: true,
          topics: [
            topics.sessionTags,
            topics.recordingExports,
            topics.legalHolds,
            topics.sinkState,
            topics.manifests,
            topics.dlq,
          ].map((topic) => ({
            topic,
            numPartitions: PARTITIONS,
            configEntries:
              topic === topics.sessionTags || topic === topics.sinkState
                ? [{ name: 'cleanup.policy', value: 'compact' }]
                : [],
          })),
        });
        log(`${run}: topics created; starting ${instances} sink process(es)`);
        try {
          const sinks: SupervisedRole[] = [];
          for (let i = 0; i < instances; i++)
            sinks.push(await deployment.start('sink', { instance: `sink-${i}`, supervise: false }));
          await until('every sink ready', 120_000, async () => {
            const exited = sinks.find((s) => s.current().child.exitCode !== null);
            if (exited)
              throw new Error(`${exited.instance} exited: ${exited.current().stderr().slice(-300)}`);
            return (await Promise.all(sinks.map((s) => s.readyz()))).every((r) => r.status === 200);
          });
          await until('a stable group with every instance', 120_000, async () => {
            const g = (await admin.describeGroups([deployment.groupId])).groups[0];
            return g?.state === 'Stable' && g.members.length === instances;
          });
          const started = performance.now();
          await producer.send({ topic: topics.sessionTags, acks: -1, messages: [...workload.tagsRecords] });
          await until('tags committed', 300_000, () =>
            committedToEnd(admin, deployment.groupId, topics.sessionTags),
          );
          const exportsStarted = performance.now();
          await producer.send({
            topic: topics.recordingExports,
            acks: -1,
            messages: [...workload.exportRecords],
          });
          await until('exports committed', 300_000, () =>
            committedToEnd(admin, deployment.groupId, topics.recordingExports),
          );
          const ended = performance.now();
          const listed = await setup.client.send(
            new ListObjectsV2Command({ Bucket: bucket, Prefix: `scale/${run}/`, MaxKeys: 1000 }),
          );
          const manifests = (listed.Contents ?? []).filter((o) =>
            o.Key?.endsWith('.opus_manifest.json'),
          ).length;
          if (manifests !== n) throw new Error(`run ${run}: ${manifests} manifests for ${n} recordings`);
          const ms = ended - started;
          runs.push({
            instances,
            repeat,
            ms: Math.round(ms),
            exportsMs: Math.round(ended - exportsStarted),
            manifestsPerSecond: round(n / (ms / 1000), 1),
          });
          log(
            `${instances} instance(s) #${repeat + 1}: ${round(n / (ms / 1000), 1)} manifests/s (${Math.round(ms)} ms)`,
          );
        } finally {
          await deployment.stopAll();
          // Deleted at the end: kafkajs clients that have seen a topic keep refreshing its metadata.
          created.push(...Object.values(topics).filter((t) => t !== topics.notifications));
        }
      }
    }
  } finally {
    await producer.disconnect();
    await deleteBenchTopics(admin, created, log);
    await admin.disconnect();
    await infra.stop();
  }
  const one = median(runs.filter((r) => r.instances === INSTANCES[0]).map((r) => r.manifestsPerSecond));
  const summary = INSTANCES.map((instances) => {
    const mps = median(runs.filter((r) => r.instances === instances).map((r) => r.manifestsPerSecond));
    return { instances, manifestsPerSecondMedian: mps, speedUp: round(mps / one, 2) };
  });
  const date = new Date().toISOString();
  const file = writeResult('sink-scale', date, {
    benchmark: 'sink-scale',
    date,
    machine: machineInfo(infra.ownInfra),
    settings: { recordings: n, partitions: PARTITIONS, repeats: REPEATS, instances: INSTANCES },
    runs,
    summary,
  });
  log(`summary ${JSON.stringify(summary)}`);
  log(`written to ${file}`);
}

await main();
