import { describe, expect, it } from 'vitest';
import { decodeS3EventKey, parseS3EventMessage } from '../../../src/exports/s3-events.ts';

const ORG = '0b7e4a4e-3c55-4d8e-9b0a-6f1d2c3b4a59';
const CONV = '5d2f1c8e-7a3b-4e9d-8c1f-2a3b4c5d6e7f';
const REC = '9a8b7c6d-5e4f-4a3b-9c2d-1e0f2a3b4c5d';
const KEY = `${ORG}/year=2026/month=3/day=1/hour=9/conversation_id=${CONV}/${REC}.opus`;

function awsRecord(overrides: Record<string, unknown> = {}, object: Record<string, unknown> = {}) {
  return {
    eventVersion: '2.1',
    eventSource: 'aws:s3',
    awsRegion: 'us-east-1',
    eventTime: '2026-03-01T09:20:00.123Z',
    eventName: 'ObjectCreated:Put',
    userIdentity: { principalId: 'AWS:EXAMPLE' },
    s3: {
      s3SchemaVersion: '1.0',
      configurationId: 'exports',
      bucket: { name: 'exports', arn: 'arn:aws:s3:::exports' },
      object: {
        key: KEY.replace(/=/g, '%3D'),
        size: 1234,
        eTag: '0123456789abcdef0123456789abcdef',
        versionId: 'v1',
        sequencer: '0055AED6DCD90281E5',
        ...object,
      },
    },
    ...overrides,
  };
}

describe('parseS3EventMessage', () => {
  it('parses an AWS ObjectCreated:Put record and URL-decodes its key', () => {
    const r = parseS3EventMessage(JSON.stringify({ Records: [awsRecord()] }));
    expect(r).toEqual({
      ok: true,
      value: {
        kind: 'records',
        ignored: 0,
        created: [
          {
            bucket: 'exports',
            key: KEY,
            eventName: 'ObjectCreated:Put',
            eventTimeMs: Date.parse('2026-03-01T09:20:00.123Z'),
            size: 1234,
            etag: '0123456789abcdef0123456789abcdef',
            versionId: 'v1',
            sequencer: '0055AED6DCD90281E5',
          },
        ],
      },
    });
  });

  it("decodes '+' as a space and %2F as a slash", () => {
    const r = parseS3EventMessage(
      Buffer.from(JSON.stringify({ Records: [awsRecord({}, { key: 'genesys+exports%2Fa%2Bb%3Dc.opus' })] })),
    );
    expect(r.ok && r.value.kind === 'records' && r.value.created[0]?.key).toBe('genesys exports/a+b=c.opus');
  });

  it('accepts the MinIO and versitygw variants (s3: prefix, bare array, null eTag/versionId)', () => {
    const minio = parseS3EventMessage(
      JSON.stringify({
        EventName: 's3:ObjectCreated:Put',
        Key: `exports/${KEY}`,
        Records: [
          awsRecord({ eventSource: 'minio:s3', eventName: 's3:ObjectCreated:Put', eventVersion: '2.0' }),
        ],
      }),
    );
    expect(minio.ok && minio.value.kind === 'records' && minio.value.created[0]?.eventName).toBe(
      'ObjectCreated:Put',
    );
    const versity = parseS3EventMessage(
      JSON.stringify([
        awsRecord(
          { eventVersion: '2.2', eventName: 's3:ObjectCreated:Put', eventTime: '2026-03-01T09:20:00Z' },
          { eTag: null, versionId: null },
        ),
      ]),
    );
    expect(versity.ok && versity.value.kind === 'records' && versity.value.created[0]).toMatchObject({
      etag: null,
      versionId: null,
      key: KEY,
    });
  });

  it('counts non-ObjectCreated records as ignored, not as errors', () => {
    const r = parseS3EventMessage(
      JSON.stringify({
        Records: [
          awsRecord({ eventName: 'ObjectRemoved:Delete' }),
          awsRecord({ eventName: 'ObjectCreated:Copy' }),
        ],
      }),
    );
    expect(r.ok && r.value.kind === 'records' && [r.value.ignored, r.value.created.length]).toEqual([1, 1]);
  });

  it('recognises the s3:TestEvent message', () => {
    const r = parseS3EventMessage(
      JSON.stringify({
        Service: 'Amazon S3',
        Event: 's3:TestEvent',
        Time: '2026-03-01T09:00:00Z',
        Bucket: 'x',
      }),
    );
    expect(r).toEqual({ ok: true, value: { kind: 'test-event' } });
  });

  it('rejects a wrong eventSource', () => {
    const r = parseS3EventMessage(JSON.stringify({ Records: [awsRecord({ eventSource: 'aws:sqs' })] }));
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error.code).toBe('bad-event-source');
    expect(!r.ok && r.error.reason).toContain('Records[0]');
  });

  it.each([
    ['no key', { key: undefined }, {}, 's3.object.key'],
    ['negative size', { size: -1 }, {}, 's3.object.size'],
    ['empty eTag', { eTag: '' }, {}, 's3.object.eTag'],
    ['bad eventTime', {}, { eventTime: 'yesterday' }, 'eventTime'],
    ['no eventVersion', {}, { eventVersion: undefined }, 'eventVersion'],
    ['no bucket', {}, { s3: { object: { key: 'k' } } }, 's3.bucket'],
  ])('rejects a record with %s, naming the field', (_name, object, top, field) => {
    const r = parseS3EventMessage(JSON.stringify({ Records: [awsRecord(top, object)] }));
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error.code).toBe('bad-record');
    expect(!r.ok && r.error.reason).toContain(field);
  });

  it('rejects non-JSON, missing or empty Records, and malformed %-escapes', () => {
    expect(parseS3EventMessage('{not json').ok || 'not-json').toBe('not-json');
    const bad = [parseS3EventMessage('{}'), parseS3EventMessage('{"Records":[]}'), parseS3EventMessage('42')];
    expect(bad.map((r) => (!r.ok ? r.error.code : 'ok'))).toEqual(['bad-shape', 'bad-shape', 'bad-shape']);
    const esc = parseS3EventMessage(JSON.stringify({ Records: [awsRecord({}, { key: 'a%zz.opus' })] }));
    expect(!esc.ok && esc.error.code).toBe('bad-key');
  });

  it('one bad record rejects the whole message', () => {
    const r = parseS3EventMessage(
      JSON.stringify({ Records: [awsRecord(), awsRecord({ eventSource: 'x' })] }),
    );
    expect(!r.ok && r.error.reason).toContain('Records[1]');
  });
});

describe('decodeS3EventKey', () => {
  it('decodes form-style escapes and refuses malformed ones', () => {
    expect(decodeS3EventKey('a+b%2Bc%20d')).toBe('a b+c d');
    expect(decodeS3EventKey('%E0%A4%A')).toBeUndefined();
  });
});
