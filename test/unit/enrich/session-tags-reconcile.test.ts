import { describe, expect, expectTypeOf, it } from 'vitest';
import type { Models } from 'purecloud-platform-client-v2';
import { parseNotificationFrame } from '../../../src/enrich/genesys-envelope.ts';
import { extractTagObservations } from '../../../src/enrich/session-tags-extract.ts';
import { mergeSessionTags } from '../../../src/enrich/session-tags-merge.ts';
import {
  extractFromAnalytics,
  extractFromCallConversation,
} from '../../../src/enrich/session-tags-reconcile.ts';
import type {
  AnalyticsConversationInput,
  CallConversationInput,
  ReconcileContext,
  Reconciled,
} from '../../../src/enrich/session-tags-reconcile.ts';
import type { TagObservation } from '../../../src/enrich/session-tags.ts';
import * as F from '../../fixtures/genesys/frames.ts';

const LIVE_AT = Date.parse('2026-03-02T10:00:31.000Z');
const REPAIR_AT = Date.parse('2026-03-02T12:00:00.000Z');
const rctx: ReconcileContext = { receivedAt: REPAIR_AT, userContext: () => undefined };

function ok<T>(r: { ok: true; value: T } | { ok: false; error: { reason: string } }): T {
  if (!r.ok) throw new Error(r.error.reason);
  return r.value;
}

/** The observations of a repair that left nothing out. */
function repaired(
  r: { ok: true; value: Reconciled } | { ok: false; error: { reason: string } },
): TagObservation[] {
  const v = ok(r);
  expect(v.dropped).toEqual([]);
  return v.observations;
}

describe('reconcile inputs', () => {
  it('accept the SDK models as they are', () => {
    expectTypeOf<Models.AnalyticsConversationWithoutAttributes>().toExtend<AnalyticsConversationInput>();
    expectTypeOf<Models.CallConversation>().toExtend<CallConversationInput>();
  });
});

describe('extractFromAnalytics', () => {
  it('reads every voice session as a reconciled leg, with segment times', () => {
    const obs = repaired(extractFromAnalytics(F.analyticsConversation(), rctx));
    expect(obs).toHaveLength(1);
    expect(obs[0]).toEqual({
      conversationId: F.IDS.conversation,
      legKey: F.IDS.agentParticipant2,
      participantId: F.IDS.agentParticipant2,
      provenance: 'reconciled',
      receivedAt: REPAIR_AT,
      observedAt: Date.parse('2026-03-02T10:05:00.000Z'),
      source: { kind: 'api', topicName: null, correlationId: null, api: 'analytics', field: null },
      fieldPaths: { selfAddress: 'addressSelf', otherAddress: 'addressOther' },
      fields: {
        communicationId: F.IDS.agentCall2,
        userId: F.IDS.agentUser,
        purpose: 'agent',
        direction: 'inbound',
        peerId: F.IDS.customerCall,
        provider: 'Edge',
        selfAddress: `sip:${F.IDS.agentUser}@localhost`,
        otherAddress: 'tel:+14155550100',
        connectedTime: Date.parse('2026-03-02T10:00:30.000Z'),
        disconnectedTime: Date.parse('2026-03-02T10:05:00.000Z'),
        recording: true,
        disconnectType: 'peer',
        protocolCallId: 'c0ffee00-0000-4000-8000-000000000001@10.0.0.1',
      },
    });
  });

  it('compares media and segment types case-insensitively', () => {
    const c = F.analyticsConversation();
    const upper = {
      ...c,
      participants: c.participants?.map((p) => ({
        ...p,
        sessions: p.sessions?.map((s) => ({
          ...s,
          mediaType: s.mediaType?.toUpperCase(),
          segments: s.segments?.map((g) => ({ ...g, segmentType: g.segmentType?.toUpperCase() })),
        })),
      })),
    };
    const [o] = repaired(extractFromAnalytics(upper, rctx));
    expect(o?.fields.connectedTime).toBe(Date.parse('2026-03-02T10:00:30.000Z'));
    expect(repaired(extractFromAnalytics(upper, rctx))).toHaveLength(1);
  });

  it('reads addresses from ani/sessionDnis when a session has no addressSelf/addressOther', () => {
    const [o] = repaired(extractFromAnalytics(F.analyticsConversationAniDnis(), rctx));
    expect(o).toMatchObject({
      fields: { selfAddress: `sip:${F.IDS.agentUser}@localhost`, otherAddress: 'tel:+14155550100' },
      fieldPaths: { selfAddress: 'sessionDnis', otherAddress: 'ani' },
    });
    const c = F.analyticsConversationAniDnis();
    const noSessionDnis = {
      ...c,
      participants: c.participants?.map((p) => ({
        ...p,
        sessions: p.sessions?.map((s) => ({ ...s, sessionDnis: undefined })),
      })),
    };
    const [d] = repaired(extractFromAnalytics(noSessionDnis, rctx));
    expect(d).toMatchObject({
      fields: { selfAddress: 'tel:+18005550199' },
      fieldPaths: { selfAddress: 'dnis' },
    });
  });

  it('ends the leg at the segment that disconnected the call, not at the end of wrapup', () => {
    const [o] = repaired(extractFromAnalytics(F.analyticsConversationAniDnis(), rctx));
    expect(o?.fields.disconnectedTime).toBe(Date.parse('2026-03-02T10:05:00.000Z'));
    expect(o?.fields.connectedTime).toBe(Date.parse('2026-03-02T10:00:30.000Z'));
    // The wrapup segment still counts as Genesys-side time of the observation.
    expect(o?.observedAt).toBe(Date.parse('2026-03-02T10:05:41.000Z'));
    const c = F.analyticsConversationAniDnis();
    const upper = {
      ...c,
      participants: c.participants?.map((p) => ({
        ...p,
        sessions: p.sessions?.map((s) => ({
          ...s,
          segments: s.segments?.map((g) => ({ ...g, segmentType: g.segmentType?.toUpperCase() })),
        })),
      })),
    };
    expect(repaired(extractFromAnalytics(upper, rctx))[0]?.fields.disconnectedTime).toBe(
      Date.parse('2026-03-02T10:05:00.000Z'),
    );
  });

  it('rejects a record whose ids are not UUIDs, without echoing them', () => {
    const bad = { ...F.analyticsConversation(), conversationId: 'conv-123' };
    const r = extractFromAnalytics(bad, rctx);
    expect(r).toMatchObject({ ok: false, error: { code: 'bad-record' } });
    if (!r.ok) expect(r.error.reason).not.toContain('conv-123');
  });
});

describe('gap repair is tolerant like the live path', () => {
  it('keeps the other participants of an analytics record when one participant or session is malformed', () => {
    const good = F.analyticsConversation();
    const all = repaired(extractFromAnalytics(good, rctx));
    expect(all.length).toBeGreaterThan(0);
    const [first] = good.participants ?? [];
    if (!first) throw new Error('fixture has no participant');
    const badParticipant = { ...first, participantId: 'not-a-uuid' };
    const r = ok(extractFromAnalytics({ ...good, participants: [badParticipant, first] }, rctx));
    expect(r.dropped).toEqual([{ index: 0, reason: "participants.0.participantId failed check 'custom'" }]);
    expect(r.observations).toEqual(all);
    expect(JSON.stringify(r.dropped)).not.toContain('not-a-uuid');

    // A bad session drops only itself: its participant's other sessions stay.
    const badSession = { ...first.sessions?.[0], segments: [{ segmentStart: 'yesterday' }] };
    const withBadSession = { ...first, sessions: [badSession, ...(first.sessions ?? [])] };
    const s = ok(extractFromAnalytics({ ...good, participants: [withBadSession] }, rctx));
    expect(s.dropped).toHaveLength(1);
    expect(s.dropped[0]?.reason).toMatch(/^participants\.0\.sessions\.0\.segments\.0\.segmentStart/);
    expect(s.observations).toEqual(all);
  });

  it('keeps the other participants of a REST call conversation when one is malformed', () => {
    const good = F.callConversation();
    const all = repaired(extractFromCallConversation(good, rctx));
    expect(all.length).toBeGreaterThan(0);
    const [first] = good.participants ?? [];
    const bad = { ...first, id: F.IDS.customerParticipant, connectedTime: 'soon' };
    const r = ok(extractFromCallConversation({ ...good, participants: [first ?? {}, bad] }, rctx));
    expect(r.dropped).toEqual([
      { index: 1, reason: "participants.1.connectedTime failed check 'invalid_format'" },
    ]);
    expect(r.observations).toEqual(all);
  });
});

describe('extractFromCallConversation', () => {
  it('reads each participant leg as reconciled, without a public IP', () => {
    const obs = repaired(extractFromCallConversation(F.callConversation(), rctx));
    expect(obs).toHaveLength(1);
    expect(obs[0]?.provenance).toBe('reconciled');
    expect(obs[0]?.source).toEqual({
      kind: 'api',
      topicName: null,
      correlationId: null,
      api: 'conversations',
      field: null,
    });
    expect(obs[0]?.fields).not.toHaveProperty('publicIpAddress');
    expect(obs[0]?.fieldPaths).toEqual({ selfAddress: 'address' });
    expect(obs[0]?.fields.clientIpSourceSeen).toBe(true);
    expect(obs[0]?.fields.disconnectedTime).toBe(Date.parse('2026-03-02T10:05:00.000Z'));
  });

  it('keeps the REST clientIpAddress as the client IP, naming the field it came from', () => {
    const c = F.callConversation();
    const withIp = {
      ...c,
      participants: c.participants?.map((p) => ({ ...p, clientIpAddress: '198.51.100.77' })),
    };
    const [o] = repaired(extractFromCallConversation(withIp, rctx));
    expect(o?.fields.publicIpAddress).toBe('198.51.100.77');
    expect(o?.fieldPaths).toEqual({ selfAddress: 'address', publicIpAddress: 'clientIpAddress' });
    const [snapshotLeg] = mergeSessionTags(undefined, [o!]).legs;
    expect(snapshotLeg?.publicIpAddress?.source).toMatchObject({
      api: 'conversations',
      field: 'clientIpAddress',
    });
  });

  it('has no client IP source in analytics (it carries none)', () => {
    const [o] = repaired(extractFromAnalytics(F.analyticsConversationAniDnis(), rctx));
    expect(o?.fields).not.toHaveProperty('clientIpSourceSeen');
  });
});

describe('gap repair merged with live capture', () => {
  function live(): TagObservation[] {
    const env = parseNotificationFrame(F.text(F.userConversation()));
    if (!env.ok) throw new Error(env.error.reason);
    return ok(
      extractTagObservations(env.value, {
        receivedAt: LIVE_AT,
        provenance: 'live',
        userContext: () => undefined,
      }),
    );
  }

  it('fills only what the live feed missed; live values and the live public IP stay', () => {
    const fromApi = [
      ...repaired(extractFromAnalytics(F.analyticsConversation(), rctx)),
      ...repaired(extractFromCallConversation(F.callConversation(), rctx)),
    ];
    const snap = mergeSessionTags(undefined, [...live(), ...fromApi]);
    const agent = snap.legs.find((l) => l.legKey === F.IDS.agentParticipant2);
    // Live: the REST read says recordingState "none" later, but a reconciled value never overwrites a live one.
    expect(agent?.recordingState).toMatchObject({
      value: 'active',
      provenance: 'live',
      firstCapturedAt: LIVE_AT,
    });
    expect(agent?.publicIpAddress).toMatchObject({ value: '203.0.113.7', provenance: 'live' });
    expect(agent?.communicationId).toMatchObject({ value: F.IDS.agentCall2, provenance: 'live' });
    // The live feed never saw the disconnect (gap): repaired, and marked as such.
    expect(agent?.disconnectedTime).toMatchObject({
      value: Date.parse('2026-03-02T10:05:00.000Z'),
      provenance: 'reconciled',
      firstCapturedAt: REPAIR_AT,
    });
  });
});
