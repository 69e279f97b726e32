import { describe, expect, it } from 'vitest';
import { KafkaJSConnectionError, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError } from 'kafkajs';
import { S3ServiceException } from '@aws-sdk/client-s3';
import { GenesysApiError } from '../../../src/genesys/platform-client.ts';
import { describeError, FatalError, isFatal, isRetriable } from '../../../src/runtime/errors.ts';

const protocol = (type: string, retriable: boolean) =>
  new KafkaJSProtocolError(
    Object.assign(new Error(`${type} happened`), { type, code: 6, retriable }) as unknown as string,
  );

const s3Error = (name: string, status: number) =>
  new S3ServiceException({
    name,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status },
  });

describe('isRetriable', () => {
  it('waits out what a freshly started broker answers (seen killing ingest at start)', () => {
    expect(isRetriable(protocol('NOT_LEADER_OR_FOLLOWER', true))).toBe(true);
    expect(isRetriable(protocol('UNKNOWN_TOPIC_OR_PARTITION', true))).toBe(true);
    expect(isRetriable(new KafkaJSConnectionError('Connection error: connect ECONNREFUSED'))).toBe(true);
    expect(
      isRetriable(
        new KafkaJSNumberOfRetriesExceeded(protocol('COORDINATOR_NOT_AVAILABLE', true), {
          retryCount: 5,
          retryTime: 100,
        }),
      ),
    ).toBe(true);
  });

  it('waits for a bucket that does not exist yet, throttling and server errors', () => {
    expect(isRetriable(s3Error('NoSuchBucket', 404))).toBe(true);
    expect(isRetriable(s3Error('SlowDown', 503))).toBe(true);
    expect(isRetriable(s3Error('InternalError', 500))).toBe(true);
  });

  it('waits for Genesys network errors, 5xx and 429, also when wrapped', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    expect(isRetriable(new GenesysApiError('getUsers', undefined, undefined, 'ECONNREFUSED'))).toBe(true);
    expect(isRetriable(new GenesysApiError('getUsers', 503, undefined, 'unavailable'))).toBe(true);
    expect(isRetriable(new GenesysApiError('getUsers', 429, 'too.many.requests', 'slow down'))).toBe(true);
    expect(isRetriable(new Error('wrapped', { cause: refused }))).toBe(true);
  });

  it('never retries what an operator must fix, nor bugs', () => {
    expect(isRetriable(new GenesysApiError('token', 401, 'bad.credentials', 'invalid client'))).toBe(false);
    expect(isRetriable(s3Error('AccessDenied', 403))).toBe(false);
    expect(isRetriable(protocol('TOPIC_AUTHORIZATION_FAILED', false))).toBe(false);
    expect(isRetriable(new FatalError('port in use', { setting: 'CUSTODY_HTTP_PORT' }))).toBe(false);
    expect(isRetriable(new TypeError('x is undefined'))).toBe(false);
    expect(isRetriable(new RangeError('Maximum call stack size exceeded'))).toBe(false);
  });
});

describe('isFatal', () => {
  it('marks credentials and permissions as the operator’s to fix', () => {
    expect(isFatal(s3Error('InvalidAccessKeyId', 403))).toBe(true);
    expect(isFatal(new GenesysApiError('users', 403, 'missing.permissions', 'no'))).toBe(true);
    expect(isFatal(protocol('GROUP_AUTHORIZATION_FAILED', false))).toBe(true);
    expect(isFatal(s3Error('NoSuchBucket', 404))).toBe(false);
  });
});

describe('describeError', () => {
  it('is one line with the root cause and no stack trace', () => {
    const root = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9092'), { code: 'ECONNREFUSED' });
    const line = describeError(new Error('cannot start\nsecond line', { cause: root }));
    expect(line).toBe('Error: cannot start second line; cause: Error: connect ECONNREFUSED 127.0.0.1:9092');
    expect(line).not.toMatch(/\n|\bat .+:\d+:\d+/);
  });

  it('describes an error passed on as plain data by its name and message, not as [object Object]', () => {
    expect(describeError({ name: 'KafkaJSConnectionError', message: 'Connection error: ECONNREFUSED' })).toBe(
      'KafkaJSConnectionError: Connection error: ECONNREFUSED',
    );
    expect(describeError({ message: 'no name' })).toBe('no name');
    expect(describeError({ other: 1 })).toBe('[object Object]');
  });
});
