/**
 * The dead letters ingest writes for notification frames it cannot use: a frame that does not parse (its text is
 * kept whole, and in the evidence log too), and a frame too large for a Kafka record, of which only its size,
 * SHA-256 and a bounded prefix are kept — never the whole payload, which no topic would accept.
 */
import type { Encoders } from '../kafka/record-codecs.ts';
import type { KeyedRecord } from '../kafka/record-producer.ts';
import type { ReceivedFrame } from './notification-channel.ts';

export const FRAME_TOO_LARGE = 'CUSTODY_INGEST_FRAME_TOO_LARGE';

function source(frame: ReceivedFrame) {
  const eb = frame.eventBridge;
  if (eb)
    return {
      kind: 'kafka',
      topic: eb.topic,
      partition: eb.partition,
      offset: eb.offset,
      timestampMs: frame.receivedAt,
      channelId: null,
    };
  return {
    kind: 'websocket',
    topic: null,
    partition: null,
    offset: null,
    timestampMs: frame.receivedAt,
    channelId: frame.channelId,
  };
}

export const PARTICIPANT_DROPPED = 'CUSTODY_INGEST_PARTICIPANT_DROPPED';

/**
 * A frame that could not be parsed or extracted (the whole text, with the reason), or one that was used only in
 * part (`key` = its conversation): participants that failed validation were left out and its other legs kept.
 */
export function unusableFrameDeadLetter(args: {
  frame: ReceivedFrame;
  code: string;
  reason: string;
  dlqTopic: string;
  instance: string;
  encoders: Encoders;
  key?: string;
}): KeyedRecord {
  const key = args.key ?? null;
  return {
    topic: args.dlqTopic,
    key,
    value: args.encoders['dead-letter.v1'].encode({
      key: key === null ? null : Buffer.from(key, 'utf8'),
      // An EventBridge notification keeps the whole event as read, so it can be replayed through the bridge.
      value: Buffer.from(args.frame.eventBridge?.event ?? args.frame.text, 'utf8'),
      source: source(args.frame),
      stage: 'ingest',
      errorCode: args.code,
      reason: args.reason,
      firstSeenAtMs: args.frame.receivedAt,
      instance: args.instance,
      headers: {},
    }),
  };
}

/** The reason text of a partly used frame: each dropped participant's index and the check it failed. */
export function droppedParticipantsReason(dropped: readonly { index: number; reason: string }[]): string {
  const shown = dropped.slice(0, 20).map((d) => d.reason);
  const more = dropped.length > shown.length ? `; and ${dropped.length - shown.length} more` : '';
  return `${dropped.length} participant(s) left out, the frame's other legs kept: ${shown.join('; ')}${more}`;
}

/**
 * A frame whose evidence record would exceed the Kafka record limit. The value holds the frame's first
 * `prefixBytes` bytes; the headers say how large it was, its SHA-256, and that the value is truncated.
 */
export function oversizedFrameDeadLetter(args: {
  frame: ReceivedFrame;
  bytes: number;
  sha256: string;
  limitBytes: number;
  prefixBytes: number;
  conversationId?: string;
  topicName?: string;
  dlqTopic: string;
  instance: string;
  encoders: Encoders;
}): KeyedRecord {
  const text = args.frame.eventBridge?.event ?? args.frame.text;
  const prefix = Buffer.from(text.slice(0, args.prefixBytes), 'utf8').subarray(0, args.prefixBytes);
  const repaired = args.conversationId
    ? `conversation ${args.conversationId} is recorded as a gap and repaired from the Platform API`
    : 'no conversation could be identified in it';
  const headers: Record<string, Buffer> = {
    'custody.frame.bytes': Buffer.from(String(args.bytes)),
    'custody.frame.sha256': Buffer.from(args.sha256),
    'custody.value.truncated-to-bytes': Buffer.from(String(prefix.length)),
  };
  if (args.topicName) headers['custody.frame.topic'] = Buffer.from(args.topicName);
  return {
    topic: args.dlqTopic,
    key: args.conversationId ?? null,
    value: args.encoders['dead-letter.v1'].encode({
      key: args.conversationId ? Buffer.from(args.conversationId) : null,
      value: prefix,
      source: source(args.frame),
      stage: 'ingest',
      errorCode: FRAME_TOO_LARGE,
      reason:
        `frame of ${args.bytes} bytes (SHA-256 ${args.sha256}) exceeds the ${args.limitBytes}-byte Kafka record ` +
        `limit, so the evidence log cannot hold it; the value keeps its first ${prefix.length} bytes; ${repaired}`,
      firstSeenAtMs: args.frame.receivedAt,
      instance: args.instance,
      headers,
    }),
  };
}
