/** Clients for the real servers the global setup provides. Each test uses its own topics and buckets. */
import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import { S3Client } from '@aws-sdk/client-s3';

export function infra() {
  return inject('infra');
}

export function kafkaClient(clientId = 'custody-test'): Kafka {
  return new Kafka({ clientId, brokers: infra().KAFKA_BROKERS.split(','), logLevel: logLevel.ERROR });
}

export function s3Client(): S3Client {
  const i = infra();
  return new S3Client({
    endpoint: i.S3_ENDPOINT,
    region: i.S3_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: i.AWS_ACCESS_KEY_ID, secretAccessKey: i.AWS_SECRET_ACCESS_KEY },
  });
}

/** A name no other test (or earlier run) uses: topics and buckets are never shared between tests. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}
