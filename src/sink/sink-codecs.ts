/**
 * The four codecs the sink uses, taken from `createEncoders`/`createDecoders` (src/kafka/record-codecs.ts).
 *
 * Those currently build codecs only for notification.v1, session-tags.v1 and dead-letter.v1 although their types
 * promise every schema; until that list includes recording-export.v1 and manifest-written.v1, the missing ones are
 * built here the same way (single-object encoding, or the registry under `{topic}-value`). Once record-codecs.ts
 * builds them, this falls through to its codecs unchanged.
 */
import type { Config } from '../config.ts';
import {
  AnyFormatDecoder,
  ConfluentCodec,
  loadCustodySchema,
  loadHistoricalSchemas,
  schemaFingerprint,
  SingleObjectCodec,
} from '../kafka/avro-codec.ts';
import type { CustodyRecords, SchemaName } from '../kafka/avro-codec.ts';
import { createDecoders, createEncoders, topicOfSchema } from '../kafka/record-codecs.ts';
import type { Decoders, Encoders, RecordEncoder } from '../kafka/record-codecs.ts';
import { SchemaRegistryClient, valueSubject } from '../kafka/schema-registry.ts';

export type SinkCodecs = Readonly<{
  sessionTags: AnyFormatDecoder<CustodyRecords['session-tags.v1']>;
  recordingExport: AnyFormatDecoder<CustodyRecords['recording-export.v1']>;
  legalHold: AnyFormatDecoder<CustodyRecords['legal-hold.v1']>;
  manifestWritten: RecordEncoder<CustodyRecords['manifest-written.v1']>;
  deadLetter: RecordEncoder<CustodyRecords['dead-letter.v1']>;
}>;

async function encoderFor<N extends SchemaName>(
  name: N,
  kafka: Config['kafka'],
  topics: Config['topics'],
): Promise<RecordEncoder<CustodyRecords[N]>> {
  const type = loadCustodySchema(name);
  if (!kafka.schemaRegistryUrl) return new SingleObjectCodec<CustodyRecords[N]>(type);
  const registry = new SchemaRegistryClient({ url: kafka.schemaRegistryUrl });
  const subject = valueSubject(topicOfSchema(topics, name));
  await registry.setCompatibility(subject, 'FULL_TRANSITIVE');
  return new ConfluentCodec<CustodyRecords[N]>(type, await registry.register(subject, type));
}

function decoderFor<N extends SchemaName>(
  name: N,
  kafka: Config['kafka'],
): AnyFormatDecoder<CustodyRecords[N]> {
  const reader = loadCustodySchema(name);
  // Records written with an earlier version of the schema (schemas/history) stay readable.
  const writers = new Map([reader, ...loadHistoricalSchemas(name)].map((t) => [schemaFingerprint(t), t]));
  const registry = kafka.schemaRegistryUrl
    ? new SchemaRegistryClient({ url: kafka.schemaRegistryUrl })
    : undefined;
  return new AnyFormatDecoder<CustodyRecords[N]>(reader, {
    resolveSchemaById: registry ? (id) => registry.getTypeById(id) : undefined,
    resolveSchemaByFingerprint: (fp) => writers.get(fp),
  });
}

/** Builds the sink's codecs for the deployment's wire format. */
export async function createSinkCodecs(
  kafka: Config['kafka'],
  topics: Config['topics'],
): Promise<SinkCodecs> {
  const encoders: Partial<Encoders> = await createEncoders(kafka, topics);
  const decoders: Partial<Decoders> = createDecoders(kafka);
  return {
    sessionTags: decoders['session-tags.v1'] ?? decoderFor('session-tags.v1', kafka),
    recordingExport: decoders['recording-export.v1'] ?? decoderFor('recording-export.v1', kafka),
    legalHold: decoders['legal-hold.v1'] ?? decoderFor('legal-hold.v1', kafka),
    manifestWritten:
      encoders['manifest-written.v1'] ?? (await encoderFor('manifest-written.v1', kafka, topics)),
    deadLetter: encoders['dead-letter.v1'] ?? (await encoderFor('dead-letter.v1', kafka, topics)),
  };
}
