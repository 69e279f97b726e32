/**
 * EventBridge events of the Genesys "Amazon EventBridge Source" integration, written here in the documented shape
 * (AWS event metadata around `detail` = the WebSocket envelope plus `timestamp`; research/genesys.md §2.11).
 */
import { describe, expect, it } from 'vitest';
import { parseEventBridgeEvent } from '../../../src/enrich/eventbridge-event.ts';
import { parseNotificationFrame } from '../../../src/enrich/genesys-envelope.ts';
import * as F from '../../fixtures/genesys/frames.ts';

const ORG = '5e0c7d9a-2f41-4b8e-a6d3-91c0f2b4e7a8';

function event(overrides: Record<string, unknown> = {}, detail: Record<string, unknown> = {}) {
  const frame = F.userConversationCalls();
  return {
    version: '0',
    id: '0f3b1c52-8e6a-4d7f-b2a9-5c4e1d8f7a36',
    'detail-type': 'v2.users.{id}.conversations.calls',
    source: `aws.partner/genesys.com/cloud/${ORG}/custody-prod`,
    account: '210987654321',
    time: '2026-11-30T14:02:07Z',
    region: 'eu-central-1',
    resources: [],
    detail: { ...frame, timestamp: '2026-11-30T14:02:07.318Z', ...detail },
    ...overrides,
  };
}

describe('parseEventBridgeEvent', () => {
  it('takes the notification from detail and keeps the event fields, the org id from source', () => {
    const r = parseEventBridgeEvent(JSON.stringify(event()));
    if (!r.ok) throw new Error(r.error.reason);
    expect(r.value.origin).toEqual({
      id: '0f3b1c52-8e6a-4d7f-b2a9-5c4e1d8f7a36',
      detailType: 'v2.users.{id}.conversations.calls',
      source: `aws.partner/genesys.com/cloud/${ORG}/custody-prod`,
      orgId: ORG,
      account: '210987654321',
      region: 'eu-central-1',
      time: '2026-11-30T14:02:07Z',
      detailTimestamp: '2026-11-30T14:02:07.318Z',
    });
    // The detail parses as the same notification the WebSocket would carry.
    const env = parseNotificationFrame(r.value.frameText);
    const ws = parseNotificationFrame(F.text(F.userConversationCalls()));
    if (!env.ok || !ws.ok) throw new Error('frame did not parse');
    expect(env.value.kind).toBe('user-conversation-calls');
    expect({ ...env.value, raw: '' }).toEqual({ ...ws.value, raw: '' });
  });

  it('accepts an event without the optional account, region, time and detail.timestamp', () => {
    const e: Record<string, unknown> = event();
    delete e['account'];
    delete e['region'];
    delete e['time'];
    delete (e['detail'] as Record<string, unknown>)['timestamp'];
    const r = parseEventBridgeEvent(JSON.stringify(e));
    expect(r.ok && r.value.origin.account === undefined && r.value.origin.detailTimestamp === undefined).toBe(
      true,
    );
  });

  it('keeps a source suffix it does not recognise as Genesys, without an org id', () => {
    const r = parseEventBridgeEvent(
      JSON.stringify(event({ source: 'aws.partner/genesys.com/cloud/not-an-org/x' })),
    );
    expect(r.ok && r.value.origin.orgId).toBeUndefined();
  });

  it.each([
    ['not JSON', '{"version":"0"', 'not-json'],
    ['an array', '[]', 'not-an-eventbridge-event'],
    ['no id', JSON.stringify(event({ id: undefined })), 'not-an-eventbridge-event'],
    [
      'a long detail-type',
      JSON.stringify(event({ 'detail-type': 'x'.repeat(129) })),
      'not-an-eventbridge-event',
    ],
    ['another source', JSON.stringify(event({ source: 'aws.s3' })), 'not-genesys'],
    ['a non-string time', JSON.stringify(event({ time: 5 })), 'not-an-eventbridge-event'],
    ['no detail', JSON.stringify(event({ detail: undefined })), 'bad-detail'],
    ['detail without topicName', JSON.stringify(event({ detail: { eventBody: {} } })), 'bad-detail'],
    ['a bad detail.timestamp', JSON.stringify(event({}, { timestamp: ['x'] })), 'bad-detail'],
  ])('rejects %s with a reason that quotes no payload', (_what, text, code) => {
    const r = parseEventBridgeEvent(text);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe(code);
    expect(r.error.reason).not.toContain('custody-prod');
  });
});
