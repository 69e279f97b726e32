/**
 * A minimal Confluent-compatible Schema Registry client over fetch: exactly the three calls custody needs.
 *
 * - `POST /subjects/{subject}/versions` registers (or finds) a schema and returns its global id;
 * - `PUT /config/{subject}` sets the subject's compatibility (custody uses BACKWARD: a consumer upgraded to the
 *   latest schema reads every record already written; see record-codecs.ts);
 * - `GET /schemas/ids/{id}` fetches a writer schema by id.
 * Results are cached (ids and schemas are immutable in a registry). Errors carry the HTTP status and the registry's
 * error code, never credentials: userinfo in the URL is moved into an Authorization header and never echoed.
 */
import type { Type as AvroType } from 'avsc';
import { avroTypeFromSchema } from './avro-codec.ts';

/** Subject compatibility levels (Confluent Schema Registry). */
export type CompatibilityLevel =
  'BACKWARD' | 'BACKWARD_TRANSITIVE' | 'FORWARD' | 'FORWARD_TRANSITIVE' | 'FULL' | 'FULL_TRANSITIVE' | 'NONE';

/** A failed registry call. `status` is the HTTP status (0 when no response arrived). */
export class SchemaRegistryError extends Error {
  readonly status: number;
  /** The registry's `error_code` (e.g. 40401 subject not found, 409 incompatible), when it sent one. */
  readonly registryCode: number | undefined;
  /** Transient (network, 429, 5xx): the caller may retry with back-off. */
  readonly retriable: boolean;
  constructor(
    message: string,
    status: number,
    registryCode: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'SchemaRegistryError';
    this.status = status;
    this.registryCode = registryCode;
    this.retriable = status === 0 || status === 429 || status >= 500;
  }
}

/** Options of {@link SchemaRegistryClient}. */
export interface SchemaRegistryOptions {
  /** Registry base URL (may carry `user:password@`, which becomes basic auth). */
  url: string;
  /** Basic-auth credentials; override URL userinfo. `password` may be any object whose `reveal()` gives the text. */
  basicAuth?: { username: string; password: string | { reveal(): string } };
  /** Per-request timeout in milliseconds (default 10 000). */
  requestTimeoutMs?: number;
  /** The fetch implementation (default: the global one). */
  fetch?: typeof fetch;
}

const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

/** The registry subject of a topic's record values (TopicNameStrategy). */
export function valueSubject(topic: string): string {
  return `${topic}-value`;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Client for one registry. Safe to share; concurrent identical lookups share one request. */
export class SchemaRegistryClient {
  readonly #baseUrl: string;
  readonly #authorization: string | undefined;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;
  readonly #idsBySubjectSchema = new Map<string, Promise<number>>();
  readonly #schemasById = new Map<number, Promise<string>>();
  readonly #typesById = new Map<number, Promise<AvroType>>();

  constructor(options: SchemaRegistryOptions) {
    const url = new URL(options.url);
    let authorization: string | undefined;
    if (url.username !== '' || url.password !== '') {
      const user = decodeURIComponent(url.username);
      const pass = decodeURIComponent(url.password);
      authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
      url.username = '';
      url.password = '';
    }
    if (options.basicAuth !== undefined) {
      const { username, password } = options.basicAuth;
      const pass = typeof password === 'string' ? password : password.reveal();
      authorization = `Basic ${Buffer.from(`${username}:${pass}`).toString('base64')}`;
    }
    this.#baseUrl = url.toString().replace(/\/+$/, '');
    this.#authorization = authorization;
    this.#timeoutMs = options.requestTimeoutMs ?? 10_000;
    this.#fetch = options.fetch ?? globalThis.fetch;
  }

  /** Registers `schema` under `subject` (idempotent: an identical schema returns its existing id). */
  register(subject: string, schema: AvroType | string): Promise<number> {
    const text = typeof schema === 'string' ? schema : JSON.stringify(schema.schema({ exportAttrs: true }));
    const cacheKey = `${subject}\u0000${text}`;
    let pending = this.#idsBySubjectSchema.get(cacheKey);
    if (pending === undefined) {
      pending = this.#call('POST', `/subjects/${encodeURIComponent(subject)}/versions`, {
        schema: text,
      }).then((body) => {
        const id = isRecord(body) ? body['id'] : undefined;
        if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
          throw new SchemaRegistryError('registry answered register without a schema id', 200, undefined);
        }
        return id;
      });
      this.#remember(this.#idsBySubjectSchema, cacheKey, pending);
    }
    return pending;
  }

  /** Sets the compatibility level of `subject` (default BACKWARD, the Confluent default). */
  async setCompatibility(subject: string, level: CompatibilityLevel = 'BACKWARD'): Promise<void> {
    const body = await this.#call('PUT', `/config/${encodeURIComponent(subject)}`, { compatibility: level });
    const answered = isRecord(body) ? body['compatibility'] : undefined;
    if (answered !== level) {
      throw new SchemaRegistryError('registry did not confirm the compatibility level', 200, undefined);
    }
  }

  /** The schema text registered under `id`. */
  getSchemaById(id: number): Promise<string> {
    let pending = this.#schemasById.get(id);
    if (pending === undefined) {
      pending = this.#call('GET', `/schemas/ids/${id}`, undefined).then((body) => {
        const schema = isRecord(body) ? body['schema'] : undefined;
        if (typeof schema !== 'string') {
          throw new SchemaRegistryError('registry answered without a schema', 200, undefined);
        }
        return schema;
      });
      this.#remember(this.#schemasById, id, pending);
    }
    return pending;
  }

  /** The compiled Avro type registered under `id` (for `AnyFormatDecoder`'s `resolveSchemaById`). */
  getTypeById(id: number): Promise<AvroType> {
    let pending = this.#typesById.get(id);
    if (pending === undefined) {
      pending = this.getSchemaById(id).then((text) => avroTypeFromSchema(text));
      this.#remember(this.#typesById, id, pending);
    }
    return pending;
  }

  /** Caches a pending result; a failure is evicted so that the next call retries. */
  #remember<K, V>(cache: Map<K, Promise<V>>, key: K, pending: Promise<V>): void {
    cache.set(key, pending);
    pending.catch(() => cache.delete(key));
  }

  async #call(method: string, path: string, body: unknown): Promise<unknown> {
    const headers: Record<string, string> = { accept: CONTENT_TYPE };
    if (body !== undefined) headers['content-type'] = CONTENT_TYPE;
    if (this.#authorization !== undefined) headers['authorization'] = this.#authorization;
    let res: Response;
    try {
      res = await this.#fetch(`${this.#baseUrl}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (cause) {
      throw new SchemaRegistryError(`schema registry ${method} ${path} failed: no response`, 0, undefined, {
        cause,
      });
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (!res.ok) {
      const code =
        isRecord(parsed) && typeof parsed['error_code'] === 'number' ? parsed['error_code'] : undefined;
      const detail =
        isRecord(parsed) && typeof parsed['message'] === 'string'
          ? `: ${parsed['message'].slice(0, 300)}`
          : '';
      throw new SchemaRegistryError(
        `schema registry ${method} ${path} answered ${res.status}${detail}`,
        res.status,
        code,
      );
    }
    if (parsed === undefined) {
      throw new SchemaRegistryError(
        `schema registry ${method} ${path} answered ${res.status} without JSON`,
        res.status,
        undefined,
      );
    }
    return parsed;
  }
}
