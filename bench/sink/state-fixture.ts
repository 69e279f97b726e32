/** A realistic sink join state of one conversation, for benchmarks (deterministic in `i`). */
import { mergeSessionTags } from '../../src/enrich/session-tags-merge.ts';
import { notificationSource } from '../../src/enrich/session-tags.ts';
import type { TagObservation } from '../../src/enrich/session-tags.ts';
import { STATE_FORMAT, applyRecordingExport, applySessionTags } from '../../src/sink/join-state.ts';
import type { ConversationState, ExportsState } from '../../src/sink/join-state.ts';

const T = Date.parse('2026-03-01T09:02:00.000Z');
const hex = (n: number, len: number) => n.toString(16).padStart(len, '0').slice(-len);
const uuid = (n: number, salt: number) =>
  `${hex(salt, 8)}-${hex(n >>> 16, 4)}-4${hex(n, 3)}-8${hex(n * 7, 3)}-${hex(n * 2654435761, 12)}`;

/** A realistic conversation state: two fully tagged legs, one hashed and announced recording. */
export function stateOf(i: number, partitions: number): ConversationState {
  const conversationId = uuid(i, 0xc0ffee);
  const source = notificationSource(`v2.users.${uuid(i, 0xa11ce)}.conversations.calls`, uuid(i, 0xbeef));
  const leg = (participantId: string, agent: boolean, at: number): TagObservation => ({
    conversationId,
    legKey: participantId,
    participantId,
    provenance: 'live',
    source,
    observedAt: at - 3,
    receivedAt: at,
    fields: {
      communicationId: uuid(i + 1, 0xc0),
      userId: agent ? uuid(i, 0xa11ce) : undefined,
      purpose: agent ? 'agent' : 'customer',
      direction: 'inbound',
      stationId: agent ? uuid(i, 0x57a) : undefined,
      stationType: agent ? 'inin_webrtc_softphone' : undefined,
      isWebRtc: agent,
      peerId: uuid(i, 0x9ee),
      provider: 'Edge',
      selfAddress: agent ? `sip:${hex(i, 24)}+org.orgspan.com` : 'tel:+13175550100',
      otherAddress: agent ? 'tel:+13175550100' : 'tel:+13175550199',
      publicIpAddress: agent ? '203.0.113.7' : undefined,
      connectedTime: T + i,
      disconnectedTime: T + i + 180_000,
      recordingState: 'active',
      recording: true,
    },
  });
  const snapshot = mergeSessionTags(undefined, [
    leg(uuid(i, 0x1), false, T + i),
    leg(uuid(i, 0x2), true, T + i + 5),
  ]);
  const pointer = { topic: 'custody.session-tags.v1', partition: i % partitions, offset: String(i) };
  const tags = applySessionTags(undefined, snapshot, pointer);
  const recordingId = uuid(i, 0x4ec);
  const key = (ext: string) =>
    `org/year=2026/month=3/day=1/hour=9/conversation_id=${conversationId}/${recordingId}${ext}`;
  const object = (ext: string, size: number) => ({
    key: key(ext),
    versionId: hex(i, 26),
    size,
    etag: `"${hex(i * 31, 32)}"`,
    lastModifiedMs: T + i + 300_000,
  });
  const base = applyRecordingExport(
    undefined,
    {
      bucket: 'exports',
      orgId: uuid(1, 0x0a9),
      conversationId,
      recordingId,
      partitionHour: '2026-03-01T09:00:00.000Z',
      audio: object('.opus', 614_400),
      metadata: object('.opus_metadata.json', 2_048),
      detectedAtMs: T + i + 360_000,
      detectedBy: 'scan',
      detectorInstance: 'exports-0',
      detectorVersion: '0.1.0',
      job: null,
    },
    { topic: 'custody.recording-exports.v1', partition: i % partitions, offset: String(i) },
  );
  const rec = base.recordings[recordingId];
  if (rec === undefined) throw new Error('unreachable');
  const hash = (size: number) => ({
    versionId: hex(i, 26),
    etag: `"${hex(i * 31, 32)}"`,
    sha256: hex(i, 8).repeat(8),
    size,
    hashedAtMs: T + i + 361_000,
    instance: 'sink-0',
    version: '0.1.0',
  });
  const exports: ExportsState = {
    ...base,
    recordings: {
      [recordingId]: {
        ...rec,
        audioHash: hash(614_400),
        metadataHash: hash(2_048),
        announced: {
          manifestVersion: 1,
          manifestSha256: hex(i, 16).repeat(4),
          inputs: hex(i * 3, 16).repeat(4),
        },
      },
    },
  };
  return { format: STATE_FORMAT, conversationId, tags, exports };
}
