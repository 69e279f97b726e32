/**
 * Recording bulk jobs through the official SDK's RecordingApi, against the emulator with a real S3
 * export target: the PENDING → READY → PROCESSING → FULFILLED lifecycle, the two-concurrent-jobs
 * limit, the creator-must-execute rule (a second OAuth client), DELETE → CANCELLED, failed recordings,
 * and that S3 objects appear only at the export date, not when the job is FULFILLED.
 */
import { afterEach, describe, expect, it } from 'vitest';
import platformClient from 'purecloud-platform-client-v2';
import { CreateBucketCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { startEmulator, type EmulatorOptions, type RunningEmulator } from '../../../dev/emulator/index.ts';
import { flushExports, stopExports } from '../../../dev/emulator/platform/exports.ts';
import { infra, s3Client, uniqueName } from '../../support/clients.ts';

type ApiClient = typeof platformClient.ApiClient;
const CLIENT = { clientId: 'data-jobs-client', clientSecret: 'data-jobs-secret' };
const OTHER = { clientId: 'data-jobs-other', clientSecret: 'data-jobs-other-secret' };
const START = Date.parse('2025-03-04T08:00:00.000Z');
const MIN = 60_000;
const HOUR = 60 * MIN;
/** The emulator's default query and execution durations (simulated). */
const STEP_MS = 10_000;
const at = (m: number) => new Date(START + m * MIN).toISOString();
const iso = (ms: number) => new Date(ms).toISOString();

interface ErrorBody {
  readonly status?: number;
  readonly code?: string;
  readonly message?: string;
}

async function failure(p: Promise<unknown>): Promise<ErrorBody> {
  try {
    await p;
  } catch (e) {
    return e as ErrorBody;
  }
  throw new Error('expected the call to fail');
}

async function login(
  port: number,
  creds: { clientId: string; clientSecret: string },
): Promise<platformClient.RecordingApi> {
  const Ctor = platformClient.ApiClient.constructor as new () => ApiClient;
  const client = new Ctor();
  client.setGateway({
    host: '127.0.0.1',
    protocol: 'http',
    port,
    path_params_login: '',
    path_params_api: '',
  });
  await client.loginClientCredentialsGrant(creds.clientId, creds.clientSecret);
  return new platformClient.RecordingApi(client);
}

async function listKeys(bucket: string): Promise<string[]> {
  const s3 = s3Client();
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    keys.push(...(page.Contents ?? []).map((o) => o.Key ?? ''));
    token = page.NextContinuationToken;
  } while (token);
  s3.destroy();
  return keys.sort();
}

let emu: RunningEmulator | undefined;
async function start(opts: Partial<EmulatorOptions> = {}) {
  const bucket = uniqueName('emu-jobs');
  const s3 = s3Client();
  await s3.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: true }));
  s3.destroy();
  const i = infra();
  // Simulated time barely moves on its own (speed 0.001): the tests move it with clock.advance.
  const e = await startEmulator({
    ...CLIENT,
    speed: 0.001,
    extraClients: [OTHER],
    exportTarget: {
      endpoint: i.S3_ENDPOINT,
      region: i.S3_REGION,
      bucket,
      accessKeyId: i.AWS_ACCESS_KEY_ID,
      secretAccessKey: i.AWS_SECRET_ACCESS_KEY,
    },
    scenario: {
      start: at(0),
      seed: 5,
      conversations: [
        { kind: 'inbound-acd-webrtc', at: at(1), durationSeconds: 120 },
        { kind: 'consult-transfer', at: at(4), durationSeconds: 180 },
      ],
    },
    ...opts,
  });
  emu = e;
  // Let every conversation end and its analytics become available (bulk job queries need them).
  await e.clock.advance(
    Math.max(...e.conversations.all().map((s) => s.analytics.availableAt)) - e.clock.now(),
  );
  const exportJob = (actionDate: number) => ({
    action: 'EXPORT',
    actionDate: iso(actionDate),
    integrationId: e.org.integrationId,
    conversationQuery: { interval: `${at(0)}/${at(60)}`, order: 'asc', orderBy: 'conversationStart' },
  });
  return { e, bucket, exportJob, api: await login(e.port, CLIENT), other: await login(e.port, OTHER) };
}
afterEach(async () => {
  if (emu) await stopExports(emu);
  await emu?.close();
  emu = undefined;
});

describe('recording bulk jobs (SDK RecordingApi)', () => {
  it('runs an EXPORT job to FULFILLED and writes to S3 only at the export date', async () => {
    const { e, bucket, exportJob, api } = await start();
    const scripts = e.conversations.all();
    const recordingCount = scripts.reduce((n, s) => n + s.recordings.length, 0);
    expect(recordingCount).toBeGreaterThan(2);
    const exportAt = e.clock.now() + 2 * HOUR;

    const created = await api.postRecordingJobs(exportJob(exportAt));
    expect(created.state).toBe('PENDING');
    expect(created.user?.id).toBe(CLIENT.clientId);
    const id = created.id ?? '';
    expect((await failure(api.putRecordingJob(id, { state: 'PROCESSING' }))).status).toBe(400);
    await e.clock.advance(STEP_MS);
    const ready = await api.getRecordingJob(id);
    expect(ready).toMatchObject({
      state: 'READY',
      totalConversations: scripts.length,
      totalRecordings: recordingCount,
    });

    expect((await api.putRecordingJob(id, { state: 'PROCESSING' })).state).toBe('PROCESSING');
    await e.clock.advance(STEP_MS);
    expect(await api.getRecordingJob(id)).toMatchObject({
      state: 'FULFILLED',
      totalProcessedRecordings: recordingCount,
      totalFailedRecordings: 0,
      percentProgress: 100,
    });
    const listed = await api.getRecordingJobs({ jobType: 'EXPORT', state: 'FULFILLED' });
    expect(listed.entities?.map((j) => j.id)).toEqual([id]);

    // FULFILLED = export scheduled: nothing in S3 yet, exportDate set, exportedDate not.
    await flushExports(e);
    expect(await listKeys(bucket)).toEqual([]);
    for (const s of scripts) {
      for (const m of await api.getConversationRecordingmetadata(s.conversationId)) {
        expect(m.exportDate).toBe(iso(exportAt));
        expect(m.exportedDate).toBeUndefined();
      }
    }

    await e.clock.advance(exportAt - 1_000 - e.clock.now());
    await flushExports(e);
    expect(await listKeys(bucket)).toEqual([]);
    await e.clock.advance(1_000);
    await flushExports(e);
    const keys = await listKeys(bucket);
    expect(keys).toHaveLength(recordingCount * 2);
    for (const s of scripts) {
      for (const r of s.recordings) {
        expect(
          keys.filter((k) => k.includes(`/conversation_id=${s.conversationId}/${r.recordingId}.opus`)),
        ).toHaveLength(2);
      }
      for (const m of await api.getConversationRecordingmetadata(s.conversationId)) {
        expect(Date.parse(m.exportedDate ?? '')).toBeGreaterThanOrEqual(exportAt);
      }
    }
  });

  it('allows two PENDING/PROCESSING jobs per org, only the creator may execute, DELETE cancels', async () => {
    const { e, exportJob, api, other } = await start();
    const later = e.clock.now() + 24 * HOUR;
    const j1 = await api.postRecordingJobs(exportJob(later));
    const j2 = await other.postRecordingJobs(exportJob(later));
    const third = await failure(api.postRecordingJobs(exportJob(later)));
    expect(third).toMatchObject({ status: 400, code: 'bad.request' });
    expect(third.message).toMatch(/maximum of 2 concurrent jobs/);

    await e.clock.advance(STEP_MS);
    const notMine = await failure(other.putRecordingJob(j1.id ?? '', { state: 'PROCESSING' }));
    expect(notMine).toMatchObject({ status: 403, code: 'not.authorized' });
    expect((await api.getRecordingJob(j1.id ?? '')).state).toBe('READY');
    // READY jobs do not count: two more may start; then neither READY job may be executed.
    const j3 = await api.postRecordingJobs(exportJob(later));
    const j4 = await api.postRecordingJobs(exportJob(later));
    expect((await failure(api.putRecordingJob(j1.id ?? '', { state: 'PROCESSING' }))).status).toBe(400);
    await api.deleteRecordingJob(j3.id ?? '');
    expect((await api.getRecordingJob(j3.id ?? '')).state).toBe('CANCELLED');
    expect((await api.putRecordingJob(j1.id ?? '', { state: 'PROCESSING' })).state).toBe('PROCESSING');
    expect((await failure(other.putRecordingJob(j2.id ?? '', { state: 'PROCESSING' }))).status).toBe(400);

    const mine = await other.getRecordingJobs({ showOnlyMyJobs: true });
    expect(mine.entities?.map((j) => j.id)).toEqual([j2.id]);
    const cancelled = await api.getRecordingJobs({ state: 'CANCELLED' });
    expect(cancelled.entities?.map((j) => j.id)).toEqual([j3.id]);
    const page = await api.getRecordingJobs({ pageSize: 2, pageNumber: 2 });
    expect(page).toMatchObject({ total: 4, pageCount: 2 });
    expect(page.entities?.map((j) => j.id)).toEqual([j3.id, j4.id]);
    expect((await failure(api.getRecordingJob('no-such-job'))).status).toBe(404);
  });

  it('reports recordings of deletion-protected conversations as failed on a DELETE job', async () => {
    const { e, api } = await start();
    const [protectedConv, freeConv] = e.conversations.all();
    if (!protectedConv || !freeConv) throw new Error('scenario');
    await api.putRecordingsDeletionprotection({
      protect: true,
      body: { conversationIds: [protectedConv.conversationId] },
    });
    const job = await api.postRecordingJobs({
      action: 'DELETE',
      actionAge: 30,
      conversationQuery: { interval: `${at(0)}/${at(60)}` },
    });
    await e.clock.advance(STEP_MS);
    await api.putRecordingJob(job.id ?? '', { state: 'PROCESSING' });
    await e.clock.advance(STEP_MS);
    const done = await api.getRecordingJob(job.id ?? '');
    expect(done).toMatchObject({
      state: 'FAILED',
      totalFailedRecordings: protectedConv.recordings.length,
      totalProcessedRecordings: freeConv.recordings.length,
    });
    const failed = await api.getRecordingJobFailedrecordings(job.id ?? '', { pageSize: 100 });
    expect(failed.entities?.map((f) => f.recording?.id).sort()).toEqual(
      protectedConv.recordings.map((r) => r.recordingId).sort(),
    );
    expect(failed.entities?.every((f) => f.conversation?.id === protectedConv.conversationId)).toBe(true);
    expect((await failure(api.getRecordingJobFailedrecordings(job.id ?? '', { pageSize: 101 }))).status).toBe(
      400,
    );
    const freeMeta = await api.getConversationRecordingmetadata(freeConv.conversationId);
    const rec = freeConv.recordings[0];
    expect(freeMeta.find((m) => m.id === rec?.recordingId)?.deleteDate).toBe(
      iso((rec?.endTime ?? 0) + 30 * 24 * HOUR),
    );
  });

  it('rejects invalid job requests with 400', async () => {
    const { e, exportJob, api } = await start();
    const ok = exportJob(e.clock.now() + HOUR);
    for (const body of [
      { ...ok, action: 'COPY' },
      { ...ok, integrationId: undefined },
      { ...ok, integrationId: 'not-the-integration' },
      { ...ok, conversationQuery: { interval: 'yesterday' } },
      { ...ok, actionAge: 1 },
    ]) {
      expect((await failure(api.postRecordingJobs(body))).status, JSON.stringify(body)).toBe(400);
    }
  });
});
