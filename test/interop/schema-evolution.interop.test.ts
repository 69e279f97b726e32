/**
 * Schema evolution against the real registry (Apicurio, Confluent-compatible API): a v2 of manifest-written with
 * one new optional field is registered and written beside v1 records; the v1 Python consumer and custody's own
 * readers still read both. A change the registry refuses (a new required field) stops custody at start with one
 * clear line.
 */
import { describe, expect, it } from 'vitest';
import type { ManifestWritten } from '../../src/kafka/avro-codec.ts';
import { avroTypeFromSchema, ConfluentCodec, loadCustodySchema } from '../../src/kafka/avro-codec.ts';
import { createDecoders, SUBJECT_COMPATIBILITY } from '../../src/kafka/record-codecs.ts';
import { KafkaRecordProducer } from '../../src/kafka/record-producer.ts';
import { SchemaRegistryClient, SchemaRegistryError, valueSubject } from '../../src/kafka/schema-registry.ts';
import { ensureTopics } from '../../src/kafka/topics.ts';
import { freePort } from '../../infra/local.ts';
import { kafkaClient, uniqueName } from '../support/clients.ts';
import { infraEnv, spawnCustody } from '../support/custody-process.ts';
import { readTopicToEnd } from '../support/kafka-read.ts';
import { consumeWithPython, interop, plain } from './support.ts';

type AvscRecord = {
  type: 'record';
  name: string;
  namespace?: string;
  fields: Array<Record<string, unknown>>;
};

const v1Schema = (): AvscRecord =>
  loadCustodySchema('manifest-written.v1').schema({ exportAttrs: true }) as AvscRecord;

function topicsFor(base: string) {
  return {
    partitions: 1,
    notifications: `${base}.notifications`,
    eventBridge: `${base}.eventbridge`,
    legalHolds: `${base}.legal-holds`,
    sessionTags: `${base}.tags`,
    recordingExports: `${base}.exports`,
    sinkState: `${base}.sink-state`,
    manifests: `${base}.manifests`,
    dlq: `${base}.dlq`,
  };
}

const record = (n: number): ManifestWritten => ({
  conversationId: '6f0c1c9e-3f0e-4d7b-9a51-1b1f3c0d2e4a',
  recordingId: `0b6a7c52-2d1e-4f3a-8c9b-00000000000${n}`,
  bucket: 'exports',
  key: `org/recording-${n}.opus_manifest.json`,
  versionId: n === 1 ? null : `v${n}`,
  manifestVersion: n,
  manifestSha256: 'a'.repeat(64),
  previousManifestSha256: n === 1 ? null : 'b'.repeat(64),
  completeness: n === 1 ? 'incomplete' : 'complete',
  missing: n === 1 ? ['webrtc.client_ip: not yet captured'] : [],
  keyId: 'ed25519:test',
  writtenAtMs: 1_790_000_000_000 + n,
  writerInstance: 'sink-1',
});

describe('schema evolution with the real Schema Registry', () => {
  it('a v2 with a new optional field is registered and written; v1 readers (Python and custody) read both', async () => {
    const registry = new SchemaRegistryClient({ url: interop().registryUrl });
    const topics = topicsFor(uniqueName('evolve'));
    const kafka = kafkaClient('interop-evolution');
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, topics, ['manifests']);
    await admin.disconnect();

    const subject = valueSubject(topics.manifests);
    await registry.setCompatibility(subject, SUBJECT_COMPATIBILITY);
    const v1 = loadCustodySchema('manifest-written.v1');
    const v2Schema = v1Schema();
    v2Schema.fields.push({
      name: 'retainUntilMs',
      type: ['null', 'long'],
      default: null,
      doc: 'v2: when the Object Lock retention of the manifest ends.',
    });
    const v2 = avroTypeFromSchema(v2Schema);
    const id1 = await registry.register(subject, v1);
    const id2 = await registry.register(subject, v2);
    expect(id2).not.toBe(id1);

    const old = record(1);
    const newer = { ...record(2), retainUntilMs: 1_800_000_000_000 };
    const producer = new KafkaRecordProducer(kafka);
    try {
      await producer.send([
        { topic: topics.manifests, key: old.conversationId, value: new ConfluentCodec(v1, id1).encode(old) },
        {
          topic: topics.manifests,
          key: newer.conversationId,
          value: new ConfluentCodec(v2, id2).encode(newer),
        },
      ]);
    } finally {
      await producer.close();
    }

    // The v1 Python consumer: AvroDeserializer with schemas/manifest-written.v1.avsc as its reader schema.
    const python = await consumeWithPython(new Map([[topics.manifests, 'manifest-written.v1']]), {
      registry: true,
    });
    expect(python.map((r) => r.value)).toEqual([plain(old), plain(record(2))]);

    // custody's own reader (schemas/ as they are now) resolves each writer schema by id.
    const decoders = createDecoders({
      brokers: [],
      clientId: 'interop',
      ssl: false,
      schemaRegistryUrl: interop().registryUrl,
    });
    const onKafka = await readTopicToEnd(kafka, topics.manifests);
    const decoded = await Promise.all(
      onKafka.map((r) => decoders['manifest-written.v1'].decode(r.value as Buffer)),
    );
    expect(decoded).toEqual([old, record(2)]);
  });

  it('the registry refuses an incompatible change (a new required field)', async () => {
    const registry = new SchemaRegistryClient({ url: interop().registryUrl });
    const subject = valueSubject(`${uniqueName('refuse')}.manifests`);
    await registry.setCompatibility(subject, SUBJECT_COMPATIBILITY);
    await registry.register(subject, loadCustodySchema('manifest-written.v1'));
    const breaking = v1Schema();
    breaking.fields.push({ name: 'tenant', type: 'string' });
    const err = await registry.register(subject, avroTypeFromSchema(breaking)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SchemaRegistryError);
    expect((err as SchemaRegistryError).status).toBe(409);
  });

  it('custody stops at start with one clear line when the registry refuses its schema', async () => {
    const base = uniqueName('refused');
    const topics = topicsFor(base);
    // The subject already holds an earlier manifest-written without writerInstance: custody's schema adds it as
    // a required field, which BACKWARD compatibility refuses (old records would have no value for it).
    const subject = valueSubject(topics.manifests);
    const registry = new SchemaRegistryClient({ url: interop().registryUrl });
    await registry.setCompatibility(subject, SUBJECT_COMPATIBILITY);
    const earlier = v1Schema();
    earlier.fields = earlier.fields.filter((f) => f['name'] !== 'writerInstance');
    await registry.register(subject, avroTypeFromSchema(earlier));

    const watch = spawnCustody(['exports', 'watch'], {
      ...infraEnv(),
      S3_BUCKET: base,
      SCHEMA_REGISTRY_URL: interop().registryUrl,
      CUSTODY_HTTP_PORT: String(await freePort()),
      CUSTODY_TOPIC_PARTITIONS: '1',
      CUSTODY_TOPIC_NOTIFICATIONS: topics.notifications,
      CUSTODY_TOPIC_SESSION_TAGS: topics.sessionTags,
      CUSTODY_TOPIC_RECORDING_EXPORTS: topics.recordingExports,
      CUSTODY_TOPIC_SINK_STATE: topics.sinkState,
      CUSTODY_TOPIC_MANIFESTS: topics.manifests,
      CUSTODY_TOPIC_DLQ: topics.dlq,
    });
    expect(await watch.exited).toBe(78);
    const fatal = watch.logs().filter((l) => l['level'] === 'fatal');
    expect(fatal).toHaveLength(1);
    const msg = String(fatal[0]?.['msg']);
    expect(msg).toContain('refused schemas/manifest-written.v1.avsc as incompatible');
    expect(msg).toContain(`subject ${subject}`);
    expect(msg).toContain(SUBJECT_COMPATIBILITY);
    expect(fatal[0]?.['setting']).toBe('SCHEMA_REGISTRY_URL');
  });
});
