/**
 * SchemaRegistryClient against a STAND-IN registry: a tiny node:http server, below, that implements only the three
 * Confluent endpoints custody uses (POST /subjects/{s}/versions, PUT /config/{s}, GET /schemas/ids/{id}). It is
 * not a real Schema Registry (no compatibility checks): test/interop runs custody against a real one (Apicurio).
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadCustodySchema } from '../../../src/kafka/avro-codec.ts';
import {
  SchemaRegistryClient,
  SchemaRegistryError,
  valueSubject,
} from '../../../src/kafka/schema-registry.ts';
import { createEncoders } from '../../../src/kafka/record-codecs.ts';
import { FatalError, isRetriable } from '../../../src/runtime/errors.ts';
import type { ManifestWritten } from '../../../src/kafka/avro-codec.ts';

const manifest: ManifestWritten = {
  conversationId: '6f0c1c9e-3f0e-4d7b-9a51-1b1f3c0d2e4a',
  recordingId: '0b6a7c52-2d1e-4f3a-8c9b-000000000001',
  bucket: 'b',
  key: 'k',
  versionId: null,
  manifestVersion: 1,
  manifestSha256: 'a'.repeat(64),
  previousManifestSha256: null,
  completeness: 'complete',
  missing: [],
  keyId: 'k1',
  writtenAtMs: 1,
  writerInstance: 'sink-1',
};

interface Seen {
  method: string;
  path: string;
  contentType: string | undefined;
  authorization: string | undefined;
  body: unknown;
}

/** The stand-in: schemas by id, ids by schema text, compatibility by subject, and a log of requests. */
const registry = {
  schemas: new Map<number, string>(),
  ids: new Map<string, number>(),
  config: new Map<string, string>(),
  seen: [] as Seen[],
};

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text === '' ? undefined : JSON.parse(text);
}

let server: Server;
let baseUrl: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const path = req.url ?? '';
      registry.seen.push({
        method: req.method ?? '',
        path,
        contentType: req.headers['content-type'],
        authorization: req.headers['authorization'],
        body,
      });
      const send = (status: number, payload: unknown) => {
        res.writeHead(status, { 'content-type': 'application/vnd.schemaregistry.v1+json' });
        res.end(JSON.stringify(payload));
      };
      let m: RegExpExecArray | null;
      if (req.method === 'POST' && /^\/subjects\/[^/]+\/versions$/.test(path)) {
        const schema = (body as { schema?: unknown }).schema;
        if (typeof schema !== 'string') return send(422, { error_code: 42201, message: 'Invalid schema' });
        // The stand-in refuses every schema under subjects named "refused-…", as a registry does an incompatible one.
        if (path.startsWith('/subjects/refused-')) {
          return send(409, {
            error_code: 409,
            message: 'Schema being registered is incompatible with an earlier schema',
          });
        }
        let id = registry.ids.get(schema);
        if (id === undefined) {
          id = registry.schemas.size + 1;
          registry.ids.set(schema, id);
          registry.schemas.set(id, schema);
        }
        return send(200, { id });
      }
      if (req.method === 'PUT' && (m = /^\/config\/([^/]+)$/.exec(path))) {
        const level = (body as { compatibility?: unknown }).compatibility;
        registry.config.set(decodeURIComponent(m[1] ?? ''), String(level));
        return send(200, { compatibility: level });
      }
      if (req.method === 'GET' && (m = /^\/schemas\/ids\/(\d+)$/.exec(path))) {
        const schema = registry.schemas.get(Number(m[1]));
        if (schema === undefined) return send(404, { error_code: 40403, message: 'Schema not found' });
        return send(200, { schema });
      }
      if (path.startsWith('/boom')) return send(503, { error_code: 50301, message: 'unavailable' });
      return send(404, { error_code: 404, message: 'HTTP 404 Not Found' });
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  registry.seen.length = 0;
});

describe('SchemaRegistryClient (against the stand-in registry)', () => {
  it('registers a schema under {topic}-value, caches the id, and fetches the schema back by id', async () => {
    const client = new SchemaRegistryClient({ url: baseUrl });
    const type = loadCustodySchema('session-tags.v1');
    const subject = valueSubject('custody.session-tags.v1');
    expect(subject).toBe('custody.session-tags.v1-value');

    const id = await client.register(subject, type);
    expect(await client.register(subject, type)).toBe(id);
    const posts = registry.seen.filter((s) => s.method === 'POST');
    expect(posts).toHaveLength(1);
    expect(posts[0]?.path).toBe('/subjects/custody.session-tags.v1-value/versions');
    expect(posts[0]?.contentType).toBe('application/vnd.schemaregistry.v1+json');
    // The registered text keeps docs and defaults (the registry is documentation for other teams).
    expect(JSON.parse((posts[0]?.body as { schema: string }).schema)).toMatchObject({
      name: 'io.custody.SessionTagsSnapshot',
    });

    const fresh = new SchemaRegistryClient({ url: baseUrl });
    const back = await fresh.getTypeById(id);
    expect(back.name).toBe('io.custody.SessionTagsSnapshot');
    await fresh.getTypeById(id);
    expect(registry.seen.filter((s) => s.method === 'GET')).toHaveLength(1);
  });

  it('sets BACKWARD compatibility by default', async () => {
    const client = new SchemaRegistryClient({ url: `${baseUrl}/` });
    await client.setCompatibility('genesys.notifications.v1-value');
    expect(registry.config.get('genesys.notifications.v1-value')).toBe('BACKWARD');
    expect(registry.seen[0]).toMatchObject({ method: 'PUT', body: { compatibility: 'BACKWARD' } });
  });

  it('sends URL credentials as basic auth and never puts them in errors', async () => {
    const url = new URL(baseUrl);
    url.username = 'custody';
    url.password = 's3cr3t-pw';
    const client = new SchemaRegistryClient({ url: url.toString() });
    const err = await client.getSchemaById(999).catch((e: unknown) => e);
    expect(registry.seen[0]?.authorization).toBe(
      `Basic ${Buffer.from('custody:s3cr3t-pw').toString('base64')}`,
    );
    expect(err).toBeInstanceOf(SchemaRegistryError);
    expect(err).toMatchObject({ status: 404, registryCode: 40403, retriable: false });
    expect(String((err as Error).message)).not.toContain('s3cr3t-pw');
    expect(String((err as Error).message)).not.toContain('custody:');
  });

  it('uses explicit basic-auth credentials given as a secret object', async () => {
    const client = new SchemaRegistryClient({
      url: baseUrl,
      basicAuth: { username: 'u', password: { reveal: () => 'p' } },
    });
    await client.setCompatibility('x-value', 'BACKWARD');
    expect(registry.seen[0]?.authorization).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
  });

  it('marks 5xx and network failures retriable, and does not cache failures', async () => {
    const boom = new SchemaRegistryClient({ url: `${baseUrl}/boom` });
    await expect(boom.getSchemaById(1)).rejects.toMatchObject({ status: 503, retriable: true });
    await expect(boom.getSchemaById(1)).rejects.toMatchObject({ status: 503 });
    expect(registry.seen).toHaveLength(2);

    const closed = new SchemaRegistryClient({ url: 'http://127.0.0.1:1', requestTimeoutMs: 2_000 });
    await expect(closed.getSchemaById(1)).rejects.toMatchObject({ status: 0, retriable: true });
  });

  it('createEncoders registers under {topic}-value with BACKWARD, and a refusal is fatal and names the schema', async () => {
    const topics = {
      partitions: 1,
      notifications: 'n.v1',
      eventBridge: 'eb.v1',
      legalHolds: 'lh.v1',
      sessionTags: 's.v1',
      recordingExports: 'r.v1',
      sinkState: 'ss.v1',
      manifests: 'm.v1',
      dlq: 'd.v1',
    };
    const kafka = { brokers: [], clientId: 't', ssl: false, schemaRegistryUrl: baseUrl };
    const encoders = await createEncoders(kafka, topics);
    for (const topic of ['n.v1', 's.v1', 'r.v1', 'm.v1', 'd.v1']) {
      expect(registry.config.get(`${topic}-value`), topic).toBe('BACKWARD');
    }
    expect(encoders['manifest-written.v1'].encode(manifest)[0]).toBe(0x00);

    const err = await createEncoders(kafka, { ...topics, manifests: 'refused-m.v1' }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(FatalError);
    expect(isRetriable(err)).toBe(false);
    expect((err as FatalError).setting).toBe('SCHEMA_REGISTRY_URL');
    expect((err as Error).message).toBe(
      'the schema registry refused schemas/manifest-written.v1.avsc as incompatible with the versions under subject ' +
        'refused-m.v1-value (BACKWARD): Schema being registered is incompatible with an earlier schema; evolve the ' +
        'schema compatibly (new fields optional with defaults) or write to a new topic',
    );
  });
});
