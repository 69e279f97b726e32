import { describe, expect, it } from 'vitest';
import { parseNotificationFrame } from '../../../src/enrich/genesys-envelope.ts';
import {
  PARTICIPANT_DROPPED,
  droppedParticipantsReason,
  unusableFrameDeadLetter,
} from '../../../src/ingest/frame-dead-letters.ts';
import { singleObjectCodecFor } from '../../../src/kafka/avro-codec.ts';
import type { Encoders } from '../../../src/kafka/record-codecs.ts';
import * as F from '../../fixtures/genesys/frames.ts';

describe('dead letter of a partly used frame', () => {
  it('names each dropped participant and the check it failed, keyed by the conversation, frame kept whole', () => {
    const f = F.userConversationCalls();
    const participants = (f.eventBody.participants ?? []).map((p, i) =>
      i === 0 ? { ...p, id: undefined, address: 'tel:+14155550100' } : p,
    );
    const text = F.text({ ...f, eventBody: { ...f.eventBody, participants } });
    const env = parseNotificationFrame(text);
    if (!env.ok || !('dropped' in env.value)) throw new Error('expected a conversation envelope');
    const reason = droppedParticipantsReason(env.value.dropped);
    expect(reason).toBe(
      "1 participant(s) left out, the frame's other legs kept: eventBody.participants.0.id failed check 'invalid_type'",
    );
    expect(reason).not.toContain('+1415');

    const codec = singleObjectCodecFor('dead-letter.v1');
    const record = unusableFrameDeadLetter({
      frame: { text, receivedAt: 1_000, channelId: 'ch-1' },
      code: PARTICIPANT_DROPPED,
      reason,
      dlqTopic: 'custody.dlq.v1',
      instance: 'test',
      encoders: { 'dead-letter.v1': codec } as unknown as Encoders,
      key: F.IDS.conversation,
    });
    expect(record.key).toBe(F.IDS.conversation);
    const dl = codec.decode(record.value as Buffer);
    expect(dl).toMatchObject({ errorCode: 'CUSTODY_INGEST_PARTICIPANT_DROPPED', stage: 'ingest', reason });
    expect(dl.key?.toString()).toBe(F.IDS.conversation);
    expect(dl.value?.toString()).toBe(text);
  });

  it('bounds the reason when many participants are dropped', () => {
    const dropped = Array.from({ length: 25 }, (_, index) => ({ index, reason: `p${index}` }));
    expect(droppedParticipantsReason(dropped)).toMatch(/^25 participant\(s\) .*p19; and 5 more$/);
  });
});
