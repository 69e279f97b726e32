import { describe, expect, it } from 'vitest';
import {
  availableTopics,
  checkTopic,
  MAX_COMBINED_TOPIC_LENGTH,
} from '../../../../dev/emulator/platform/notifications-topics.ts';

const U = '0b5a1c9e-3f2d-4c8a-9b1e-7d6f5a4c3b2a';
const rules = { allowDottedSuffixes: true };

describe('checkTopic', () => {
  it.each([
    `v2.users.${U}.conversations`,
    `v2.users.${U}.conversations.calls`,
    `v2.users.${U}.station`,
    `v2.users.${U}.persistentconnection`,
    `v2.routing.queues.${U}.conversations.calls`,
    `v2.detail.events.conversation.${U}.user.start`,
    `v2.detail.events.conversation.${U}.user.end`,
  ])('accepts %s as itself', (topic) => {
    expect(checkTopic(topic, rules)).toEqual({ ok: true, topics: [topic] });
  });

  it.each([
    'v2.users.{id}.conversations',
    'v2.users.*.conversations',
    `v2.users.${U}.nonsense`,
    `v2.users.${U}`,
    'v2.users..conversations',
    '',
  ])('rejects %j', (topic) => {
    const r = checkTopic(topic, rules);
    expect(r.ok).toBe(false);
  });

  it('expands a combined topic into one concrete topic per suffix', () => {
    const r = checkTopic(
      `v2.users.${U}?conversations&station&conversations.calls&persistentconnection`,
      rules,
    );
    expect(r).toEqual({
      ok: true,
      topics: [
        `v2.users.${U}.conversations`,
        `v2.users.${U}.station`,
        `v2.users.${U}.conversations.calls`,
        `v2.users.${U}.persistentconnection`,
      ],
    });
  });

  it('rejects a combined topic over 200 characters and one with an unknown suffix', () => {
    const long = `v2.users.${U}?${Array.from({ length: 30 }, () => 'station').join('&')}`;
    expect(long.length).toBeGreaterThan(MAX_COMBINED_TOPIC_LENGTH);
    expect(checkTopic(long, rules).ok).toBe(false);
    expect(checkTopic(`v2.users.${U}?station&bogus`, rules).ok).toBe(false);
    expect(checkTopic(`v2.users.${U}?`, rules).ok).toBe(false);
  });

  it('can forbid dotted suffixes', () => {
    expect(checkTopic(`v2.users.${U}?conversations.calls`, { allowDottedSuffixes: false }).ok).toBe(false);
    expect(checkTopic(`v2.users.${U}?station`, { allowDottedSuffixes: false }).ok).toBe(true);
  });
});

describe('availableTopics', () => {
  it('lists the required topics with description, permissions and transports', () => {
    const ids = (availableTopics().entities ?? []).map((t) => t.id);
    for (const id of [
      'v2.users.{id}.conversations',
      'v2.users.{id}.conversations.calls',
      'v2.routing.queues.{id}.conversations.calls',
      'v2.detail.events.conversation.{id}.user.start',
      'v2.detail.events.conversation.{id}.user.end',
      'v2.users.{id}.station',
      'v2.users.{id}.persistentconnection',
    ]) {
      expect(ids).toContain(id);
    }
    for (const t of availableTopics().entities ?? []) {
      expect(t.description).toBeTruthy();
      expect(Array.isArray(t.requiresPermissions)).toBe(true);
      expect(t.transports?.length).toBeGreaterThan(0);
    }
  });
});
