/**
 * What ingest's evidence record and dead letters need to know of a parsed frame, as plain data: the snapshot worker
 * parses most frames once (ingest-pipeline.ts) and hands this back to the thread that writes them, instead of that
 * thread parsing the frame again. The thread that parses a frame itself derives the same summary, so both paths
 * write the same records.
 */
import type { DroppedParticipant, EnvelopeFailure, NotificationEnvelope } from './genesys-envelope.ts';
import { notificationKeys } from './genesys-envelope.ts';
import type { Result } from './result.ts';

export interface FrameSummary {
  /** The envelope's kind, or `rejected` when the frame did not parse. */
  readonly kind: NotificationEnvelope['kind'] | 'rejected';
  readonly topicName: string | null;
  readonly version: string | null;
  readonly correlationId: string | null;
  /** The conversation the frame is about, when the topic or body names exactly one. */
  readonly conversationId: string | null;
  /** The entity id in the topic (user, queue or conversation). */
  readonly entityId: string | null;
  /** Why the frame was rejected (it goes to the DLQ with this reason); null when it parsed. */
  readonly rejection: EnvelopeFailure | null;
  /** Participants left out for failing validation (the frame's other legs are used). */
  readonly dropped: readonly DroppedParticipant[];
}

export function summarizeFrame(parsed: Result<NotificationEnvelope, EnvelopeFailure>): FrameSummary {
  if (!parsed.ok)
    return {
      kind: 'rejected',
      topicName: null,
      version: null,
      correlationId: null,
      conversationId: null,
      entityId: null,
      rejection: parsed.error,
      dropped: [],
    };
  const env = parsed.value;
  const { conversationId, entityId } = notificationKeys(env);
  return {
    kind: env.kind,
    topicName: env.topicName ?? null,
    version: env.version ?? null,
    correlationId: env.correlationId ?? null,
    conversationId: conversationId ?? null,
    entityId: entityId ?? null,
    rejection: null,
    dropped: 'dropped' in env ? env.dropped : [],
  };
}
