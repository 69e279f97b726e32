/**
 * The whole custody pipeline in one process, on the real local Kafka and S3 servers:
 *
 *   Genesys emulator ── WebSocket ──► custody ingest ──► genesys.notifications.v1 + custody.session-tags.v1
 *   (exports into real S3) ─────────► custody exports watch ──► custody.recording-exports.v1
 *                                     custody sink ◄── both ──► signed manifests in S3 (+ custody.manifests.v1)
 *
 * `npm run demo` (dev/demo.ts) and the end-to-end test (test/integration/e2e.int.test.ts) both run exactly this
 * composition, so the demo shows what the test proves. The three roles are wired as `custody ingest`,
 * `custody exports watch` and `custody sink` would be in production — separate clients, talking only through
 * Kafka — but with the emulator's base URL, fast scan intervals and a throwaway signing key.
 *
 * Clocks: each role reads the clock of the system it watches. Ingest watches (emulated) Genesys, so it reads the
 * emulator's simulated clock: receive times and gap intervals are in the time base of Genesys's own timestamps even
 * when the emulator runs faster than real time. The exports watch and the sink watch and write the real S3 server,
 * so they read the wall clock: detection and hash times line up with S3's LastModified, and Object Lock dates are
 * real. {@link scenarioEndingNow} makes the two clocks meet when the exports happen, so a manifest's timeline reads
 * in a plausible order (Genesys events, then S3 objects, then custody's detection and hashing).
 */
import { CreateBucketCommand, PutBucketVersioningCommand, S3Client } from '@aws-sdk/client-s3';
import { Kafka, logLevel } from 'kafkajs';
import type { LogEntry } from 'kafkajs';
import { pino } from 'pino';
import type { InfraSettings } from '../infra/local.ts';
import { Secret } from '../src/config.ts';
import type { Config, KafkaCompression } from '../src/config.ts';
import { SdkGenesysApi } from '../src/ingest/genesys-api.ts';
import { startIngest } from '../src/ingest/ingest-pipeline.ts';
import type { RunningIngest } from '../src/ingest/ingest-pipeline.ts';
import { createEncoders } from '../src/kafka/record-codecs.ts';
import type { Encoders, RecordEncoder } from '../src/kafka/record-codecs.ts';
import type { SchemaName } from '../src/kafka/avro-codec.ts';
import { KafkaRecordProducer } from '../src/kafka/record-producer.ts';
import { ensureTopics } from '../src/kafka/topics.ts';
import type { Logger } from '../src/observability/logger.ts';
import { createRegistry, ingestMetrics } from '../src/observability/metrics.ts';
import { startExportsWatch } from '../src/exports/exports-watch.ts';
import type { RunningExportsWatch } from '../src/exports/exports-watch.ts';
import type { ManifestLock } from '../src/sink/manifest-store.ts';
import type { SigningKey } from '../src/sink/signing-key.ts';
import { createSinkCodecs } from '../src/sink/sink-codecs.ts';
import { DEFAULT_SINK_OPTIONS, startSink } from '../src/sink/sink-pipeline.ts';
import type { RunningSink } from '../src/sink/sink-pipeline.ts';
import { CUSTODY_VERSION } from '../src/version.ts';
import { startEmulator } from './emulator/index.ts';
import type { RunningEmulator } from './emulator/index.ts';
import type { ConversationKind, Scenario } from './emulator/model.ts';
import { awaitManifests } from './pipeline-manifests.ts';
import type { StoredManifest } from './pipeline-manifests.ts';

export type { StoredManifest } from './pipeline-manifests.ts';

/** One scripted call: its kind, when it starts (simulated seconds after the scenario start) and how long it lasts. */
export type ScriptedCall = Readonly<{ kind: ConversationKind; atSeconds: number; durationSeconds: number }>;

/**
 * A scenario whose simulated clock catches up with the wall clock when its last export is due.
 *
 * Simulated time starts in the past and runs `speed` times faster than real time; the start is chosen so that it
 * reaches the wall clock about `slackSeconds` (simulated) after the last call ended and its export was due. Until
 * then simulated time is behind the wall clock, so a recording's Genesys and ingest times (simulated) come before
 * its S3 LastModified and custody's detection and hashing (real), and the demo's dates are today's. It also keeps
 * the export hour folders inside the exports watch's scan window, which is relative to the wall clock.
 */
export function scenarioEndingNow(
  calls: readonly ScriptedCall[],
  opts: Readonly<{
    seed: number;
    speed: number;
    exportAfterMinutes: number;
    nowMs: number;
    slackSeconds?: number;
  }>,
): Scenario {
  // Transfers and after-call work can end a conversation a little after its nominal duration: the slack covers it.
  const lastEndSeconds = Math.max(...calls.map((c) => c.atSeconds + c.durationSeconds));
  const spanMs = (lastEndSeconds + opts.exportAfterMinutes * 60 + (opts.slackSeconds ?? 120)) * 1000;
  const start = Math.floor((opts.nowMs + spanMs / opts.speed - spanMs) / 1000) * 1000;
  return {
    seed: opts.seed,
    start: new Date(start).toISOString(),
    conversations: calls.map((c) => ({
      kind: c.kind,
      at: new Date(start + c.atSeconds * 1000).toISOString(),
      durationSeconds: c.durationSeconds,
    })),
  };
}

export type LocalPipelineOptions = Readonly<{
  /** Where the real Kafka and S3 servers are (infra/local.ts settings, or the test's global setup). */
  infra: InfraSettings;
  scenario: Scenario;
  /** Simulated ms per real ms. */
  speed: number;
  /** The emulated retention policy exports each recording this long after its conversation ends. */
  exportAfterMinutes: number;
  /** The export bucket; created with versioning and Object Lock (it must not exist yet). */
  bucket: string;
  topics: Config['topics'];
  signer: SigningKey;
  /** Prefix of instance names, the sink's consumer group and the watcher's checkpoint name. */
  name: string;
  /** Object Lock on every manifest version (default: a legal hold). */
  lock?: ManifestLock;
  /** Exports watch scan interval, real ms (default 500). */
  scanIntervalMs?: number;
  /** JSON logs of every component (default: silent). */
  log?: Logger;
  /** A Confluent-compatible registry: records are then Confluent-framed (default: single-object encoding). */
  schemaRegistryUrl?: string;
  /** Sees every record value custody encodes, with its bytes (the interop tests compare what was meant). */
  onEncode?: EncodeTap;
  /** Record batch compression of every producer (`KAFKA_COMPRESSION`; default none). */
  compression?: KafkaCompression;
}>;

/**
 * Called with each value an encoder is given and the bytes it produced. The value may change after the call (ingest
 * merges its snapshots in place once they are encoded): copy what you keep. The session-tags snapshots that ingest's
 * snapshot worker encodes itself are not seen.
 */
export type EncodeTap = (schema: SchemaName, value: unknown, bytes: Buffer) => void;

function tapped<T>(
  schema: SchemaName,
  inner: RecordEncoder<T>,
  tap: EncodeTap | undefined,
): RecordEncoder<T> {
  if (!tap) return inner;
  // The framing is kept, so ingest runs as deployed: its snapshot worker encodes the session-tags snapshots itself,
  // and those records never pass through `encode` (the tap does not see them; their bytes equal this encoder's,
  // test/unit/ingest/snapshot-merge-core.test.ts).
  return {
    ...(inner.framing === undefined ? {} : { framing: inner.framing }),
    encode(value: T): Buffer {
      const bytes = inner.encode(value);
      tap(schema, value, bytes);
      return bytes;
    },
  };
}

function tappedAll(encoders: Encoders, tap: EncodeTap | undefined): Encoders {
  const names = Object.keys(encoders) as SchemaName[];
  return Object.fromEntries(
    names.map((n) => [n, tapped(n, encoders[n] as RecordEncoder<unknown>, tap)]),
  ) as unknown as Encoders;
}

export type RunningLocalPipeline = Readonly<{
  emulator: RunningEmulator;
  kafka: Kafka;
  s3: S3Client;
  bucket: string;
  topics: Config['topics'];
  ingest: RunningIngest;
  exportsWatch: RunningExportsWatch;
  sink: RunningSink;
  /** Recordings the emulated org will export (the ground truth of what must get a manifest). */
  expectedRecordings(): number;
  /**
   * Resolves once every recording the scenario exports is in S3 and has a complete manifest (latest version);
   * rejects after `timeoutMs` (real) naming each recording still without one and why.
   */
  waitForManifests(timeoutMs: number): Promise<StoredManifest[]>;
  /** Stops every role (sink, exports watch, ingest) and the emulator, and closes the clients. Idempotent. */
  stop(): Promise<void>;
}>;

const EMULATOR_CLIENT = { clientId: 'custody-local-pipeline', clientSecret: 'custody-local-pipeline-secret' };

/** kafkajs's own log lines, through our logger (warnings and errors only). */
function kafkaLogs(log: Logger) {
  return () =>
    ({ namespace, level, log: entry }: LogEntry): void => {
      const { message, broker, error } = entry as { message: string; broker?: string; error?: string };
      const fields = { component: 'kafkajs', namespace, broker, error };
      if (level <= logLevel.ERROR) log.error(fields, message);
      else log.warn(fields, message);
    };
}

/**
 * Creates the bucket and topics, starts the emulator on the scenario, then ingest, the exports watch and the sink.
 * @throws when ingest could not subscribe before the scenario's first call (more lead time or a lower speed helps).
 */
export async function startLocalPipeline(o: LocalPipelineOptions): Promise<RunningLocalPipeline> {
  const log = o.log ?? pino({ level: 'silent' });
  const kafka = new Kafka({
    clientId: o.name,
    brokers: o.infra.KAFKA_BROKERS.split(','),
    logLevel: logLevel.WARN,
    logCreator: kafkaLogs(log.child({ stage: 'kafka' })),
  });
  const s3 = new S3Client({
    endpoint: o.infra.S3_ENDPOINT,
    region: o.infra.S3_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: o.infra.AWS_ACCESS_KEY_ID, secretAccessKey: o.infra.AWS_SECRET_ACCESS_KEY },
  });
  const stops: Array<() => Promise<void>> = [async () => s3.destroy()];
  const stop = async (): Promise<void> => {
    for (const s of stops.splice(0).reverse()) {
      await s().catch((e: unknown) => log.error({ err: e }, 'stopping a pipeline part failed'));
    }
  };

  try {
    // The bucket Genesys's export integration writes to: versioned, with Object Lock, as custody expects.
    await s3.send(new CreateBucketCommand({ Bucket: o.bucket, ObjectLockEnabledForBucket: true }));
    await s3.send(
      new PutBucketVersioningCommand({ Bucket: o.bucket, VersioningConfiguration: { Status: 'Enabled' } }),
    );
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, o.topics, [
      'notifications',
      'sessionTags',
      'recordingExports',
      'legalHolds',
      'sinkState',
      'manifests',
      'dlq',
    ]);
    await admin.disconnect();
    const kafkaConfig: Config['kafka'] = {
      brokers: o.infra.KAFKA_BROKERS.split(','),
      clientId: o.name,
      ssl: false,
      schemaRegistryUrl: o.schemaRegistryUrl,
      compression: o.compression ?? 'none',
    };
    const producer = () => new KafkaRecordProducer(kafka, { compression: kafkaConfig.compression });
    const encoders = tappedAll(await createEncoders(kafkaConfig, o.topics), o.onEncode);

    const emulator = await startEmulator({
      ...EMULATOR_CLIENT,
      scenario: o.scenario,
      speed: o.speed,
      exportAfterMinutes: o.exportAfterMinutes,
      exportTarget: {
        endpoint: o.infra.S3_ENDPOINT,
        region: o.infra.S3_REGION,
        bucket: o.bucket,
        accessKeyId: o.infra.AWS_ACCESS_KEY_ID,
        secretAccessKey: o.infra.AWS_SECRET_ACCESS_KEY,
      },
      log: (line) => log.debug({ component: 'genesys-emulator' }, line),
    });
    stops.push(() => emulator.close());
    const simNow = (): number => emulator.clock.now();
    const simAt = (at: number, fn: () => void): (() => void) => emulator.clock.at(at, fn);

    // --- custody ingest
    const api = new SdkGenesysApi({
      apiUrl: emulator.baseUrl,
      clientId: EMULATOR_CLIENT.clientId,
      clientSecret: new Secret(EMULATOR_CLIENT.clientSecret),
      now: simNow,
      scheduleAt: simAt,
    });
    const ingest = await startIngest(
      {
        api,
        producer: producer(),
        encoders,
        topics: o.topics,
        instance: `${o.name}-ingest`,
        log: log.child({ stage: 'ingest' }),
        metrics: ingestMetrics(createRegistry()),
        now: simNow,
        scheduleAt: simAt,
      },
      {
        // Health checks in simulated ms: allow ~2 s (real) of silence before a ping and ~1 s for its answer, so a
        // busy event loop on a small machine is not mistaken for a dead socket.
        channel: { idleBeforePingMs: 2_000 * o.speed, pongTimeoutMs: 1_000 * o.speed },
        gapRepair: { retryDelaysMs: [0, 1_000, 5_000] },
      },
    );
    stops.push(async () => {
      api.close();
      await ingest.stop();
    });
    const firstEvent = Math.min(...emulator.conversations.all().flatMap((s) => s.events.map((e) => e.at)));
    if (simNow() >= firstEvent) {
      throw new Error(
        `ingest subscribed at simulated ${new Date(simNow()).toISOString()}, after the first call's first event ` +
          `(${new Date(firstEvent).toISOString()}): start the scenario's calls later or lower the speed`,
      );
    }

    // --- custody exports watch
    const watchProducer = producer();
    const exportsWatch = await startExportsWatch(
      { s3, producer: watchProducer, encoders, log },
      {
        bucket: o.bucket,
        topics: { recordingExports: o.topics.recordingExports, dlq: o.topics.dlq },
        instance: `${o.name}-exports`,
        watcherName: o.name,
        scanIntervalMs: o.scanIntervalMs ?? 500,
        // The scenario's calls are minutes old (scenarioEndingNow): list a few hour folders, not two days' worth.
        lookbackHours: 3,
        // The org folder appears with the first export, seconds after start: look for it on every pass, not every
        // tenth (the production default, for buckets whose org folders exist for years).
        orgRefreshPasses: 1,
      },
    );
    stops.push(async () => {
      await exportsWatch.stop();
      await watchProducer.close();
    });

    // --- custody sink
    const sinkProducer = producer();
    stops.push(() => sinkProducer.close());
    const sink = await startSink(
      {
        kafka,
        s3,
        producer: sinkProducer,
        signer: o.signer,
        codecs: await createSinkCodecs(kafkaConfig, o.topics).then((c) => ({
          ...c,
          manifestWritten: tapped('manifest-written.v1', c.manifestWritten, o.onEncode),
          deadLetter: tapped('dead-letter.v1', c.deadLetter, o.onEncode),
        })),
        logger: log,
      },
      {
        ...DEFAULT_SINK_OPTIONS,
        groupId: `${o.name}-sink`,
        topics: o.topics,
        instance: `${o.name}-sink`,
        version: CUSTODY_VERSION,
        lock: o.lock ?? { legalHold: true },
      },
    );
    stops.push(() => sink.stop());

    const expectedRecordings = (): number =>
      emulator.conversations.all().reduce((n, s) => n + s.recordings.length, 0);
    return {
      emulator,
      kafka,
      s3,
      bucket: o.bucket,
      topics: o.topics,
      ingest,
      exportsWatch,
      sink,
      expectedRecordings,
      waitForManifests: (timeoutMs) =>
        awaitManifests({
          s3,
          bucket: o.bucket,
          timeoutMs,
          expected: expectedRecordings(),
          exported: () => emulator.exports.writtenCount(),
          health: () =>
            [ingest.notReadyReason(), exportsWatch.notReadyReason()]
              .filter((r) => r !== undefined)
              .join('; '),
        }),
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
