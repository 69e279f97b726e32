/**
 * The `{recordingId}.opus_metadata.json` the integration writes beside each recording. It holds ONLY the
 * fields known from Genesys's schema and real files (research genesys.md §1.4) — none of the WebRTC,
 * station or chain-of-custody data custody adds. UNCONFIRMED: times are ISO-8601 UTC strings, `provider`
 * is `"edge"` (the schema's example), and `initialDirection` is the recording's direction.
 */
import type { ConversationScript, SimRecording } from '../model.ts';

export interface ExportMetadata {
  readonly mediaType: 'Call' | 'Screen';
  readonly mediaSubtype: SimRecording['mediaSubtype'];
  readonly provider: string;
  readonly userIds: readonly string[];
  readonly conversationId: string;
  readonly recordingId: string;
  readonly startTime: string;
  readonly endTime: string;
  readonly durationMs: number;
  readonly initialDirection: 'inbound' | 'outbound';
}

/** The keys an exported metadata file has — exactly these, no more. */
export const EXPORT_METADATA_KEYS: readonly (keyof ExportMetadata)[] = [
  'mediaType',
  'mediaSubtype',
  'provider',
  'userIds',
  'conversationId',
  'recordingId',
  'startTime',
  'endTime',
  'durationMs',
  'initialDirection',
];

export const EXPORT_PROVIDER = 'edge';

/** Builds the metadata file body for one recording of a conversation. */
export function exportMetadata(
  script: Pick<ConversationScript, 'conversationId'>,
  recording: SimRecording,
): ExportMetadata {
  return {
    mediaType: recording.mediaSubtype === 'Screen' ? 'Screen' : 'Call',
    mediaSubtype: recording.mediaSubtype,
    provider: EXPORT_PROVIDER,
    userIds: [...recording.userIds],
    conversationId: script.conversationId,
    recordingId: recording.recordingId,
    startTime: new Date(recording.startTime).toISOString(),
    endTime: new Date(recording.endTime).toISOString(),
    durationMs: recording.endTime - recording.startTime,
    initialDirection: recording.direction,
  };
}
