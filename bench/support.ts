/**
 * Helpers every benchmark repeats: medians over repeats, the servers to run against (the environment's, or a
 * local set started for the run), a description of the machine, and writing bench/results/<name>-<time>.json.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { KAFKA_VERSION, VERSITYGW_VERSION, startInfra, stopInfra } from '../infra/local.ts';
import type { InfraSettings } from '../infra/local.ts';
import type { Admin, Kafka } from 'kafkajs';
import { loadConfig } from '../src/config.ts';
import type { KafkaCompression } from '../src/config.ts';
import { installKafkajsFastPaths } from '../src/kafka/kafkajs-fast-paths.ts';
import { tuneHeapGrowth } from '../src/runtime/heap-growth.ts';

/** The element at quantile `q` of an ascending array (nearest rank, no interpolation); NaN when empty. */
export const quantile = (sorted: readonly number[], q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;

/** The median (upper median for an even count) of unsorted numbers. */
export const median = (xs: readonly number[]): number =>
  quantile(
    [...xs].sort((a, b) => a - b),
    0.5,
  );

/** Rounds to `digits` decimals (for figures in results and tables). */
export const round = (x: number, digits = 0): number => Number(x.toFixed(digits));

/** A progress logger on stderr, so stdout keeps only the summary. */
export function benchLog(name: string): (line: string) => void {
  return (line) => process.stderr.write(`[bench:${name}] ${line}\n`);
}

/** Settings of the servers a benchmark uses, and how to release them. */
export type BenchInfra = Readonly<{ settings: InfraSettings; ownInfra: boolean; stop(): Promise<void> }>;

/**
 * The Kafka and S3 servers named by KAFKA_BROKERS and S3_ENDPOINT (+ S3_REGION and AWS credentials), or, when
 * either is unset, a local set started under `.infra/bench-<name>/` and removed again by `stop()`.
 */
export async function benchInfra(name: string, log: (line: string) => void): Promise<BenchInfra> {
  const env = process.env;
  const brokers = env['KAFKA_BROKERS'];
  const endpoint = env['S3_ENDPOINT'];
  if (brokers && endpoint) {
    return {
      ownInfra: false,
      settings: {
        KAFKA_BROKERS: brokers,
        S3_ENDPOINT: endpoint,
        S3_REGION: env['S3_REGION'] ?? 'us-east-1',
        AWS_ACCESS_KEY_ID: env['AWS_ACCESS_KEY_ID'] ?? '',
        AWS_SECRET_ACCESS_KEY: env['AWS_SECRET_ACCESS_KEY'] ?? '',
      },
      stop: async () => undefined,
    };
  }
  const stateName = `bench-${name}`;
  log('KAFKA_BROKERS or S3_ENDPOINT unset: starting local Kafka + S3 for this run');
  const running = await startInfra({ name: stateName, log });
  return {
    ownInfra: true,
    settings: running.settings,
    stop: () => stopInfra({ name: stateName, log, removeState: true }),
  };
}

/**
 * kafkajs as custody's roles run it (src/main.ts installs its fast paths), for custody and the floor alike, since
 * they share the process's kafkajs; BENCH_KAFKAJS_AS_PUBLISHED=1 runs kafkajs unmodified, to compare. Call it before
 * the first produce.
 */
export function benchKafkajs(): { readonly detail: string } {
  if (process.env['BENCH_KAFKAJS_AS_PUBLISHED'] === '1')
    return { detail: 'kafkajs as published (BENCH_KAFKAJS_AS_PUBLISHED=1)' };
  const installed = installKafkajsFastPaths();
  const paths = [
    installed.crc32c && 'CRC32C',
    installed.encoderGrowth && 'encoder growth',
    installed.produceRequest && 'Produce request written once',
  ].filter(Boolean);
  return {
    detail:
      installed.reason ??
      `kafkajs ${installed.kafkajsVersion} with custody's fast paths (${paths.join(', ')})`,
  };
}

/**
 * Deletes a benchmark's topics when it ends, those that exist (one missing name would fail the whole request): each
 * run writes up to a few GB, which would pile up on a broker that outlives it (KAFKA_BROKERS). A failure is logged,
 * not thrown: the figures are already measured.
 */
export async function deleteBenchTopics(
  admin: Admin,
  topics: readonly string[],
  log: (line: string) => void,
): Promise<void> {
  try {
    const existing = new Set(await admin.listTopics());
    const ours = [...new Set(topics)].filter((t) => existing.has(t));
    if (ours.length > 0) await admin.deleteTopics({ topics: ours, timeout: 60_000 });
  } catch (e) {
    log(`could not delete the benchmark's topics: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/**
 * V8's heap growth as custody's roles run with it (src/cli.ts sets it), for the whole process, the floor included;
 * BENCH_V8_DEFAULT_HEAP_GROWTH=1 leaves V8's own, to compare. Returns what the result records. Call it first.
 */
export function benchHeapGrowth(): ReturnType<typeof tuneHeapGrowth> | 'V8 default' {
  return process.env['BENCH_V8_DEFAULT_HEAP_GROWTH'] === '1' ? 'V8 default' : tuneHeapGrowth();
}

/**
 * The record batch compression of the benchmark's producers, custody's and the floor's alike: `KAFKA_COMPRESSION`,
 * read as the roles read it (none, gzip or zstd; default none).
 */
export function benchCompression(): KafkaCompression {
  const given = process.env['KAFKA_COMPRESSION'];
  return loadConfig(given === undefined ? {} : { KAFKA_COMPRESSION: given }).kafka.compression ?? 'none';
}

/** The machine and server versions a result was measured on. */
export function machineInfo(ownInfra: boolean) {
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    loadAverage1mAtStart: round(loadavg()[0] ?? NaN, 2),
    // The versions infra/local.ts installs; with servers from the environment they are what `npm run infra:up` runs.
    kafka: KAFKA_VERSION,
    s3Server: `versitygw ${VERSITYGW_VERSION}`,
    servers: ownInfra ? 'started by the benchmark (infra/local.ts)' : 'from KAFKA_BROKERS / S3_ENDPOINT',
  };
}

/** Share of machine CPU time (all cores) spent busy between two `cpuTimes()` samples, 0..1. */
export function cpuTimes(): Readonly<{ busy: number; total: number }> {
  let busy = 0;
  let total = 0;
  for (const c of cpus()) {
    const t = c.times.user + c.times.nice + c.times.sys + c.times.irq;
    busy += t;
    total += t + c.times.idle;
  }
  return { busy, total };
}

export function busyShare(from: ReturnType<typeof cpuTimes>, to: ReturnType<typeof cpuTimes>): number {
  const total = to.total - from.total;
  return total > 0 ? round((to.busy - from.busy) / total, 2) : NaN;
}

/** Writes `result` to bench/results/<name>-<ISO time>.json; returns the file path. */
export function writeResult(name: string, date: string, result: unknown): string {
  const dir = new URL('./results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  const file = new URL(`${name}-${date.replace(/[:.]/g, '-')}.json`, dir);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  return fileURLToPath(file);
}

/**
 * The floor of a Kafka read: a bare kafkajs consumer (a group of its own, no work per record) reading `topics`
 * from the start until it has seen `total` records. Milliseconds from creating it (group join included) to the
 * batch that reaches `total`. `autoCommit` as the custody code it is compared with does.
 */
export async function bareConsumerReadMs(
  kafka: Kafka,
  opts: Readonly<{ groupPrefix: string; topics: readonly string[]; total: number; autoCommit: boolean }>,
): Promise<number> {
  const consumer = kafka.consumer({ groupId: `${opts.groupPrefix}-${randomUUID()}` });
  const t0 = performance.now();
  await consumer.connect();
  await consumer.subscribe({ topics: [...opts.topics], fromBeginning: true });
  let seen = 0;
  let done: () => void = () => undefined;
  const finished = new Promise<void>((r) => (done = r));
  await consumer.run({
    autoCommit: opts.autoCommit,
    eachBatch: async ({ batch }) => {
      seen += batch.messages.length;
      if (seen >= opts.total) done();
    },
  });
  await finished;
  const ms = performance.now() - t0;
  await consumer.disconnect();
  return ms;
}

/** What {@link sampleAllocations} keeps: every allocation, or only objects that outlived young-generation GCs. */
export type AllocationSampling = 'all' | 'survivors';

/** The sampling asked for by environment variable `name` (unset: none). */
export function allocationSamplingFrom(name: string): AllocationSampling | undefined {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  if (v === 'all' || v === 'survivors') return v;
  throw new Error(`${name} must be all or survivors, not ${JSON.stringify(v)}`);
}

/**
 * Samples this process's allocations with V8's sampling heap profiler until `stop`, which gives the bytes allocated by
 * each function (name, file and first line), largest first, divided by `per` (frames, records: the unit measured).
 * `all` includes objects collected since; `survivors` leaves out those a young-generation GC collected, so it says what
 * reached V8's old generation (or was still live at `stop`): the garbage its major GCs mark and sweep.
 */
export async function sampleAllocations(
  mode: AllocationSampling,
): Promise<{ stop(per: number): Promise<Array<[where: string, bytes: number]>> }> {
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.enable');
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: 4096,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: mode === 'all',
  });
  type Node = {
    callFrame: { functionName: string; url: string; lineNumber: number };
    selfSize: number;
    children: Node[];
  };
  return {
    async stop(per) {
      const { profile } = await session.post('HeapProfiler.stopSampling');
      session.disconnect();
      const by = new Map<string, number>();
      const walk = (n: Node): void => {
        const file = n.callFrame.url.split('/').slice(-2).join('/');
        const k = `${n.callFrame.functionName || '(anonymous)'}${file ? ` (${file}:${n.callFrame.lineNumber + 1})` : ''}`;
        by.set(k, (by.get(k) ?? 0) + n.selfSize);
        for (const c of n.children) walk(c);
      };
      walk(profile.head as unknown as Node);
      return [...by].map(([k, v]): [string, number] => [k, v / per]).sort((a, b) => b[1] - a[1]);
    },
  };
}

/** The rows of {@link sampleAllocations}: the total and the `top` largest, in KB per unit. */
export function allocationTable(rows: ReadonlyArray<[string, number]>, unit: string, top = 20): string {
  const total = rows.reduce((n, [, v]) => n + v, 0);
  const lines = [`${(total / 1024).toFixed(1)} KB per ${unit} (sampled); by function:`];
  for (const [k, v] of rows.slice(0, top)) lines.push(`${(v / 1024).toFixed(2).padStart(8)} KB  ${k}`);
  return `${lines.join('\n')}\n`;
}
