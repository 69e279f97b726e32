/**
 * The encoders and decoders of custody's records, in the wire format the deployment chose: Confluent
 * Schema Registry framing when SCHEMA_REGISTRY_URL is set (schemas registered under `{topic}-value`,
 * compatibility BACKWARD, so a consumer that upgrades reads every record already written), Avro single-object
 * encoding otherwise. Decoders read both, so a topic can move from one format to the other without rewriting it.
 */
import type { Config } from '../config.ts';
import {
  AnyFormatDecoder,
  ConfluentCodec,
  loadCustodySchema,
  loadHistoricalSchemas,
  schemaFingerprint,
  singleObjectCodecFor,
  type CustodyRecords,
  type RecordFraming,
  type SchemaName,
} from './avro-codec.ts';
import { FatalError } from '../runtime/errors.ts';
import { SchemaRegistryClient, SchemaRegistryError, valueSubject } from './schema-registry.ts';
import type { CompatibilityLevel } from './schema-registry.ts';

/** The compatibility custody sets on each of its subjects. */
export const SUBJECT_COMPATIBILITY: CompatibilityLevel = 'BACKWARD';

export interface RecordEncoder<T> {
  encode(value: T): Buffer;
  /**
   * How `encode` frames its records, when it is only that (custody's own codecs): another thread may then write the
   * same bytes. Absent on an encoder that does more (a wrapper), whose records only `encode` may write.
   */
  readonly framing?: RecordFraming;
}

export type Encoders = { readonly [N in SchemaName]: RecordEncoder<CustodyRecords[N]> };
export type Decoders = { readonly [N in SchemaName]: AnyFormatDecoder<CustodyRecords[N]> };

/** Which topic carries each schema (the registry subject is named after the topic). */
export function topicOfSchema(topics: Config['topics'], name: SchemaName): string {
  switch (name) {
    case 'notification.v1':
      return topics.notifications;
    case 'session-tags.v1':
      return topics.sessionTags;
    case 'dead-letter.v1':
      return topics.dlq;
    case 'recording-export.v1':
      return topics.recordingExports;
    case 'manifest-written.v1':
      return topics.manifests;
    case 'legal-hold.v1':
      return topics.legalHolds;
    default: {
      const _exhaustive: never = name;
      return _exhaustive;
    }
  }
}

const NAMES = [
  'notification.v1',
  'session-tags.v1',
  'dead-letter.v1',
  'recording-export.v1',
  'manifest-written.v1',
  'legal-hold.v1',
] as const satisfies readonly SchemaName[];

export async function createEncoders(kafka: Config['kafka'], topics: Config['topics']): Promise<Encoders> {
  if (!kafka.schemaRegistryUrl) {
    return Object.fromEntries(NAMES.map((n) => [n, singleObjectCodecFor(n)])) as unknown as Encoders;
  }
  const registry = new SchemaRegistryClient({ url: kafka.schemaRegistryUrl });
  const entries = await Promise.all(
    NAMES.map(async (n) => {
      const type = loadCustodySchema(n);
      const subject = valueSubject(topicOfSchema(topics, n));
      await registry.setCompatibility(subject, SUBJECT_COMPATIBILITY);
      const id = await registry.register(subject, type).catch((e: unknown) => {
        throw refusal(e, n, subject);
      });
      return [n, new ConfluentCodec(type, id)] as const;
    }),
  );
  return Object.fromEntries(entries) as unknown as Encoders;
}

/**
 * A registry's 409 on register means the subject already holds versions this schema cannot follow: no retry helps,
 * so it becomes one fatal line naming the schema, the subject and the registry's reason.
 */
function refusal(e: unknown, name: SchemaName, subject: string): unknown {
  if (!(e instanceof SchemaRegistryError) || e.status !== 409) return e;
  // The registry's reason without the HTTP prefix or a Java exception class name in front of it.
  const why = e.message.replace(/^.*answered 409:?\s*/, '').replace(/^[\w.$]+Exception:\s*/, '');
  // No `cause`: the message already holds the registry's reason, and the fatal line would repeat it.
  return new FatalError(
    `the schema registry refused schemas/${name}.avsc as incompatible with the versions under subject ${subject} ` +
      `(${SUBJECT_COMPATIBILITY})${why ? `: ${why}` : ''}; evolve the schema compatibly (new fields optional ` +
      `with defaults) or write to a new topic`,
    { setting: 'SCHEMA_REGISTRY_URL' },
  );
}

export function createDecoders(kafka: Config['kafka']): Decoders {
  const registry = kafka.schemaRegistryUrl
    ? new SchemaRegistryClient({ url: kafka.schemaRegistryUrl })
    : undefined;
  return Object.fromEntries(
    NAMES.map((n) => {
      const reader = loadCustodySchema(n);
      const writers = new Map([reader, ...loadHistoricalSchemas(n)].map((t) => [schemaFingerprint(t), t]));
      return [
        n,
        new AnyFormatDecoder(reader, {
          resolveSchemaById: registry ? (id) => registry.getTypeById(id) : undefined,
          resolveSchemaByFingerprint: (fp) => writers.get(fp),
        }),
      ];
    }),
  ) as unknown as Decoders;
}
