/** Hostile or broken export objects give a clear finding in the manifest, never an exception that stops a consumer. */
import { describe, expect, it } from 'vitest';
import { canonicalProblem, MAX_JSON_DEPTH } from '../../../src/enrich/canonical-json.ts';
import { parseExportMetadata } from '../../../src/enrich/export-metadata.ts';
import { buildManifest } from '../../../src/enrich/manifest.ts';
import { CONV, REC, sampleInput } from '../../fixtures/manifest/sample.ts';

const key = { conversationId: CONV, recordingId: REC };

describe('hostile metadata', () => {
  it('a file nested 20,000 levels deep (40 KB) is rejected with the reason, not a RangeError', () => {
    const depth = 20_000;
    const bytes = Buffer.from(`{"conversationId":"${CONV}","x":${'['.repeat(depth)}${']'.repeat(depth)}}`);
    const r = parseExportMetadata(bytes, key);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error.reason).toBe('not-i-json');
    expect(!r.ok && r.error.detail).toContain(`nested deeper than ${MAX_JSON_DEPTH} levels`);
    expect(!r.ok && r.error.size).toBe(bytes.length);
  });

  it('nesting up to the limit is still canonical JSON', () => {
    let v: unknown = 1;
    for (let i = 0; i < MAX_JSON_DEPTH; i++) v = [v];
    expect(canonicalProblem(v)).toBeUndefined();
    expect(canonicalProblem([v])).toContain('nested deeper');
  });

  it('invalid UTF-8 is rejected by name', () => {
    const r = parseExportMetadata(Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x7d]), key);
    expect(!r.ok && r.error.reason).toBe('not-utf8');
  });
});

describe('empty or truncated audio', () => {
  const base = sampleInput();
  const audio = base.audio as NonNullable<typeof base.audio>;

  it('a zero-byte audio object is never complete', () => {
    const r = buildManifest(sampleInput({ audio: { ...audio, size: 0, expectedSize: 0 } }));
    expect(r.ok && r.value.completeness).toEqual({
      status: 'incomplete',
      missing: expect.arrayContaining([{ field: 'audio', reason: 'empty-object' }]),
    });
  });

  it('audio whose hashed size differs from the exported size is never complete', () => {
    const r = buildManifest(sampleInput({ audio: { ...audio, expectedSize: audio.size + 10 } }));
    expect(r.ok && r.value.completeness.status).toBe('incomplete');
    expect(r.ok && r.value.completeness.missing).toContainEqual({
      field: 'audio',
      reason: 'size-differs-from-export',
    });
  });

  it('audio of the exported size is complete as before', () => {
    const r = buildManifest(sampleInput({ audio: { ...audio, expectedSize: audio.size } }));
    const before = buildManifest(base);
    expect(before.ok && before.value.completeness.status).toBe('complete');
    expect(r.ok && r.value.completeness.status).toBe('complete');
  });
});
