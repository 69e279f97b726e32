import { describe, expect, it } from 'vitest';
import { buildCustodyTimeline } from '../../../src/enrich/custody.ts';
import { buildManifest } from '../../../src/enrich/manifest.ts';
import type { LegTags, Tag, TagSource } from '../../../src/enrich/session-tags.ts';
import { LEG_TAG_FIELDS, notificationSource } from '../../../src/enrich/session-tags.ts';
import {
  instantOfMs,
  manifestLegOf,
  manifestLegsOf,
  tagSourceLabel,
} from '../../../src/sink/manifest-inputs.ts';

const CONV = '7c1d1a8e-5a0e-4b7e-9d55-1f0b8c6f2a11';
const PART = '0b3f6a52-6f1c-4e0e-8f3e-6b0d1f2c3a44';
const T = Date.parse('2026-03-01T09:02:00.123Z');
const TOPIC = 'v2.users.11111111-2222-4333-8444-555555555555.conversations';
const api: TagSource = { kind: 'api', topicName: null, correlationId: null, api: 'analytics', field: null };

function tag<T>(
  value: T,
  at: number,
  source: TagSource = notificationSource(TOPIC, 'corr-1'),
  provenance: 'live' | 'reconciled' = 'live',
): Tag<T> {
  return { value, provenance, source, observedAt: at - 5, capturedAt: at + 10, firstCapturedAt: at };
}

function emptyLeg(): LegTags {
  const leg: Record<string, unknown> = { legKey: PART, participantId: PART };
  for (const f of LEG_TAG_FIELDS) leg[f] = null;
  return leg as LegTags;
}

describe('manifestLegOf', () => {
  it('labels a value read from a payload field of another name with that field', () => {
    expect(tagSourceLabel({ ...api, field: 'ani' })).toBe('api:analytics;field=ani');
    expect(
      tagSourceLabel({
        kind: 'notification',
        topicName: TOPIC,
        correlationId: null,
        api: null,
        field: 'dnis',
      }),
    ).toBe(`notification:${TOPIC};field=dnis`);
    expect(tagSourceLabel(api)).toBe('api:analytics');
  });

  it('maps null to absent, epoch ms to UTC ms ISO, and TagSource to one source label', () => {
    const leg: LegTags = {
      ...emptyLeg(),
      communicationId: tag('a4f1c1d2-0000-4000-8000-000000000001', T),
      publicIpAddress: tag('203.0.113.7', T + 1000),
      isWebRtc: tag(true, T + 2000, {
        kind: 'user-context',
        topicName: null,
        correlationId: null,
        api: null,
        field: null,
      }),
      connectedTime: tag(Date.parse('2026-03-01T09:01:59Z'), T),
      stationId: tag('5e0f0000-0000-4000-8000-000000000002', T + 3000, api, 'reconciled'),
    };
    const input = manifestLegOf(leg);
    expect(Object.keys(input).sort()).toEqual(
      [
        'communicationId',
        'connectedTime',
        'isWebRtc',
        'participantId',
        'publicIpAddress',
        'stationId',
      ].sort(),
    );
    expect(input.communicationId).toEqual({
      value: 'a4f1c1d2-0000-4000-8000-000000000001',
      firstCapturedAt: '2026-03-01T09:02:00.123Z',
      provenance: 'live',
      source: `notification:${TOPIC};correlation_id=corr-1`,
    });
    expect(input.connectedTime?.value).toBe('2026-03-01T09:01:59.000Z');
    expect(input.publicIpAddress?.firstCapturedAt).toBe('2026-03-01T09:02:01.123Z');
    expect(input.isWebRtc).toMatchObject({ value: true, source: 'user-context' });
    expect(input.stationId).toMatchObject({ provenance: 'reconciled', source: 'api:analytics' });
    // The participant id takes the leg's earliest live capture.
    expect(input.participantId).toEqual({
      value: PART,
      firstCapturedAt: '2026-03-01T09:02:00.123Z',
      provenance: 'live',
      source: `notification:${TOPIC};correlation_id=corr-1`,
    });
  });

  it('labels a notification without correlation id by topic only, and a leg without tags has no participant tag', () => {
    expect(tagSourceLabel(notificationSource(TOPIC, undefined))).toBe(`notification:${TOPIC}`);
    expect(manifestLegOf(emptyLeg())).toEqual({});
    expect(manifestLegsOf(undefined)).toEqual([]);
  });

  it('gives input that buildManifest accepts and reports in the webrtc section', () => {
    const leg: LegTags = {
      ...emptyLeg(),
      communicationId: tag('a4f1c1d2-0000-4000-8000-000000000001', T),
      userId: tag('11111111-2222-4333-8444-555555555555', T),
      isWebRtc: tag(true, T),
      publicIpAddress: tag('203.0.113.7', T),
      stationId: tag('5e0f0000-0000-4000-8000-000000000002', T),
      stationType: tag('inin_webrtc_softphone', T),
    };
    const timeline = buildCustodyTimeline([]);
    if (!timeline.ok) throw new Error('timeline');
    const built = buildManifest({
      exportKey: {
        orgId: '9a9a9a9a-0000-4000-8000-000000000000',
        conversationId: CONV,
        recordingId: 'b1b1b1b1-0000-4000-8000-000000000000',
      },
      metadata: { status: 'missing' },
      audio: null,
      legs: manifestLegsOf({ conversationId: CONV, legs: [leg] }),
      legalHold: { status: 'none', source: 'test' },
      custody: timeline.value,
      manifestVersion: 1,
      previousManifestSha256: null,
      generatedBy: { component: 'custody-sink', version: '0.1.0', instance: 'unit' },
    });
    if (!built.ok) throw new Error(built.error.issues.join('; '));
    expect(built.value.webrtc.client_ip).toMatchObject({ value: '203.0.113.7', provenance: 'live' });
    expect(built.value.webrtc.station_id.value).toBe('5e0f0000-0000-4000-8000-000000000002');
    expect(built.value.webrtc.selection.participant_id).toBe(PART);
  });
});

function manifestOf(legs: LegTags[]) {
  const timeline = buildCustodyTimeline([]);
  if (!timeline.ok) throw new Error('timeline');
  const built = buildManifest({
    exportKey: {
      orgId: '9a9a9a9a-0000-4000-8000-000000000000',
      conversationId: CONV,
      recordingId: 'b1b1b1b1-0000-4000-8000-000000000000',
    },
    metadata: { status: 'missing' },
    audio: null,
    legs: manifestLegsOf({ conversationId: CONV, legs }),
    legalHold: { status: 'none', source: 'test' },
    custody: timeline.value,
    manifestVersion: 1,
    previousManifestSha256: null,
    generatedBy: { component: 'custody-sink', version: '0.1.0', instance: 'unit' },
  });
  if (!built.ok) throw new Error(built.error.issues.join('; '));
  return built.value;
}

describe('what happened on the leg, in the manifest', () => {
  it('lists state, disconnect type, hold/confine/mute, hold and ACW times, Edge, call id and error per leg', () => {
    const leg: LegTags = {
      ...emptyLeg(),
      userId: tag('11111111-2222-4333-8444-555555555555', T),
      state: tag('terminated', T),
      disconnectType: tag('peer', T),
      held: tag(false, T),
      everHeld: tag(true, T - 60_000),
      confined: tag(false, T),
      muted: tag(false, T),
      startHoldTime: tag(Date.parse('2026-03-01T09:01:00Z'), T),
      startAcwTime: tag(Date.parse('2026-03-01T09:02:00Z'), T),
      endAcwTime: tag(Date.parse('2026-03-01T09:02:30Z'), T),
      edgeId: tag('a1b2c3d4-0000-4000-8000-0000000000ed', T, api, 'reconciled'),
      protocolCallId: tag('c0ffee00-0000-4000-8000-000000000002', T, api, 'reconciled'),
      errorCode: tag('error.ininedgecontrol.session.inactive', T),
    };
    const [p] = manifestOf([leg]).participants;
    expect(p).toMatchObject({
      state: 'terminated',
      disconnect_type: 'peer',
      held: false,
      ever_held: true,
      confined: false,
      muted: false,
      start_hold_time: '2026-03-01T09:01:00.000Z',
      start_acw_time: '2026-03-01T09:02:00.000Z',
      end_acw_time: '2026-03-01T09:02:30.000Z',
      edge_id: 'a1b2c3d4-0000-4000-8000-0000000000ed',
      protocol_call_id: 'c0ffee00-0000-4000-8000-000000000002',
      error_code: 'error.ininedgecontrol.session.inactive',
    });
    expect(p).not.toHaveProperty('ever_confined');
  });

  it('leaves the new keys out of a leg that has none of them (its summary is as before)', () => {
    const [p] = manifestOf([
      { ...emptyLeg(), userId: tag('11111111-2222-4333-8444-555555555555', T) },
    ]).participants;
    expect(Object.keys(p ?? {}).sort()).toEqual(
      [
        'participant_id',
        'communication_id',
        'user_id',
        'purpose',
        'direction',
        'station_id',
        'station_type',
        'is_webrtc',
        'peer_id',
        'provider',
        'self_address',
        'other_address',
        'client_ip',
        'connected_time',
        'disconnected_time',
        'persistent_connection_state',
        'recording',
      ].sort(),
    );
  });
});

describe('instantOfMs', () => {
  it('gives toISOString of every instant, also once it has been converted before, past the bound on texts kept', () => {
    const times = Array.from({ length: 10_000 }, (_, i) => T + i * 997 - (i % 3) * 86_400_000);
    for (let round = 0; round < 2; round++)
      for (const ms of times) expect(instantOfMs(ms)).toBe(new Date(ms).toISOString());
  });

  it('gives nothing for a number that is no representable instant', () => {
    for (const ms of [
      T + 0.5,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      8.64e15 + 1,
      -8.64e15,
      253402300800000,
    ]) {
      expect(instantOfMs(ms)).toBeUndefined();
      expect(instantOfMs(ms)).toBeUndefined();
    }
    expect(instantOfMs(-0)).toBe('1970-01-01T00:00:00.000Z');
  });
});
