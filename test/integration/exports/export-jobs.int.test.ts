/**
 * `custody exports run` against the Genesys emulator's recording bulk jobs, real S3 (the emulator exports into it
 * at the job's export date) and real Kafka: a job custody creates and executes reaches FULFILLED; three runs at
 * once all succeed without ever having three jobs in flight; the covered recordings' RecordingExport records
 * carry the job facts (published by the run itself, detectedBy `job`, or attached by `custody exports watch` from
 * the job ledger — never to an export that predates the job); the sink's manifests get export_job_* custody
 * events; recordings a job failed for are dead-lettered once, also across a resumed run.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Kafka } from 'kafkajs';
import platformClient from 'purecloud-platform-client-v2';
import { afterEach, describe, expect, it } from 'vitest';
import { startEmulator } from '../../../dev/emulator/index.ts';
import type { RunningEmulator } from '../../../dev/emulator/index.ts';
import type { Scenario } from '../../../dev/emulator/model.ts';
import { Secret } from '../../../src/config.ts';
import type { SealedManifest } from '../../../src/enrich/integrity.ts';
import { verifyManifest } from '../../../src/enrich/verify.ts';
import type { RecordingExport } from '../../../src/kafka/avro-codec.ts';
import { KafkaRecordProducer } from '../../../src/kafka/record-producer.ts';
import { createLogger } from '../../../src/observability/logger.ts';
import { S3JobLedgerStore } from '../../../src/exports/export-job-ledger-store.ts';
import { isTerminalState } from '../../../src/exports/export-job-state.ts';
import type { RecordingJobsApi } from '../../../src/exports/export-jobs-api.ts';
import { SdkRecordingJobsApi } from '../../../src/exports/export-jobs-api.ts';
import type { ExportsRunOptions } from '../../../src/exports/exports-run.ts';
import { runExportsRun } from '../../../src/exports/exports-run.ts';
import { startExportsWatch } from '../../../src/exports/exports-watch.ts';
import { compileManifestJsonSchema } from '../../fixtures/manifest/json-schema.ts';
import { infra, kafkaClient, s3Client, uniqueName } from '../../support/clients.ts';
import {
  createLockedBucket,
  createTopics,
  deadLetterCodec,
  exportCodec,
  getBytes,
  manifestKeyOf,
  produce,
  readAll,
  sinkTopics,
  snapshotsOf,
  startTestSink,
  tagsCodec,
  testSigningKey,
  testSinkOptions,
  waitForCaughtUp,
} from '../../support/sink-fixtures.ts';
import { infraEnv, spawnCustody } from '../../support/custody-process.ts';

const CLIENT = { clientId: 'exports-run-test', clientSecret: 'exports-run-secret' };
const HOUR = 3_600_000;
const MIN = 60_000;
const log = createLogger({
  level: process.env['EXPORTS_DEBUG'] ? 'debug' : 'silent',
  instance: 'exports-run',
});
const encoders = { 'recording-export.v1': exportCodec, 'dead-letter.v1': deadLetterCodec };
const validateSchema = compileManifestJsonSchema();

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

type Env = Readonly<{
  emu: RunningEmulator;
  s3: S3Client;
  kafka: Kafka;
  bucket: string;
  topics: ReturnType<typeof sinkTopics>;
  /** Start of the scenario's hour (3 h ago): its conversations run in its first quarter. */
  startMs: number;
  producer: KafkaRecordProducer;
  api: () => SdkRecordingJobsApi;
}>;

/**
 * An emulator whose simulated clock is caught up with real time (so custody's clock and Genesys's agree, as in
 * production), three conversations three hours ago with their analytics available, no policy exports: every
 * export in the bucket comes from a job.
 */
async function environment(): Promise<Env> {
  const s3 = s3Client();
  const kafka = kafkaClient('exports-run-test');
  const bucket = uniqueName('exports-run');
  await createLockedBucket(s3, bucket);
  const startMs = Math.floor((Date.now() - 3 * HOUR) / HOUR) * HOUR;
  const at = (m: number) => new Date(startMs + m * MIN).toISOString();
  const scenario: Scenario = {
    seed: 11,
    start: at(0),
    conversations: [
      { kind: 'inbound-acd-webrtc', at: at(2), durationSeconds: 120 },
      { kind: 'outbound-webrtc', at: at(5), durationSeconds: 90 },
      { kind: 'consult-transfer', at: at(8), durationSeconds: 180 },
    ],
  };
  const i = infra();
  const emu = await startEmulator({
    ...CLIENT,
    speed: 1,
    scenario,
    recordingJobs: { queryDelayMs: 1_500, executeDelayMs: 1_500 },
    exportTarget: {
      endpoint: i.S3_ENDPOINT,
      region: i.S3_REGION,
      bucket,
      accessKeyId: i.AWS_ACCESS_KEY_ID,
      secretAccessKey: i.AWS_SECRET_ACCESS_KEY,
    },
  });
  await emu.clock.advance(Math.max(0, Date.now() - emu.clock.now()));
  const available = Math.max(...emu.conversations.all().map((s) => s.analytics.availableAt));
  expect(available).toBeLessThanOrEqual(emu.clock.now());
  const topics = sinkTopics();
  await createTopics(kafka, Object.values(topics));
  const producer = new KafkaRecordProducer(kafka);
  const apis: SdkRecordingJobsApi[] = [];
  cleanups.push(async () => {
    for (const a of apis) a.close();
    await producer.close();
    await emu.exports.stop();
    await emu.close();
    s3.destroy();
  });
  const api = () => {
    const a = new SdkRecordingJobsApi({
      apiUrl: emu.baseUrl,
      clientId: CLIENT.clientId,
      clientSecret: new Secret(CLIENT.clientSecret),
    });
    apis.push(a);
    return a;
  };
  return { emu, s3, kafka, bucket, topics, startMs, producer, api };
}

function runOptions(env: Env, over: Partial<ExportsRunOptions> = {}): ExportsRunOptions {
  return {
    from: env.startMs,
    to: env.startMs + HOUR,
    integrationId: env.emu.org.integrationId,
    wait: false,
    bucket: env.bucket,
    prefix: '',
    dayHourPadding: 'both',
    topics: { recordingExports: env.topics.recordingExports, dlq: env.topics.dlq },
    instance: 'exports-run-a',
    version: '0.1.0-test',
    job: { pollIntervalMs: 150, maxPollIntervalMs: 600, orgLimitBackoffMs: 300, maxOrgLimitBackoffMs: 1_500 },
    collect: { intervalMs: 250, timeoutMs: 30_000 },
    ...over,
  };
}

async function exportsOn(env: Env): Promise<Array<{ key: string | null; value: RecordingExport }>> {
  return (await readAll(env.kafka, env.topics.recordingExports)).map((r) => ({
    key: r.key,
    value: exportCodec.decode(r.value),
  }));
}

const recordingsOf = (emu: RunningEmulator) =>
  emu.conversations.all().flatMap((s) => s.recordings.map((r) => r.recordingId));

describe('custody exports run', () => {
  it('runs as the `custody exports run --wait` command without an integration id: FULFILLED, exit 0, every covered recording published', async () => {
    const env = await environment();
    const run = spawnCustody(
      [
        'exports',
        'run',
        '--from',
        new Date(env.startMs).toISOString(),
        '--to',
        new Date(env.startMs + HOUR).toISOString(),
        '--wait',
      ],
      {
        ...infraEnv(),
        GENESYS_API_URL: env.emu.baseUrl,
        GENESYS_CLIENT_ID: CLIENT.clientId,
        GENESYS_CLIENT_SECRET: CLIENT.clientSecret,
        // No GENESYS_EXPORT_INTEGRATION_ID: custody finds the org's one export integration itself.
        S3_BUCKET: env.bucket,
        CUSTODY_INSTANCE_ID: 'exports-run-cli',
        CUSTODY_EXPORTS_RUN_POLL_MS: '150',
        CUSTODY_EXPORTS_SCAN_INTERVAL_MS: '250',
        CUSTODY_TOPIC_RECORDING_EXPORTS: env.topics.recordingExports,
        CUSTODY_TOPIC_DLQ: env.topics.dlq,
        CUSTODY_TOPIC_PARTITIONS: '3',
      },
    );
    cleanups.push(async () => void run.child.kill('SIGKILL'));
    const finished = await run.waitForLog('custody exports run finished', 60_000);
    expect(await run.exited).toBe(0);
    expect((await run.waitForLog('export integration discovered'))['integrationId']).toBe(
      env.emu.org.integrationId,
    );
    expect(finished['finalState']).toBe('FULFILLED');
    const records = await exportsOn(env);
    expect(records.map((r) => r.value.recordingId).sort()).toEqual([...recordingsOf(env.emu)].sort());
    expect(
      records.every((r) => r.value.detectedBy === 'job' && r.value.job?.jobId === finished['jobId']),
    ).toBe(true);
    expect(JSON.stringify(run.logs()) + run.stderr()).not.toContain(CLIENT.clientSecret);
  }, 90_000);

  it('creates and executes a job to FULFILLED, publishes its exports with the job facts, and the manifests record the job', async () => {
    const env = await environment();
    const report = await runExportsRun(
      { api: env.api(), s3: env.s3, producer: env.producer, encoders, log },
      runOptions(env, { wait: true }),
    );

    expect(report.finalState).toBe('FULFILLED');
    expect(report.createdBy).toBe(CLIENT.clientId);
    expect(report.states.map((s) => s.state)).toEqual(['PENDING', 'READY', 'PROCESSING', 'FULFILLED']);
    expect(report.states[0]?.genesys?.field).toBe('dateCreated');
    expect(report.states.slice(1).every((s) => s.genesys === null)).toBe(true);
    expect(report.coveredConversations).toBe(env.emu.conversations.all().length);
    const truth = recordingsOf(env.emu);
    expect(report.totals?.processed).toBe(truth.length);
    expect(report.exports).toMatchObject({
      expected: truth.length,
      published: truth.length,
      timedOut: false,
    });
    expect(report.orgLimitWaits).toBe(0);

    // One record per exported recording, published by the run, carrying the job's facts.
    const records = await exportsOn(env);
    expect(records.map((r) => r.value.recordingId).sort()).toEqual([...truth].sort());
    for (const { key, value } of records) {
      expect(key).toBe(value.conversationId);
      expect(value.detectedBy).toBe('job');
      expect(value.detectorInstance).toBe('exports-run-a');
      expect(value.audio).not.toBeNull();
      expect(value.metadata).not.toBeNull();
      expect(value.job).toEqual({
        jobId: report.jobId,
        createdBy: CLIENT.clientId,
        states: report.states.map((s) => ({ state: s.state, observedAtMs: s.observedAtMs })),
      });
    }

    // The ledger holds the whole story, for the watcher and for a resumed run.
    const stored = await new S3JobLedgerStore(env.s3, env.bucket).read(report.jobId);
    expect(stored?.ledger.states.map((s) => s.state)).toEqual([
      'PENDING',
      'READY',
      'PROCESSING',
      'FULFILLED',
    ]);
    expect(stored?.ledger.published).toHaveLength(truth.length);
    expect(Object.keys(stored?.ledger.coverage?.conversations ?? {}).sort()).toEqual(
      env.emu.conversations
        .all()
        .map((s) => s.conversationId)
        .sort(),
    );
    expect(stored?.ledger.coverage?.listedAtMs).toBeLessThan(
      stored?.ledger.states.find((s) => s.state === 'PROCESSING')?.observedAtMs ?? 0,
    );

    // The sink turns the facts into custody events of each manifest.
    await produce(
      env.kafka,
      env.topics.sessionTags,
      [...snapshotsOf(env.emu)].map(([key, s]) => ({ key, value: tagsCodec.encode(s) })),
    );
    const signer = testSigningKey();
    const options = testSinkOptions(env.topics, uniqueName('custody-sink'), 'sink-jobs');
    const sink = await startTestSink(env.kafka, env.s3, signer, options);
    cleanups.push(() => sink.stop());
    await waitForCaughtUp(env.kafka, options.groupId, [env.topics.sessionTags, env.topics.recordingExports]);
    for (const { value } of records) {
      const bytes = await getBytes(env.s3, env.bucket, manifestKeyOf(value));
      const report2 = verifyManifest(bytes, new Map([[signer.keyId, signer.publicKey]]));
      expect(report2.checks.filter((c) => !c.ok)).toEqual([]);
      const m = JSON.parse(bytes.toString('utf8')) as SealedManifest;
      expect(validateSchema(m)).toBe(true);
      const jobEvents = m.chain_of_custody.filter((c) => c.event.startsWith('export_job_'));
      expect(jobEvents.map((c) => c.event)).toEqual([
        'export_job_created',
        'export_job_executed',
        'export_job_fulfilled',
      ]);
      for (const e of jobEvents) {
        expect(e.actor).toEqual({ kind: 'genesys', job_id: report.jobId, user_id: CLIENT.clientId });
        expect(e.time_source).toBe('custody-process');
        expect(e.detail?.job_id).toBe(report.jobId);
      }
      expect(jobEvents.map((e) => e.at)).toEqual(
        report.states.filter((s) => s.state !== 'READY').map((s) => new Date(s.observedAtMs).toISOString()),
      );
    }
  }, 120_000);

  it('respects the org limit of two pending/processing jobs: three runs at once all reach FULFILLED, never three in flight', async () => {
    const env = await environment();
    // An independent observer of the org's jobs, polling as fast as the runs do.
    const observer = new platformClient.RecordingApi(await loggedInClient(env.emu.port));
    let maxInFlight = 0;
    let observing = true;
    const observed = (async () => {
      while (observing) {
        const page = await observer.getRecordingJobs({ pageSize: 100 });
        const inFlight = (page.entities ?? []).filter(
          (j) => j.state === 'PENDING' || j.state === 'PROCESSING',
        ).length;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();

    const reports = await Promise.all(
      ['a', 'b', 'c'].map((n) =>
        runExportsRun(
          { api: env.api(), s3: env.s3, producer: env.producer, encoders, log },
          runOptions(env, { instance: `exports-run-${n}` }),
        ),
      ),
    );
    observing = false;
    await observed;

    expect(reports.map((r) => r.finalState)).toEqual(['FULFILLED', 'FULFILLED', 'FULFILLED']);
    expect(new Set(reports.map((r) => r.jobId)).size).toBe(3);
    // The limit was really met (a run was refused and waited), and never exceeded.
    expect(reports.reduce((n, r) => n + r.orgLimitWaits, 0)).toBeGreaterThan(0);
    expect(maxInFlight).toBe(2);
    const store = new S3JobLedgerStore(env.s3, env.bucket);
    for (const [i, r] of reports.entries()) {
      const ledger = (await store.read(r.jobId))?.ledger;
      expect(ledger?.states.at(-1)?.state).toBe('FULFILLED');
      expect(ledger?.runner.instance).toBe(`exports-run-${'abc'[i]}`);
    }
  }, 120_000);

  it('lets custody exports watch attach the job facts through the ledger, but not to an export older than the job', async () => {
    const env = await environment();
    const [first] = env.emu.conversations.all();
    if (first === undefined) throw new Error('scenario has no conversation');
    // An export already in the bucket before the job ran (e.g. from a retention policy).
    const d = new Date(first.startTime);
    const folder =
      `${env.emu.org.orgId}/year=${d.getUTCFullYear()}/month=${d.getUTCMonth() + 1}/day=${d.getUTCDate()}` +
      `/hour=${d.getUTCHours()}/conversation_id=${first.conversationId}/`;
    const older = 'e0e0e0e0-0000-4000-8000-000000000001';
    for (const suffix of ['.opus', '.opus_metadata.json']) {
      await env.s3.send(
        new PutObjectCommand({ Bucket: env.bucket, Key: `${folder}${older}${suffix}`, Body: 'x' }),
      );
    }
    await new Promise((r) => setTimeout(r, 1_000));

    const report = await runExportsRun(
      { api: env.api(), s3: env.s3, producer: env.producer, encoders, log },
      runOptions(env, { wait: false }),
    );
    expect(report.finalState).toBe('FULFILLED');
    expect(report.exports).toBeNull();
    await env.emu.exports.flush();
    expect(await exportsOn(env)).toEqual([]);

    const watch = await startExportsWatch(
      { s3: env.s3, producer: env.producer, encoders, log },
      {
        bucket: env.bucket,
        topics: { recordingExports: env.topics.recordingExports, dlq: env.topics.dlq },
        instance: 'watch-jobs',
        watcherName: 'jobs',
        scanIntervalMs: 0,
        jobLedgerSkewMs: 1_000,
      },
    );
    cleanups.push(() => watch.stop());
    const scan = await watch.scanOnce();
    const truth = recordingsOf(env.emu);
    expect(scan.recordingsEmitted).toBe(truth.length + 1);
    const records = await exportsOn(env);
    for (const { value } of records) {
      expect(value.detectedBy).toBe('scan');
      if (value.recordingId === older) {
        expect(value.job).toBeNull();
      } else {
        expect(truth).toContain(value.recordingId);
        expect(value.job?.jobId).toBe(report.jobId);
        expect(value.job?.createdBy).toBe(CLIENT.clientId);
        expect(value.job?.states.map((s) => s.state)).toEqual([
          'PENDING',
          'READY',
          'PROCESSING',
          'FULFILLED',
        ]);
      }
    }
  }, 120_000);

  it('dead-letters the recordings a job failed for, once, even when the run is resumed', async () => {
    const env = await environment();
    const [conv] = env.emu.conversations.all();
    const failed = {
      conversationId: conv?.conversationId ?? '',
      recordingId: conv?.recordings[0]?.recordingId ?? '',
    };
    // The emulator's EXPORT jobs never fail, so the port reports one failed recording once the job is final.
    const real = env.api();
    const api: RecordingJobsApi = {
      createJob: (q) => real.createJob(q),
      executeJob: (id) => real.executeJob(id),
      coveredConversations: (q) => real.coveredConversations(q),
      getJob: async (id) => {
        const job = await real.getJob(id);
        return isTerminalState(job.state)
          ? { ...job, state: 'FAILED', totalFailedRecordings: 1, errorMessage: 'recording unavailable' }
          : job;
      },
      failedRecordings: async function* () {
        yield { conversation: { id: failed.conversationId }, recording: { id: failed.recordingId } };
      },
    };
    const deps = { api, s3: env.s3, producer: env.producer, encoders, log };
    const report = await runExportsRun(deps, runOptions(env));
    expect(report.finalState).toBe('FAILED');
    expect(report.failedRecordings).toBe(1);

    const letters = (await readAll(env.kafka, env.topics.dlq)).map((r) => ({
      key: r.key,
      value: deadLetterCodec.decode(r.value),
    }));
    expect(letters).toHaveLength(1);
    expect(letters[0]?.key).toBe(failed.conversationId);
    expect(letters[0]?.value).toMatchObject({
      stage: 'exports',
      errorCode: 'CUSTODY_SINK_EXPORT_JOB_RECORDING_FAILED',
      source: { kind: 'api' },
      instance: 'exports-run-a',
    });
    expect(letters[0]?.value.reason).toContain(report.jobId);
    expect(letters[0]?.value.reason).toContain('recording unavailable');
    expect(JSON.parse(letters[0]?.value.value?.toString('utf8') ?? '{}')).toEqual({
      conversation: { id: failed.conversationId },
      recording: { id: failed.recordingId },
    });
    const ledger = (await new S3JobLedgerStore(env.s3, env.bucket).read(report.jobId))?.ledger;
    expect(ledger?.failedRecordings).toEqual([failed]);
    expect(ledger?.errorMessage).toBe('recording unavailable');

    // A resumed run (e.g. after a crash) finds the job final and dead-letters nothing twice.
    const resumed = await runExportsRun(deps, runOptions(env, { resumeJobId: report.jobId }));
    expect(resumed.jobId).toBe(report.jobId);
    expect(resumed.finalState).toBe('FAILED');
    expect(resumed.states[0]?.observedAtMs).toBe(report.states[0]?.observedAtMs);
    expect(await readAll(env.kafka, env.topics.dlq)).toHaveLength(1);
  }, 120_000);
});

async function loggedInClient(port: number) {
  const Ctor = platformClient.ApiClient.constructor as new () => typeof platformClient.ApiClient;
  const client = new Ctor();
  client.setGateway({
    host: '127.0.0.1',
    protocol: 'http',
    port,
    path_params_login: '',
    path_params_api: '',
  });
  await client.loginClientCredentialsGrant(CLIENT.clientId, CLIENT.clientSecret);
  return client;
}
