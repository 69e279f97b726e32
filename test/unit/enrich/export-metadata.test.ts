import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseExportMetadata } from '../../../src/enrich/export-metadata.ts';
import type { MetadataFailure } from '../../../src/enrich/export-metadata.ts';

const FIXTURE = readFileSync(
  new URL('../../fixtures/manifest/recording.opus_metadata.json', import.meta.url),
);
const KEY = {
  conversationId: '7d0f9c42-5b1e-4e8a-b3c6-2a9d8e7f6a50',
  recordingId: 'c3a1e2d4-8f7b-4a6c-9e5d-1b2c3d4e5f60',
};
const base = JSON.parse(FIXTURE.toString('utf8')) as Record<string, unknown>;
const bytesOf = (value: unknown): Buffer => Buffer.from(JSON.stringify(value), 'utf8');

function failure(bytes: Uint8Array): MetadataFailure {
  const r = parseExportMetadata(bytes, KEY);
  if (r.ok) throw new Error('expected a failure');
  return r.error;
}

describe('parseExportMetadata', () => {
  it('parses the fixture, keeps unknown fields and hashes the exact bytes', () => {
    const r = parseExportMetadata(FIXTURE, KEY);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.fields).toEqual({
      mediaType: 'Call',
      mediaSubtype: 'Station',
      provider: 'edge',
      userIds: ['5a7c1e3b-2d4f-4a6b-8c9d-0e1f2a3b4c5d'],
      conversationId: KEY.conversationId,
      recordingId: KEY.recordingId,
      startTime: '2024-03-07T09:15:02.123Z',
      endTime: '2024-03-07T09:21:44.870Z',
      durationMs: 402747,
      initialDirection: 'inbound',
    });
    expect(r.value.verbatim).toEqual(base);
    expect(r.value.verbatim['futureField']).toEqual({ nested: [1, 2.5, 'x'] });
    expect(r.value.sha256).toBe(createHash('sha256').update(FIXTURE).digest('hex'));
    expect(r.value.size).toBe(FIXTURE.byteLength);
  });

  it('treats absent and null optional fields as null', () => {
    const minimal: Record<string, unknown> = { ...base, mediaSubtype: null };
    delete minimal['provider'];
    delete minimal['userIds'];
    delete minimal['initialDirection'];
    const r = parseExportMetadata(bytesOf(minimal), KEY);
    expect(r.ok && r.value.fields).toMatchObject({
      mediaSubtype: null,
      provider: null,
      userIds: null,
      initialDirection: null,
    });
  });

  it('accepts a leading BOM and upper-case ids, and hashes the bytes with the BOM', () => {
    const withBom = Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf]),
      bytesOf({ ...base, conversationId: KEY.conversationId.toUpperCase() }),
    ]);
    const r = parseExportMetadata(withBom, KEY);
    expect(r.ok).toBe(true);
    expect(r.ok && r.value.sha256).toBe(createHash('sha256').update(withBom).digest('hex'));
  });

  it('accepts timestamps with an offset and without milliseconds, unchanged', () => {
    const r = parseExportMetadata(bytesOf({ ...base, startTime: '2024-03-07T10:15:02+01:00' }), KEY);
    expect(r.ok && r.value.fields.startTime).toBe('2024-03-07T10:15:02+01:00');
  });

  it.each([
    ['not-utf8', Buffer.from([0x7b, 0xff, 0x7d])],
    ['not-json', Buffer.from('{"mediaType": ')],
    ['not-an-object', Buffer.from('[1,2]')],
    ['not-an-object', Buffer.from('null')],
    ['not-i-json', Buffer.from(`{"mediaType":"\\ud800"}`)],
  ])('rejects %s', (reason, bytes) => {
    const f = failure(bytes);
    expect(f.reason).toBe(reason);
    expect(f.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(f.size).toBe(bytes.byteLength);
  });

  it.each([
    ['mediaType', { mediaType: undefined }],
    ['mediaType', { mediaType: 7 }],
    ['startTime', { startTime: 'yesterday' }],
    ['endTime', { endTime: '2024-03-07 09:21:44' }],
    ['durationMs', { durationMs: -1 }],
    ['durationMs', { durationMs: '402747' }],
    ['userIds', { userIds: 'u1' }],
    ['provider', { provider: 3 }],
    ['recordingId', { recordingId: undefined }],
  ])('rejects a bad %s with a schema issue naming it', (field, patch) => {
    const f = failure(bytesOf({ ...base, ...patch }));
    expect(f.reason).toBe('schema');
    expect(f.issues.map((i) => i.path)).toContain(field);
    expect(f.detail).toContain(field);
  });

  it('rejects metadata whose ids differ from the key, naming the field but not its value', () => {
    const other = 'ffffffff-5b1e-4e8a-b3c6-2a9d8e7f6a50';
    const f = failure(bytesOf({ ...base, conversationId: other }));
    expect(f.reason).toBe('id-mismatch');
    expect(f.detail).toContain('conversationId');
    expect(f.detail).not.toContain(other);
    expect(failure(bytesOf({ ...base, recordingId: other })).detail).toContain('recordingId');
  });

  it('never puts payload text into a not-json detail', () => {
    const f = failure(Buffer.from('{"secret-token-abc": '));
    expect(f.detail).not.toContain('secret');
  });
});
