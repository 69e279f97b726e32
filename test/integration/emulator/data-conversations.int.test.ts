/**
 * Conversation data through the official SDK: ConversationsApi.getConversationsCall, AnalyticsApi
 * details (get + query), RecordingApi recording metadata and deletion protection — each checked before
 * and after the simulated moment the real platform would make it visible.
 */
import { afterEach, describe, expect, it } from 'vitest';
import platformClient from 'purecloud-platform-client-v2';
import { startEmulator, type EmulatorOptions, type RunningEmulator } from '../../../dev/emulator/index.ts';
import type { ConversationScript } from '../../../dev/emulator/model.ts';
import { flushExports } from '../../../dev/emulator/platform/exports.ts';

type ApiClient = typeof platformClient.ApiClient;
const CLIENT = { clientId: 'data-conv-client', clientSecret: 'data-conv-secret' };
const START = Date.parse('2025-03-04T08:00:00.000Z');
const MIN = 60_000;
const at = (m: number) => new Date(START + m * MIN).toISOString();
const iso = (ms: number) => new Date(ms).toISOString();

interface ErrorBody {
  readonly status?: number;
  readonly code?: string;
}

async function failure(p: Promise<unknown>): Promise<ErrorBody> {
  try {
    await p;
  } catch (e) {
    return e as ErrorBody;
  }
  throw new Error('expected the call to fail');
}

let emu: RunningEmulator | undefined;
async function start(opts: Partial<EmulatorOptions> = {}) {
  // Simulated time barely moves on its own (speed 0.001): the tests move it with clock.advance.
  const e = await startEmulator({
    ...CLIENT,
    speed: 0.001,
    exportAfterMinutes: 30,
    scenario: {
      start: at(0),
      seed: 11,
      conversations: [
        { kind: 'inbound-acd-webrtc', at: at(1), durationSeconds: 240 },
        { kind: 'consult-transfer', at: at(3), durationSeconds: 300 },
        { kind: 'unrecorded', at: at(5), durationSeconds: 180 },
      ],
    },
    ...opts,
  });
  emu = e;
  const Ctor = platformClient.ApiClient.constructor as new () => ApiClient;
  const client = new Ctor();
  client.setGateway({
    host: '127.0.0.1',
    protocol: 'http',
    port: e.port,
    path_params_login: '',
    path_params_api: '',
  });
  await client.loginClientCredentialsGrant(CLIENT.clientId, CLIENT.clientSecret);
  const byKind = (kind: ConversationScript['kind']): ConversationScript => {
    const s = e.conversations.all().find((c) => c.kind === kind);
    if (!s) throw new Error(`no ${kind} conversation`);
    return s;
  };
  return {
    e,
    byKind,
    conversations: new platformClient.ConversationsApi(client),
    analytics: new platformClient.AnalyticsApi(client),
    recording: new platformClient.RecordingApi(client),
  };
}
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

describe('ConversationsApi.getConversationsCall', () => {
  it('404s before the conversation starts, then serves the latest snapshot', async () => {
    const { e, byKind, conversations } = await start();
    const conv = byKind('inbound-acd-webrtc');
    expect((await failure(conversations.getConversationsCall(conv.conversationId))).status).toBe(404);
    const firstAt = conv.callSnapshots[0]?.at ?? conv.startTime;
    await e.clock.advance(firstAt - e.clock.now());
    const early = await conversations.getConversationsCall(conv.conversationId);
    expect(early.id).toBe(conv.conversationId);
    expect(early).toEqual(JSON.parse(JSON.stringify(conv.callSnapshots[0]?.call)));
    await e.clock.advance(conv.endTime + MIN - e.clock.now());
    const last = conv.callSnapshots.at(-1);
    expect(await conversations.getConversationsCall(conv.conversationId)).toEqual(
      JSON.parse(JSON.stringify(last?.call)),
    );
  });
});

describe('AnalyticsApi conversation details', () => {
  it('GET details 404s until the analytics lag has passed', async () => {
    const { e, byKind, analytics } = await start();
    const conv = byKind('consult-transfer');
    await e.clock.advance(conv.analytics.availableAt - 10 - e.clock.now());
    expect((await failure(analytics.getAnalyticsConversationDetails(conv.conversationId))).status).toBe(404);
    await e.clock.advance(10);
    const details = await analytics.getAnalyticsConversationDetails(conv.conversationId);
    expect(details.conversationId).toBe(conv.conversationId);
    expect(details.participants?.length).toBe(conv.analytics.conversation.participants?.length);
  });

  it('POST details/query returns available conversations in the interval, filtered and paged', async () => {
    const { e, byKind, analytics } = await start();
    const all = e.conversations.all();
    const interval = `${at(0)}/${at(60)}`;
    expect((await analytics.postAnalyticsConversationsDetailsQuery({ interval })).totalHits ?? 0).toBe(0);
    await e.clock.advance(Math.max(...all.map((s) => s.analytics.availableAt)) - e.clock.now());
    const res = await analytics.postAnalyticsConversationsDetailsQuery({ interval, order: 'asc' });
    expect(res.totalHits).toBe(3);
    expect(res.conversations?.map((c) => c.conversationId)).toEqual(all.map((s) => s.conversationId));
    const paged = await analytics.postAnalyticsConversationsDetailsQuery({
      interval,
      order: 'desc',
      paging: { pageSize: 2, pageNumber: 1 },
    });
    expect(paged.conversations?.map((c) => c.conversationId)).toEqual(
      [...all]
        .reverse()
        .slice(0, 2)
        .map((s) => s.conversationId),
    );

    const target = byKind('consult-transfer');
    const byId = await analytics.postAnalyticsConversationsDetailsQuery({
      interval,
      conversationFilters: [
        {
          type: 'and',
          predicates: [
            {
              type: 'dimension',
              dimension: 'conversationId',
              operator: 'matches',
              value: target.conversationId,
            },
          ],
        },
      ],
    });
    expect(byId.conversations?.map((c) => c.conversationId)).toEqual([target.conversationId]);

    const agent = target.groundTruth.find((l) => l.userId !== undefined)?.userId;
    const expected = all
      .filter((s) => s.analytics.conversation.participants?.some((p) => p.userId === agent))
      .map((s) => s.conversationId);
    const byUser = await analytics.postAnalyticsConversationsDetailsQuery({
      interval,
      segmentFilters: [{ type: 'or', predicates: [{ dimension: 'userId', value: agent ?? '' }] }],
    });
    expect(byUser.conversations?.map((c) => c.conversationId)).toEqual(expected);
    expect(expected).toContain(target.conversationId);

    // An interval before every conversation matches nothing.
    expect(
      (
        await analytics.postAnalyticsConversationsDetailsQuery({
          interval: `${iso(START - 60 * MIN)}/${at(0)}`,
        })
      ).totalHits,
    ).toBe(0);
    expect(
      (await failure(analytics.postAnalyticsConversationsDetailsQuery({ interval: 'not-an-interval' })))
        .status,
    ).toBe(400);
  });
});

describe('RecordingApi recording metadata and deletion protection', () => {
  it('lists recordings that exist, with exportDate then exportedDate from the retention policy', async () => {
    const { e, byKind, recording } = await start();
    const conv = byKind('consult-transfer');
    expect(conv.recordings.length).toBeGreaterThan(1);
    expect((await failure(recording.getConversationRecordingmetadata(conv.conversationId))).status).toBe(404);
    await e.clock.advance(conv.startTime - e.clock.now());
    expect(await recording.getConversationRecordingmetadata(conv.conversationId)).toEqual([]);
    await e.clock.advance(conv.endTime - e.clock.now());
    const meta = await recording.getConversationRecordingmetadata(conv.conversationId);
    expect(meta.map((m) => m.id).sort()).toEqual(conv.recordings.map((r) => r.recordingId).sort());
    for (const m of meta) {
      expect(m.conversationId).toBe(conv.conversationId);
      expect(m.exportDate).toBe(iso(conv.endTime + 30 * MIN));
      expect(m.exportedDate).toBeUndefined();
    }
    await e.clock.advance(conv.endTime + 30 * MIN - e.clock.now());
    await flushExports(e);
    const exported = await recording.getConversationRecordingmetadata(conv.conversationId);
    for (const m of exported)
      expect(Date.parse(m.exportedDate ?? '')).toBeGreaterThanOrEqual(conv.endTime + 30 * MIN);

    const unrecorded = byKind('unrecorded');
    expect(unrecorded.recordings).toEqual([]);
    expect(await recording.getConversationRecordingmetadata(unrecorded.conversationId)).toEqual([]);
  });

  it('applies and revokes deletion protection, reporting unknown conversations in failedUpdates', async () => {
    const { e, byKind, recording } = await start();
    const a = byKind('inbound-acd-webrtc');
    const b = byKind('consult-transfer');
    await e.clock.advance(b.endTime - e.clock.now());
    const unknown = '11111111-2222-3333-4444-555555555555';
    const res = await recording.putRecordingsDeletionprotection({
      protect: true,
      body: { conversationIds: [a.conversationId, b.conversationId, unknown] },
    });
    expect(res.failedUpdates?.map((f) => f.conversation?.id)).toEqual([unknown]);
    const listed = async () =>
      (
        await recording.postRecordingsDeletionprotection({
          conversationIds: [a.conversationId, b.conversationId],
        })
      )
        .map((r) => r.id)
        .sort();
    expect(await listed()).toEqual([a.conversationId, b.conversationId].sort());
    await recording.putRecordingsDeletionprotection({
      protect: false,
      body: { conversationIds: [a.conversationId] },
    });
    expect(await listed()).toEqual([b.conversationId]);
    expect(
      (
        await failure(
          recording.putRecordingsDeletionprotection({ protect: true, body: { conversationIds: [] } }),
        )
      ).status,
    ).toBe(400);
  });
});
