import { describe, expect, it } from 'vitest';
import { canonicalize } from '../../../src/enrich/canonical-json.ts';
import { buildCustodyTimeline } from '../../../src/enrich/custody.ts';
import { buildManifest } from '../../../src/enrich/manifest.ts';
import type { ManifestLegInput } from '../../../src/enrich/manifest.ts';
import { selectRecordingLeg } from '../../../src/enrich/manifest-legs.ts';
import {
  AGENT,
  CONV,
  METADATA_BYTES,
  ORG,
  REC,
  acdLeg,
  agentLeg,
  customerLeg,
  invalidMetadata,
  sampleEntries,
  sampleInput,
  sampleManifest,
  sampleMetadata,
  tag,
} from '../../fixtures/manifest/sample.ts';

describe('buildManifest', () => {
  it('builds a complete manifest for a WebRTC call', () => {
    const m = sampleManifest();
    expect(m.schema_version).toBe(1);
    expect([m.org_id, m.conversation_id, m.recording_id]).toEqual([ORG, CONV, REC]);
    expect([m.start_time, m.end_time, m.duration_ms]).toEqual([
      '2024-03-07T09:15:02.123Z',
      '2024-03-07T09:21:44.870Z',
      402747,
    ]);
    expect(m.completeness).toEqual({ status: 'complete', missing: [] });
    expect(m.webrtc.selection).toEqual({
      rule: 'recording-user-overlap/v1',
      candidates: 1,
      participant_id: agentLeg.participantId?.value,
      communication_id: agentLeg.communicationId?.value,
      user_id: AGENT,
    });
    expect(m.webrtc.is_webrtc).toEqual({
      value: true,
      provenance: 'reconciled',
      captured_at: '2024-03-07T09:15:04.200Z',
      source: '/api/v2/conversations/calls',
    });
    expect(m.webrtc.client_ip.value).toBe('198.51.100.23');
    expect(m.webrtc.webrtc_session_id.value).toBe(agentLeg.communicationId?.value);
    expect(m.webrtc.station_type).toMatchObject({ value: 'inin_webrtc_softphone', provenance: 'reconciled' });
    expect(m.participants.map((p) => p.purpose)).toEqual(['customer', 'acd', 'agent']);
    expect(m.legal_hold_status).toEqual({
      status: 'none',
      matter: null,
      applied_at: null,
      released_at: null,
      source: 'no hold recorded',
    });
    expect(m.genesys_metadata.status).toBe('valid');
    expect(m.genesys_metadata.verbatim).toEqual(JSON.parse(METADATA_BYTES.toString('utf8')));
    expect(m.genesys_metadata.sha256).toBe(sampleMetadata().sha256);
    expect(m.genesys_metadata.s3?.size).toBe(METADATA_BYTES.byteLength);
    expect(m.audio?.sha256).toBe('b'.repeat(64));
    expect(m.chain_of_custody[0]?.event).toBe('conversation_started');
    expect(m.chain_of_custody.at(-1)?.event).toBe('metadata_hashed');
    expect([m.manifest_version, m.previous_manifest_sha256]).toEqual([1, null]);
    expect(m.generated_by).toEqual({ component: 'sink', version: '0.1.0', instance: 'sink-a' });
  });

  it('gives the same canonical bytes for legs and custody entries in any order', () => {
    const reversedTimeline = buildCustodyTimeline([...sampleEntries()].reverse());
    if (!reversedTimeline.ok) throw new Error('timeline');
    const a = sampleManifest();
    const b = sampleManifest({ legs: [agentLeg, acdLeg, customerLeg], custody: reversedTimeline.value });
    expect(canonicalize(b)).toBe(canonicalize(a));
  });

  it('reports missing objects and tags as incomplete', () => {
    const m = sampleManifest({ audio: null, metadata: { status: 'missing' }, legs: [] });
    expect(m.completeness).toEqual({
      status: 'incomplete',
      missing: [
        { field: 'audio', reason: 'object-missing' },
        { field: 'genesys_metadata', reason: 'object-missing' },
        { field: 'participants', reason: 'no-session-tags' },
        { field: 'webrtc', reason: 'no-session-tags' },
      ],
    });
    expect([m.start_time, m.end_time, m.duration_ms, m.audio]).toEqual([null, null, null, null]);
    expect(m.webrtc.is_webrtc).toEqual({
      value: null,
      provenance: 'absent',
      captured_at: null,
      source: null,
      absence: { reason: 'no_leg', source: null, checked_at: null },
    });
    expect(m.genesys_metadata).toEqual({
      status: 'missing',
      verbatim: null,
      sha256: null,
      failure: null,
      s3: null,
    });
  });

  it('records an invalid metadata file by hash and reason', () => {
    const metadata = invalidMetadata();
    const m = sampleManifest({ metadata });
    expect(m.genesys_metadata).toMatchObject({
      status: 'invalid',
      verbatim: null,
      sha256: metadata.failure.sha256,
      failure: { reason: 'schema' },
    });
    expect(m.completeness.missing).toContainEqual({ field: 'genesys_metadata', reason: 'invalid-schema' });
  });

  it('names each required WebRTC field that was not captured', () => {
    const partial: ManifestLegInput = { ...agentLeg, publicIpAddress: undefined, stationType: undefined };
    const m = sampleManifest({ legs: [customerLeg, partial] });
    expect(m.completeness.missing).toEqual([
      { field: 'webrtc.client_ip', reason: 'not-captured' },
      { field: 'webrtc.station_type', reason: 'not-captured' },
    ]);
    expect(m.webrtc.peer_id.provenance).toBe('live');
    expect(m.webrtc.client_ip.absence).toEqual({ reason: 'not_captured', source: null, checked_at: null });
    expect(m.webrtc.peer_id).not.toHaveProperty('absence');
  });

  it('says Genesys did not provide the client IP when a source that carries it was captured without it', () => {
    const seen = {
      ...tag(true, '2024-03-07T09:15:04.000Z'),
      source: 'notification:v2.users.x.conversations.calls',
    };
    const m = sampleManifest({
      legs: [customerLeg, { ...agentLeg, publicIpAddress: undefined, clientIpSourceSeen: seen }],
    });
    expect(m.webrtc.client_ip).toEqual({
      value: null,
      provenance: 'absent',
      captured_at: null,
      source: null,
      absence: {
        reason: 'not_provided_by_genesys',
        source: 'notification:v2.users.x.conversations.calls',
        checked_at: '2024-03-07T09:15:04.000Z',
      },
    });
    // Nothing more will come: the manifest is complete, and the absence says why the IP is empty.
    expect(m.completeness).toEqual({ status: 'complete', missing: [] });
    // A captured IP carries no absence, whatever else was seen.
    const withIp = sampleManifest({ legs: [customerLeg, { ...agentLeg, clientIpSourceSeen: seen }] });
    expect(withIp.webrtc.client_ip).not.toHaveProperty('absence');
  });

  it('is complete for a non-WebRTC agent leg and says so', () => {
    const deskPhone: ManifestLegInput = {
      ...agentLeg,
      isWebRtc: tag(false),
      publicIpAddress: undefined,
      stationType: tag('inin_remote'),
    };
    const m = sampleManifest({ legs: [deskPhone] });
    expect(m.webrtc.is_webrtc.value).toBe(false);
    expect(m.completeness.status).toBe('complete');
  });

  it('flags an unknown station type and a recording without a matching leg', () => {
    expect(sampleManifest({ legs: [{ ...agentLeg, isWebRtc: undefined }] }).completeness.missing).toEqual([
      { field: 'webrtc.is_webrtc', reason: 'not-captured' },
    ]);
    expect(sampleManifest({ legs: [customerLeg] }).completeness.missing).toEqual([
      { field: 'webrtc', reason: 'no-leg-matches-recording' },
    ]);
  });

  it('records legal hold states', () => {
    const on = sampleManifest({
      legalHold: {
        status: 'on',
        matter: 'M-1',
        applied_at: '2024-04-01T00:00:00.000Z',
        source: 'custody.legal-holds.v1',
      },
    });
    expect(on.legal_hold_status).toMatchObject({ status: 'on', matter: 'M-1', released_at: null });
    const released = sampleManifest({
      legalHold: {
        status: 'released',
        matter: 'M-1',
        applied_at: '2024-04-01T00:00:00.000Z',
        released_at: '2024-05-01T00:00:00.000Z',
        source: 's',
      },
    });
    expect(released.legal_hold_status.released_at).toBe('2024-05-01T00:00:00.000Z');
  });

  it.each([
    [
      'version 1 with a previous hash',
      { previousManifestSha256: 'c'.repeat(64) },
      'previous_manifest_sha256',
    ],
    ['version 2 without a previous hash', { manifestVersion: 2 }, 'previous_manifest_sha256'],
    ['a malformed audio hash', { audio: { ...sampleInput().audio!, sha256: 'XYZ' } }, 'audio.sha256'],
    [
      'an S3 time not in UTC ms',
      {
        audio: {
          ...sampleInput().audio!,
          s3: { ...sampleInput().audio!.s3, last_modified: 'Thu, 07 Mar 2024 11:02:10 GMT' },
        },
      },
      'audio.s3.last_modified',
    ],
    [
      'a tag time in epoch ms',
      { legs: [{ ...agentLeg, isWebRtc: { ...tag(true), firstCapturedAt: '1709802904200' } }] },
      'webrtc.is_webrtc.captured_at',
    ],
    [
      'an empty instance',
      { generatedBy: { component: 'sink', version: '1', instance: '' } },
      'generated_by.instance',
    ],
  ])('rejects %s as invalid input', (_name, overrides, path) => {
    const r = buildManifest(sampleInput(overrides));
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error.issues.join('\n')).toContain(path);
  });
});

describe('selectRecordingLeg', () => {
  const fields = sampleMetadata().fields;
  const secondAgentLeg: ManifestLegInput = {
    ...agentLeg,
    participantId: tag('a1b2c3d4-0000-4000-8000-000000000009'),
    communicationId: tag('a1b2c3d4-0000-4000-8000-0000000000c9'),
  };

  it('prefers WebRTC legs, then the longest overlap, deterministically', () => {
    const shortOverlap: ManifestLegInput = {
      ...secondAgentLeg,
      connectedTime: tag('2024-03-07T09:20:00.000Z'),
    };
    const notWebRtc: ManifestLegInput = { ...secondAgentLeg, isWebRtc: tag(false) };
    for (const legs of [
      [shortOverlap, agentLeg, notWebRtc],
      [notWebRtc, shortOverlap, agentLeg],
    ]) {
      const s = selectRecordingLeg(legs, fields);
      expect(s.leg).toBe(agentLeg);
      expect(s.candidates).toBe(3);
    }
  });

  it('breaks a full tie by participant id', () => {
    expect(selectRecordingLeg([secondAgentLeg, agentLeg], fields).leg).toBe(agentLeg);
    expect(selectRecordingLeg([agentLeg, secondAgentLeg], fields).leg).toBe(agentLeg);
  });

  it("breaks a tie on every rule key by the legs' canonical JSON", () => {
    const a: ManifestLegInput = { ...agentLeg, peerId: tag('peer-a') };
    const b: ManifestLegInput = { ...agentLeg, peerId: tag('peer-b') };
    expect(selectRecordingLeg([b, a], fields).leg).toBe(a);
    expect(selectRecordingLeg([a, b], fields).leg).toBe(a);
  });

  it('excludes legs of other users and legs outside the recording', () => {
    const otherUser: ManifestLegInput = { ...agentLeg, userId: tag('00000000-0000-4000-8000-000000000000') };
    const earlier: ManifestLegInput = { ...agentLeg, disconnectedTime: tag('2024-03-07T09:10:00.000Z') };
    expect(selectRecordingLeg([otherUser, earlier, customerLeg], fields)).toEqual({
      leg: undefined,
      candidates: 0,
    });
  });

  it('without userIds or times, considers every user leg', () => {
    const s = selectRecordingLeg([customerLeg, agentLeg], {
      ...fields,
      userIds: null,
      startTime: 'x',
      endTime: 'y',
    });
    expect(s).toEqual({ leg: agentLeg, candidates: 1 });
    expect(selectRecordingLeg([agentLeg], undefined).leg).toBe(agentLeg);
  });
});
