/**
 * The sink's one error class. `retriable` errors (lost too many races, S3/Kafka trouble) fail the batch so that
 * kafkajs retries it from the last committed offset; the others are poison for the record that triggered them and
 * go to the dead-letter topic.
 */
import type { SinkErrorCode } from './sink-records.ts';

export type SinkFailureCode = SinkErrorCode | 'CUSTODY_SINK_CONFLICTS';

export class SinkError extends Error {
  readonly code: SinkFailureCode;
  readonly retriable: boolean;
  constructor(code: SinkFailureCode, message: string, retriable: boolean) {
    super(message);
    this.name = 'SinkError';
    this.code = code;
    this.retriable = retriable;
  }
}
