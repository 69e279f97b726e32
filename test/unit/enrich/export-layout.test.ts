import { describe, expect, it } from 'vitest';
import {
  exportSiblingKeys,
  manifestKeyFor,
  normalizeKeyPrefix,
  parseExportKey,
} from '../../../src/enrich/export-layout.ts';
import type { ExportKey, LayoutFailure } from '../../../src/enrich/export-layout.ts';

const ORG = '2f1c5b8e-1d7a-4c3e-9a55-0c6f4b2d9e11';
const CONV = '7d0f9c42-5b1e-4e8a-b3c6-2a9d8e7f6a50';
const REC = 'c3a1e2d4-8f7b-4a6c-9e5d-1b2c3d4e5f60';
const folder = (m = '3', d = '7', h = '9') =>
  `${ORG}/year=2024/month=${m}/day=${d}/hour=${h}/conversation_id=${CONV}`;

function parsed(key: string, prefix?: string): ExportKey {
  const r = parseExportKey(key, prefix === undefined ? {} : { prefix });
  if (!r.ok) throw new Error(`expected ok, got ${JSON.stringify(r.error)}`);
  return r.value;
}

function failure(key: string, prefix?: string): LayoutFailure {
  const r = parseExportKey(key, prefix === undefined ? {} : { prefix });
  if (r.ok) throw new Error(`expected a failure for ${key}`);
  return r.error;
}

describe('parseExportKey', () => {
  it('parses an audio key', () => {
    const k = parsed(`${folder()}/${REC}.opus`);
    expect(k).toEqual({
      kind: 'audio',
      key: `${folder()}/${REC}.opus`,
      prefix: '',
      orgId: ORG,
      year: 2024,
      month: 3,
      day: 7,
      hour: 9,
      conversationId: CONV,
      recordingId: REC,
      partitionHour: '2024-03-07T09:00:00.000Z',
    });
  });

  it('parses a metadata key', () => {
    const k = parsed(`${folder()}/${REC}.opus_metadata.json`);
    expect(k.kind).toBe('metadata');
    expect(k.recordingId).toBe(REC);
  });

  it.each([
    ['3', '7', '9'],
    ['03', '07', '09'],
    ['3', '07', '9'],
    ['12', '31', '23'],
    ['1', '1', '0'],
    ['01', '01', '00'],
  ])('accepts month=%s day=%s hour=%s (padding UNCONFIRMED, both accepted)', (m, d, h) => {
    const k = parsed(`${folder(m, d, h)}/${REC}.opus`);
    expect([k.month, k.day, k.hour]).toEqual([Number(m), Number(d), Number(h)]);
  });

  it('lower-cases UUIDs but keeps the key as given', () => {
    const key = `${ORG.toUpperCase()}/year=2024/month=3/day=7/hour=9/conversation_id=${CONV.toUpperCase()}/${REC.toUpperCase()}.opus`;
    const k = parsed(key);
    expect([k.orgId, k.conversationId, k.recordingId]).toEqual([ORG, CONV, REC]);
    expect(k.key).toBe(key);
  });

  it('accepts a configured prefix, with or without slashes', () => {
    const key = `genesys/exports/${folder()}/${REC}.opus`;
    expect(parsed(key, 'genesys/exports').prefix).toBe('genesys/exports');
    expect(parsed(key, '/genesys/exports/').prefix).toBe('genesys/exports');
  });

  it.each([
    [`${folder()}/${REC}.wav`, 'other-file-type'],
    [`${folder()}/${REC}.opus_call_metadata.json`, 'other-file-type'],
    [`${folder()}/${REC}.transcript.json`, 'other-file-type'],
    [`${folder()}/${REC}.opus_manifest.json`, 'custody-manifest'],
    [`${folder()}/`, 'folder-marker'],
    [`random/${REC}.opus`, 'no-partition-layout'],
    [`${REC}.opus`, 'no-partition-layout'],
  ])('classifies %s as not-an-export (%s)', (key, reason) => {
    expect(failure(key)).toMatchObject({ kind: 'not-an-export', reason, key });
  });

  it('classifies a key outside the configured prefix as not-an-export', () => {
    expect(failure(`other/${folder()}/${REC}.opus`, 'genesys')).toMatchObject({
      kind: 'not-an-export',
      reason: 'outside-prefix',
    });
  });

  it.each([
    [`${ORG}/year=2024/month=13/day=7/hour=9/conversation_id=${CONV}/${REC}.opus`, 'bad-date'],
    [`${ORG}/year=2024/month=0/day=7/hour=9/conversation_id=${CONV}/${REC}.opus`, 'bad-date'],
    [`${ORG}/year=2024/month=003/day=7/hour=9/conversation_id=${CONV}/${REC}.opus`, 'bad-date'],
    [`${ORG}/year=2024/month=+3/day=7/hour=9/conversation_id=${CONV}/${REC}.opus`, 'bad-date'],
    [`${ORG}/year=2024/month=3/day=0/hour=9/conversation_id=${CONV}/${REC}.opus`, 'bad-date'],
    [`${ORG}/year=2024/month=3/day=32/hour=9/conversation_id=${CONV}/${REC}.opus`, 'bad-date'],
    [`${ORG}/year=2023/month=2/day=29/hour=9/conversation_id=${CONV}/${REC}.opus`, 'bad-date'],
    [`${ORG}/year=2024/month=4/day=31/hour=9/conversation_id=${CONV}/${REC}.opus`, 'bad-date'],
    [`${ORG}/year=2024/month=3/day=7/hour=24/conversation_id=${CONV}/${REC}.opus`, 'bad-date'],
    [`${ORG}/year=24/month=3/day=7/hour=9/conversation_id=${CONV}/${REC}.opus`, 'bad-date'],
    [`${ORG}/year=2024/day=7/month=3/hour=9/conversation_id=${CONV}/${REC}.opus`, 'bad-date'],
    [`${ORG}/year=2024/month=3/day=7/hour=9/conversation_id=not-a-uuid/${REC}.opus`, 'bad-uuid'],
    [`${ORG}/year=2024/month=3/day=7/hour=9/conversation_id=${CONV}/recording.opus`, 'bad-uuid'],
    [`my-org/year=2024/month=3/day=7/hour=9/conversation_id=${CONV}/${REC}.opus`, 'bad-uuid'],
    [`${ORG}/year=2024/month=3/day=7/hour=9/conversation_id=${CONV}/../${REC}.opus`, 'bad-segment'],
    [`${ORG}/year=2024/month=3/day=7/hour=9/conversation_id=${CONV}//${REC}.opus`, 'bad-segment'],
    [`/${folder()}/${REC}.opus`, 'bad-segment'],
    [
      `${ORG}/year=2024/month=3/day=7/hour=9/extra/conversation_id=${CONV}/${REC}.opus`,
      'unexpected-segments',
    ],
    [`${folder()}/nested/${REC}.opus`, 'unexpected-segments'],
    [`unexpected/${folder()}/${REC}.opus`, 'unexpected-segments'],
    [`${ORG}/year=2024/month=3/day=7/conversation_id=${CONV}/${REC}.opus`, 'unexpected-segments'],
  ])('classifies %s as invalid (%s)', (key, reason) => {
    const f = failure(key);
    expect(f).toMatchObject({ kind: 'invalid', reason, key });
    expect(f.detail.length).toBeGreaterThan(0);
  });

  it('accepts 29 February in a leap year', () => {
    expect(parsed(`${ORG}/year=2024/month=2/day=29/hour=0/conversation_id=${CONV}/${REC}.opus`).day).toBe(29);
  });
});

describe('sibling and manifest keys', () => {
  it('derives the metadata key from the audio key and back', () => {
    const audio = parsed(`${folder('03', '07', '09')}/${REC}.opus`);
    const siblings = exportSiblingKeys(audio);
    expect(siblings).toEqual({
      audioKey: `${folder('03', '07', '09')}/${REC}.opus`,
      metadataKey: `${folder('03', '07', '09')}/${REC}.opus_metadata.json`,
    });
    expect(exportSiblingKeys(parsed(siblings.metadataKey))).toEqual(siblings);
  });

  it('puts the manifest beside the audio by default', () => {
    const meta = parsed(`x/${folder()}/${REC}.opus_metadata.json`, 'x');
    expect(manifestKeyFor(meta)).toBe(`x/${folder()}/${REC}.opus_manifest.json`);
    expect(manifestKeyFor(meta, '')).toBe(`x/${folder()}/${REC}.opus_manifest.json`);
  });

  it('puts the manifest under a manifest prefix with the same relative path', () => {
    expect(manifestKeyFor(parsed(`x/y/${folder()}/${REC}.opus`, 'x/y'), 'custody/manifests/')).toBe(
      `custody/manifests/${folder()}/${REC}.opus_manifest.json`,
    );
    expect(manifestKeyFor(parsed(`${folder()}/${REC}.opus`), 'm')).toBe(
      `m/${folder()}/${REC}.opus_manifest.json`,
    );
  });

  it('rejects a manifest prefix with .. segments', () => {
    expect(() => manifestKeyFor(parsed(`${folder()}/${REC}.opus`), 'a/../b')).toThrow(RangeError);
    expect(normalizeKeyPrefix('a/../b').ok).toBe(false);
    expect(normalizeKeyPrefix('/a/b/')).toEqual({ ok: true, value: 'a/b' });
  });

  it('a manifest key is never mistaken for an export', () => {
    const manifestKey = manifestKeyFor(parsed(`${folder()}/${REC}.opus`));
    expect(failure(manifestKey).reason).toBe('custody-manifest');
  });
});
