import { describe, expect, it } from 'vitest';
import { parseNotificationFrame } from '../../../src/enrich/genesys-envelope.ts';
import type { NotificationEnvelope } from '../../../src/enrich/genesys-envelope.ts';
import { extractTagObservations } from '../../../src/enrich/session-tags-extract.ts';
import { mergeSessionTags } from '../../../src/enrich/session-tags-merge.ts';
import { apiSource } from '../../../src/enrich/session-tags.ts';
import type { ExtractionContext, TagObservation, UserContext } from '../../../src/enrich/session-tags.ts';
import * as F from '../../fixtures/genesys/frames.ts';

const RECEIVED = Date.parse('2026-03-02T10:00:31.000Z');

function envelope(f: unknown): NotificationEnvelope {
  const r = parseNotificationFrame(F.text(f));
  if (!r.ok) throw new Error(r.error.reason);
  return r.value;
}

function ctx(
  users: Record<string, UserContext> = {},
  provenance: 'live' | 'reconciled' = 'live',
): ExtractionContext {
  return { receivedAt: RECEIVED, provenance, userContext: (id) => users[id] };
}

function extract(f: unknown, c: ExtractionContext = ctx()): TagObservation[] {
  const r = extractTagObservations(envelope(f), c);
  if (!r.ok) throw new Error(r.error.reason);
  return r.value;
}

describe('extractTagObservations: v2.users.{id}.conversations', () => {
  it('takes every call leg of every participant, including both legs of the same agent', () => {
    const obs = extract(F.userConversation());
    expect(obs.map((o) => o.legKey)).toEqual([
      F.IDS.customerParticipant,
      F.IDS.agentParticipant1,
      F.IDS.agentParticipant2,
    ]);
    expect(obs.every((o) => o.conversationId === F.IDS.conversation && o.provenance === 'live')).toBe(true);
    expect(obs.every((o) => o.receivedAt === RECEIVED)).toBe(true);
  });

  it('maps the WebRTC leg fields with a pointer to the frame', () => {
    const agent = extract(F.userConversation()).find((o) => o.legKey === F.IDS.agentParticipant2);
    expect(agent).toEqual({
      conversationId: F.IDS.conversation,
      legKey: F.IDS.agentParticipant2,
      participantId: F.IDS.agentParticipant2,
      provenance: 'live',
      receivedAt: RECEIVED,
      observedAt: Date.parse('2026-03-02T10:00:30.000Z'),
      source: {
        kind: 'notification',
        topicName: `v2.users.${F.IDS.agentUser}.conversations`,
        correlationId: F.IDS.correlation,
        api: null,
        field: null,
      },
      fieldPaths: { selfAddress: 'self.addressRaw', otherAddress: 'other.addressRaw' },
      fields: {
        communicationId: F.IDS.agentCall2,
        userId: F.IDS.agentUser,
        purpose: 'agent',
        direction: 'inbound',
        peerId: F.IDS.customerCall,
        provider: 'Edge',
        selfAddress: `sip:${F.IDS.agentUser}@localhost`,
        otherAddress: 'tel:+14155550100',
        publicIpAddress: '203.0.113.7',
        connectedTime: Date.parse('2026-03-02T10:00:30.000Z'),
        recordingState: 'active',
        recording: true,
        state: 'connected',
        clientIpSourceSeen: true,
      },
    });
  });

  it('adds the station context the shell resolved, as its own observation with its own source', () => {
    const stationSource = apiSource('users');
    const obs = extract(
      F.userConversation(),
      ctx({
        [F.IDS.agentUser]: {
          stationId: F.IDS.station.toUpperCase(),
          stationType: 'inin_webrtc_softphone',
          persistentConnectionState: 'CONNECTED',
          source: stationSource,
        },
      }),
    );
    const forAgent = obs.filter((o) => o.participantId === F.IDS.agentParticipant2);
    expect(forAgent).toHaveLength(2);
    expect(forAgent[1]).toMatchObject({
      source: stationSource,
      fields: {
        stationId: F.IDS.station,
        stationType: 'inin_webrtc_softphone',
        isWebRtc: true,
        persistentConnectionState: 'CONNECTED',
      },
    });
    // The customer has no user, so no station context.
    expect(obs.filter((o) => o.participantId === F.IDS.customerParticipant)).toHaveLength(1);
  });

  it('marks a non-WebRTC station as such', () => {
    const obs = extract(F.userConversation(), ctx({ [F.IDS.agentUser]: { stationType: 'inin_physical' } }));
    expect(obs.find((o) => o.fields.stationType !== undefined)?.fields.isWebRtc).toBe(false);
  });

  it('keys each call of a participant with several calls by communication id', () => {
    const obs = extract(F.multiCallConversation());
    expect(obs.map((o) => o.legKey)).toEqual([
      `${F.IDS.multiCallParticipant}/${F.IDS.multiCallA}`,
      `${F.IDS.multiCallParticipant}/${F.IDS.multiCallB}`,
    ]);
    expect(obs[0]?.fields.disconnectedTime).toBe(Date.parse('2026-03-02T11:00:00.000Z'));
  });
});

describe('extractTagObservations: other conversation kinds', () => {
  it('reads the flat call topics (no communication id there)', () => {
    const obs = extract(F.userConversationCalls());
    const agent = obs.find((o) => o.legKey === F.IDS.agentParticipant2);
    expect(agent?.fields).toEqual({
      userId: F.IDS.agentUser,
      purpose: 'agent',
      direction: 'inbound',
      peerId: F.IDS.customerCall,
      provider: 'Edge',
      selfAddress: `sip:${F.IDS.agentUser}@localhost`,
      publicIpAddress: '203.0.113.7',
      connectedTime: Date.parse('2026-03-02T10:00:30.000Z'),
      recordingState: 'active',
      recording: true,
      state: 'connected',
      clientIpSourceSeen: true,
    });
    expect(extract(F.queueConversationCalls())).toHaveLength(2);
  });

  it('keeps what happened on the leg: state, how it ended, hold/confine/mute, hold and ACW times, error code', () => {
    const f = F.userConversationCalls();
    const participants = (f.eventBody.participants ?? []).map((p) =>
      p.id === F.IDS.agentParticipant2
        ? {
            ...p,
            state: 'disconnected',
            disconnectType: 'client',
            held: true,
            confined: false,
            muted: true,
            startHoldTime: '2026-03-02T10:02:00.000Z',
            startAcwTime: '2026-03-02T10:05:00.000Z',
            endAcwTime: '2026-03-02T10:05:41.000Z',
            errorInfo: { code: 'error.ininedgecontrol.session.inactive', message: 'not kept' },
          }
        : p,
    );
    const obs = extract({ ...f, eventBody: { ...f.eventBody, participants } });
    const agent = obs.find((o) => o.legKey === F.IDS.agentParticipant2);
    expect(agent?.fields).toMatchObject({
      state: 'disconnected',
      disconnectType: 'client',
      held: true,
      confined: false,
      muted: true,
      everHeld: true,
      everMuted: true,
      startHoldTime: Date.parse('2026-03-02T10:02:00.000Z'),
      startAcwTime: Date.parse('2026-03-02T10:05:00.000Z'),
      endAcwTime: Date.parse('2026-03-02T10:05:41.000Z'),
      errorCode: 'error.ininedgecontrol.session.inactive',
    });
    // A flag that is false says nothing about the past: no ever* field for it.
    expect(agent?.fields).not.toHaveProperty('everConfined');
  });

  it('remembers that a leg was held after it was taken off hold', () => {
    const f = F.userConversationCalls();
    const at = (held: boolean, startHoldTime: string | undefined, receivedAt: number) => {
      const participants = (f.eventBody.participants ?? []).map((p) => ({ ...p, held, startHoldTime }));
      return extract({ ...f, eventBody: { ...f.eventBody, participants } }, { ...ctx(), receivedAt });
    };
    const snapshot = mergeSessionTags(undefined, [
      ...at(true, '2026-03-02T10:02:00.000Z', RECEIVED),
      // Taken off hold: same Genesys leg times, so the later capture wins.
      ...at(false, '2026-03-02T10:02:00.000Z', RECEIVED + 20_000),
    ]);
    const agent = snapshot.legs.find((l) => l.legKey === F.IDS.agentParticipant2);
    expect(agent?.held?.value).toBe(false);
    expect(agent?.everHeld).toMatchObject({ value: true, firstCapturedAt: RECEIVED });
    expect(agent?.startHoldTime?.value).toBe(Date.parse('2026-03-02T10:02:00.000Z'));
  });

  it('reads detail events: the session id is the communication id, the event time the Genesys time', () => {
    const [start] = extract(F.userDetailStart());
    expect(start).toMatchObject({
      legKey: F.IDS.agentParticipant2,
      observedAt: Date.parse('2026-03-02T10:00:25.000Z'),
      fields: {
        communicationId: F.IDS.agentCall2,
        userId: F.IDS.agentUser,
        selfAddress: `sip:${F.IDS.agentUser}@localhost`,
        otherAddress: 'tel:+14155550100',
      },
    });
  });

  it('reads addresses from ani/dnis when a leg has no address, and records which field each came from', () => {
    const obs = extract(F.userConversationCallsAniDnisOnly());
    const byLeg = new Map(obs.map((o) => [o.legKey, o]));
    const agentSip = byLeg.get(F.IDS.agentParticipant2)?.fields.selfAddress;
    expect(agentSip).toMatch(/^sip:[0-9a-f]{24}\+acme\.orgspan\.com;tgrp=/);
    // The customer called in: its own address is the ani, the far end the dnis.
    expect(byLeg.get(F.IDS.customerParticipant)).toMatchObject({
      fields: { selfAddress: 'tel:+14155550100', otherAddress: 'tel:+18005550199' },
      fieldPaths: { selfAddress: 'ani', otherAddress: 'dnis' },
    });
    expect(byLeg.get(F.IDS.agentParticipant2)).toMatchObject({
      fields: { otherAddress: 'tel:+14155550100' },
      fieldPaths: { selfAddress: 'dnis', otherAddress: 'ani' },
    });
    // Outbound: this side called (ani), the far end was dialled (dnis).
    expect(byLeg.get(F.IDS.agentParticipant1)).toMatchObject({
      fields: { selfAddress: agentSip, otherAddress: 'tel:+18005550142' },
      fieldPaths: { selfAddress: 'ani', otherAddress: 'dnis' },
    });
  });

  it('prefers an explicit address over ani/dnis, and maps nothing without a direction', () => {
    const [customer] = extract(F.userConversationCalls());
    expect(customer).toMatchObject({
      fields: { selfAddress: 'tel:+14155550100', otherAddress: 'tel:+18005550199' },
      fieldPaths: { selfAddress: 'address', otherAddress: 'dnis' },
    });
    const f = F.userConversationCallsAniDnisOnly();
    const undirected = {
      ...f,
      eventBody: {
        ...f.eventBody,
        participants: f.eventBody.participants?.map((p) => ({ ...p, direction: undefined })),
      },
    };
    expect(
      extract(undirected).every((o) => o.fields.selfAddress === undefined && o.fieldPaths === undefined),
    ).toBe(true);
  });

  it('keeps the valid legs of a frame in which one participant is invalid', () => {
    const f = F.userConversation();
    const participants = (f.eventBody.participants ?? []).map((p, i) =>
      i === 0 ? { ...p, calls: [{ ...p.calls?.[0], connectedTime: 'not a time' }] } : p,
    );
    const obs = extract({ ...f, eventBody: { ...f.eventBody, participants } });
    expect(obs.map((o) => o.legKey)).toEqual([F.IDS.agentParticipant1, F.IDS.agentParticipant2]);
  });

  it('skips detail events of other media, whatever the case', () => {
    const f = F.userDetailStart();
    expect(extract({ ...f, eventBody: { ...f.eventBody, mediaType: 'chat' } })).toEqual([]);
    expect(extract({ ...f, eventBody: { ...f.eventBody, mediaType: 'CHAT' } })).toEqual([]);
  });

  it.each(['VOICE', 'voice', 'Voice'])('reads detail events of media type %s, direction in any case', (m) => {
    const f = F.userDetailStart();
    for (const [direction, self, other] of [
      ['INBOUND', `sip:${F.IDS.agentUser}@localhost`, 'tel:+14155550100'],
      ['outbound', 'tel:+14155550100', `sip:${F.IDS.agentUser}@localhost`],
    ] as const) {
      const [o] = extract({ ...f, eventBody: { ...f.eventBody, mediaType: m, direction } });
      expect(o?.fields).toMatchObject({ direction, selfAddress: self, otherAddress: other });
    }
  });

  it('reads the end detail event (upper-case enums) as the same leg', () => {
    const [end] = extract(F.userDetailEnd());
    expect(end).toMatchObject({
      legKey: F.IDS.agentParticipant2,
      fields: { communicationId: F.IDS.agentCall2 },
    });
  });

  it('flags a WebRTC station whatever the case of its type', () => {
    const [, uc] = extract(
      F.userDetailStart(),
      ctx({ [F.IDS.agentUser]: { stationType: 'ININ_WEBRTC_SOFTPHONE' } }),
    );
    expect(uc?.fields.isWebRtc).toBe(true);
  });

  it('gives no observations for frames that are not about a conversation', () => {
    for (const f of [F.heartbeat, F.socketClosing, F.userStation(), F.persistentConnection()]) {
      expect(extract(f)).toEqual([]);
    }
  });
});

describe('extractTagObservations: bad context', () => {
  it('rejects a receive time that is not epoch milliseconds', () => {
    const r = extractTagObservations(envelope(F.userConversation()), { ...ctx(), receivedAt: Number.NaN });
    expect(r).toMatchObject({ ok: false, error: { code: 'bad-context' } });
  });

  it('rejects a station id that is not a UUID', () => {
    const r = extractTagObservations(
      envelope(F.userConversation()),
      ctx({ [F.IDS.agentUser]: { stationId: 'desk-7' } }),
    );
    expect(r).toMatchObject({ ok: false, error: { code: 'bad-user-context' } });
    if (!r.ok) expect(r.error.reason).not.toContain('desk-7');
  });
});

describe('extractTagObservations: real voice-call shapes (IVR, hold, after-call work)', () => {
  it('keeps every leg, IVR and ACD included; the agent held since startHoldTime, the customer confined', () => {
    const env = envelope(F.userConversationCallsHeld());
    expect('dropped' in env ? env.dropped : []).toEqual([]);
    const obs = extract(F.userConversationCallsHeld());
    const byPurpose = new Map(obs.map((o) => [o.fields.purpose, o]));
    expect([...byPurpose.keys()].sort()).toEqual(['acd', 'agent', 'customer', 'ivr']);
    expect(byPurpose.get('ivr')?.fields).toMatchObject({ state: 'terminated', disconnectType: 'transfer' });
    expect(byPurpose.get('ivr')?.fields.selfAddress).toMatch(/;user=ivr$/);
    expect(byPurpose.get('acd')?.fields.selfAddress).toMatch(/;user=acd$/);
    expect(byPurpose.get('agent')?.fields).toMatchObject({
      held: true,
      everHeld: true,
      startHoldTime: Date.parse('2026-03-02T10:02:10.000Z'),
      selfAddress: expect.stringMatching(/^sip:[0-9a-f]{24}\+acme\.orgspan\.com;tgrp=/),
    });
    expect(byPurpose.get('customer')?.fields).toMatchObject({
      confined: true,
      everConfined: true,
      held: false,
    });
  });

  it('reads after-call work from the wrapped-up agent leg and keeps the hold in the merged snapshot', () => {
    const merged = mergeSessionTags(undefined, [
      ...extract(F.userConversationCallsHeld()),
      ...extract(F.userConversationCallsWrappedUp(), { ...ctx(), receivedAt: RECEIVED + 300_000 }),
    ]);
    const agent = merged.legs.find((l) => l.legKey === F.IDS.agentParticipant2);
    expect(agent?.state?.value).toBe('terminated');
    expect(agent?.startAcwTime?.value).toBe(Date.parse('2026-03-02T10:05:00.000Z'));
    expect(agent?.endAcwTime?.value).toBe(Date.parse('2026-03-02T10:05:40.000Z'));
    expect(agent?.disconnectedTime?.value).toBe(Date.parse('2026-03-02T10:05:00.000Z'));
    expect(agent?.held?.value).toBe(false);
    expect(agent?.everHeld?.value).toBe(true);
    const customer = merged.legs.find((l) => l.legKey === F.IDS.customerParticipant);
    expect(customer?.everConfined?.value).toBe(true);
  });
});
