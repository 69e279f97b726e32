/**
 * One timed run of `startSink` (src/sink/sink-pipeline.ts, the code `custody sink` runs) over the workload, on
 * fresh topics (inputs and the join-state changelog), a fresh consumer group and a fresh manifest prefix, so every run
 * starts from nothing and writes exactly one manifest version per recording.
 *
 * Inputs arrive in production order, in two timed phases: first every conversation's session-tags snapshot (in
 * production they are captured live, during the call), then every RecordingExport (the export lands minutes after
 * the call). A phase ends with the consumer-group commit that covers its last record; the sink commits only after
 * a record's effects (state, manifest, announcement) are durable, so at the end of the exports phase every
 * manifest is in S3 and announced. Start-up (connect, group join, the join state's restore) is timed separately and is not in the rate.
 * The announcements (custody.manifests.v1) are checked: one complete manifest per recording, no dead letters.
 */
import type { Admin, CompressionTypes, Kafka, Producer, RecordMetadata } from 'kafkajs';
import { singleObjectCodecFor } from '../../src/kafka/avro-codec.ts';
import type { KeyedRecord, RecordProducer } from '../../src/kafka/record-producer.ts';
import type { SigningKey } from '../../src/sink/signing-key.ts';
import { createSinkCodecs } from '../../src/sink/sink-codecs.ts';
import { DEFAULT_SINK_OPTIONS, startSink } from '../../src/sink/sink-pipeline.ts';
import type { SinkOptions } from '../../src/sink/sink-pipeline.ts';
import { busyShare, cpuTimes, round } from '../support.ts';
import type { MeteredS3, OperationStats } from './s3-meter.ts';
import type { Workload } from './workload.ts';

const writtenCodec = singleObjectCodecFor('manifest-written.v1');

export type SinkRunOptions = Readonly<{
  run: string;
  concurrency: number;
  /** The sink's conversationsInFlight (per partition; default the sink's own). */
  inFlight?: number;
  partitions: number;
  legalHold: boolean;
  timeoutMs: number;
}>;

export type PhaseFigures = Readonly<{
  ms: number;
  s3: Record<string, OperationStats>;
  /** CPU time of this process (the sink, plus the benchmark's own small bookkeeping) per wall second. */
  nodeCpuShare: number;
  /** Busy share of all the machine's cores (the sink, Kafka, the S3 server, everything else). */
  machineBusyShare: number;
  /** Records kafkajs handed to the sink (more than were produced when some were delivered twice). */
  recordsDelivered: number;
  /** The sink consumer's Kafka requests by API (Fetch time includes its long-poll wait). */
  kafkaConsumerRequests: Record<string, OperationStats>;
  /** Phase start and end on the monotonic clock in µs (the clock of `node --cpu-prof` profiles). */
  monotonicUs: readonly [string, string];
}>;

export type SinkRun = Readonly<{
  startupMs: number;
  tags: PhaseFigures;
  exports: PhaseFigures;
  /** Recordings / (tags phase + exports phase). */
  manifestsPerSecond: number;
  /** Recordings / exports phase (the join with the tags already in state). */
  exportsPhaseManifestsPerSecond: number;
  manifestVersionsWritten: number;
  announceMs: number;
  manifestKeys: readonly Readonly<{ key: string; versionId: string | null }>[];
}>;

/**
 * The benchmark's own connected Kafka clients (to create topics and feed the inputs). `compression`: the input
 * records' batch codec, as ingest and the exports watch would write them (default none).
 */
export type BenchKafka = Readonly<{
  kafka: Kafka;
  admin: Admin;
  producer: Producer;
  compression?: CompressionTypes;
}>;

/** Counts what the sink produces (and how long the acknowledged sends took). */
class CountingProducer implements RecordProducer {
  readonly written: ReturnType<typeof writtenCodec.decode>[] = [];
  deadLetters = 0;
  sendMs = 0;
  readonly #inner: RecordProducer;
  readonly #topics: Readonly<{ manifests: string; dlq: string }>;
  constructor(inner: RecordProducer, topics: Readonly<{ manifests: string; dlq: string }>) {
    this.#inner = inner;
    this.#topics = topics;
  }
  async send(records: readonly KeyedRecord[]): Promise<RecordMetadata[]> {
    const started = performance.now();
    const result = await this.#inner.send(records);
    this.sendMs += performance.now() - started;
    for (const r of records) {
      if (r.topic === this.#topics.dlq) this.deadLetters++;
      else if (r.topic === this.#topics.manifests && r.value !== null)
        this.written.push(writtenCodec.decode(r.value));
    }
    return result;
  }
  close = async (): Promise<void> => undefined;
}

/** Resolves when `committed` reaches every partition end of `topic`. */
type CommitWatch = (topic: string, ends: ReadonlyMap<number, bigint>, timeoutMs: number) => Promise<void>;

function watchCommits(sink: Awaited<ReturnType<typeof startSink>>): CommitWatch {
  const committed = new Map<string, bigint>();
  let wake: () => void = () => undefined;
  sink.consumer.on(sink.consumer.events.COMMIT_OFFSETS, (e) => {
    for (const t of e.payload.topics) {
      for (const p of t.partitions) {
        const k = `${t.topic}/${p.partition}`;
        const offset = BigInt(p.offset);
        if (offset > (committed.get(k) ?? -1n)) committed.set(k, offset);
      }
    }
    wake();
  });
  return async (topic, ends, timeoutMs) => {
    const deadline = Date.now() + timeoutMs;
    const done = () => [...ends].every(([p, end]) => (committed.get(`${topic}/${p}`) ?? 0n) >= end);
    while (!done()) {
      if (Date.now() > deadline)
        throw new Error(`sink did not commit ${topic} to its end in ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 250);
      });
    }
  };
}

/** Produces `records` (acks=all) and returns the end offset of every partition that received some. */
async function produceAndEnds(
  io: BenchKafka,
  topic: string,
  records: ReadonlyArray<{ key: string; value: Buffer }>,
): Promise<Map<number, bigint>> {
  // In chunks of at most 250 records and ~512 KB, so no request exceeds the broker's message size limit (1 MB by
  // default) even when a chunk's records all land in one partition.
  for (let i = 0; i < records.length;) {
    let end = i;
    for (let bytes = 0; end < records.length && end - i < 250 && bytes < 512 * 1024; end++)
      bytes += records[end]?.value.byteLength ?? 0;
    await io.producer.send({ topic, acks: -1, compression: io.compression, messages: records.slice(i, end) });
    i = end;
  }
  const ends = new Map<number, bigint>();
  for (const o of await io.admin.fetchTopicOffsets(topic)) {
    if (o.high !== o.low) ends.set(o.partition, BigInt(o.high));
  }
  return ends;
}

/** The topics of one run. */
export function runTopics(run: string) {
  return {
    sessionTags: `bench.session-tags.${run}`,
    recordingExports: `bench.recording-exports.${run}`,
    legalHolds: `bench.legal-holds.${run}`,
    sinkState: `bench.sink-state.${run}`,
    manifests: `bench.manifests.${run}`,
    dlq: `bench.dlq.${run}`,
  };
}

/**
 * Creates a run's topics. Create them well ahead of the run: the first write to a topic created a moment before
 * waits while the broker settles it (about 400 ms here), a cost a deployed sink, whose topics exist, never pays.
 */
export async function createRunTopics(admin: Admin, run: string, partitions: number): Promise<void> {
  const topics = Object.values(runTopics(run)).map((topic) => ({ topic, numPartitions: partitions }));
  for (let attempt = 1; ; attempt++) {
    try {
      await admin.createTopics({ waitForLeaders: true, topics });
      return;
    } catch (e) {
      // A broker that has just started may not yet know topics it created a moment ago while kafkajs waits for
      // their leaders; creating again is a no-op for those that exist.
      if (attempt >= 10) throw e;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

/** One sink run. Throws when the sink does not write exactly one complete manifest per recording. */
export async function runSink(
  deps: Readonly<{
    io: BenchKafka;
    s3: MeteredS3;
    signer: SigningKey;
    producer: RecordProducer;
    createdTopics: string[];
  }>,
  workload: Workload,
  opts: SinkRunOptions,
): Promise<SinkRun> {
  const { io, s3 } = deps;
  const { kafka, admin } = io;
  const topics = runTopics(opts.run);
  await createRunTopics(admin, opts.run, opts.partitions); // nothing when created ahead
  const codecs = await createSinkCodecs(
    { brokers: [], clientId: 'bench', ssl: false },
    { partitions: opts.partitions, notifications: 'unused', eventBridge: 'unused', ...topics },
  );
  const producer = new CountingProducer(deps.producer, topics);
  const options: SinkOptions = {
    ...DEFAULT_SINK_OPTIONS,
    groupId: `bench-sink-${opts.run}`,
    topics,
    manifestPrefix: `custody-bench/${opts.run}`,
    lock: opts.legalHold ? { legalHold: true } : undefined,
    partitionsConsumedConcurrently: opts.concurrency,
    conversationsInFlight: opts.inFlight ?? DEFAULT_SINK_OPTIONS.conversationsInFlight,
    instance: 'bench-sink',
    version: '0.1.0-bench',
  };

  const t0 = performance.now();
  const sink = await startSink({ kafka, s3: s3.client, signer: deps.signer, codecs, producer }, options);
  // Start-up ends when the sink could process its first record: joined, and every partition's join state restored
  // (one instance owns them all; the restore's cost is bench:sink-restore's subject).
  while (sink.table.restores.length < opts.partitions) {
    if (performance.now() - t0 > opts.timeoutMs)
      throw new Error(`sink run ${opts.run}: join state not restored`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const startupMs = performance.now() - t0;
  const waitForCommits = watchCommits(sink);
  let delivered = 0;
  sink.consumer.on(sink.consumer.events.START_BATCH_PROCESS, (e) => {
    delivered += e.payload.batchSize;
  });
  let kafkaRequests = new Map<string, OperationStats>();
  sink.consumer.on(sink.consumer.events.REQUEST, (e) => {
    const r = kafkaRequests.get(e.payload.apiName) ?? { requests: 0, ms: 0 };
    r.requests++;
    r.ms += e.payload.duration;
    kafkaRequests.set(e.payload.apiName, r);
  });
  try {
    const phase = async (topic: string, records: Workload['tagsRecords']): Promise<PhaseFigures> => {
      s3.reset();
      delivered = 0;
      kafkaRequests = new Map();
      const cpu0 = process.cpuUsage();
      const machine0 = cpuTimes();
      const started = performance.now();
      const startUs = process.hrtime.bigint() / 1000n;
      const ends = await produceAndEnds(io, topic, records);
      await waitForCommits(topic, ends, opts.timeoutMs);
      const ms = performance.now() - started;
      const cpu = process.cpuUsage(cpu0);
      return {
        ms: Math.round(ms),
        s3: s3.snapshot(),
        nodeCpuShare: round((cpu.user + cpu.system) / 1000 / ms, 2),
        machineBusyShare: busyShare(machine0, cpuTimes()),
        recordsDelivered: delivered,
        kafkaConsumerRequests: Object.fromEntries(kafkaRequests),
        monotonicUs: [String(startUs), String(process.hrtime.bigint() / 1000n)],
      };
    };
    const tags = await phase(topics.sessionTags, workload.tagsRecords);
    const announceBefore = producer.sendMs;
    const exportsPhase = await phase(topics.recordingExports, workload.exportRecords);

    const n = workload.recordings.length;
    const latest = new Map(producer.written.map((w) => [w.recordingId, w]));
    const complete = [...latest.values()].filter((w) => w.completeness === 'complete').length;
    if (latest.size !== n || complete !== n || producer.deadLetters > 0) {
      throw new Error(
        `sink run ${opts.run} invalid: ${latest.size}/${n} recordings announced, ${complete} complete, ${producer.deadLetters} dead letters`,
      );
    }
    return {
      startupMs: Math.round(startupMs),
      tags,
      exports: exportsPhase,
      manifestsPerSecond: round(n / ((tags.ms + exportsPhase.ms) / 1000), 1),
      exportsPhaseManifestsPerSecond: round(n / (exportsPhase.ms / 1000), 1),
      manifestVersionsWritten: producer.written.length,
      announceMs: Math.round(producer.sendMs - announceBefore),
      manifestKeys: [...latest.values()].map((w) => ({ key: w.key, versionId: w.versionId })),
    };
  } finally {
    await sink.stop();
    // Deleted by the caller once every client that has seen them is closed (kafkajs keeps refreshing their metadata).
    deps.createdTopics.push(...Object.values(topics));
  }
}
