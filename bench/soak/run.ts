/**
 * `npm run bench:soak [-- --minutes 10 --rate 10 --build compiled|sources]`: custody as users run it — ingest,
 * exports watch and sink as three separate supervised processes, compiled as the image runs them (`--build
 * sources`: the TypeScript sources, as bin/custody.js runs them without dist/) beside the Genesys emulator (its own
 * process) at `--rate` conversations per second of real time (`--speed 60`) for `--minutes`. Then it waits for
 * every export to get a manifest and audits the bucket (test/support/custody-audit.ts). Reports the
 * export→manifest latency (S3 LastModified of the audio → of the first manifest version, 1 s resolution), each
 * role's RSS at start, middle and end (with its V8 heap and external memory, from its /metrics), restarts, and
 * writes bench/results/soak-<time>.json. Not part of `npm test`.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ListObjectVersionsCommand, S3Client } from '@aws-sdk/client-s3';
import { Kafka, logLevel } from 'kafkajs';
import { auditBucket, auditDeadLetters, waitForEveryManifest } from '../../test/support/custody-audit.ts';
import { compileCustody } from '../../test/support/compiled-custody.ts';
import { createDeployment, startEmulatorProcess } from '../../test/support/deployment.ts';
import type { SupervisedRole } from '../../test/support/deployment.ts';
import { parseExportKey, manifestKeyFor } from '../../src/enrich/export-layout.ts';
import {
  benchInfra,
  benchLog,
  deleteBenchTopics,
  machineInfo,
  quantile,
  round,
  writeResult,
} from '../support.ts';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    rate: { type: 'string', default: '10' },
    'drain-minutes': { type: 'string', default: '15' },
    build: { type: 'string', default: 'compiled' },
  },
});
if (values.build !== 'compiled' && values.build !== 'sources')
  throw new Error(
    '--build must be compiled (as the image runs custody) or sources (bin/custody.js without dist/)',
  );
const minutes = Number(values.minutes);
const ratePerSecond = Number(values.rate);
const log = benchLog('soak');

function rssMb(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? round(Number(m[1]) / 1024, 1) : null;
  } catch {
    return null;
  }
}

/** The role's own account of its memory, from its /metrics (prom-client's default process metrics), in MB. */
type HeapMb = { heapUsed: number; heapTotal: number; external: number };
async function heapMb(port: number): Promise<HeapMb | null> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const gauge = (name: string) => {
      const m = new RegExp(`^custody_process_${name} (\\S+)$`, 'm').exec(text);
      return m ? round(Number(m[1]) / 2 ** 20, 1) : NaN;
    };
    return {
      heapUsed: gauge('nodejs_heap_size_used_bytes'),
      heapTotal: gauge('nodejs_heap_size_total_bytes'),
      external: gauge('nodejs_external_memory_bytes'),
    };
  } catch {
    return null;
  }
}

async function main(): Promise<void> {
  const infra = await benchInfra('soak', log);
  const bin = values.build === 'compiled' ? compileCustody() : undefined;
  const deployment = createDeployment({ infra: infra.settings, name: `soak-${Date.now()}`, bin });
  const s3 = new S3Client({
    endpoint: infra.settings.S3_ENDPOINT,
    region: infra.settings.S3_REGION,
    forcePathStyle: true,
    credentials: {
      accessKeyId: infra.settings.AWS_ACCESS_KEY_ID,
      secretAccessKey: infra.settings.AWS_SECRET_ACCESS_KEY,
    },
  });
  const started = Date.now();
  // --rate is per simulated minute; at --speed 60 one simulated minute passes per real second.
  // At --speed 60 simulated time runs an hour per real minute. Conversations are filed under their simulated
  // start hour, so the simulation starts far enough back that every hour it reaches stays inside the watcher's
  // scan window (now - 48 h … now + 1 h), as real exports do.
  const emulator = await startEmulatorProcess(infra.settings, deployment.bucket, {
    speed: 60,
    rate: ratePerSecond,
    exportAfterMinutes: 1,
    seed: 42,
    start: new Date(Date.now() - (minutes + 2) * 3_600_000).toISOString(),
  });
  deployment.useEmulator(emulator.baseUrl);
  const roles: Record<string, SupervisedRole> = {
    ingest: await deployment.start('ingest'),
    'exports watch': await deployment.start('exports watch'),
    sink: await deployment.start('sink'),
  };
  const rss: Record<string, Array<number | null>> = {};
  const heap: Record<string, Array<HeapMb | null>> = {};
  const sample = async (label: string) => {
    for (const [name, r] of Object.entries(roles)) {
      (rss[name] ??= []).push(rssMb(r.current().child.pid));
      (heap[name] ??= []).push(await heapMb(r.port));
    }
    log(
      `${label}: RSS ${JSON.stringify(Object.fromEntries(Object.entries(rss).map(([k, v]) => [k, v.at(-1)])))} MB, ` +
        `heap ${JSON.stringify(Object.fromEntries(Object.entries(heap).map(([k, v]) => [k, v.at(-1)])))}`,
    );
  };
  const runMs = minutes * 60_000;
  await new Promise((r) => setTimeout(r, 30_000));
  await sample('start (30 s)');
  await new Promise((r) => setTimeout(r, runMs / 2 - 30_000));
  await sample('middle');
  await new Promise((r) => setTimeout(r, runMs / 2));
  await sample('end of traffic');
  await emulator.stop();
  const trafficEnded = Date.now();
  log('traffic stopped; waiting for every export to get a manifest');
  await waitForEveryManifest(
    { s3, bucket: deployment.bucket, publicKeys: deployment.publicKeys },
    Number(values['drain-minutes']) * 60_000,
    15_000,
    (a) => log(`drain: ${a.written}/${a.expected} recordings have a manifest`),
  ).catch((e: unknown) => log(String(e)));
  const drainedMs = Date.now() - trafficEnded;
  await sample('drained');
  // Every export has a manifest; the sink may still be folding the last session tags into later versions. The
  // audit (and its completeness count) waits until the sink has committed both of its inputs to their end.
  const kafkaAdmin = new Kafka({
    brokers: infra.settings.KAFKA_BROKERS.split(','),
    logLevel: logLevel.NOTHING,
  }).admin();
  await kafkaAdmin.connect();
  const caughtUpBy = Date.now() + Number(values['drain-minutes']) * 60_000;
  for (;;) {
    const inputs = [deployment.topics.sessionTags, deployment.topics.recordingExports];
    const lag = (
      await Promise.all(
        inputs.map(async (topic) => {
          const [ends, committed] = await Promise.all([
            kafkaAdmin.fetchTopicOffsets(topic),
            kafkaAdmin.fetchOffsets({ groupId: deployment.groupId, topics: [topic] }),
          ]);
          const at = new Map(committed[0]?.partitions.map((p) => [p.partition, Number(p.offset)]) ?? []);
          return ends.reduce(
            (n, e) => n + Math.max(0, Number(e.high) - Math.max(Number(e.low), at.get(e.partition) ?? 0)),
            0,
          );
        }),
      )
    ).reduce((a, b) => a + b, 0);
    if (lag === 0) break;
    if (Date.now() > caughtUpBy) {
      log(`sink still ${lag} records behind; auditing anyway`);
      break;
    }
    await new Promise((r) => setTimeout(r, 2_000));
  }
  await kafkaAdmin.disconnect();
  const caughtUpMs = Date.now() - trafficEnded;
  log(`sink caught up ${round(caughtUpMs / 1000)} s after traffic stopped`);

  // Export → first manifest version, from the listing's LastModified (1 s resolution).
  const firstSeen = new Map<string, number>();
  let keyMarker: string | undefined;
  let versionMarker: string | undefined;
  for (;;) {
    const page = await s3.send(
      new ListObjectVersionsCommand({
        Bucket: deployment.bucket,
        KeyMarker: keyMarker,
        VersionIdMarker: versionMarker,
      }),
    );
    for (const v of page.Versions ?? []) {
      const t = v.LastModified?.getTime();
      if (!v.Key || t === undefined) continue;
      firstSeen.set(v.Key, Math.min(firstSeen.get(v.Key) ?? t, t));
    }
    if (!page.IsTruncated) break;
    keyMarker = page.NextKeyMarker;
    versionMarker = page.NextVersionIdMarker;
  }
  const latencies: number[] = [];
  for (const [key, exportedAt] of firstSeen) {
    const parsed = parseExportKey(key);
    if (!parsed.ok || parsed.value.kind !== 'audio') continue;
    const manifestAt = firstSeen.get(manifestKeyFor(parsed.value));
    if (manifestAt !== undefined) latencies.push((manifestAt - exportedAt) / 1000);
  }
  latencies.sort((a, b) => a - b);
  log('auditing every manifest version (hashes, signatures, chains)');
  const { newest: _newest, ...audit } = await auditBucket({
    s3,
    bucket: deployment.bucket,
    publicKeys: deployment.publicKeys,
  });
  const kafka = new Kafka({ brokers: infra.settings.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
  const deadLetters = await auditDeadLetters(kafka, deployment.topics.dlq);
  const restarts = Object.fromEntries(
    Object.entries(roles).map(([n, r]) => [n, r.exits().map((e) => e.code)]),
  );
  await deployment.stopAll();
  s3.destroy();
  // The bucket is Object Locked, so it stays, as evidence buckets do.
  if (!infra.ownInfra) {
    const admin = kafka.admin();
    await admin.connect();
    await deleteBenchTopics(admin, Object.values(deployment.topics), log);
    await admin.disconnect();
  }
  const result = {
    machine: machineInfo(infra.ownInfra),
    settings: { minutes, conversationsPerSecond: ratePerSecond, speed: 60, build: values.build },
    audit: { ...audit, lost: audit.lost.length, failures: audit.failures.slice(0, 20), deadLetters },
    exportToManifestSeconds: {
      count: latencies.length,
      p50: quantile(latencies, 0.5),
      p90: quantile(latencies, 0.9),
      p99: quantile(latencies, 0.99),
      max: latencies.at(-1) ?? null,
    },
    drainSeconds: round(drainedMs / 1000),
    sinkCaughtUpSeconds: round(caughtUpMs / 1000),
    rssMb: rss,
    /** Per sample: V8 heap used and reserved, and memory outside the heap, MB (each role's /metrics). */
    heapMb: heap,
    restarts,
    wallSeconds: round((Date.now() - started) / 1000),
  };
  const file = writeResult('soak', new Date().toISOString(), result);
  process.stdout.write(`${JSON.stringify(result, null, 2)}\nwritten to ${file}\n`);
  await infra.stop();
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:soak failed: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
