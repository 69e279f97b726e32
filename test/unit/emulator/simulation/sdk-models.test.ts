/**
 * Every object the emulator emits is checked against the SDK model it stands for: each key must be a declared
 * property of that model (in `purecloud-platform-client-v2/index.d.ts`), recursively through nested models and
 * arrays of models. The property lists are read from index.d.ts at test time, so an SDK upgrade that renames a
 * field makes this fail instead of the emulator drifting silently.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import type { ConversationKind } from '../../../../dev/emulator/model.ts';
import { buildConversation, createOrg, createRng } from '../../../../dev/emulator/simulation/index.ts';
import { eventBridgeEvent } from '../../../../dev/emulator/platform/eventbridge.ts';
import { T0 } from './support.ts';

type Model = Map<string, string>; // property name → declared type text

function loadModels(): Map<string, Model> {
  const path = createRequire(import.meta.url).resolve('purecloud-platform-client-v2/index.d.ts');
  const text = readFileSync(path, 'utf8');
  const models = new Map<string, Model>();
  const re = /export interface (\w+) \{\s*\n([\s\S]*?)\n\t\}/g;
  for (const m of text.matchAll(re)) {
    const props: Model = new Map();
    for (const p of (m[2] ?? '').matchAll(/^\t\t"(\w+)"\??: (.+);$/gm)) props.set(p[1] ?? '', p[2] ?? '');
    if (!models.has(m[1] ?? '')) models.set(m[1] ?? '', props);
  }
  return models;
}

const MODELS = loadModels();

/** Keys of `value` not declared on `model`, as JSON paths, following nested `Models.X` and `Array<Models.X>`. */
function unknownKeys(value: unknown, model: string, path: string): string[] {
  const props = MODELS.get(model);
  if (props === undefined) return [`${path}: model ${model} not found in index.d.ts`];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [];
  const out: string[] = [];
  for (const [k, v] of Object.entries(value)) {
    const type = props.get(k);
    if (type === undefined) {
      out.push(`${path}.${k} (not a property of ${model})`);
      continue;
    }
    const nested = /^(?:Array<)?Models\.(\w+)>?$/.exec(type)?.[1];
    if (nested === undefined) continue;
    const items = Array.isArray(v) ? v : [v];
    items.forEach((item, i) =>
      out.push(...unknownKeys(item, nested, Array.isArray(v) ? `${path}.${k}[${i}]` : `${path}.${k}`)),
    );
  }
  return out;
}

const TOPIC_MODELS: readonly [RegExp, string][] = [
  [/^v2\.users\.[^.]+\.conversations$/, 'ConversationEventTopicConversation'],
  [/^v2\.users\.[^.]+\.conversations\.calls$/, 'ConversationCallEventTopicCallConversation'],
  [/^v2\.routing\.queues\.[^.]+\.conversations\.calls$/, 'QueueConversationCallEventTopicCallConversation'],
  [/^v2\.detail\.events\.conversation\.[^.]+\.user\.start$/, 'UserStartDetailEventTopicUserStartEvent'],
  [/^v2\.detail\.events\.conversation\.[^.]+\.user\.end$/, 'UserEndDetailEventTopicUserEndEvent'],
  [/^v2\.users\.[^.]+\.station$/, 'UserStationChangeTopicUserStations'],
  [
    /^v2\.users\.[^.]+\.persistentconnection$/,
    'PersistentConnectionChangeTopicPersistentConnectionChangeEvent',
  ],
];

const KINDS: ConversationKind[] = [
  'inbound-acd-webrtc',
  'outbound-webrtc',
  'blind-transfer',
  'consult-transfer',
  'same-agent-multiple-legs',
  'persistent-connection',
  'sip-desk-phone',
  'unrecorded',
  'hour-boundary',
];

describe('emulated events against the SDK models', () => {
  it('finds the models and their properties in index.d.ts', () => {
    expect(MODELS.get('ConversationCallEventTopicCallMediaParticipant')?.has('publicIpAddress')).toBe(true);
    // The check itself catches an unknown key, nested or not.
    expect(unknownKeys({ id: 'x', bogus: 1 }, 'CallConversation', '$')).toEqual([
      '$.bogus (not a property of CallConversation)',
    ]);
    expect(unknownKeys({ participants: [{ id: 'p', nope: true }] }, 'CallConversation', '$')).toEqual([
      '$.participants[0].nope (not a property of CallMediaParticipant)',
    ]);
  });

  it.each(KINDS)(
    '%s: every event, REST snapshot and analytics record uses only SDK model properties',
    (kind) => {
      const org = createOrg(createRng(42), { webRtcPublicIpShare: 1 });
      const s = buildConversation(org, createRng(11), kind, T0, {});
      const problems: string[] = [];
      for (const e of s.events) {
        const model = TOPIC_MODELS.find(([re]) => re.test(e.topicName))?.[1];
        if (model === undefined) problems.push(`${e.topicName}: no model known for this topic`);
        else problems.push(...unknownKeys(e.eventBody, model, e.topicName));
      }
      for (const snap of s.callSnapshots)
        problems.push(...unknownKeys(snap.call, 'CallConversation', 'rest'));
      problems.push(
        ...unknownKeys(s.analytics.conversation, 'AnalyticsConversationWithoutAttributes', 'analytics'),
      );
      expect([...new Set(problems)]).toEqual([]);
      expect(s.events.length).toBeGreaterThan(0);
    },
  );

  it('EventBridge: each event is AWS event metadata around the WebSocket envelope, whose body fits its model', () => {
    const org = createOrg(createRng(42), { webRtcPublicIpShare: 1 });
    const s = buildConversation(org, createRng(11), 'consult-transfer', T0, {});
    const opts = { orgId: org.orgId, sourceSuffix: 'custody', account: '123456789012', region: 'us-east-1' };
    const problems: string[] = [];
    for (const e of s.events) {
      const ev = eventBridgeEvent(e, e.at, opts);
      expect(Object.keys(ev).sort()).toEqual(
        ['account', 'detail', 'detail-type', 'id', 'region', 'resources', 'source', 'time', 'version'].sort(),
      );
      const detail = ev['detail'] as Record<string, unknown>;
      expect(Object.keys(detail).sort()).toEqual([
        'eventBody',
        'metadata',
        'timestamp',
        'topicName',
        'version',
      ]);
      expect(ev['detail-type']).toBe(e.topicName.replace(/[0-9a-f-]{36}/g, '{id}'));
      expect(ev['time']).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
      const model = TOPIC_MODELS.find(([re]) => re.test(e.topicName))?.[1] ?? 'missing';
      problems.push(...unknownKeys(detail['eventBody'], model, e.topicName));
    }
    expect([...new Set(problems)]).toEqual([]);
  });
});
