import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Type as AvroType } from 'avsc';
import { describe, expect, it } from 'vitest';
import { notificationKeys, parseNotificationFrame } from '../../../src/enrich/genesys-envelope.ts';
import { extractTagObservations } from '../../../src/enrich/session-tags-extract.ts';
import { mergeSessionTags } from '../../../src/enrich/session-tags-merge.ts';
import { extractFromAnalytics } from '../../../src/enrich/session-tags-reconcile.ts';
import {
  AnyFormatDecoder,
  AvroCodecError,
  ConfluentCodec,
  SCHEMA_FILES,
  SingleObjectCodec,
  avroTypeFromSchema,
  crc64Avro,
  decodeAny,
  encodeFramedBatch,
  loadCustodySchema,
  loadHistoricalSchemas,
  SCHEMA_HISTORY,
  parsingCanonicalForm,
  readConfluentSchemaId,
  schemaFingerprint,
  singleObjectCodecFor,
  toPlainData,
} from '../../../src/kafka/avro-codec.ts';
import type { DeadLetter, NotificationRecord, SchemaName } from '../../../src/kafka/avro-codec.ts';
import type { SessionTagsSnapshot } from '../../../src/enrich/session-tags.ts';
import * as F from '../../fixtures/genesys/frames.ts';

/**
 * Test vectors from the Avro project (apache/avro share/test/data/schema-tests.txt): input schema, Parsing
 * Canonical Form, and CRC-64-AVRO fingerprint as a signed 64-bit integer (the Java implementation cross-checks them).
 * `avsc: false` marks inputs avsc rejects (an empty union; a string default for a boolean): only the fingerprint of
 * their canonical text is checked.
 */
const AVRO_VECTORS: { input: string; canonical: string; fingerprint?: bigint; avsc?: false }[] = [
  { input: '"null"', canonical: '"null"', fingerprint: 7195948357588979594n },
  { input: '{"type":"null"}', canonical: '"null"' },
  { input: '"boolean"', canonical: '"boolean"', fingerprint: -6970731678124411036n },
  { input: '"int"', canonical: '"int"', fingerprint: 8247732601305521295n },
  { input: '"long"', canonical: '"long"', fingerprint: -3434872931120570953n },
  { input: '"float"', canonical: '"float"', fingerprint: 5583340709985441680n },
  { input: '"double"', canonical: '"double"', fingerprint: -8181574048448539266n },
  { input: '"bytes"', canonical: '"bytes"', fingerprint: 5746618253357095269n },
  { input: '"string"', canonical: '"string"', fingerprint: -8142146995180207161n },
  { input: '[  ]', canonical: '[]', fingerprint: -1241056759729112623n, avsc: false },
  { input: '[ "int"  ]', canonical: '["int"]', fingerprint: -5232228896498058493n },
  {
    input: '[ "int" , {"type":"boolean"} ]',
    canonical: '["int","boolean"]',
    fingerprint: 5392556393470105090n,
  },
  {
    input: '{"fields":[], "type":"record", "name":"foo"}',
    canonical: '{"name":"foo","type":"record","fields":[]}',
    fingerprint: -4824392279771201922n,
  },
  {
    input: '{"fields":[], "type":"record", "name":"foo", "namespace":"x.y"}',
    canonical: '{"name":"x.y.foo","type":"record","fields":[]}',
    fingerprint: 5916914534497305771n,
  },
  {
    input: '{"fields":[], "type":"record", "name":"a.b.foo", "namespace":"x.y"}',
    canonical: '{"name":"a.b.foo","type":"record","fields":[]}',
    fingerprint: -4616218487480524110n,
  },
  {
    input: '{"fields":[], "type":"record", "name":"foo", "doc":"foo", "aliases":["foo","bar"]}',
    canonical: '{"name":"foo","type":"record","fields":[]}',
    fingerprint: -4824392279771201922n,
  },
  {
    input: '{"fields":[{"type":{"type":"boolean"}, "name":"f1"}], "type":"record", "name":"foo"}',
    canonical: '{"name":"foo","type":"record","fields":[{"name":"f1","type":"boolean"}]}',
    fingerprint: 7843277075252814651n,
  },
  {
    input:
      '{ "fields":[{"type":"boolean", "aliases":[], "name":"f1", "default":"true"}, {"order":"descending","name":"f2","doc":"Hello","type":"int"}], "type":"record", "name":"foo"}',
    canonical:
      '{"name":"foo","type":"record","fields":[{"name":"f1","type":"boolean"},{"name":"f2","type":"int"}]}',
    fingerprint: -4860222112080293046n,
    avsc: false,
  },
  {
    input: '{"type":"enum", "name":"foo", "symbols":["A1"]}',
    canonical: '{"name":"foo","type":"enum","symbols":["A1"]}',
    fingerprint: -6342190197741309591n,
  },
  {
    input: '{"namespace":"x.y.z", "type":"enum", "name":"foo", "doc":"foo bar", "symbols":["A1", "A2"]}',
    canonical: '{"name":"x.y.z.foo","type":"enum","symbols":["A1","A2"]}',
    fingerprint: -4448647247586288245n,
  },
  {
    input: '{"name":"foo","type":"fixed","size":15}',
    canonical: '{"name":"foo","type":"fixed","size":15}',
    fingerprint: 1756455273707447556n,
  },
  {
    input: '{"namespace":"x.y.z", "type":"fixed", "name":"foo", "doc":"foo bar", "size":32}',
    canonical: '{"name":"x.y.z.foo","type":"fixed","size":32}',
    fingerprint: -3064184465700546786n,
  },
  {
    input: '{ "items":{"type":"null"}, "type":"array"}',
    canonical: '{"type":"array","items":"null"}',
    fingerprint: -589620603366471059n,
  },
  {
    input: '{ "values":"string", "type":"map"}',
    canonical: '{"type":"map","values":"string"}',
    fingerprint: -8732877298790414990n,
  },
  {
    input:
      '{"name":"PigValue","type":"record", "fields":[{"name":"value", "type":["null", "int", "long", "PigValue"]}]}',
    canonical:
      '{"name":"PigValue","type":"record","fields":[{"name":"value","type":["null","int","long","PigValue"]}]}',
    fingerprint: -1759257747318642341n,
  },
];

describe('CRC-64-AVRO and Parsing Canonical Form', () => {
  it.each(AVRO_VECTORS.filter((v) => v.fingerprint !== undefined))('fingerprint of $canonical', (v) => {
    expect(BigInt.asIntN(64, crc64Avro(Buffer.from(v.canonical, 'utf8')))).toBe(v.fingerprint);
  });

  it.each(AVRO_VECTORS.filter((v) => v.avsc !== false))('canonical form of $input', (v) => {
    const type = avroTypeFromSchema(v.input);
    expect(parsingCanonicalForm(type)).toBe(v.canonical);
    if (v.fingerprint !== undefined) expect(BigInt.asIntN(64, schemaFingerprint(type))).toBe(v.fingerprint);
  });

  it('gives "null" the fingerprint bytes 8a 8f 25 cc e7 24 dd 63 in a single-object header', () => {
    const codec = new SingleObjectCodec<null>(avroTypeFromSchema('"null"'));
    expect(codec.encode(null).toString('hex')).toBe('c3018a8f25cce724dd63');
    expect(codec.decode(Buffer.from('c3018a8f25cce724dd63', 'hex'))).toBeNull();
  });
});

describe('custody schemas', () => {
  // v1 schemas are frozen: records written with them must stay readable by fingerprint. If this fails because a
  // schema changed, keep the old text (e.g. schemas/history/) for resolution and update the fingerprint here.
  const FROZEN: Record<SchemaName, string> = {
    'notification.v1': '39e6b880f4ef5b20',
    'session-tags.v1': 'ef070d1b6fbb00f6',
    'dead-letter.v1': 'ed39a643a6f136f1',
    'recording-export.v1': '1b1f696a6b7ca06e',
    'manifest-written.v1': 'bebb462976201c6f',
    'legal-hold.v1': '37bbbb4f1b96e228',
  };

  it.each(Object.keys(SCHEMA_FILES) as SchemaName[])(
    '%s: namespace io.custody, every field documented',
    (name) => {
      const schema = JSON.parse(
        readFileSync(new URL(`../../../schemas/${SCHEMA_FILES[name]}`, import.meta.url), 'utf8'),
      );
      expect(schema.namespace).toBe('io.custody');
      const undocumented: string[] = [];
      const visit = (node: unknown, path: string): void => {
        if (Array.isArray(node)) return node.forEach((n, i) => visit(n, `${path}[${i}]`));
        if (typeof node !== 'object' || node === null) return;
        const rec = node as Record<string, unknown>;
        if (rec['type'] === 'record' && typeof rec['doc'] !== 'string') undocumented.push(path);
        for (const f of (rec['fields'] as Record<string, unknown>[] | undefined) ?? []) {
          if (typeof f['doc'] !== 'string') undocumented.push(`${path}.${String(f['name'])}`);
          visit(f['type'], `${path}.${String(f['name'])}`);
        }
        if (rec['items'] !== undefined) visit(rec['items'], path);
        if (rec['values'] !== undefined) visit(rec['values'], path);
      };
      visit(schema, name);
      expect(undocumented).toEqual([]);
      expect(schemaFingerprint(loadCustodySchema(name)).toString(16).padStart(16, '0')).toBe(FROZEN[name]);
    },
  );

  it('uses a null-first union with a null default for every optional field (FULL compatibility)', () => {
    for (const name of Object.keys(SCHEMA_FILES) as SchemaName[]) {
      const text = readFileSync(new URL(`../../../schemas/${SCHEMA_FILES[name]}`, import.meta.url), 'utf8');
      const bad: string[] = [];
      const visit = (node: unknown): void => {
        if (Array.isArray(node)) return node.forEach(visit);
        if (typeof node !== 'object' || node === null) return;
        const rec = node as Record<string, unknown>;
        for (const f of (rec['fields'] as Record<string, unknown>[] | undefined) ?? []) {
          if (Array.isArray(f['type']) && (f['type'][0] !== 'null' || f['default'] !== null))
            bad.push(String(f['name']));
          visit(f['type']);
        }
        if (rec['items'] !== undefined) visit(rec['items']);
      };
      visit(JSON.parse(text));
      expect(bad, name).toEqual([]);
    }
  });
});

const RECEIVED = Date.parse('2026-03-02T10:00:31.123Z');

function notificationRecord(): NotificationRecord {
  const raw = F.text(F.userConversation());
  const env = parseNotificationFrame(raw);
  if (!env.ok) throw new Error(env.error.reason);
  const keys = notificationKeys(env.value);
  return {
    topicName: env.value.topicName ?? null,
    kind: env.value.kind,
    version: env.value.version ?? null,
    correlationId: env.value.correlationId ?? null,
    rejectionCode: null,
    rawFrame: raw,
    rawFrameSha256: createHash('sha256').update(raw, 'utf8').digest('hex'),
    receivedAtMs: RECEIVED,
    channelId: 'streaming-0-fmtdmf8cdis7jh14udg5p89t6z',
    frameSequence: 42,
    ingestInstance: 'custody-ingest-0',
    ingestVersion: '0.1.0',
    conversationId: keys.conversationId ?? null,
    entityId: keys.entityId ?? null,
    transport: null,
    eventBridge: null,
  };
}

function snapshot(): SessionTagsSnapshot {
  const env = parseNotificationFrame(F.text(F.userConversation()));
  if (!env.ok) throw new Error(env.error.reason);
  const live = extractTagObservations(env.value, {
    receivedAt: RECEIVED,
    provenance: 'live',
    userContext: () => ({ stationId: F.IDS.station, stationType: 'inin_webrtc_softphone' }),
  });
  const repaired = extractFromAnalytics(F.analyticsConversation(), {
    receivedAt: RECEIVED + 60_000,
    userContext: () => undefined,
  });
  if (!live.ok || !repaired.ok) throw new Error('extraction failed');
  return mergeSessionTags(undefined, [...live.value, ...repaired.value.observations]);
}

function deadLetter(): DeadLetter {
  return {
    key: Buffer.from(F.IDS.conversation),
    value: Buffer.from([0xc3, 0x01, 0xff]),
    source: {
      kind: 'kafka',
      topic: 'custody.session-tags.v1',
      partition: 3,
      offset: 1_234_567,
      timestampMs: RECEIVED,
      channelId: null,
    },
    stage: 'sink',
    errorCode: 'CUSTODY_SINK_UNDECODABLE',
    reason: 'payload is not a valid Avro datum',
    firstSeenAtMs: RECEIVED + 5,
    instance: 'custody-sink-1',
    headers: { traceparent: Buffer.from('00-abc-def-01') },
  };
}

describe('SingleObjectCodec round-trips', () => {
  it('round-trips a notification record, with the header C3 01 + fingerprint (LE)', () => {
    const codec = singleObjectCodecFor('notification.v1');
    const rec = notificationRecord();
    const bytes = codec.encode(rec);
    expect(bytes.subarray(0, 2).toString('hex')).toBe('c301');
    expect(bytes.readBigUInt64LE(2)).toBe(0x39e6b880f4ef5b20n);
    expect(codec.decode(bytes)).toEqual(rec);
  });

  it('round-trips a notification that came via EventBridge, and reads records of the earlier schema', () => {
    const codec = singleObjectCodecFor('notification.v1');
    const rec: NotificationRecord = {
      ...notificationRecord(),
      transport: 'eventbridge',
      eventBridge: {
        id: '6a7e8feb-b491-4cf7-a9f1-bf3703467718',
        detailType: 'v2.users.{id}.conversations',
        source: 'aws.partner/genesys.com/cloud/3a1f4c2e-0b6d-4e4f-9a55-0c9d2b7e8f10/custody',
        time: '2026-12-04T08:00:01Z',
        detailTimestamp: '2026-12-04T08:00:01.234Z',
        account: '123456789012',
        region: 'eu-west-1',
        bridgeTopic: 'genesys.eventbridge.v1',
        bridgePartition: 2,
        bridgeOffset: 1234,
      },
    };
    expect(codec.decode(codec.encode(rec))).toEqual(rec);
    const [v1] = loadHistoricalSchemas('notification.v1');
    if (v1 === undefined) throw new Error('no notification history');
    const { transport: _t, eventBridge: _e, ...old } = notificationRecord();
    const oldBytes = new SingleObjectCodec<typeof old>(v1).encode(old);
    expect(codec.decode(oldBytes)).toEqual({ ...old, transport: null, eventBridge: null });
  });

  it('round-trips a session-tags snapshot with live and reconciled fields', () => {
    const codec = singleObjectCodecFor('session-tags.v1');
    const snap = snapshot();
    expect(snap.legs.length).toBe(3);
    expect(codec.decode(codec.encode(snap))).toEqual(snap);
  });

  it('decodes records as plain data, exactly what a JSON round trip gives, also through an earlier schema', () => {
    const isPlain = (v: unknown): boolean =>
      v === null ||
      typeof v !== 'object' ||
      (Array.isArray(v)
        ? v.every(isPlain)
        : Object.getPrototypeOf(v) === Object.prototype && Object.values(v).every(isPlain));
    const codec = singleObjectCodecFor('session-tags.v1');
    const decoded = codec.decode(codec.encode(snapshot()));
    expect(isPlain(decoded)).toBe(true);
    expect(decoded).toStrictEqual(JSON.parse(JSON.stringify(decoded)));
    expect(decoded).toStrictEqual(snapshot());
    expect(toPlainData(decoded)).toStrictEqual(decoded);
    // Through a resolver (a record of the earlier notification schema), with defaults filled in.
    const notifications = singleObjectCodecFor('notification.v1');
    const [v1] = loadHistoricalSchemas('notification.v1');
    if (v1 === undefined) throw new Error('no notification history');
    const { transport: _t, eventBridge: _e, ...old } = notificationRecord();
    const back = notifications.decode(new SingleObjectCodec<typeof old>(v1).encode(old));
    expect(isPlain(back)).toBe(true);
    expect(back).toStrictEqual({ ...old, transport: null, eventBridge: null });
    // A schema from anywhere (a registry's writer schema), records nested in arrays and unions.
    const type = avroTypeFromSchema({
      type: 'record',
      name: 'Outer',
      fields: [
        {
          name: 'items',
          type: {
            type: 'array',
            items: { type: 'record', name: 'Item', fields: [{ name: 'n', type: 'int' }] },
          },
        },
        {
          name: 'maybe',
          type: ['null', { type: 'record', name: 'Inner', fields: [{ name: 's', type: 'string' }] }],
        },
      ],
    });
    const nested = type.fromBuffer(
      type.toBuffer({ items: [{ n: 1 }, { n: 2 }], maybe: { s: 'x' } }),
    ) as unknown;
    expect(isPlain(nested)).toBe(true);
    expect(nested).toStrictEqual({ items: [{ n: 1 }, { n: 2 }], maybe: { s: 'x' } });
  });

  it('round-trips a dead letter with bytes and headers', () => {
    const codec = singleObjectCodecFor('dead-letter.v1');
    const dl = deadLetter();
    const back = codec.decode(codec.encode(dl));
    expect(back).toEqual(dl);
    expect(Buffer.isBuffer(back.value)).toBe(true);
  });

  it('refuses an invalid value without echoing it', () => {
    const codec = singleObjectCodecFor('notification.v1');
    const bad = { ...notificationRecord(), channelId: 12345 } as unknown as NotificationRecord;
    expect(() => codec.encode(bad)).toThrowError(AvroCodecError);
    let caught: unknown;
    try {
      codec.encode({ ...bad, rawFrame: 'secret-token-abc', channelId: null as unknown as string });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(AvroCodecError);
    expect((caught as AvroCodecError).code).toBe('invalid-value');
    expect((caught as Error).message).toContain('channelId');
    expect((caught as Error).message).not.toContain('secret-token-abc');
  });

  it('gives every record its own bytes although encoding reuses one scratch buffer, at any size', () => {
    const codec = singleObjectCodecFor('notification.v1');
    const small = { ...notificationRecord(), rawFrame: 'a'.repeat(100) };
    // Larger than the 64 KiB scratch buffer: it grows, and the record still round-trips.
    const large = { ...notificationRecord(), rawFrame: 'b'.repeat(300_000) };
    const first = codec.encode(small);
    const firstCopy = Buffer.from(first);
    const second = codec.encode(large);
    const third = codec.encode(small);
    expect(first.equals(firstCopy)).toBe(true);
    expect(codec.decode(first)).toEqual(small);
    expect(codec.decode(second)).toEqual(large);
    expect(third.equals(first)).toBe(true);
    expect(third.buffer === first.buffer && third.byteOffset === first.byteOffset).toBe(false);
    // A failed encode leaves nothing behind: the next record is encoded whole.
    expect(() => codec.encode({ ...small, channelId: 1 } as unknown as NotificationRecord)).toThrowError(
      AvroCodecError,
    );
    expect(codec.decode(codec.encode(small))).toEqual(small);
  });

  it("encodes a batch in one owned buffer, each record the codec's own bytes, across growths of the scratch", () => {
    for (const codec of [
      singleObjectCodecFor('notification.v1'),
      new ConfluentCodec(loadCustodySchema('notification.v1'), 42),
    ]) {
      const { header, fingerprint } = codec.framing;
      expect(fingerprint).toBe(schemaFingerprint(codec.type));
      // Sizes around and past the 64 KiB scratch, so it grows between values and within a value.
      const values = [100, 40_000, 70_000, 5, 300_000, 1].map((n, i) => ({
        ...notificationRecord(),
        rawFrame: String.fromCharCode(97 + i).repeat(n),
      }));
      const { bytes, ends } = encodeFramedBatch(codec.type, header, values);
      expect(bytes.buffer.byteLength).toBe(bytes.length);
      expect(ends.at(-1)).toBe(bytes.length);
      values.forEach((v, i) =>
        expect(Buffer.from(bytes.subarray(i === 0 ? 0 : ends[i - 1], ends[i])).equals(codec.encode(v))).toBe(
          true,
        ),
      );
      expect(encodeFramedBatch(codec.type, header, []).bytes.length).toBe(0);
      const bad = { ...notificationRecord(), channelId: 1 };
      expect(() => encodeFramedBatch(codec.type, header, [values[0], bad])).toThrowError(AvroCodecError);
    }
  });

  it('refuses unknown fingerprints, bad headers and truncated payloads', () => {
    const codec = singleObjectCodecFor('notification.v1');
    const bytes = codec.encode(notificationRecord());
    const otherFp = Buffer.from(bytes);
    otherFp[5] = (otherFp[5] ?? 0) ^ 0xff;
    expect(() => codec.decode(otherFp)).toThrow(expect.objectContaining({ code: 'unknown-schema' }));
    expect(() => codec.decode(Buffer.from('c301', 'hex'))).toThrow(
      expect.objectContaining({ code: 'bad-header' }),
    );
    expect(() => codec.decode(bytes.subarray(0, bytes.length - 3))).toThrow(
      expect.objectContaining({ code: 'bad-payload' }),
    );
  });
});

/** A hypothetical v1.1 of the notification schema: one more optional field, as FULL_TRANSITIVE allows. */
function notificationV1_1(): AvroType {
  const schema = JSON.parse(
    readFileSync(new URL('../../../schemas/notification.v1.avsc', import.meta.url), 'utf8'),
  );
  schema.fields.push({
    name: 'socketRemoteAddress',
    type: ['null', 'string'],
    default: null,
    doc: 'Remote address of the Genesys streaming endpoint.',
  });
  return avroTypeFromSchema(schema);
}

describe('schema evolution', () => {
  it('reads v1 bytes with a v1.1 reader (new optional field → null) and v1.1 bytes with a v1 reader', () => {
    const v1 = loadCustodySchema('notification.v1');
    const v11 = notificationV1_1();
    const rec = notificationRecord();
    const v1Bytes = new SingleObjectCodec<NotificationRecord>(v1).encode(rec);

    const newReader = new SingleObjectCodec<NotificationRecord & { socketRemoteAddress: string | null }>(v11);
    expect(() => newReader.decode(v1Bytes)).toThrow(expect.objectContaining({ code: 'unknown-schema' }));
    newReader.addWriterSchema(v1);
    expect(newReader.decode(v1Bytes)).toEqual({ ...rec, socketRemoteAddress: null });

    const v11Bytes = newReader.encode({ ...rec, socketRemoteAddress: '198.51.100.9' });
    const oldReader = new SingleObjectCodec<NotificationRecord>(v1).addWriterSchema(v11);
    expect(oldReader.decode(v11Bytes)).toEqual(rec);
  });

  it('keeps each earlier writer schema under its own fingerprint, and reads its records with the current schema', () => {
    for (const [name, files] of Object.entries(SCHEMA_HISTORY) as [SchemaName, string[]][]) {
      const old = loadHistoricalSchemas(name);
      expect(old.map((t) => `${name}.${schemaFingerprint(t).toString(16).padStart(16, '0')}.avsc`)).toEqual(
        files,
      );
    }
    const [v1] = loadHistoricalSchemas('session-tags.v1');
    if (v1 === undefined) throw new Error('no session-tags history');
    const env = parseNotificationFrame(F.text(F.userConversation()));
    if (!env.ok) throw new Error(env.error.reason);
    const obs = extractTagObservations(env.value, {
      receivedAt: 1,
      provenance: 'live',
      userContext: () => undefined,
    });
    if (!obs.ok) throw new Error(obs.error.reason);
    const current = mergeSessionTags(undefined, obs.value);
    const oldBytes = new SingleObjectCodec<SessionTagsSnapshot>(v1).encode(current);
    const decoded = singleObjectCodecFor('session-tags.v1').decode(oldBytes);
    // What the old schema could not carry comes back as its default (null); everything else is unchanged.
    const oldLegFields = new Set(
      (
        (v1.schema() as { fields: { type: { items: { fields: { name: string }[] } } }[] }).fields[1]?.type
          .items.fields ?? []
      ).map((f) => f.name),
    );
    const expected = JSON.parse(
      JSON.stringify(
        {
          ...current,
          legs: current.legs.map((l) =>
            Object.fromEntries(Object.entries(l).map(([k, v]) => [k, oldLegFields.has(k) ? v : null])),
          ),
        },
        (k, v: unknown) => (k === 'field' ? null : v),
      ),
    ) as SessionTagsSnapshot;
    expect(oldLegFields.has('state')).toBe(false);
    expect(current.legs.some((l) => l.state !== null)).toBe(true);
    expect(JSON.parse(JSON.stringify(decoded))).toEqual(expected);
    expect(JSON.stringify(current)).toContain('"field":"self.addressRaw"');
  });

  it('refuses a writer schema the reader cannot resolve', () => {
    const reader = new SingleObjectCodec<NotificationRecord>(loadCustodySchema('notification.v1'));
    const unrelated = avroTypeFromSchema({
      type: 'record',
      name: 'Other',
      fields: [{ name: 'x', type: 'int' }],
    });
    reader.addWriterSchema(unrelated);
    const bytes = new SingleObjectCodec<{ x: number }>(unrelated).encode({ x: 1 });
    expect(() => reader.decode(bytes)).toThrow(expect.objectContaining({ code: 'incompatible-schema' }));
  });
});

describe('Confluent wire format and decodeAny', () => {
  it('writes magic byte 0 and the schema id big-endian', () => {
    const codec = new ConfluentCodec<NotificationRecord>(loadCustodySchema('notification.v1'), 0x01020304);
    const bytes = codec.encode(notificationRecord());
    expect(bytes.subarray(0, 5).toString('hex')).toBe('0001020304');
    expect(readConfluentSchemaId(bytes)).toBe(0x01020304);
    expect(() => new ConfluentCodec(loadCustodySchema('notification.v1'), -1)).toThrow(RangeError);
  });

  it('dispatches on the first byte and resolves old writers by id or fingerprint', async () => {
    const v1 = loadCustodySchema('notification.v1');
    const v11 = notificationV1_1();
    const rec = notificationRecord();
    const requested: number[] = [];
    const decoder = new AnyFormatDecoder<Record<string, unknown>>(v11, {
      resolveSchemaById: async (id) => {
        requested.push(id);
        if (id !== 7) throw new Error('unknown id');
        return v1;
      },
      resolveSchemaByFingerprint: (fp) => (fp === schemaFingerprint(v1) ? v1 : undefined),
    });
    const expected = { ...rec, socketRemoteAddress: null };
    expect(await decoder.decode(new ConfluentCodec(v1, 7).encode(rec))).toEqual(expected);
    expect(await decoder.decode(new SingleObjectCodec(v1).encode(rec))).toEqual(expected);
    expect(requested).toEqual([7]);
    await expect(decoder.decode(Buffer.from('{"json":true}'))).rejects.toMatchObject({
      code: 'unknown-wire-format',
    });
    await expect(decoder.decode(Buffer.alloc(0))).rejects.toMatchObject({ code: 'unknown-wire-format' });
  });

  it('decodeAny reports a Confluent record when no registry is configured', async () => {
    const v1 = loadCustodySchema('notification.v1');
    const bytes = new ConfluentCodec(v1, 3).encode(notificationRecord());
    await expect(decodeAny(bytes, v1, {})).rejects.toMatchObject({ code: 'unknown-schema' });
    expect(await decodeAny(new SingleObjectCodec(v1).encode(notificationRecord()), v1, {})).toEqual(
      notificationRecord(),
    );
  });
});
