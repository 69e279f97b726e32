/**
 * Recordings of a conversation. Which legs are recorded, and as which media subtype, is decided by each
 * conversation kind (one per agent segment; a consult adds a `Consult` recording). Audio is Opus at about
 * 16 kbit/s, i.e. ~2 KB per second.
 *
 * Per the SDK, `RecordingMetadata.startTime` is "for screen recordings. Null for other types", so the
 * REST metadata of these audio recordings has no startTime/endTime; the media times are on SimRecording.
 * `sessionId` is the communication id of the agent leg the recording started on (UNCONFIRMED).
 */
import type { SimRecording } from '../model.ts';
import type { Direction, Leg } from './call-state.ts';
import type { Rng } from './rng.ts';

export interface RecordingSpec {
  /** The leg whose communication id becomes the recording's sessionId. */
  readonly leg: Leg;
  readonly start: number;
  readonly end: number;
  readonly userIds: readonly string[];
  readonly mediaSubtype: SimRecording['mediaSubtype'];
}

/** Bytes of Opus audio per second of recording. */
export const OPUS_BYTES_PER_SECOND = 2000;

export function buildRecordings(
  rng: Rng,
  conversationId: string,
  direction: Direction,
  specs: readonly RecordingSpec[],
): SimRecording[] {
  return specs.map((spec) => {
    const recordingId = rng.uuid();
    const seconds = (spec.end - spec.start) / 1000;
    // Ogg/Opus pages add a little overhead and the bitrate varies with the audio.
    const sizeBytes = Math.round(seconds * OPUS_BYTES_PER_SECOND * (0.97 + rng.next() * 0.06)) + 512;
    return {
      recordingId,
      conversationId,
      startTime: spec.start,
      endTime: spec.end,
      userIds: [...spec.userIds],
      mediaSubtype: spec.mediaSubtype,
      direction,
      sizeBytes,
      metadata: {
        id: recordingId,
        conversationId,
        media: 'audio',
        mediaSubtype: spec.mediaSubtype,
        fileState: 'AVAILABLE',
        sessionId: spec.leg.communicationId,
        selfUri: `/api/v2/conversations/${conversationId}/recordings/${recordingId}`,
      },
    };
  });
}
