/**
 * A consumer custody did not write reads every custody topic: the whole pipeline (emulator → ingest → exports
 * watch → sink, dev/pipeline.ts) runs against real Kafka and S3, once with the real Schema Registry (Confluent
 * framing) and once without (single-object encoding); then Python's confluent-kafka (AvroDeserializer with the
 * registry, fastavro with the .avsc files otherwise) decodes every record of the evidence log, session tags,
 * exports, manifests written and dead letters, and each decoded value must equal what custody handed its encoder
 * (or, for the snapshots ingest's worker encodes, what custody's own reader decodes).
 */
import { generateKeyPairSync } from 'node:crypto';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scenarioEndingNow, startLocalPipeline } from '../../dev/pipeline.ts';
import type { RunningLocalPipeline, ScriptedCall } from '../../dev/pipeline.ts';
import type { SchemaName } from '../../src/kafka/avro-codec.ts';
import { createDecoders, SUBJECT_COMPATIBILITY } from '../../src/kafka/record-codecs.ts';
import { signingKeyOf } from '../../src/sink/signing-key.ts';
import { infra, uniqueName } from '../support/clients.ts';
import { readTopicToEnd } from '../support/kafka-read.ts';
import type { ReadRecord } from '../support/kafka-read.ts';
import { consumeWithPython, interop, meantAsSchema } from './support.ts';
import type { PythonRecord } from './support.ts';

const SPEED = 60;
const EXPORT_AFTER_MINUTES = 1;
const CALLS: readonly ScriptedCall[] = [
  { kind: 'inbound-acd-webrtc', atSeconds: 180, durationSeconds: 60 },
  { kind: 'blind-transfer', atSeconds: 190, durationSeconds: 90 },
];

type Run = {
  pipeline: RunningLocalPipeline;
  /** What custody handed its encoders, by the hex of the bytes they produced. */
  meant: Map<string, { schema: SchemaName; value: unknown }>;
  /** Topic → schema of every topic a consumer outside custody may read. */
  topics: Map<string, SchemaName>;
  kafkaRecords: Map<string, ReadRecord[]>;
  python: PythonRecord[];
};

const hourFolder = (orgId: string, ms: number): string => {
  const d = new Date(ms);
  return `${orgId}/year=${d.getUTCFullYear()}/month=${d.getUTCMonth() + 1}/day=${d.getUTCDate()}/hour=${d.getUTCHours()}/`;
};

/** A deep copy of a value handed to an encoder (plain objects, arrays, Buffers and primitives, as Avro values are). */
function copyAsEncoded(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return Buffer.from(value);
  if (Array.isArray(value)) return value.map(copyAsEncoded);
  if (value !== null && typeof value === 'object') {
    const copy: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) copy[k] = copyAsEncoded(v);
    return copy;
  }
  return value;
}

async function waitForRecords(p: RunningLocalPipeline, topic: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await readTopicToEnd(p.kafka, topic)).length === 0) {
    if (Date.now() > deadline) throw new Error(`no record on ${topic} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Runs the pipeline until it has written to every topic, stops it, then reads everything with Python. Without the
 * registry every producer writes zstd batches (KAFKA_COMPRESSION=zstd), which librdkafka must inflate.
 */
async function runPipeline(registry: boolean): Promise<Run> {
  const name = uniqueName(registry ? 'interop-sr' : 'interop-so');
  const meant = new Map<string, { schema: SchemaName; value: unknown }>();
  const topics = {
    partitions: 3,
    notifications: `${name}.genesys.notifications.v1`,
    eventBridge: `${name}.genesys.eventbridge.v1`,
    legalHolds: `${name}.genesys.legal-holds.v1`,
    sessionTags: `${name}.custody.session-tags.v1`,
    recordingExports: `${name}.custody.recording-exports.v1`,
    sinkState: `${name}.custody.sink-state.v1`,
    manifests: `${name}.custody.manifests.v1`,
    dlq: `${name}.custody.dlq.v1`,
  };
  const pipeline = await startLocalPipeline({
    infra: infra(),
    scenario: scenarioEndingNow(CALLS, {
      seed: 11,
      speed: SPEED,
      exportAfterMinutes: EXPORT_AFTER_MINUTES,
      nowMs: Date.now(),
    }),
    speed: SPEED,
    exportAfterMinutes: EXPORT_AFTER_MINUTES,
    bucket: name,
    topics,
    signer: signingKeyOf(generateKeyPairSync('ed25519').privateKey),
    name,
    schemaRegistryUrl: registry ? interop().registryUrl : undefined,
    compression: registry ? 'none' : 'zstd',
    // A copy as it was at encode time: ingest's snapshots are merged in place after they are encoded.
    onEncode: (schema, value, bytes) =>
      meant.set(bytes.toString('hex'), { schema, value: copyAsEncoded(value) }),
  });
  try {
    await pipeline.waitForManifests(60_000);
    // A key that breaks the export layout: the exports watch dead-letters it (custody.dlq.v1).
    const orgId = pipeline.emulator.org.orgId;
    await pipeline.s3.send(
      new PutObjectCommand({
        Bucket: name,
        Key: `${hourFolder(orgId, Date.now())}conversation_id=not-a-uuid/${name}.opus`,
        Body: 'x',
      }),
    );
    await waitForRecords(pipeline, topics.dlq, 30_000);
  } finally {
    await pipeline.stop();
  }
  const consumed = new Map<string, SchemaName>([
    [topics.notifications, 'notification.v1'],
    [topics.sessionTags, 'session-tags.v1'],
    [topics.recordingExports, 'recording-export.v1'],
    [topics.manifests, 'manifest-written.v1'],
    [topics.dlq, 'dead-letter.v1'],
  ]);
  const kafkaRecords = new Map<string, ReadRecord[]>();
  for (const topic of consumed.keys()) kafkaRecords.set(topic, await readTopicToEnd(pipeline.kafka, topic));
  const python = await consumeWithPython(consumed, { registry });
  return { pipeline, meant, topics: consumed, kafkaRecords, python };
}

/**
 * Every record Python decoded equals what custody meant to write, topic by topic. The session-tags snapshots that
 * ingest's snapshot worker encoded never passed through a main-thread encoder (dev/pipeline.ts); for those, what
 * custody meant is what its own reader decodes (their bytes equal the encoder's, test/unit/ingest), and at least one
 * must be on the topic, so the path ingest runs in production is the one read here.
 */
async function expectSameValues(run: Run, firstByte: number, registryUrl?: string): Promise<void> {
  const decoders = createDecoders({
    brokers: [],
    clientId: 'interop',
    ssl: false,
    schemaRegistryUrl: registryUrl,
  });
  let workerEncoded = 0;
  for (const [topic, schema] of run.topics) {
    const records = run.kafkaRecords.get(topic) ?? [];
    expect(records.length, `records on ${topic}`).toBeGreaterThan(0);
    const decoded = run.python.filter((r) => r.topic === topic);
    expect(decoded, `records Python read from ${topic}`).toHaveLength(records.length);
    for (const r of records) {
      const where = `${topic} ${r.partition}/${r.offset}`;
      expect(r.value?.[0], `${where}: framing`).toBe(firstByte);
      let meant = run.meant.get(r.value?.toString('hex') ?? '');
      if (meant === undefined && schema === 'session-tags.v1' && r.value) {
        meant = { schema, value: await decoders['session-tags.v1'].decode(r.value) };
        workerEncoded++;
      }
      expect(meant, `${where}: custody encoded this record`).toBeDefined();
      expect(meant?.schema).toBe(schema);
      const py = decoded.find((d) => d.partition === r.partition && String(d.offset) === r.offset);
      expect(py, `${where}: read by Python`).toBeDefined();
      expect(py?.key, `${where}: key`).toBe(r.key);
      expect(py?.headers, `${where}: headers`).toEqual(r.headers);
      expect(py?.value, `${where}: value`).toEqual(meantAsSchema(schema, meant?.value));
    }
  }
  expect(workerEncoded, 'session-tags records encoded by the snapshot worker').toBeGreaterThan(0);
}

describe('a Python consumer (confluent-kafka) reads every custody topic', () => {
  describe('with the Schema Registry: Confluent framing', () => {
    let run: Run | undefined;
    beforeAll(async () => {
      run = await runPipeline(true);
    }, 150_000);
    afterAll(() => run?.pipeline.stop());

    it('registers each schema under {topic}-value with BACKWARD compatibility', async () => {
      const url = interop().registryUrl;
      const subjects = (await (await fetch(`${url}/subjects`)).json()) as string[];
      for (const topic of run?.topics.keys() ?? []) {
        expect(subjects).toContain(`${topic}-value`);
        const config = (await (await fetch(`${url}/config/${topic}-value`)).json()) as Record<
          string,
          unknown
        >;
        expect(config['compatibilityLevel'] ?? config['compatibility']).toBe(SUBJECT_COMPATIBILITY);
      }
    });

    it('decodes every record with SchemaRegistryClient + AvroDeserializer into what custody meant', async () => {
      if (!run) throw new Error('the pipeline did not run');
      await expectSameValues(run, 0x00, interop().registryUrl);
    });
  });

  describe('without a registry: single-object encoding in zstd batches, read with fastavro and schemas/', () => {
    let run: Run | undefined;
    beforeAll(async () => {
      run = await runPipeline(false);
    }, 150_000);
    afterAll(() => run?.pipeline.stop());

    it('decodes every record into what custody meant', async () => {
      if (!run) throw new Error('the pipeline did not run');
      await expectSameValues(run, 0xc3);
    });
  });
});
