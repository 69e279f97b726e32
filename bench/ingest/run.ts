/**
 * `npm run bench:ingest`: notification frames/s through `custody ingest` into a real Kafka broker, beside
 * the floor — a bare kafkajs producer sending the very records custody wrote, with the same settings
 * (idempotent, acks=all, one request in flight, batches of up to 500 frames, the record batch compression of
 * KAFKA_COMPRESSION, default none) — measured in the same run.
 *
 * Load: realistic conversation events from the emulator's simulation, published by the emulator's notification
 * WebSocket at a fixed offered rate. The emulator and its pacing run in their own process (load-server.ts), so the
 * measured process holds custody ingest only (and this harness: latency bookkeeping, RSS sampling). Both share the
 * machine's cores. Latency is per frame to its Kafka ack, from two starts: from custody's receive (ws's message
 * event), and, in paced runs, from when the generator's schedule made the frame due (`fromSchedule`), which also counts
 * the time a frame waited in the socket before custody took it: the paced floor's measure, and the stricter one.
 *
 * Saturation: a burst of BENCH_SATURATION_FRAMES offered as fast as the generator can (below the delivery buffer's
 * high-water mark, so the sockets are never paused); achieved = frames ÷ (last ack − first frame received).
 *
 * Results: bench/results/ingest-<timestamp>.json. Options (env): BENCH_RATES=1000,2500,5000  BENCH_SECONDS=10
 * BENCH_REPEATS=3  BENCH_SATURATION_FRAMES=15000 (0: no saturation run)
 * BENCH_PROFILE=<file.cpuprofile>: CPU-profiles the measured process during the measured runs only (not start-up,
 * warm-up or the floor) and writes no result (the profiler slows custody down); summarise the profile with
 * `tsx bench/ingest/profile-summary.ts <file>`.
 * BENCH_ALLOC=all|survivors: samples the measured runs' allocations (V8's sampling heap profiler) and prints the bytes
 * per frame by function, every allocation or only what outlived young-generation GCs; no result is written.
 * BENCH_HEAP=<file.heapsnapshot>: after the measured runs (before ingest stops), collects garbage and writes a heap
 * snapshot of the measured process, then writes no result; summarise it with
 * `tsx bench/ingest/heap-summary.ts <file>` (what the live heap that every major GC marks is made of).
 * BENCH_TRACE=<prefix>: writes `<prefix>-<rate>-<repeat>.json` per measured run: every frame's receive time and
 * latency, every GC (PerformanceObserver), every produce request's start, duration and records, and every 10 ms the
 * CPU ticks of this process, its main thread, its V8 threads, the broker and the generator, all in epoch ms;
 * `tsx bench/ingest/trace-summary.ts <file>` says where the latency tail came from and who had the cores then.
 * BENCH_PACK_AFTER_MS=<ms>: ingest packs a conversation's snapshot after this much quiet instead of 60 s (housekeeping
 * every half of it), to measure a smaller live heap against the packing and unpacking it costs.
 * With BENCH_PROFILE, `tsx bench/ingest/profile-stalls.ts <file>` reads the profile over time: the stretches the main
 * thread never went idle, and what filled them.
 */
import { fork } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { Session } from 'node:inspector/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { writeHeapSnapshot } from 'node:v8';
import { Kafka, logLevel } from 'kafkajs';
import {
  allocationSamplingFrom,
  allocationTable,
  benchCompression,
  benchHeapGrowth,
  benchKafkajs,
  deleteBenchTopics,
  median,
  quantile,
  sampleAllocations,
} from '../support.ts';
import { KAFKA_VERSION, startInfra, stopInfra } from '../../infra/local.ts';
import { Secret } from '../../src/config.ts';
import type { Config } from '../../src/config.ts';
import { SdkGenesysApi } from '../../src/ingest/genesys-api.ts';
import { startIngest } from '../../src/ingest/ingest-pipeline.ts';
import { createEncoders } from '../../src/kafka/record-codecs.ts';
import { compressionType } from '../../src/kafka/kafkajs-codecs.ts';
import { KafkaRecordProducer } from '../../src/kafka/record-producer.ts';
import type { KeyedRecord, RecordProducer } from '../../src/kafka/record-producer.ts';
import { ensureTopics } from '../../src/kafka/topics.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createRegistry, ingestMetrics } from '../../src/observability/metrics.ts';
import type { LoadCommand, LoadReport } from './load-server.ts';

const RATES = (process.env['BENCH_RATES'] ?? '1000,2500,5000').split(',').map(Number);
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 10);
const REPEATS = Number(process.env['BENCH_REPEATS'] ?? 3);
const SATURATION_FRAMES = Number(process.env['BENCH_SATURATION_FRAMES'] ?? 15_000);
const PROFILE = process.env['BENCH_PROFILE'];
const ALLOC = allocationSamplingFrom('BENCH_ALLOC');
const HEAP = process.env['BENCH_HEAP'];
const TRACE = process.env['BENCH_TRACE'];
const PACK_AFTER_MS =
  process.env['BENCH_PACK_AFTER_MS'] === undefined ? undefined : Number(process.env['BENCH_PACK_AFTER_MS']);
const heapGrowth = benchHeapGrowth();
/** The targets of issue 12, printed beside the figures. */
const TARGETS = { p99Ms: 50, keepUpRate: 5_000, saturationRatio: 0.7, rssMiB: 256 };

/** The load generator: its own process (load-server.ts), driven over IPC. */
async function startLoad(): Promise<{
  ready: Extract<LoadReport, { type: 'ready' }>;
  pid: number | undefined;
  offer(rate: number, total: number): Promise<Extract<LoadReport, { type: 'offered' }>>;
  close(): Promise<void>;
}> {
  const child = fork(new URL('./load-server.ts', import.meta.url), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const next = (type: LoadReport['type']) =>
    new Promise<LoadReport>((resolve, reject) => {
      const onMessage = (m: LoadReport) => {
        if (m.type !== type) return;
        child.off('message', onMessage);
        child.off('exit', onExit);
        resolve(m);
      };
      const onExit = (code: number | null) => reject(new Error(`load generator exited (${code})`));
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  const command = (c: LoadCommand) => child.send(c);
  const ready = (await next('ready')) as Extract<LoadReport, { type: 'ready' }>;
  return {
    ready,
    pid: child.pid,
    offer: async (rate, total) => {
      const offered = next('offered');
      command({ type: 'offer', rate, total });
      return (await offered) as Extract<LoadReport, { type: 'offered' }>;
    },
    close: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        command({ type: 'close' });
      }),
  };
}

/**
 * Each frame's latency from the moment the generator's schedule made it due (startedAt + (k + 1) / rate for the k-th
 * frame: the generator sends frame k once that much time has passed) to its ack, sorted. Frames reach custody in the
 * order sent, so the k-th received is the k-th sent (to the millisecond that `receivedAt` is stamped with).
 */
function scheduleLatencies(receivedAndAcked: readonly number[], startedAt: number, rate: number): number[] {
  const frames: Array<[number, number]> = [];
  for (let i = 0; i < receivedAndAcked.length; i += 2)
    frames.push([receivedAndAcked[i] as number, receivedAndAcked[i + 1] as number]);
  frames.sort((a, b) => a[0] - b[0]);
  return frames
    .map(([, ackedAt], k) => ackedAt - (startedAt + ((k + 1) * 1000) / rate))
    .sort((a, b) => a - b);
}

/** utime + stime of a process (or one of its threads) in clock ticks (1/100 s), from /proc; 0 when unreadable. */
function cpuTicks(path: string): number {
  try {
    const stat = readFileSync(path, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return 0;
  }
}

/**
 * CPU ticks of this process's V8 platform threads (GC helpers, concurrent compilers): on Node 22 the threads other
 * than the main one named `node` (libuv's are `libuv-worker`, Node's timer thread `DelayedTaskSche`).
 */
function v8WorkerTicks(): number {
  let ticks = 0;
  for (const tid of readdirSync('/proc/self/task')) {
    if (tid === String(process.pid)) continue;
    try {
      if (readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() === 'node')
        ticks += cpuTicks(`/proc/self/task/${tid}/stat`);
    } catch {
      // the thread ended
    }
  }
  return ticks;
}

/** The broker's pid: the java process running kafka.Kafka (for BENCH_TRACE's CPU samples). */
function brokerPid(): number | undefined {
  for (const d of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/cmdline`, 'utf8').includes('kafka.Kafka')) return Number(d);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}
const log = (line: string) => process.stderr.write(`[bench:ingest] ${line}\n`);

/** What custody asked Kafka to write during a run: requests, records and their key + value bytes. */
type KafkaWrites = {
  requests: number;
  records: number;
  bytes: number;
  snapshotRecords: number;
  snapshotBytes: number;
};
const noWrites = (): KafkaWrites => ({
  requests: 0,
  records: 0,
  bytes: 0,
  snapshotRecords: 0,
  snapshotBytes: 0,
});

/** custody's producer, counting what it is given (one request per `send`: a delivery-buffer batch). */
class CountingProducer implements RecordProducer {
  writes = noWrites();
  /** With BENCH_TRACE: each request's start (epoch ms), duration (ms) and records, flat. */
  trace: number[] | undefined;
  private readonly inner: RecordProducer;
  private readonly snapshotTopic: string;
  constructor(inner: RecordProducer, snapshotTopic: string) {
    this.inner = inner;
    this.snapshotTopic = snapshotTopic;
  }
  send(records: readonly KeyedRecord[]) {
    this.writes.requests++;
    for (const r of records) {
      const bytes = (r.value?.byteLength ?? 0) + (r.key === null ? 0 : Buffer.byteLength(r.key));
      this.writes.records++;
      this.writes.bytes += bytes;
      if (r.topic === this.snapshotTopic) {
        this.writes.snapshotRecords++;
        this.writes.snapshotBytes += bytes;
      }
    }
    if (!this.trace) return this.inner.send(records);
    const startedAt = Date.now();
    const sent = this.inner.send(records);
    const trace = this.trace;
    void sent.then(
      () => trace.push(startedAt, Date.now() - startedAt, records.length),
      () => undefined,
    );
    return sent;
  }
  close() {
    return this.inner.close();
  }
}
const mib = (bytes: number) => Math.round(bytes / 2 ** 20);

async function main(): Promise<void> {
  let brokers = process.env['KAFKA_BROKERS'];
  const ownInfra = !brokers;
  if (ownInfra) brokers = (await startInfra({ name: 'bench', log })).settings.KAFKA_BROKERS;
  const kafkajs = benchKafkajs();
  const compression = benchCompression();
  log(`${kafkajs.detail}; record batches: ${compression} (KAFKA_COMPRESSION)`);
  const kafka = new Kafka({
    clientId: 'bench',
    brokers: (brokers as string).split(','),
    logLevel: logLevel.NOTHING,
  });
  const suffix = Date.now().toString(36);
  const topics: Config['topics'] = {
    partitions: 6,
    notifications: `bench.notifications.${suffix}`,
    eventBridge: `bench.eventbridge.${suffix}`,
    sessionTags: `bench.session-tags.${suffix}`,
    recordingExports: `bench.recording-exports.${suffix}`,
    legalHolds: `bench.legal-holds.${suffix}`,
    sinkState: `bench.sink-state.${suffix}`,
    manifests: `bench.manifests.${suffix}`,
    dlq: `bench.dlq.${suffix}`,
  };
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, topics, ['notifications', 'sessionTags', 'dlq']);

  const load = await startLoad();
  log(
    `load generator (own process): ${load.ready.poolEvents} events from ${load.ready.conversations} conversations, ${load.ready.users} users`,
  );

  // Flat [receivedAt, ackedAt, …] per frame of the run, epoch ms: every latency figure is derived from it.
  const receivedAndAcked: number[] = [];
  // BENCH_TRACE: flat [start, duration, kind, …] per GC, epoch ms.
  const traceGc: number[] = [];
  const gcObserver = TRACE
    ? new PerformanceObserver((list) => {
        for (const e of list.getEntries())
          traceGc.push(
            performance.timeOrigin + e.startTime,
            e.duration,
            (e as { detail?: { kind?: number } }).detail?.kind ?? 0,
          );
      })
    : undefined;
  gcObserver?.observe({ entryTypes: ['gc'] });
  // BENCH_TRACE: every 10 ms [at, timer lateness ms, CPU ticks of this process, of its main thread, of its V8 worker
  // threads, of the broker, of the generator] (ticks are 1/100 s, cumulative): who had the cores when a request was slow.
  const traceCpu: number[] = [];
  const broker = TRACE ? brokerPid() : undefined;
  let expected = 0;
  const cpuSampler = TRACE
    ? setInterval(() => {
        const t = Date.now();
        traceCpu.push(
          t,
          expected === 0 ? 0 : t - expected,
          cpuTicks('/proc/self/stat'),
          cpuTicks(`/proc/self/task/${process.pid}/stat`),
          v8WorkerTicks(),
          broker === undefined ? 0 : cpuTicks(`/proc/${broker}/stat`),
          load.pid === undefined ? 0 : cpuTicks(`/proc/${load.pid}/stat`),
        );
        expected = t + 10;
      }, 10)
    : undefined;
  let acked = 0;
  let lastAckAt = 0;
  let firstReceivedAt = Infinity;
  let rssMax = 0;
  let atRssMax = process.memoryUsage();
  // The snapshot worker's heap is its own isolate's, outside process.memoryUsage(): read through ingest's gauges
  // right after each new maximum (one worker round trip later).
  let atRssMaxWorker = { heapUsed: 0, heapTotal: 0, conversationsHeld: 0 };
  const metrics = ingestMetrics(createRegistry());
  const readWorker = async () => {
    const [heap, held] = await Promise.all([
      metrics.snapshotWorkerHeapBytes.get(),
      metrics.conversationsHeld.get(),
    ]);
    const bytes = (state: string) => heap.values.find((v) => v.labels['state'] === state)?.value ?? 0;
    return {
      heapUsed: mib(bytes('used')),
      heapTotal: mib(bytes('total')),
      conversationsHeld: held.values[0]?.value ?? 0,
    };
  };
  const rssSampler = setInterval(() => {
    const rss = process.memoryUsage.rss();
    if (rss <= rssMax) return;
    rssMax = rss;
    atRssMax = process.memoryUsage();
    void readWorker().then((w) => {
      if (rssMax === rss) atRssMaxWorker = w;
    });
  }, 100);
  const custodyProducer = new CountingProducer(
    new KafkaRecordProducer(kafka, { compression }),
    topics.sessionTags,
  );
  if (TRACE) custodyProducer.trace = [];
  const ingest = await startIngest(
    {
      api: new SdkGenesysApi({
        apiUrl: load.ready.baseUrl,
        clientId: 'bench',
        clientSecret: new Secret('bench-secret'),
      }),
      producer: custodyProducer,
      encoders: await createEncoders({ brokers: [], clientId: 'bench', ssl: false }, topics),
      topics,
      instance: 'bench',
      log: createLogger({ level: 'error', instance: 'bench' }),
      metrics,
      onAcked: (receivedAt, ackedAt) => {
        receivedAndAcked.push(receivedAt, ackedAt);
        acked++;
        if (receivedAt < firstReceivedAt) firstReceivedAt = receivedAt;
        lastAckAt = ackedAt;
      },
    },
    PACK_AFTER_MS === undefined
      ? {}
      : { snapshotPackAfterMs: PACK_AFTER_MS, housekeepingMs: Math.max(250, PACK_AFTER_MS / 2) },
  );

  // RSS with ingest started and idle, garbage collected: what the modules and the idle pipeline take before load.
  (globalThis as { gc?: () => void }).gc?.();
  const rssMiBAtStart = mib(process.memoryUsage.rss());
  const workerAtStart = await readWorker();
  log(
    `RSS with ingest started, before load: ${rssMiBAtStart} MiB (snapshot worker heap ${workerAtStart.heapUsed} of ${workerAtStart.heapTotal} MiB)`,
  );

  type Run = {
    rate: number | 'saturation';
    repeat: number;
    offered: number;
    /** Frames/s the generator actually offered, and how far it fell behind its schedule at worst (ms). */
    offeredPerSecond: number;
    generatorBehindMsMax: number;
    /** CPU time of the generator's process per 1,000 frames offered: what it took from the cores custody shares. */
    generatorCpuMsPer1000Frames: number;
    achieved: number;
    p50: number;
    p99: number;
    max: number;
    /**
     * Paced runs: latency from when the generator's schedule made each frame due to its ack (the paced floor's
     * measure). Unlike p50/p99 (from custody's receive), it counts time a frame waited in the socket before custody
     * took it, and the generator's own lateness against custody.
     */
    fromSchedule: { p50: number; p99: number; max: number } | null;
    /** CPU time (user + system) of the measured process per 1,000 frames. */
    cpuMsPer1000Frames: number;
    rssMiBMax: number;
    /** At the RSS maximum: V8 heap used and reserved, and memory outside the heap (Buffers, native), MiB. */
    atRssMaxMiB: { heapUsed: number; heapTotal: number; external: number };
    /** The snapshot worker at the RSS maximum: its heap used and reserved (MiB), and the conversations it held. */
    workerAtRssMax: { heapUsed: number; heapTotal: number; conversationsHeld: number };
    /** Heap still live after the run, once garbage is collected (only with --expose-gc, as npm run bench:ingest). */
    liveHeapMiBAfter: number | null;
    /** What custody wrote to Kafka per 1,000 frames (snapshots: records on custody.session-tags.v1). */
    kafkaPer1000Frames: KafkaWrites;
  };
  const runs: Run[] = [];
  const measure = async (rate: number, total: number, repeat: number): Promise<Run> => {
    receivedAndAcked.length = 0;
    traceGc.length = 0;
    traceCpu.length = 0;
    if (custodyProducer.trace) custodyProducer.trace.length = 0;
    acked = 0;
    firstReceivedAt = Infinity;
    // From the run's start, as before: a run shorter than one sample still reports its RSS, with its own heap.
    atRssMax = process.memoryUsage();
    rssMax = atRssMax.rss;
    atRssMaxWorker = await readWorker();
    custodyProducer.writes = noWrites();
    const cpu = process.cpuUsage();
    const offered = await load.offer(rate, total);
    const deadline = Date.now() + 120_000;
    while (acked < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    await ingest.flush();
    const used = process.cpuUsage(cpu);
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    const liveHeapMiBAfter = gc ? mib(process.memoryUsage().heapUsed) : null;
    // Per frame, from custody's receive: [receivedAt, latency, …] (the trace's layout), and the latencies alone.
    const frames = receivedAndAcked.map((v, i) =>
      i % 2 === 0 ? v : v - (receivedAndAcked[i - 1] as number),
    );
    if (TRACE && repeat >= 0) {
      const requests = custodyProducer.trace ?? [];
      writeFileSync(
        `${TRACE}-${rate > 0 ? rate : 'saturation'}-${repeat}.json`,
        JSON.stringify({ frames, gc: traceGc, requests, cpu: traceCpu }),
      );
    }
    const sorted = frames.filter((_, i) => i % 2 === 1).sort((a, b) => a - b);
    const fromSchedule = rate > 0 ? scheduleLatencies(receivedAndAcked, offered.startedAt, rate) : null;
    // A paced run counts from the generator's start; saturation from the first frame custody received.
    const from = rate > 0 ? offered.startedAt : firstReceivedAt;
    const run: Run = {
      rate: rate > 0 ? rate : 'saturation',
      repeat,
      offered: total,
      offeredPerSecond: Math.round(
        offered.sent / (Math.max(1, offered.finishedAt - offered.startedAt) / 1000),
      ),
      generatorBehindMsMax: offered.behindMsMax,
      generatorCpuMsPer1000Frames: Math.round((offered.cpuMs / Math.max(1, offered.sent)) * 1000),
      achieved: Math.round(acked / ((lastAckAt - from) / 1000)),
      p50: quantile(sorted, 0.5),
      p99: quantile(sorted, 0.99),
      max: sorted[sorted.length - 1] ?? NaN,
      fromSchedule: fromSchedule && {
        p50: Math.round(quantile(fromSchedule, 0.5)),
        p99: Math.round(quantile(fromSchedule, 0.99)),
        max: Math.round(fromSchedule[fromSchedule.length - 1] ?? NaN),
      },
      cpuMsPer1000Frames: Number((((used.user + used.system) / 1000 / Math.max(1, acked)) * 1000).toFixed(1)),
      rssMiBMax: mib(rssMax),
      atRssMaxMiB: {
        heapUsed: mib(atRssMax.heapUsed),
        heapTotal: mib(atRssMax.heapTotal),
        external: mib(atRssMax.external),
      },
      workerAtRssMax: atRssMaxWorker,
      liveHeapMiBAfter,
      kafkaPer1000Frames: Object.fromEntries(
        Object.entries(custodyProducer.writes).map(([k, v]) => [
          k,
          Math.round((v / Math.max(1, acked)) * 1000),
        ]),
      ) as KafkaWrites,
    };
    log(
      `${rate > 0 ? `rate ${rate}/s` : 'saturation'} #${repeat + 1}: offered ${run.offeredPerSecond}/s (generator behind ≤ ${run.generatorBehindMsMax} ms, ${run.generatorCpuMsPer1000Frames} CPU ms/1000 frames), ` +
        `achieved ${run.achieved}/s, p50 ${run.p50} ms, p99 ${run.p99} ms, max ${run.max} ms, ` +
        (run.fromSchedule
          ? `from schedule p50 ${run.fromSchedule.p50} ms, p99 ${run.fromSchedule.p99} ms, max ${run.fromSchedule.max} ms, `
          : '') +
        `${run.cpuMsPer1000Frames} CPU ms/1000 frames, RSS ≤ ${run.rssMiBMax} MiB ` +
        `(heap ${run.atRssMaxMiB.heapUsed} of ${run.atRssMaxMiB.heapTotal}, external ${run.atRssMaxMiB.external}; live after ${run.liveHeapMiBAfter ?? '?'}; ` +
        `worker heap ${run.workerAtRssMax.heapUsed} of ${run.workerAtRssMax.heapTotal}, ${run.workerAtRssMax.conversationsHeld} conversations held), ` +
        `Kafka ${Math.round(run.kafkaPer1000Frames.bytes / 1024)} KiB per 1,000 frames in ${run.kafkaPer1000Frames.requests} requests (${acked}/${total} acked)`,
    );
    return run;
  };
  // Warm-up (JIT, connections), not recorded.
  await measure(1000, 2000, -1);
  const profiler = PROFILE ? new Session() : undefined;
  if (profiler) {
    profiler.connect();
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.start');
  }
  const alloc = ALLOC ? await sampleAllocations(ALLOC) : undefined;
  for (const rate of RATES)
    for (let repeat = 0; repeat < REPEATS; repeat++) runs.push(await measure(rate, rate * SECONDS, repeat));
  if (SATURATION_FRAMES > 0)
    for (let repeat = 0; repeat < REPEATS; repeat++) runs.push(await measure(0, SATURATION_FRAMES, repeat));
  if (alloc && ALLOC) {
    const frames = runs.reduce((n, r) => n + r.offered, 0);
    log(
      `allocations of the measured runs (${ALLOC}): ${allocationTable(await alloc.stop(frames), 'frame', 30)}`,
    );
  }
  clearInterval(rssSampler);
  if (cpuSampler) clearInterval(cpuSampler);
  gcObserver?.disconnect();
  if (profiler && PROFILE) {
    const { profile } = await profiler.post('Profiler.stop');
    writeFileSync(PROFILE, JSON.stringify(profile));
    profiler.disconnect();
    log(`CPU profile of the measured runs written to ${PROFILE}; no result is written for a profiled run`);
  }
  if (HEAP) {
    (globalThis as { gc?: () => void }).gc?.();
    writeHeapSnapshot(HEAP);
    log(`heap snapshot of the measured process written to ${HEAP}; no result is written`);
  }
  await ingest.stop();
  await load.close();

  // The floor: the exact records custody wrote, re-sent by a bare kafkajs producer with the same settings.
  const records: Array<{ topic: string; key: Buffer | null; value: Buffer | null }> = [];
  // The floor writes to a copy of each topic custody wrote records to, named `<topic>.floor`.
  const floorOf = (topic: string) => `${topic}.floor`;
  const copied = [topics.notifications, topics.sessionTags];
  for (const topic of copied) {
    const consumer = kafka.consumer({ groupId: `bench-read-${suffix}-${topic}` });
    const ends = await admin.fetchTopicOffsets(topic);
    let remaining = ends.reduce((n, e) => n + Number(e.high), 0);
    // Nothing to copy (an experiment that writes no snapshots): waiting for a first record would never end.
    if (remaining === 0) continue;
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve) => {
      void consumer.run({
        eachMessage: async ({ message }) => {
          records.push({ topic: floorOf(topic), key: message.key, value: message.value });
          if (--remaining === 0) resolve();
        },
      });
    });
    await consumer.disconnect();
  }
  await admin.createTopics({
    waitForLeaders: true,
    topics: copied.map((t) => ({
      topic: floorOf(t),
      numPartitions: topics.partitions,
    })),
  });
  const evidence = records.filter((r) => r.topic === floorOf(topics.notifications));
  const snapshots = records.filter((r) => r.topic !== floorOf(topics.notifications));
  const recordsPerFrame = records.length / evidence.length;
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  type FloorRecord = (typeof records)[number];
  const floorBytes = (r: FloorRecord) => (r.value?.byteLength ?? 0) + (r.key?.byteLength ?? 0);
  /** One produce request, as the floor sends them: the records grouped by topic, in order. */
  const sendFloorBatch = (batch: readonly FloorRecord[]) => {
    const byTopic = new Map<string, Array<{ key: Buffer | null; value: Buffer | null }>>();
    for (const r of batch) {
      const list = byTopic.get(r.topic) ?? [];
      list.push({ key: r.key, value: r.value });
      byTopic.set(r.topic, list);
    }
    return producer.sendBatch({
      acks: -1,
      compression: compressionType(compression),
      topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
    });
  };
  const floorRuns: number[] = [];
  for (let repeat = 0; repeat < REPEATS; repeat++) {
    const start = Date.now();
    // Same batching rule as custody's delivery buffer: up to 500 frames and 512 KiB per request.
    for (let i = 0; i < records.length;) {
      const batch: FloorRecord[] = [];
      let bytes = 0;
      const end = Math.min(records.length, i + Math.round(500 * recordsPerFrame));
      for (; i < end && bytes < 512 * 1024; i++) {
        const r = records[i] as FloorRecord;
        bytes += floorBytes(r);
        batch.push(r);
      }
      await sendFloorBatch(batch);
    }
    const framesPerSecond = Math.round(records.length / recordsPerFrame / ((Date.now() - start) / 1000));
    floorRuns.push(framesPerSecond);
    log(
      `floor #${repeat + 1}: bare kafkajs producer ${framesPerSecond} frames/s (${records.length} records, ${recordsPerFrame.toFixed(2)} records per frame)`,
    );
  }
  // The paced floor: the same records at each offered frame rate, sent with custody's delivery rule (one request in
  // flight; when it returns, everything due goes, up to 500 frames and 512 KiB). Frame i is due at start + i/rate;
  // its latency runs from then to its ack, so the floor's own timer lateness counts against the floor.
  // Snapshots ride with the frames in proportion, as custody's do (fewer than one per frame, merged per batch).
  const framesOfRecords = evidence.map((r, i) => {
    const from = Math.floor((i * snapshots.length) / evidence.length);
    const to = Math.floor(((i + 1) * snapshots.length) / evidence.length);
    return [r, ...snapshots.slice(from, to)];
  });
  const pacedFloorRuns: Array<{ rate: number; repeat: number; achieved: number; p50: number; p99: number }> =
    [];
  for (const rate of RATES)
    for (let repeat = 0; repeat < REPEATS; repeat++) {
      const total = Math.min(framesOfRecords.length, rate * SECONDS);
      const frameLatencies: number[] = [];
      const start = performance.now() + 5;
      let next = 0;
      while (next < total) {
        const due = Math.min(total, Math.floor(((performance.now() - start) * rate) / 1000) + 1);
        if (due <= next) {
          await new Promise((r) => setTimeout(r, 1));
          continue;
        }
        const batch: FloorRecord[] = [];
        const first = next;
        let bytes = 0;
        for (; next < due && next - first < 500 && bytes < 512 * 1024; next++)
          for (const r of framesOfRecords[next] as FloorRecord[]) {
            bytes += floorBytes(r);
            batch.push(r);
          }
        await sendFloorBatch(batch);
        const ackedAt = performance.now();
        for (let i = first; i < next; i++) frameLatencies.push(ackedAt - (start + (i * 1000) / rate));
      }
      const sorted = frameLatencies.sort((a, b) => a - b);
      const run = {
        rate,
        repeat,
        achieved: Math.round(total / ((performance.now() - start) / 1000)),
        p50: Math.round(quantile(sorted, 0.5)),
        p99: Math.round(quantile(sorted, 0.99)),
      };
      pacedFloorRuns.push(run);
      log(
        `paced floor rate ${rate}/s #${repeat + 1}: achieved ${run.achieved}/s, p50 ${run.p50} ms, p99 ${run.p99} ms (${total} frames)`,
      );
    }
  await producer.disconnect();
  await deleteBenchTopics(admin, [...copied, topics.dlq, ...copied.map(floorOf)], log);
  await admin.disconnect();
  if (ownInfra) await stopInfra({ name: 'bench', log, removeState: true });

  const floor = median(floorRuns);
  const summarise = (rate: number | 'saturation') => {
    const rs = runs.filter((r) => r.rate === rate);
    const achieved = median(rs.map((r) => r.achieved));
    return {
      offeredPerSecond: rate,
      offeredPerSecondMedian: median(rs.map((r) => r.offeredPerSecond)),
      achievedPerSecondMedian: achieved,
      p50MsMedian: median(rs.map((r) => r.p50)),
      p99MsMedian: median(rs.map((r) => r.p99)),
      ...(rate === 'saturation'
        ? {}
        : { fromScheduleP99MsMedian: median(rs.map((r) => r.fromSchedule?.p99 ?? NaN)) }),
      cpuMsPer1000FramesMedian: median(rs.map((r) => r.cpuMsPer1000Frames)),
      generatorCpuMsPer1000FramesMedian: median(rs.map((r) => r.generatorCpuMsPer1000Frames)),
      rssMiBMax: Math.max(...rs.map((r) => r.rssMiBMax)),
      ratioToFloor: Number((achieved / floor).toFixed(2)),
      ...(rate === 'saturation'
        ? {}
        : {
            pacedFloorP99MsMedian: median(pacedFloorRuns.filter((r) => r.rate === rate).map((r) => r.p99)),
          }),
    };
  };
  const summary = [...RATES, ...(SATURATION_FRAMES > 0 ? (['saturation'] as const) : [])].map(summarise);
  const result = {
    benchmark: 'ingest',
    date: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      loadAverage1mAtEnd: Number((loadavg()[0] ?? NaN).toFixed(2)),
      shared: "yes: 2 cores shared with other engineers' sessions while measuring",
    },
    kafka: KAFKA_VERSION,
    kafkajs: kafkajs.detail,
    kafkaCompression: compression,
    loadGenerator: 'own process (bench/ingest/load-server.ts)',
    secondsPerRun: SECONDS,
    repeats: REPEATS,
    saturationFrames: SATURATION_FRAMES,
    rssMiBAtStart,
    workerHeapMiBAtStart: { used: workerAtStart.heapUsed, total: workerAtStart.heapTotal },
    nodeOptions: process.execArgv.join(' '),
    heapGrowingPercent: heapGrowth,
    recordsPerFrame: Number(recordsPerFrame.toFixed(2)),
    targets: TARGETS,
    floorFramesPerSecondMedian: floor,
    floorRuns,
    pacedFloorRuns,
    summary,
    runs,
  };
  if (PROFILE || ALLOC || HEAP) return;
  mkdirSync(new URL('../results/', import.meta.url), { recursive: true });
  const file = new URL(`../results/ingest-${result.date.replace(/[:.]/g, '-')}.json`, import.meta.url);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(
    [
      `| offered frames/s | achieved (median) | p50 ms | p99 ms | p99 ms from schedule | bare producer paced: p99 ms | CPU ms / 1000 frames | RSS max MiB | achieved ÷ bare producer (${floor} frames/s) |`,
      '|---|---|---|---|---|---|---|---|---|',
      ...summary.map(
        (s) =>
          `| ${s.offeredPerSecond} | ${s.achievedPerSecondMedian} | ${s.p50MsMedian} | ${s.p99MsMedian} | ${'fromScheduleP99MsMedian' in s ? s.fromScheduleP99MsMedian : '—'} | ${'pacedFloorP99MsMedian' in s ? s.pacedFloorP99MsMedian : '—'} | ${s.cpuMsPer1000FramesMedian} | ${s.rssMiBMax} | ${s.ratioToFloor} |`,
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
