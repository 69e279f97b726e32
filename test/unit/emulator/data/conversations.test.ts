import { describe, expect, it } from 'vitest';
import type { Models } from 'purecloud-platform-client-v2';
import { registerConversationRoutes } from '../../../../dev/emulator/platform/conversations.ts';
import { MIN, T0, script, testContext } from './support.ts';

const query = (interval: string, extra: Record<string, unknown> = {}) => ({ interval, ...extra });
const iso = (ms: number) => new Date(ms).toISOString();

describe('conversation views over time', () => {
  it('serves the latest call snapshot and 404s before the conversation starts', async () => {
    const conv = script({ start: T0 + MIN });
    const ctx = testContext([conv]);
    registerConversationRoutes(ctx);
    const path = `/api/v2/conversations/calls/${conv.conversationId}`;
    expect((await ctx.routes.call('GET', path)).status).toBe(404);
    await ctx.clock.advance(MIN);
    expect(((await ctx.routes.call('GET', path)).body as Models.CallConversation).name).toBe('alerting');
    await ctx.clock.advance(1000);
    expect(((await ctx.routes.call('GET', path)).body as Models.CallConversation).name).toBe('connected');
  });

  it('serves analytics details only once they are available', async () => {
    const conv = script({ start: T0, durationMs: 5 * MIN, analyticsLagMs: 2 * MIN });
    const ctx = testContext([conv]);
    registerConversationRoutes(ctx);
    const path = `/api/v2/analytics/conversations/${conv.conversationId}/details`;
    await ctx.clock.advance(7 * MIN - 1);
    expect((await ctx.routes.call('GET', path)).status).toBe(404);
    await ctx.clock.advance(1);
    const body = (await ctx.routes.call('GET', path)).body as Models.AnalyticsConversationWithoutAttributes;
    expect(body.conversationId).toBe(conv.conversationId);
  });
});

describe('POST /api/v2/analytics/conversations/details/query', () => {
  const a = script({ start: T0, userId: 'user-a' });
  const b = script({ start: T0 + 10 * MIN, userId: 'user-b' });
  const c = script({ start: T0 + 20 * MIN, userId: 'user-a' });
  const late = script({ start: T0 + 21 * MIN, userId: 'user-a', analyticsLagMs: 60 * MIN });

  async function run(
    body: unknown,
  ): Promise<{ status: number; body: Models.AnalyticsConversationQueryResponse }> {
    const ctx = testContext([a, b, c, late]);
    registerConversationRoutes(ctx);
    await ctx.clock.advance(40 * MIN);
    const res = await ctx.routes.call('POST', '/api/v2/analytics/conversations/details/query', { body });
    return { status: res.status, body: res.body as Models.AnalyticsConversationQueryResponse };
  }
  const ids = (r: { body: Models.AnalyticsConversationQueryResponse }) =>
    r.body.conversations?.map((x) => x.conversationId);

  it('returns available conversations overlapping the interval, ordered and paged', async () => {
    const all = await run(query(`${iso(T0 - MIN)}/${iso(T0 + 60 * MIN)}`));
    expect(ids(all)).toEqual([a.conversationId, b.conversationId, c.conversationId]);
    expect(all.body.totalHits).toBe(3);
    // [T0+3min, T0+12min) overlaps a (ends T0+5min) and b.
    expect(ids(await run(query(`${iso(T0 + 3 * MIN)}/${iso(T0 + 12 * MIN)}`)))).toEqual([
      a.conversationId,
      b.conversationId,
    ]);
    const desc = await run(
      query(`${iso(T0)}/${iso(T0 + 60 * MIN)}`, { order: 'desc', paging: { pageSize: 2, pageNumber: 1 } }),
    );
    expect(ids(desc)).toEqual([c.conversationId, b.conversationId]);
    expect(desc.body.totalHits).toBe(3);
    const page2 = await run(
      query(`${iso(T0)}/${iso(T0 + 60 * MIN)}`, { paging: { pageSize: 2, pageNumber: 2 } }),
    );
    expect(ids(page2)).toEqual([c.conversationId]);
    const none = await run(query(`${iso(T0 + 100 * MIN)}/${iso(T0 + 120 * MIN)}`));
    expect(none.body).toEqual({ totalHits: 0 });
  });

  it('filters on conversationId and userId dimensions', async () => {
    const interval = `${iso(T0)}/${iso(T0 + 60 * MIN)}`;
    const byConv = await run(
      query(interval, {
        conversationFilters: [
          { type: 'or', predicates: [{ dimension: 'conversationId', value: b.conversationId }] },
        ],
      }),
    );
    expect(ids(byConv)).toEqual([b.conversationId]);
    const byUser = await run(
      query(interval, {
        segmentFilters: [
          {
            type: 'and',
            predicates: [{ type: 'dimension', dimension: 'userId', operator: 'matches', value: 'user-a' }],
          },
        ],
      }),
    );
    expect(ids(byUser)).toEqual([a.conversationId, c.conversationId]);
    const clause = await run(
      query(interval, {
        segmentFilters: [
          {
            type: 'and',
            clauses: [
              {
                type: 'or',
                predicates: [
                  { dimension: 'userId', value: 'user-b' },
                  { dimension: 'userId', value: 'nobody' },
                ],
              },
            ],
            predicates: [{ dimension: 'purpose', value: 'agent' }],
          },
        ],
      }),
    );
    expect(ids(clause)).toEqual([b.conversationId]);
  });

  it('rejects invalid or unsupported queries with 400', async () => {
    expect((await run({})).status).toBe(400);
    expect((await run(query('yesterday/today'))).status).toBe(400);
    expect((await run(query(`${iso(T0 + MIN)}/${iso(T0)}`))).status).toBe(400);
    const interval = `${iso(T0)}/${iso(T0 + MIN)}`;
    expect((await run(query(interval, { paging: { pageSize: 101, pageNumber: 1 } }))).status).toBe(400);
    expect(
      (
        await run(
          query(interval, {
            segmentFilters: [{ type: 'and', predicates: [{ dimension: 'wrapUpNote', value: 'x' }] }],
          }),
        )
      ).status,
    ).toBe(400);
    expect(
      (
        await run(
          query(interval, {
            conversationFilters: [{ type: 'xor', predicates: [{ dimension: 'conversationId', value: 'x' }] }],
          }),
        )
      ).status,
    ).toBe(400);
  });
});

describe('recording metadata and deletion protection', () => {
  it('lists recordings once they exist, with the policy export date', async () => {
    const conv = script({ start: T0 + MIN, durationMs: 10 * MIN, recordings: 2 });
    const ctx = testContext([conv], { exportAfterMinutes: 30 });
    registerConversationRoutes(ctx);
    const path = `/api/v2/conversations/${conv.conversationId}/recordingmetadata`;
    expect((await ctx.routes.call('GET', path)).status).toBe(404);
    await ctx.clock.advance(MIN);
    expect((await ctx.routes.call('GET', path)).body).toEqual([]);
    await ctx.clock.advance(5 * MIN);
    const one = (await ctx.routes.call('GET', path)).body as Models.RecordingMetadata[];
    expect(one.map((r) => r.id)).toEqual([`${conv.conversationId}-rec-0`]);
    expect(one[0]?.exportDate).toBe(iso(T0 + 41 * MIN));
    expect(one[0]?.exportedDate).toBeUndefined();
    await ctx.clock.advance(5 * MIN);
    expect(((await ctx.routes.call('GET', path)).body as Models.RecordingMetadata[]).length).toBe(2);
  });

  it('protects and unprotects conversations, reporting unknown ids', async () => {
    const conv = script({ start: T0 });
    const ctx = testContext([conv]);
    registerConversationRoutes(ctx);
    await ctx.clock.advance(MIN);
    const put = await ctx.routes.call('PUT', '/api/v2/recordings/deletionprotection', {
      query: { protect: 'true' },
      body: { conversationIds: [conv.conversationId, 'unknown-conv'] },
    });
    expect(put.status).toBe(200);
    const result = put.body as Models.ManageDeleteProtectionResult;
    expect(result.failedUpdates?.map((f) => f.conversation?.id)).toEqual(['unknown-conv']);
    const list = async () =>
      (
        await ctx.routes.call('POST', '/api/v2/recordings/deletionprotection', {
          body: { conversationIds: [conv.conversationId] },
        })
      ).body as Models.AddressableEntityRef[];
    expect((await list()).map((r) => r.id)).toEqual([conv.conversationId]);
    await ctx.routes.call('PUT', '/api/v2/recordings/deletionprotection', {
      query: { protect: 'false' },
      body: { conversationIds: [conv.conversationId] },
    });
    expect(await list()).toEqual([]);
    expect(
      (
        await ctx.routes.call('PUT', '/api/v2/recordings/deletionprotection', {
          body: { conversationIds: ['x'] },
        })
      ).status,
    ).toBe(400);
    expect(
      (
        await ctx.routes.call('PUT', '/api/v2/recordings/deletionprotection', {
          query: { protect: 'true' },
          body: { conversationIds: [] },
        })
      ).status,
    ).toBe(400);
  });
});
