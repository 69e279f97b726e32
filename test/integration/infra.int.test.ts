/**
 * Smoke tests that prove the infrastructure is real: a broker that runs consumer groups and keeps
 * committed offsets and topic configs, and an S3 server that checks checksums, keeps versions and
 * enforces Object Lock legal holds. If any of these were a mock, these tests would fail.
 */
import { createHash } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigResourceTypes } from 'kafkajs';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectVersionsCommand,
  PutObjectCommand,
  PutObjectLegalHoldCommand,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { infra, kafkaClient, s3Client, uniqueName } from '../support/clients.ts';

const sha256b64 = (b: Buffer | string) => createHash('sha256').update(b).digest('base64');

describe('Kafka broker', () => {
  const kafka = kafkaClient();
  const admin = kafka.admin();
  afterAll(() => admin.disconnect());

  it('is a real cluster with a controller', async () => {
    await admin.connect();
    const cluster = await admin.describeCluster();
    console.info(
      `[smoke] Kafka at ${infra().KAFKA_BROKERS} (${infra().source}), cluster ${cluster.clusterId}`,
    );
    expect(cluster.brokers.length).toBeGreaterThan(0);
    expect(cluster.controller).not.toBeNull();
  });

  it('produces, consumes in a group, commits, and reports the committed offset', async () => {
    const topic = uniqueName('smoke');
    const groupId = uniqueName('smoke-group');
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    await producer.send({
      topic,
      acks: -1,
      messages: [
        { key: 'c1', value: 'first' },
        { key: 'c1', value: 'second' },
      ],
    });
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const seen: string[] = [];
    await new Promise<void>((resolve, reject) => {
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            seen.push(message.value?.toString() ?? '');
            await consumer.commitOffsets([
              { topic, partition, offset: (BigInt(message.offset) + 1n).toString() },
            ]);
            if (seen.length === 2) resolve();
          },
        })
        .catch(reject);
    });
    await consumer.disconnect();

    expect(seen).toEqual(['first', 'second']);
    const offsets = await admin.fetchOffsets({ groupId, topics: [topic] });
    expect(offsets[0]?.partitions).toEqual([{ partition: 0, offset: '2', metadata: null }]);
  });

  it('creates a compacted topic and reads its config back', async () => {
    const topic = uniqueName('smoke-compacted');
    await admin.connect();
    await admin.createTopics({
      topics: [{ topic, numPartitions: 3, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }],
      waitForLeaders: true,
    });
    const described = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['cleanup.policy'] }],
    });
    const entry = described.resources[0]?.configEntries.find((e) => e.configName === 'cleanup.policy');
    expect(entry?.configValue).toBe('compact');
    const meta = await admin.fetchTopicMetadata({ topics: [topic] });
    expect(meta.topics[0]?.partitions).toHaveLength(3);
  });
});

describe('S3 server', () => {
  const s3 = s3Client();
  afterAll(() => s3.destroy());

  async function lockedBucket(): Promise<string> {
    const bucket = uniqueName('smoke');
    await s3.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: true }));
    return bucket;
  }

  async function rejection(p: Promise<unknown>): Promise<S3ServiceException> {
    try {
      await p;
    } catch (e) {
      if (e instanceof S3ServiceException) return e;
      throw e;
    }
    throw new Error('expected the S3 server to reject the request');
  }

  it('stores an object with a SHA-256 checksum and rejects a wrong one', async () => {
    console.info(`[smoke] S3 at ${infra().S3_ENDPOINT} (${infra().source})`);
    const bucket = await lockedBucket();
    const body = Buffer.from('recording bytes');
    const put = await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: 'a.opus', Body: body, ChecksumSHA256: sha256b64(body) }),
    );
    expect(put.ChecksumSHA256).toBe(sha256b64(body));
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'a.opus' }));
    expect(Buffer.from(await got.Body!.transformToByteArray())).toEqual(body);

    const err = await rejection(
      s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: 'b.opus',
          Body: body,
          ChecksumSHA256: sha256b64('something else'),
        }),
      ),
    );
    expect(err.$metadata.httpStatusCode).toBe(400);
    expect(err.name).toBe('BadDigest');
  });

  it('keeps two versions of a key', async () => {
    const bucket = await lockedBucket();
    const v1 = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k.json', Body: 'one' }));
    const v2 = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k.json', Body: 'two' }));
    expect(v1.VersionId).toBeTruthy();
    expect(v2.VersionId).not.toBe(v1.VersionId);
    const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: 'k.json' }));
    expect(versions.Versions?.map((v) => v.VersionId).sort()).toEqual([v1.VersionId, v2.VersionId].sort());
    const old = await s3.send(
      new GetObjectCommand({ Bucket: bucket, Key: 'k.json', VersionId: v1.VersionId }),
    );
    expect(await old.Body!.transformToString()).toBe('one');
  });

  it('refuses to delete a version under legal hold, and allows it once the hold is released', async () => {
    const bucket = await lockedBucket();
    const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'held.opus', Body: 'evidence' }));
    await s3.send(
      new PutObjectLegalHoldCommand({
        Bucket: bucket,
        Key: 'held.opus',
        VersionId: put.VersionId,
        LegalHold: { Status: 'ON' },
      }),
    );

    const err = await rejection(
      s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'held.opus', VersionId: put.VersionId })),
    );
    expect(err.$metadata.httpStatusCode).toBe(403);
    const still = await s3.send(
      new GetObjectCommand({ Bucket: bucket, Key: 'held.opus', VersionId: put.VersionId }),
    );
    expect(await still.Body!.transformToString()).toBe('evidence');

    await s3.send(
      new PutObjectLegalHoldCommand({
        Bucket: bucket,
        Key: 'held.opus',
        VersionId: put.VersionId,
        LegalHold: { Status: 'OFF' },
      }),
    );
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'held.opus', VersionId: put.VersionId }));
  });

  it('honours If-None-Match and If-Match conditional writes', async () => {
    const bucket = await lockedBucket();
    const first = await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: 'm.json', Body: '1', IfNoneMatch: '*' }),
    );
    const dup = await rejection(
      s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'm.json', Body: '1', IfNoneMatch: '*' })),
    );
    expect(dup.$metadata.httpStatusCode).toBe(412);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'm.json', Body: '2', IfMatch: first.ETag }));
    const stale = await rejection(
      s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'm.json', Body: '3', IfMatch: first.ETag })),
    );
    expect(stale.$metadata.httpStatusCode).toBe(412);
  });

  it('lets exactly one of several concurrent conditional writes to a key succeed', async () => {
    // custody's manifest chain relies on this (real S3: 412, or 409 ConditionalRequestConflict, for the losers).
    const bucket = await lockedBucket();
    const race = async (key: string, cond: { IfNoneMatch: '*' } | { IfMatch: string | undefined }) => {
      const outcomes = await Promise.allSettled(
        Array.from({ length: 4 }, (_, i) =>
          s3.send(
            new PutObjectCommand({
              Bucket: bucket,
              Key: key,
              Body: `${key} ${JSON.stringify(cond)} writer ${i}`,
              ...cond,
            }),
          ),
        ),
      );
      for (const o of outcomes) {
        if (o.status === 'rejected')
          expect([409, 412]).toContain((o.reason as S3ServiceException).$metadata.httpStatusCode);
      }
      const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key }));
      return {
        winners: outcomes.filter((o) => o.status === 'fulfilled').length,
        versions: (versions.Versions ?? []).filter((v) => v.Key === key),
      };
    };
    for (let i = 0; i < 50; i++) {
      const created = await race(`race-${i}.json`, { IfNoneMatch: '*' });
      expect(created).toMatchObject({ winners: 1, versions: [expect.anything()] });
      const replaced = await race(`race-${i}.json`, { IfMatch: created.versions[0]?.ETag });
      expect(replaced).toMatchObject({ winners: 1, versions: [expect.anything(), expect.anything()] });
    }
  });
});
