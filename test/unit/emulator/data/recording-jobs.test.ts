import { describe, expect, it } from 'vitest';
import type { Models } from 'purecloud-platform-client-v2';
import { registerConversationRoutes } from '../../../../dev/emulator/platform/conversations.ts';
import { registerRecordingJobRoutes } from '../../../../dev/emulator/platform/recording-jobs.ts';
import { MIN, T0, script, testContext } from './support.ts';

const iso = (ms: number) => new Date(ms).toISOString();
const DAY = 86_400_000;

function setup() {
  const a = script({ start: T0, recordings: 2 });
  const b = script({ start: T0 + 10 * MIN, userId: 'user-b' });
  const ctx = testContext([a, b]);
  registerConversationRoutes(ctx);
  registerRecordingJobRoutes(ctx, { queryDelayMs: 5_000, executeDelayMs: 5_000 });
  const exportJob = (extra: Record<string, unknown> = {}) => ({
    action: 'EXPORT',
    actionDate: iso(T0 + DAY),
    integrationId: 'integration-1',
    conversationQuery: { interval: `${iso(T0 - MIN)}/${iso(T0 + 60 * MIN)}` },
    ...extra,
  });
  const post = async (body: unknown, clientId = 'client-a') =>
    ctx.routes.call('POST', '/api/v2/recording/jobs', { body, clientId });
  const get = async (id: string) =>
    (await ctx.routes.call('GET', `/api/v2/recording/jobs/${id}`)).body as Models.RecordingJob;
  const put = async (id: string, clientId = 'client-a') =>
    ctx.routes.call('PUT', `/api/v2/recording/jobs/${id}`, { body: { state: 'PROCESSING' }, clientId });
  return { ctx, a, b, exportJob, post, get, put };
}

describe('recording bulk jobs', () => {
  it('runs PENDING → READY → PROCESSING → FULFILLED and schedules exports', async () => {
    const { ctx, a, exportJob, post, get, put } = setup();
    await ctx.clock.advance(30 * MIN);
    const created = await post(exportJob());
    expect(created.status).toBe(202);
    const job = created.body as Models.RecordingJob;
    expect(job.state).toBe('PENDING');
    expect(job.totalConversations).toBeUndefined();
    expect((await put(job.id ?? '')).status).toBe(400); // not READY yet
    await ctx.clock.advance(5_000);
    const ready = await get(job.id ?? '');
    expect(ready).toMatchObject({
      state: 'READY',
      totalConversations: 2,
      totalRecordings: 3,
      user: { id: 'client-a' },
    });
    expect((await put(job.id ?? '')).status).toBe(202);
    expect((await get(job.id ?? '')).state).toBe('PROCESSING');
    // Not yet applied while PROCESSING.
    const meta = async () =>
      (await ctx.routes.call('GET', `/api/v2/conversations/${a.conversationId}/recordingmetadata`))
        .body as Models.RecordingMetadata[];
    expect((await meta())[0]?.exportDate).toBeUndefined();
    await ctx.clock.advance(5_000);
    expect(await get(job.id ?? '')).toMatchObject({
      state: 'FULFILLED',
      totalProcessedRecordings: 3,
      percentProgress: 100,
    });
    expect((await meta()).map((r) => r.exportDate)).toEqual([iso(T0 + DAY), iso(T0 + DAY)]);
  });

  it('allows at most two PENDING/PROCESSING jobs per org', async () => {
    const { ctx, exportJob, post, put, get } = setup();
    await ctx.clock.advance(30 * MIN);
    const j1 = (await post(exportJob())).body as Models.RecordingJob;
    const j2 = (await post(exportJob())).body as Models.RecordingJob;
    const third = await post(exportJob());
    expect(third.status).toBe(400);
    expect(third.body).toMatchObject({ code: 'bad.request' });
    await ctx.clock.advance(5_000); // both READY: no longer counted
    const j3 = (await post(exportJob())).body as Models.RecordingJob;
    const j4 = (await post(exportJob())).body as Models.RecordingJob;
    expect((await put(j1.id ?? '')).status).toBe(400); // j3 and j4 are PENDING
    await ctx.clock.advance(5_000);
    expect((await put(j1.id ?? '')).status).toBe(202);
    expect((await put(j2.id ?? '')).status).toBe(202);
    expect((await put(j3.id ?? '')).status).toBe(400);
    expect((await get(j4.id ?? '')).state).toBe('READY');
  });

  it('lets only the creating client execute a job', async () => {
    const { ctx, exportJob, post, put } = setup();
    await ctx.clock.advance(30 * MIN);
    const job = (await post(exportJob(), 'client-a')).body as Models.RecordingJob;
    await ctx.clock.advance(5_000);
    const other = await put(job.id ?? '', 'client-b');
    expect(other.status).toBe(403);
    expect(other.body).toMatchObject({ code: 'not.authorized' });
    expect((await put(job.id ?? '', 'client-a')).status).toBe(202);
  });

  it('cancels with DELETE and lists/filters jobs', async () => {
    const { ctx, exportJob, post, get } = setup();
    await ctx.clock.advance(30 * MIN);
    const j1 = (await post(exportJob())).body as Models.RecordingJob;
    const j2 = (await post({ ...exportJob(), action: 'ARCHIVE', integrationId: undefined }, 'client-b'))
      .body as Models.RecordingJob;
    expect((await ctx.routes.call('DELETE', `/api/v2/recording/jobs/${j1.id ?? ''}`)).status).toBe(204);
    expect((await get(j1.id ?? '')).state).toBe('CANCELLED');
    await ctx.clock.advance(5_000);
    expect((await get(j1.id ?? '')).state).toBe('CANCELLED');
    const list = async (query: Record<string, string>, clientId = 'client-a') =>
      (
        (await ctx.routes.call('GET', '/api/v2/recording/jobs', { query, clientId }))
          .body as Models.RecordingJobEntityListing
      ).entities?.map((j) => j.id);
    expect(await list({})).toEqual([j1.id, j2.id]);
    expect(await list({ state: 'CANCELLED' })).toEqual([j1.id]);
    expect(await list({ jobType: 'ARCHIVE' })).toEqual([j2.id]);
    expect(await list({ showOnlyMyJobs: 'true' }, 'client-b')).toEqual([j2.id]);
    expect(await list({ pageSize: '1', pageNumber: '2' })).toEqual([j2.id]);
    expect(
      (await ctx.routes.call('GET', '/api/v2/recording/jobs', { query: { state: 'DONE' } })).status,
    ).toBe(400);
    expect((await ctx.routes.call('GET', '/api/v2/recording/jobs/nope')).status).toBe(404);
  });

  it('fails DELETE jobs for deletion-protected conversations and lists the failed recordings', async () => {
    const { ctx, a, exportJob, post, put, get } = setup();
    await ctx.clock.advance(30 * MIN);
    await ctx.routes.call('PUT', '/api/v2/recordings/deletionprotection', {
      query: { protect: 'true' },
      body: { conversationIds: [a.conversationId] },
    });
    const job = (
      await post({ ...exportJob(), action: 'DELETE', integrationId: undefined, actionAge: undefined })
    ).body as Models.RecordingJob;
    await ctx.clock.advance(5_000);
    await put(job.id ?? '');
    await ctx.clock.advance(5_000);
    expect(await get(job.id ?? '')).toMatchObject({
      state: 'FAILED',
      totalFailedRecordings: 2,
      totalProcessedRecordings: 1,
    });
    const failed = (
      await ctx.routes.call('GET', `/api/v2/recording/jobs/${job.id ?? ''}/failedrecordings`, {
        query: { pageSize: '1' },
      })
    ).body as Models.FailedRecordingEntityListing;
    expect(failed).toMatchObject({ total: 2, pageCount: 2 });
    expect(failed.entities?.[0]?.conversation?.id).toBe(a.conversationId);
    expect(
      (
        await ctx.routes.call('GET', `/api/v2/recording/jobs/${job.id ?? ''}/failedrecordings`, {
          query: { pageSize: '101' },
        })
      ).status,
    ).toBe(400);
  });

  it('validates the job request', async () => {
    const { exportJob, post } = setup();
    const bad = [
      {},
      exportJob({ action: 'COPY' }),
      exportJob({ integrationId: undefined }),
      exportJob({ integrationId: 'someone-else' }),
      exportJob({ actionAge: 3 }),
      exportJob({ actionDate: undefined }),
      exportJob({ actionDate: 'soon' }),
      exportJob({ conversationQuery: undefined }),
      exportJob({ conversationQuery: { interval: 'x' } }),
      exportJob({ clearExport: true }),
    ];
    for (const body of bad) expect((await post(body)).status, JSON.stringify(body)).toBe(400);
    expect((await post(exportJob({ actionDate: undefined, actionAge: 2 }))).status).toBe(202);
  });

  it('moves a later pending export to the delete date, and shows the recording DELETED afterwards', async () => {
    const conv = script({ start: T0 });
    const ctx = testContext([conv], { exportAfterMinutes: 3 * 24 * 60 });
    registerConversationRoutes(ctx);
    registerRecordingJobRoutes(ctx, { queryDelayMs: 1000, executeDelayMs: 1000 });
    await ctx.clock.advance(30 * MIN);
    const job = (
      await ctx.routes.call('POST', '/api/v2/recording/jobs', {
        body: {
          action: 'DELETE',
          actionDate: iso(T0 + DAY),
          conversationQuery: { interval: `${iso(T0)}/${iso(T0 + 60 * MIN)}` },
        },
      })
    ).body as Models.RecordingJob;
    await ctx.clock.advance(1000);
    await ctx.routes.call('PUT', `/api/v2/recording/jobs/${job.id ?? ''}`, { body: { state: 'PROCESSING' } });
    await ctx.clock.advance(1000);
    const meta = async () =>
      (
        (await ctx.routes.call('GET', `/api/v2/conversations/${conv.conversationId}/recordingmetadata`))
          .body as Models.RecordingMetadata[]
      )[0];
    expect(await meta()).toMatchObject({
      deleteDate: iso(T0 + DAY),
      exportDate: iso(T0 + DAY),
      fileState: 'AVAILABLE',
    });
    await ctx.clock.advance(DAY);
    expect((await meta())?.fileState).toBe('DELETED');
  });
});
