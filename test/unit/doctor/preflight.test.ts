import { describe, expect, it } from 'vitest';
import {
  MAX_CLOCK_SKEW_MS,
  REQUIRED_PERMISSIONS,
  clockSkewCheck,
  missingPermissions,
  subscriptionCheck,
  topicChecks,
  eventBridgeTopicCheck,
  groupStartDelayCheck,
} from '../../../src/doctor/preflight.ts';
import type { TopicFacts } from '../../../src/doctor/preflight.ts';

describe('missingPermissions', () => {
  const all = REQUIRED_PERMISSIONS.map((p) => p.permission);

  it('lists by name what no policy grants, honouring wildcards', () => {
    expect(missingPermissions([{ domain: '*', entityName: '*', actions: ['*'] }])).toEqual([]);
    expect(missingPermissions([])).toEqual(all);
    expect(
      missingPermissions(
        [
          { domain: 'recording', entityName: '*', actions: ['*'] },
          { domain: 'analytics', entityName: 'conversationDetail', actions: ['view'] },
        ],
        [
          'recording:job:edit',
          'analytics:conversationDetail:view',
          'analytics:conversationDetail:edit',
          'x:y:z',
        ],
      ),
    ).toEqual(['analytics:conversationDetail:edit', 'x:y:z']);
  });
});

describe('topicChecks', () => {
  const names = {
    notifications: 'n',
    sessionTags: 't',
    recordingExports: 'e',
    legalHolds: 'h',
    sinkState: 's',
    manifests: 'm',
    dlq: 'd',
  };
  const year = String(365 * 24 * 3_600_000);
  const healthy = (): Map<string, TopicFacts> =>
    new Map([
      ['n', { partitions: 6, config: { 'cleanup.policy': 'delete', 'retention.ms': '-1' } }],
      ['t', { partitions: 6, config: { 'cleanup.policy': 'compact' } }],
      ['e', { partitions: 6, config: { 'cleanup.policy': 'delete', 'retention.ms': year } }],
      ['h', { partitions: 6, config: { 'cleanup.policy': 'compact' } }],
      ['s', { partitions: 6, config: { 'cleanup.policy': 'compact' } }],
      ['m', { partitions: 6, config: { 'cleanup.policy': 'delete', 'retention.ms': year } }],
      ['d', { partitions: 6, config: { 'cleanup.policy': 'delete', 'retention.ms': year } }],
    ]);
  const failing = (facts: Map<string, TopicFacts>) =>
    topicChecks(names, facts)
      .filter((c) => !c.ok)
      .map((c) => `${c.name}: ${c.detail}`);

  it('passes the topic contract', () => {
    const checks = topicChecks(names, healthy());
    expect(checks.map((c) => c.name)).toEqual([
      'topic n',
      'topic t',
      'topic e',
      'topic h',
      'topic s',
      'topic m',
      'topic d',
      'topics co-partitioned',
    ]);
    expect(checks.every((c) => c.ok)).toBe(true);
  });

  it('fails a missing topic, another partition count, no compaction, and a short evidence log', () => {
    const f = healthy();
    f.delete('d');
    f.set('e', { partitions: 3, config: { 'cleanup.policy': 'delete', 'retention.ms': year } });
    f.set('t', { partitions: 6, config: { 'cleanup.policy': 'delete' } });
    f.set('n', { partitions: 6, config: { 'cleanup.policy': 'delete', 'retention.ms': '604800000' } });
    expect(failing(f)).toEqual([
      'topic n: retention.ms is 604800000, shorter than forever (-1)',
      'topic t: cleanup.policy is delete, not compact',
      'topic d: does not exist',
      'topics co-partitioned: t=6, e=3, h=6, s=6',
    ]);
  });

  it('fails a compacted log topic and accepts compact,delete for the tags', () => {
    const f = healthy();
    f.set('m', { partitions: 6, config: { 'cleanup.policy': 'compact', 'retention.ms': year } });
    f.set('t', { partitions: 6, config: { 'cleanup.policy': 'compact,delete' } });
    expect(failing(f)).toEqual([
      'topic m: cleanup.policy is compact: records of this log would be compacted away',
    ]);
  });
});

describe('clockSkewCheck', () => {
  const at = Date.parse('2026-03-01T10:00:00.000Z');
  it('passes within the tolerance and fails beyond it, saying which way', () => {
    expect(clockSkewCheck('c', 'Sun, 01 Mar 2026 10:00:00 GMT', at, at + 100).ok).toBe(true);
    const ahead = clockSkewCheck('c', 'Sun, 01 Mar 2026 10:00:30 GMT', at, at + 100);
    expect(ahead).toMatchObject({ ok: false, fix: expect.stringMatching(/NTP/) });
    expect(ahead.detail).toMatch(/^\+30450 ms/);
    expect(clockSkewCheck('c', 'Sun, 01 Mar 2026 09:59:50 GMT', at, at).detail).toMatch(/^-9500 ms/);
    expect(MAX_CLOCK_SKEW_MS).toBe(5_000);
  });
  it('fails without a Date header', () => {
    expect(clockSkewCheck('c', undefined, at, at)).toMatchObject({
      ok: false,
      detail: 'no Date header in the answer',
    });
  });
});

describe('subscriptionCheck', () => {
  const listing = [
    {
      id: 'v2.users.{id}.conversations',
      requiresPermissions: ['conversation:communication:view'],
      transports: ['All'],
    },
    {
      id: 'v2.users.{id}.station',
      requiresPermissions: ['telephony:station:view'],
      transports: ['EventBridge'],
    },
  ];
  it('passes when every topic is offered over WebSocket with its permissions granted', () => {
    const all = [{ domain: '*', entityName: '*', actions: ['*'] }];
    expect(subscriptionCheck(['conversations'], listing, all).ok).toBe(true);
  });
  it('names topics not offered, not over WebSocket, or needing permissions', () => {
    const c = subscriptionCheck(['conversations', 'station', 'persistentconnection'], listing, []);
    expect(c.ok).toBe(false);
    expect(c.detail).toBe(
      'v2.users.{id}.conversations needs conversation:communication:view; v2.users.{id}.station is not offered over WebSocket (EventBridge); v2.users.{id}.station needs telephony:station:view; v2.users.{id}.persistentconnection is not offered',
    );
  });
});

describe('eventBridgeTopicCheck', () => {
  it('fails with the fix when the bridge topic is missing, passes with its partition count otherwise', () => {
    const missing = eventBridgeTopicCheck('genesys.eventbridge.v1', undefined);
    expect(missing).toMatchObject({ ok: false, name: 'topic genesys.eventbridge.v1' });
    expect(missing.fix).toContain('Bridging EventBridge into Kafka');
    const there = eventBridgeTopicCheck('genesys.eventbridge.v1', { partitions: 6, config: {} });
    expect(there.ok).toBe(true);
    expect(there.detail).toContain('6 partition(s)');
  });
});

describe('groupStartDelayCheck', () => {
  it("says what the brokers' start delay costs each sink restore, and never fails", () => {
    const waits = groupStartDelayCheck({
      byBroker: new Map([
        ['1', '3000'],
        ['2', '0'],
      ]),
    });
    expect(waits.ok).toBe(true);
    expect(waits.detail).toMatch(/up to 3000 ms \(broker 1: 3000 ms, broker 2: 0 ms\): each sink restore/);
    const none = groupStartDelayCheck({ byBroker: new Map([['1', '0']]) });
    expect(none.detail).toBe(
      "group.initial.rebalance.delay.ms is 0 (broker 1: 0 ms): the sink's restores read at once",
    );
    expect(groupStartDelayCheck({ byBroker: new Map([['1', undefined]]) }).detail).toMatch(
      /not returned by broker\(s\) 1$/,
    );
    const denied = groupStartDelayCheck({ unreadable: 'Cluster authorization failed' });
    expect(denied.ok).toBe(true);
    expect(denied.detail).toMatch(/not readable \(Cluster authorization failed\).*3 s by default/);
  });
});
