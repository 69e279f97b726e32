/**
 * asyncapi.yaml is the topic contract for other teams: it must be a valid AsyncAPI 3 document (the official
 * parser, with the Avro schema parser resolving schemas/*.avsc) and say exactly what the code does — topic names
 * (config defaults), cleanup and retention, keys, value schemas, headers, and which process writes and reads each
 * topic (src/kafka/topics.ts) — so it cannot drift.
 */
import { readFileSync } from 'node:fs';
import { AvroSchemaParser } from '@asyncapi/avro-schema-parser';
import { fromFile, Parser } from '@asyncapi/parser';
import { parse as parseYaml } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { SETTINGS } from '../../src/config.ts';
import type { Config } from '../../src/config.ts';
import { loadCustodySchema } from '../../src/kafka/avro-codec.ts';
import type { SchemaName } from '../../src/kafka/avro-codec.ts';
import { topicOfSchema } from '../../src/kafka/record-codecs.ts';
import { SESSION_TAGS_HEADERS, TOPIC_SPECS } from '../../src/kafka/topics.ts';
import { TAGS_ORIGIN_HEADER } from '../../src/backfill/backfill.ts';
import type { TopicRole } from '../../src/kafka/topics.ts';

const FILE = new URL('../../asyncapi.yaml', import.meta.url).pathname;

type Ref = { $ref: string };
type Channel = {
  address: string | null;
  messages: Record<string, Ref>;
  bindings?: { kafka?: { topic?: string; topicConfiguration?: Record<string, unknown> } };
  'x-custody-internal'?: boolean;
};
type Operation = { action: 'send' | 'receive'; channel: Ref; 'x-custody-process': string };
type Message = {
  headers?: { properties?: Record<string, unknown>; required?: string[] };
  payload: { schemaFormat?: string; schema?: Ref };
  bindings: { kafka: { key: { description: string }; schemaIdLocation?: string } };
};
type Doc = {
  channels: Record<string, Channel>;
  operations: Record<string, Operation>;
  components: { messages: Record<string, Message> };
};

const doc = parseYaml(readFileSync(FILE, 'utf8')) as Doc;

/** The setting that names a role's topic: sessionTags → CUSTODY_TOPIC_SESSION_TAGS. */
function settingOf(role: TopicRole): keyof typeof SETTINGS {
  return `CUSTODY_TOPIC_${role.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}` as keyof typeof SETTINGS;
}

const defaultTopics = Object.fromEntries(
  TOPIC_SPECS.map((s) => [s.role, (SETTINGS[settingOf(s.role)] as { default: string }).default]),
) as unknown as Config['topics'];

function messageOf(channel: Channel): Message {
  const refs = Object.values(channel.messages);
  expect(refs).toHaveLength(1);
  const name = refs[0]?.$ref.replace('#/components/messages/', '') ?? '';
  const message = doc.components.messages[name];
  if (!message) throw new Error(`no message ${name}`);
  return message;
}

const SCHEMAS: readonly SchemaName[] = [
  'notification.v1',
  'session-tags.v1',
  'dead-letter.v1',
  'recording-export.v1',
  'manifest-written.v1',
];

describe('asyncapi.yaml', () => {
  let parsed: Awaited<ReturnType<ReturnType<typeof fromFile>['parse']>>;
  beforeAll(async () => {
    const parser = new Parser();
    parser.registerSchemaParser(AvroSchemaParser());
    parsed = await fromFile(parser, FILE).parse();
  });

  it('is a valid AsyncAPI 3 document (no error from the parser, .avsc files resolved)', () => {
    const errors = parsed.diagnostics.filter((d) => d.severity === 0);
    expect(errors.map((d) => `${d.path.join('.')}: ${d.message}`)).toEqual([]);
    expect(parsed.document?.version()).toMatch(/^3\./);
    expect(parsed.document?.channels().length).toBe(TOPIC_SPECS.length + 2);
    // The Avro payloads were read from schemas/: each message's schema has the record's fields.
    const manifests = parsed.document?.channels().get('manifests')?.messages().all()[0];
    const props = Object.keys(manifests?.payload()?.properties() ?? {});
    expect(props).toContain('manifestSha256');
  });

  it('has one channel per topic in src/kafka/topics.ts, named, cleaned and kept as the code does', () => {
    for (const spec of TOPIC_SPECS) {
      const channel = doc.channels[spec.role];
      expect(channel, spec.role).toBeDefined();
      const topic = defaultTopics[spec.role];
      expect(channel?.address, spec.role).toBe(topic);
      expect(channel?.bindings?.kafka?.topic, spec.role).toBe(topic);
      const config = channel?.bindings?.kafka?.topicConfiguration ?? {};
      expect(config['cleanup.policy'], spec.role).toEqual([spec.cleanup]);
      expect(config['retention.ms'], spec.role).toBe(spec.retentionMs);
      expect(messageOf(channel as Channel).bindings.kafka.key.description, spec.role).toBe(spec.key);
      expect(channel?.['x-custody-internal'] ?? false, spec.role).toBe(spec.role === 'sinkState');
    }
    // Besides custody's own topics, only the optional inputs a deployment bridges: S3 events (no default name)
    // and Genesys EventBridge events.
    const extra = Object.keys(doc.channels).filter((c) => !TOPIC_SPECS.some((s) => s.role === c));
    expect(extra).toEqual(['s3Events', 'eventBridge']);
    expect(doc.channels['eventBridge']?.address).toBe(SETTINGS.CUSTODY_TOPIC_EVENTBRIDGE.default);
    expect(doc.channels['s3Events']?.address).toBeNull();
    expect(SETTINGS.CUSTODY_EXPORTS_S3_EVENTS_TOPIC).not.toHaveProperty('default');
  });

  it('names the .avsc file of each topic as its value schema, read from the schema id in the payload', () => {
    for (const name of SCHEMAS) {
      const role = TOPIC_SPECS.find(
        (s) => defaultTopics[s.role] === topicOfSchema(defaultTopics, name),
      )?.role;
      const message = messageOf(doc.channels[role as string] as Channel);
      expect(message.payload.schema?.$ref, name).toBe(`./schemas/${name}.avsc`);
      expect(message.payload.schemaFormat).toMatch(/^application\/vnd\.apache\.avro/);
      expect(message.bindings.kafka.schemaIdLocation).toBe('payload');
      // The record name the registry and the parser see is the one custody writes.
      const avsc = JSON.parse(
        readFileSync(new URL(`../../schemas/${name}.avsc`, import.meta.url), 'utf8'),
      ) as {
        name: string;
        namespace: string;
      };
      expect(`${avsc.namespace}.${avsc.name}`).toBe(loadCustodySchema(name).name);
    }
  });

  it('lists the headers custody writes', () => {
    const withHeaders = Object.entries(doc.channels).filter(([, c]) => messageOf(c).headers !== undefined);
    expect(withHeaders.map(([role]) => role)).toEqual(['sessionTags']);
    const headers = messageOf(doc.channels['sessionTags'] as Channel).headers;
    expect(Object.keys(headers?.properties ?? {}).sort()).toEqual(
      [...Object.values(SESSION_TAGS_HEADERS), TAGS_ORIGIN_HEADER].sort(),
    );
    expect([...(headers?.required ?? [])].sort()).toEqual(Object.values(SESSION_TAGS_HEADERS).sort());
  });

  it('says which process writes and reads each topic, as src/kafka/topics.ts does', () => {
    const fromDoc = (action: 'send' | 'receive', role: string) =>
      Object.values(doc.operations)
        .filter((o) => o.action === action && o.channel.$ref === `#/channels/${role}`)
        .map((o) => o['x-custody-process'])
        .sort();
    for (const spec of TOPIC_SPECS) {
      expect(fromDoc('send', spec.role), `${spec.role} producers`).toEqual([...spec.producers].sort());
      expect(fromDoc('receive', spec.role), `${spec.role} consumers`).toEqual([...spec.consumers].sort());
    }
    expect(fromDoc('receive', 's3Events')).toEqual(['exports watch']);
    expect(fromDoc('send', 's3Events')).toEqual([]);
  });
});
