/** The four codecs the sink uses, taken from `createEncoders`/`createDecoders` (src/kafka/record-codecs.ts). */
import type { Config } from '../config.ts';
import type { AnyFormatDecoder, CustodyRecords } from '../kafka/avro-codec.ts';
import { createDecoders, createEncoders } from '../kafka/record-codecs.ts';
import type { RecordEncoder } from '../kafka/record-codecs.ts';

export type SinkCodecs = Readonly<{
  sessionTags: AnyFormatDecoder<CustodyRecords['session-tags.v1']>;
  recordingExport: AnyFormatDecoder<CustodyRecords['recording-export.v1']>;
  legalHold: AnyFormatDecoder<CustodyRecords['legal-hold.v1']>;
  manifestWritten: RecordEncoder<CustodyRecords['manifest-written.v1']>;
  deadLetter: RecordEncoder<CustodyRecords['dead-letter.v1']>;
}>;

/** Builds the sink's codecs for the deployment's wire format. */
export async function createSinkCodecs(
  kafka: Config['kafka'],
  topics: Config['topics'],
): Promise<SinkCodecs> {
  const encoders = await createEncoders(kafka, topics);
  const decoders = createDecoders(kafka);
  return {
    sessionTags: decoders['session-tags.v1'],
    recordingExport: decoders['recording-export.v1'],
    manifestWritten: encoders['manifest-written.v1'],
    deadLetter: encoders['dead-letter.v1'],
    legalHold: decoders['legal-hold.v1'],
  };
}
