import { describe, expect, it } from 'vitest';
import { summarizeFrame } from '../../../src/enrich/frame-summary.ts';
import { parseNotificationFrame } from '../../../src/enrich/genesys-envelope.ts';
import * as F from '../../fixtures/genesys/frames.ts';

describe('summarizeFrame', () => {
  it('gives the evidence fields of a conversation event: topic, version, correlation id and keys', () => {
    const f = F.userConversation();
    const s = summarizeFrame(parseNotificationFrame(F.text(f)));
    expect(s).toEqual({
      kind: 'user-conversation',
      topicName: f.topicName,
      version: f.version ?? null,
      correlationId: f.metadata.CorrelationId,
      conversationId: f.eventBody.id,
      entityId: f.topicName.split('.')[2],
      rejection: null,
      dropped: [],
    });
  });

  it('names the participants left out', () => {
    const f = F.userConversation();
    const body = {
      ...f.eventBody,
      participants: [...(f.eventBody.participants ?? []), { id: 'not-a-uuid' }],
    };
    const s = summarizeFrame(parseNotificationFrame(F.text({ ...f, eventBody: body })));
    expect(s.dropped).toHaveLength(1);
    expect(s.dropped[0]?.index).toBe(body.participants.length - 1);
    expect(s.rejection).toBeNull();
  });

  it('carries the rejection of a frame that does not parse, and nothing else', () => {
    const s = summarizeFrame(parseNotificationFrame('not json'));
    expect(s).toMatchObject({
      kind: 'rejected',
      topicName: null,
      conversationId: null,
      entityId: null,
      dropped: [],
    });
    expect(s.rejection?.code).toBe('not-json');
  });

  it('keeps no key for a heartbeat', () => {
    expect(summarizeFrame(parseNotificationFrame(F.text(F.heartbeat)))).toMatchObject({
      kind: 'heartbeat',
      topicName: 'channel.metadata',
      conversationId: null,
      entityId: null,
    });
  });
});
