import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Models } from 'purecloud-platform-client-v2';
import type { ConversationKind, ConversationScript } from '../../../../dev/emulator/model.ts';
import { buildConversation, createOrg, createRng } from '../../../../dev/emulator/simulation/index.ts';
import { T0, callsOf, eventsOn, groundTruthProblems } from './support.ts';

const KINDS: ConversationKind[] = [
  'inbound-acd-webrtc',
  'outbound-webrtc',
  'blind-transfer',
  'consult-transfer',
  'same-agent-multiple-legs',
  'persistent-connection',
  'sip-desk-phone',
  'unrecorded',
  'hour-boundary',
];
const org = createOrg(createRng(42));
/** The same org with every WebRTC user's legs carrying publicIpAddress. */
const orgAllIps = { ...org, webRtcPublicIpShare: 1 };
const build = (kind: ConversationKind, seed = 7, opts = {}): ConversationScript =>
  buildConversation(org, createRng(seed), kind, T0, opts);
const userEvents = (s: ConversationScript) =>
  eventsOn(s, '.conversations').map((e) => e.eventBody as Models.ConversationEventTopicConversation);
const lastSnapshot = (s: ConversationScript) => s.callSnapshots.at(-1)?.call.participants ?? [];

describe('buildConversation: every kind', () => {
  for (const kind of KINDS) {
    for (const seed of [1, 2, 3]) {
      it(`${kind} (seed ${seed}) publishes ordered, complete, consistent events`, () => {
        const s = build(kind, seed);
        const ats = s.events.map((e) => e.at);
        expect(ats).toEqual([...ats].sort((a, b) => a - b));
        expect(Math.min(...ats)).toBeGreaterThanOrEqual(s.startTime);
        expect(s.endTime).toBeGreaterThan(s.startTime);
        expect(s.groundTruth.length).toBeGreaterThanOrEqual(1);
        // Each user event carries the whole conversation, including the non-user (customer/external) legs.
        for (const body of userEvents(s)) {
          expect(body.id).toBe(s.conversationId);
          expect(body.participants?.some((p) => p.purpose === 'customer' || p.purpose === 'external')).toBe(
            true,
          );
        }
        for (const leg of s.groundTruth) expect(groundTruthProblems(org, s, leg)).toEqual([]);
        // REST snapshots follow the same timeline, never carry publicIpAddress, and end with every user leg terminated.
        const snapAts = s.callSnapshots.map((c) => c.at);
        expect(snapAts).toEqual([...snapAts].sort((a, b) => a - b));
        expect(JSON.stringify(s.callSnapshots)).not.toContain('publicIpAddress');
        for (const p of lastSnapshot(s)) {
          expect(['disconnected', 'terminated']).toContain(p.state);
          if (p.purpose === 'agent' || p.purpose === 'user') expect(p.state).toBe('terminated');
        }
        // Analytics mirror the conversation and its sessions are the legs' communications.
        expect(s.analytics.availableAt).toBe(s.endTime + 5 * 60_000);
        expect(Date.parse(s.analytics.conversation.conversationStart ?? '')).toBe(s.startTime);
        expect(Date.parse(s.analytics.conversation.conversationEnd ?? '')).toBe(s.endTime);
        const sessionIds = (s.analytics.conversation.participants ?? []).flatMap((p) =>
          (p.sessions ?? []).map((x) => x.sessionId),
        );
        for (const leg of s.groundTruth) expect(sessionIds).toContain(leg.communicationId);
        // Recordings: ~2 KB per second, within the conversation, linked to a leg by sessionId.
        for (const r of s.recordings) {
          const seconds = (r.endTime - r.startTime) / 1000;
          expect(r.sizeBytes).toBeGreaterThan(seconds * 2000 * 0.9);
          expect(r.sizeBytes).toBeLessThan(seconds * 2000 * 1.1 + 1024);
          expect(r.startTime).toBeGreaterThanOrEqual(s.startTime);
          expect(r.endTime).toBeLessThanOrEqual(s.endTime);
          expect(r.metadata).toMatchObject({
            id: r.recordingId,
            conversationId: s.conversationId,
            media: 'audio',
            mediaSubtype: r.mediaSubtype,
            fileState: 'AVAILABLE',
          });
          expect(s.groundTruth.map((g) => g.communicationId)).toContain(r.metadata.sessionId);
        }
      });
    }
  }

  it('is deterministic: same seed, same script; another seed, other ids', () => {
    for (const kind of KINDS) {
      expect(build(kind, 99)).toEqual(build(kind, 99));
      expect(build(kind, 99).conversationId).not.toBe(build(kind, 100).conversationId);
    }
  });

  it('honours durationSeconds and analyticsLagMs', () => {
    const s = build('inbound-acd-webrtc', 4, { durationSeconds: 600, analyticsLagMs: 1000 });
    expect(s.endTime - s.startTime).toBe(600_000);
    expect(s.analytics.availableAt).toBe(s.endTime + 1000);
    expect(() => build('inbound-acd-webrtc', 4, { durationSeconds: -1 })).toThrow(/durationSeconds/);
  });
});

describe('buildConversation: kind invariants', () => {
  it('puts publicIpAddress on the configured share of WebRTC users only (default: a minority)', () => {
    const webRtcUsers = org.users.filter((u) =>
      org.stations.some((st) => st.id === u.stationId && st.type === 'inin_webrtc_softphone'),
    );
    const ips = (o: typeof org) =>
      webRtcUsers.filter((u) => {
        const s = buildConversation(o, createRng(7), 'outbound-webrtc', T0, { userId: u.id });
        return s.groundTruth.some((l) => l.publicIpAddress !== undefined);
      }).length;
    expect(webRtcUsers.length).toBeGreaterThan(1);
    expect(ips(orgAllIps)).toBe(webRtcUsers.length);
    expect(ips({ ...org, webRtcPublicIpShare: 0 })).toBe(0);
    expect(ips(org)).toBeLessThan(webRtcUsers.length / 2 + 1);
  });

  it('inbound ACD: customer and ACD legs are offered (initialState offering), the finished ACD leg terminated', () => {
    const s = build('inbound-acd-webrtc');
    const last = s.events.filter((e) => e.topicName.endsWith('.conversations.calls')).at(-1);
    const legs = (
      last?.eventBody as { participants?: { purpose?: string; initialState?: string; state?: string }[] }
    ).participants;
    const customer = legs?.find((l) => l.purpose === 'customer');
    const acd = legs?.find((l) => l.purpose === 'acd');
    expect(customer?.initialState).toBe('offering');
    expect(acd).toMatchObject({ initialState: 'offering', state: 'terminated' });
  });

  it('inbound ACD: an IVR leg before the ACD leg; ACD/IVR addresses; agent fields; body address without divisions', () => {
    const s = build('inbound-acd-webrtc');
    const last = eventsOn(s, '.conversations.calls').at(-1)
      ?.eventBody as Models.ConversationCallEventTopicCallConversation;
    const legs = last.participants ?? [];
    expect(legs.map((l) => l.purpose)).toEqual(['customer', 'ivr', 'acd', 'agent']);
    const [customer, ivr, acd, agent] = legs;
    expect(ivr).toMatchObject({ initialState: 'offering', state: 'terminated', disconnectType: 'transfer' });
    expect(ivr?.address).toMatch(/^sip:[0-9a-f-]{36}@127\.0\.0\.1;language=en-US;user=ivr$/);
    expect(acd?.address).toMatch(/^sip:[0-9a-f-]{36}@127\.0\.0\.1;language=en-US;user=acd$/);
    expect(Date.parse(acd?.startTime ?? '')).toBe(Date.parse(ivr?.endTime ?? ''));
    expect(agent).toMatchObject({
      mediaRoles: ['full'],
      wrapupPrompt: 'mandatory',
      transferSource: 'Acd',
      queueMediaSettings: { enableAutoAnswer: false },
      state: 'terminated',
    });
    expect(Date.parse(agent?.startAcwTime ?? '')).toBe(Date.parse(agent?.endTime ?? ''));
    expect(Date.parse(agent?.endAcwTime ?? '')).toBeGreaterThan(Date.parse(agent?.startAcwTime ?? ''));
    expect(agent?.wrapup).toMatchObject({ code: expect.any(String), endTime: agent?.endAcwTime });
    expect(last.address).toBe(customer?.address);
    expect(last).not.toHaveProperty('divisions');
    const conv = userEvents(s).at(-1);
    expect(conv?.address).toBe(customer?.address);
    expect(conv).not.toHaveProperty('divisions');
    // Analytics voice sessions carry the calling and called numbers, not addressSelf/addressOther.
    for (const p of s.analytics.conversation.participants ?? [])
      for (const session of p.sessions ?? []) {
        expect(session.ani).toBeDefined();
        expect(session.dnis).toBeDefined();
        expect(session).not.toHaveProperty('addressSelf');
      }
  });

  it('inbound ACD on WebRTC: one agent leg, queue events, one Trunk recording, WebRTC details', () => {
    const s = buildConversation(orgAllIps, createRng(7), 'inbound-acd-webrtc', T0, {});
    expect(s.groundTruth).toHaveLength(1);
    const [leg] = s.groundTruth;
    expect(leg).toMatchObject({
      purpose: 'agent',
      direction: 'inbound',
      isWebRtc: true,
      stationType: 'inin_webrtc_softphone',
      recording: true,
    });
    expect(leg?.publicIpAddress).toMatch(/^(198\.51\.100|203\.0\.113)\.\d+$/);
    // The shape real WebRTC agent legs show: sip:{24 hex}+{org}.orgspan.com;tgrp={station};trunk-context={org}@localhost
    expect(leg?.selfAddress).toMatch(
      /^sip:[0-9a-f]{24}\+sim[0-9a-f]{8}\.orgspan\.com;tgrp=[0-9a-f-]{36};trunk-context=sim[0-9a-f]{8}@localhost$/,
    );
    expect(leg?.selfAddress).toContain(`;tgrp=${leg?.stationId};`);
    expect(
      eventsOn(s, '.conversations.calls').some((e) => e.topicName.startsWith('v2.routing.queues.')),
    ).toBe(true);
    expect(s.recordings.map((r) => r.mediaSubtype)).toEqual(['Trunk']);
    const states = callsOf(s, leg!).map((c) => c.call.state);
    expect([...new Set(states)]).toEqual(['alerting', 'connected', 'disconnected', 'terminated']);
  });

  it('outbound from WebRTC: user purpose, dialing, an external party, no queue', () => {
    const s = build('outbound-webrtc');
    expect(s.groundTruth).toHaveLength(1);
    expect(s.groundTruth[0]).toMatchObject({ purpose: 'user', direction: 'outbound', isWebRtc: true });
    const first = callsOf(s, s.groundTruth[0]!)[0];
    expect(first?.call.initialState).toBe('dialing');
    expect(s.events.some((e) => e.topicName.startsWith('v2.routing.queues.'))).toBe(false);
    const external = userEvents(s)
      .at(-1)
      ?.participants?.find((p) => p.purpose === 'external');
    expect(external?.calls?.[0]?.peerId).toBe(s.groundTruth[0]?.communicationId);
    expect(s.groundTruth[0]?.peerId).toBe(external?.calls?.[0]?.id);
  });

  it('blind transfer: two agents, A leaves with "transfer", one recording per agent segment', () => {
    const s = build('blind-transfer');
    const [a, b] = s.groundTruth;
    expect(s.groundTruth).toHaveLength(2);
    expect(a?.userId).not.toBe(b?.userId);
    expect(s.groundTruth.every((g) => g.purpose === 'agent')).toBe(true);
    expect(callsOf(s, a!).at(-1)?.call.disconnectType).toBe('transfer');
    expect(s.recordings.map((r) => r.userIds)).toEqual([[a?.userId], [b?.userId]]);
    expect(s.recordings[0]?.endTime).toBeLessThanOrEqual(s.recordings[1]?.startTime ?? 0);
  });

  it('consult transfer: customer held for the consult, Trunk + Consult recordings, A leaves with transfer.consult', () => {
    const s = build('consult-transfer');
    const [a, b] = s.groundTruth;
    expect(a?.userId).not.toBe(b?.userId);
    expect(s.recordings.map((r) => r.mediaSubtype)).toEqual(['Trunk', 'Consult']);
    expect(callsOf(s, a!).at(-1)?.call.disconnectType).toBe('transfer.consult');
    const customers = userEvents(s).map((body) => body.participants?.find((p) => p.purpose === 'customer'));
    // Hold as the platform shows it: the customer confined, the agent who put it on hold held since startHoldTime.
    const held = userEvents(s).find((body) =>
      body.participants?.some((p) => p.purpose === 'customer' && p.calls?.[0]?.confined === true),
    );
    const holder = held?.participants?.find((p) => p.id === a?.participantId)?.calls?.[0];
    expect(holder?.held).toBe(true);
    expect(holder?.startHoldTime).toMatch(/Z$/);
    const heldCustomer = held?.participants?.find((p) => p.purpose === 'customer')?.calls?.[0];
    expect(heldCustomer).toMatchObject({ confined: true, held: false });
    expect(heldCustomer?.startHoldTime).toBeUndefined();
    expect(customers.at(-1)?.consultParticipantId).toBe(b?.participantId);
    const consult = s.recordings[1]!;
    expect(consult.startTime).toBe(b?.connectedTime);
    expect(consult.endTime).toBe(a?.disconnectedTime);
  });

  it('same agent, several legs: >= 2 legs for one user, only one connected, terminated legs kept', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const s = build('same-agent-multiple-legs', seed);
      expect(s.groundTruth.length).toBeGreaterThanOrEqual(2);
      expect(new Set(s.groundTruth.map((g) => g.userId)).size).toBe(1);
      expect(s.groundTruth.filter((g) => g.connectedTime !== undefined)).toHaveLength(1);
      const final =
        userEvents(s)
          .at(-1)
          ?.participants?.filter((p) => p.purpose === 'agent') ?? [];
      expect(final.map((p) => p.id)).toEqual(s.groundTruth.map((g) => g.participantId));
      expect(final.every((p) => p.calls?.[0]?.state === 'terminated')).toBe(true);
      const missed = s.groundTruth.filter((g) => g.connectedTime === undefined);
      for (const m of missed)
        expect(callsOf(s, m).some((c) => c.call.disconnectType === 'timeout')).toBe(true);
    }
  });

  it('persistent connection: ACTIVE_CALL when the call starts, PERSISTED after, on a line-appearance-1 station', () => {
    const s = build('persistent-connection');
    const [leg] = s.groundTruth;
    const station = org.stations.find((st) => st.id === leg?.stationId);
    expect(station).toMatchObject({ webRtcPersistentEnabled: true, webRtcCallAppearances: 1 });
    const pc = eventsOn(s, '.persistentconnection');
    expect(
      pc.map(
        (e) =>
          (e.eventBody as Models.PersistentConnectionChangeTopicPersistentConnectionChangeEvent)
            .persistentState,
      ),
    ).toEqual(['ACTIVE_CALL', 'PERSISTED']);
    expect(pc[0]?.eventBody).toMatchObject({ userId: leg?.userId, stationId: leg?.stationId });
    expect(leg?.persistentConnectionState).toBe('ACTIVE_CALL');
    // Non-persistent WebRTC legs have no persistent-connection events.
    const plain = buildConversation(org, createRng(1), 'inbound-acd-webrtc', T0, {
      userId: org.users[1]?.id,
    });
    expect(eventsOn(plain, '.persistentconnection')).toEqual([]);
    expect(plain.groundTruth[0]?.persistentConnectionState).toBeUndefined();
  });

  it('one persistent session spans several conversations: each reuses the same station', () => {
    const user = org.users[0]!;
    const a = buildConversation(org, createRng(1), 'persistent-connection', T0, { userId: user.id });
    const b = buildConversation(org, createRng(2), 'persistent-connection', a.endTime + 60_000, {
      userId: user.id,
    });
    const pcs = [...eventsOn(a, '.persistentconnection'), ...eventsOn(b, '.persistentconnection')];
    expect(new Set(pcs.map((e) => (e.eventBody as { stationId?: string }).stationId))).toEqual(
      new Set([user.stationId]),
    );
    expect(a.conversationId).not.toBe(b.conversationId);
  });

  it('SIP desk phone: not WebRTC, no public IP; the hot-desk variant logs in and out', () => {
    const fixed = org.users.find(
      (u) => org.stations.find((s) => s.id === u.stationId)?.type === 'inin_physical',
    )!;
    const s = buildConversation(org, createRng(3), 'sip-desk-phone', T0, { userId: fixed.id });
    expect(s.groundTruth[0]).toMatchObject({
      isWebRtc: false,
      stationType: 'inin_physical',
      userId: fixed.id,
    });
    expect(s.groundTruth[0]?.publicIpAddress).toBeUndefined();
    expect(s.groundTruth[0]?.selfAddress).toMatch(/^sip:\d+@192\.0\.2\.\d+$/);
    expect(s.stationChanges).toEqual([]);
    const roamer = org.users.find((u) => u.stationId === undefined)!;
    const h = buildConversation(org, createRng(3), 'sip-desk-phone', T0, { userId: roamer.id });
    expect(h.groundTruth[0]).toMatchObject({
      isWebRtc: false,
      stationType: 'inin_physical',
      userId: roamer.id,
    });
    expect(h.stationChanges.map((c) => c.stationId)).toEqual([h.groundTruth[0]?.stationId, undefined]);
    const stationEvents = eventsOn(h, '.station');
    expect(stationEvents.map((e) => e.at)).toEqual(h.stationChanges.map((c) => c.at));
    expect(stationEvents[0]!.at).toBeLessThan(callsOf(h, h.groundTruth[0]!)[0]!.at);
  });

  it('unrecorded: no recordings and recordingState none everywhere', () => {
    const s = build('unrecorded');
    expect(s.recordings).toEqual([]);
    expect(s.groundTruth.every((g) => !g.recording)).toBe(true);
    for (const body of userEvents(s)) {
      expect(body.recordingState).toBe('none');
      for (const p of body.participants ?? [])
        expect(p.calls?.[0]).toMatchObject({ recording: false, recordingState: 'none' });
    }
  });

  it('hour-boundary: starts in one hour, ends in the next, never before the requested start', () => {
    const HOUR = 3_600_000;
    for (const start of [T0, Date.parse('2025-03-01T10:55:00Z'), Date.parse('2025-03-01T23:58:10Z')]) {
      const s = buildConversation(org, createRng(5), 'hour-boundary', start);
      expect(s.startTime).toBeGreaterThanOrEqual(start);
      expect(Math.floor(s.endTime / HOUR)).toBe(Math.floor(s.startTime / HOUR) + 1);
      expect(Math.floor(s.recordings[0]!.endTime / HOUR)).toBe(Math.floor(s.startTime / HOUR) + 1);
    }
  });

  it('rejects a userId that does not fit the kind', () => {
    const sip = org.users.find(
      (u) => org.stations.find((s) => s.id === u.stationId)?.type === 'inin_physical',
    )!;
    expect(() => buildConversation(org, createRng(1), 'inbound-acd-webrtc', T0, { userId: sip.id })).toThrow(
      /needs a user on inin_webrtc_softphone/,
    );
    expect(() =>
      buildConversation(org, createRng(1), 'persistent-connection', T0, { userId: org.users[1]!.id }),
    ).toThrow(/persistent/);
    expect(() => buildConversation(org, createRng(1), 'outbound-webrtc', T0, { userId: 'nobody' })).toThrow(
      /not a user/,
    );
  });
});

describe('buildConversation: properties', () => {
  it('for any seed, kind, start and length the ground truth matches the events', () => {
    fc.assert(
      fc.property(
        fc.integer(),
        fc.integer(),
        fc.constantFrom(...KINDS),
        fc.integer({ min: 0, max: 365 * 24 * 3600 }),
        fc.option(fc.integer({ min: 1, max: 7200 }), { nil: undefined }),
        (orgSeed, seed, kind, offsetSeconds, durationSeconds) => {
          const o = createOrg(createRng(orgSeed));
          const s = buildConversation(
            o,
            createRng(seed),
            kind,
            T0 + offsetSeconds * 1000,
            durationSeconds === undefined ? {} : { durationSeconds },
          );
          const ats = s.events.map((e) => e.at);
          expect(ats).toEqual([...ats].sort((a, b) => a - b));
          for (const leg of s.groundTruth) {
            expect(groundTruthProblems(o, s, leg)).toEqual([]);
            if (leg.isWebRtc) {
              const text = JSON.stringify(s.events);
              for (const v of [leg.peerId, leg.communicationId]) {
                expect(v).toBeDefined();
                expect(text).toContain(v);
              }
              // publicIpAddress only for the configured share of users; when present it is in the events.
              if (leg.publicIpAddress !== undefined) expect(text).toContain(leg.publicIpAddress);
              else if (s.groundTruth.every((l) => l.publicIpAddress === undefined))
                expect(text).not.toContain('publicIpAddress');
            }
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});
