/**
 * A sink instance in its own process, for tests that kill it with SIGKILL mid-run. Settings come as JSON in
 * SINK_CHILD_CONFIG (infra endpoints, topics, bucket, group, instance, signing key file); it prints "ready" once
 * its consumer runs and never exits on its own.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { Kafka, logLevel } from 'kafkajs';
import { loadSigningKey } from '../../src/sink/signing-key.ts';
import { createSinkCodecs } from '../../src/sink/sink-codecs.ts';
import { DEFAULT_SINK_OPTIONS, startSink } from '../../src/sink/sink-pipeline.ts';

type ChildConfig = {
  brokers: string;
  s3: { endpoint: string; region: string; accessKeyId: string; secretAccessKey: string };
  topics: { sessionTags: string; recordingExports: string; manifests: string; dlq: string };
  bucket: string;
  groupId: string;
  instance: string;
  keyFile: string;
};

const config = JSON.parse(process.env['SINK_CHILD_CONFIG'] ?? '{}') as ChildConfig;
const kafka = new Kafka({
  clientId: config.instance,
  brokers: config.brokers.split(','),
  logLevel: logLevel.NOTHING,
});
const s3 = new S3Client({
  endpoint: config.s3.endpoint,
  region: config.s3.region,
  forcePathStyle: true,
  credentials: { accessKeyId: config.s3.accessKeyId, secretAccessKey: config.s3.secretAccessKey },
});
const signer = await loadSigningKey(config.keyFile);
const codecs = await createSinkCodecs(
  { brokers: config.brokers.split(','), clientId: config.instance, ssl: false },
  { partitions: 3, notifications: 'unused', ...config.topics },
);
await startSink(
  { kafka, s3, signer, codecs },
  {
    ...DEFAULT_SINK_OPTIONS,
    groupId: config.groupId,
    topics: config.topics,
    stateBucket: config.bucket,
    instance: config.instance,
    version: '0.1.0-test',
    lock: { legalHold: true },
  },
);
process.stdout.write('ready\n');
