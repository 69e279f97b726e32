import { describe, expect, it } from 'vitest';
import type { EmissionInput, EmittedPair, ObservedFile } from '../../../src/exports/export-emission.ts';
import { decideEmission, observeListed } from '../../../src/exports/export-emission.ts';

const GRACE = 600_000;
const NOW = 1_772_355_600_000;
const file = (etag: string, versionId: string | null = 'v1'): ObservedFile => ({
  etag,
  versionId,
  resolved: true,
});
const unresolved = (etag: string): ObservedFile => ({ etag, versionId: null, resolved: false });
const pair = (a: [string, string | null] | null, m: [string, string | null] | null): EmittedPair => ({
  audio: a && { etag: a[0], versionId: a[1], lastModifiedMs: 1 },
  metadata: m && { etag: m[0], versionId: m[1], lastModifiedMs: 1 },
});
const input = (over: Partial<EmissionInput>): EmissionInput => ({
  audio: null,
  metadata: null,
  emitted: undefined,
  aloneSinceMs: undefined,
  nowMs: NOW,
  pairGraceMs: GRACE,
  ...over,
});

describe('decideEmission: pairing', () => {
  it('emits a new recording once both objects exist', () => {
    expect(decideEmission(input({ audio: file('a'), metadata: file('m') }))).toEqual({ kind: 'emit' });
  });

  it('does not emit the same pair twice', () => {
    const emitted = pair(['a', 'v1'], ['m', 'v1']);
    expect(decideEmission(input({ audio: file('a'), metadata: file('m'), emitted }))).toEqual({
      kind: 'unchanged',
    });
  });

  it('re-emits when one object has a new ETag or a new version id', () => {
    const emitted = pair(['a', 'v1'], ['m', 'v1']);
    expect(decideEmission(input({ audio: file('a'), metadata: file('m2'), emitted })).kind).toBe('emit');
    expect(decideEmission(input({ audio: file('a'), metadata: file('m', 'v2'), emitted })).kind).toBe('emit');
    expect(decideEmission(input({ audio: file('a', 'v9'), metadata: file('m'), emitted })).kind).toBe('emit');
  });

  it('asks for a HEAD when a present object is not resolved', () => {
    expect(decideEmission(input({ audio: unresolved('a'), metadata: file('m') }))).toEqual({
      kind: 'resolve',
    });
  });

  it('does nothing when neither object exists', () => {
    expect(decideEmission(input({ emitted: pair(['a', 'v1'], ['m', 'v1']) }))).toEqual({ kind: 'unchanged' });
  });
});

describe('decideEmission: a lone object and the grace period', () => {
  it('waits from the first sighting, then emits once the grace has passed', () => {
    expect(decideEmission(input({ audio: file('a') }))).toEqual({ kind: 'wait', aloneSinceMs: NOW });
    expect(decideEmission(input({ audio: file('a'), aloneSinceMs: NOW - GRACE + 1 }))).toEqual({
      kind: 'wait',
      aloneSinceMs: NOW - GRACE + 1,
    });
    expect(decideEmission(input({ audio: file('a'), aloneSinceMs: NOW - GRACE }))).toEqual({ kind: 'emit' });
    expect(decideEmission(input({ metadata: file('m'), aloneSinceMs: NOW - GRACE - 5 }))).toEqual({
      kind: 'emit',
    });
  });

  it('resolves an unresolved lone object only when it is due', () => {
    expect(decideEmission(input({ audio: unresolved('a') })).kind).toBe('wait');
    expect(decideEmission(input({ audio: unresolved('a'), aloneSinceMs: NOW - GRACE })).kind).toBe('resolve');
  });

  it('does not re-emit a lone object that was already emitted (alone or paired)', () => {
    expect(decideEmission(input({ audio: file('a'), emitted: pair(['a', 'v1'], null) })).kind).toBe(
      'unchanged',
    );
    expect(decideEmission(input({ audio: file('a'), emitted: pair(['a', 'v1'], ['m', 'v1']) })).kind).toBe(
      'unchanged',
    );
  });

  it('emits the completed pair after a lone emission', () => {
    const emitted = pair(['a', 'v1'], null);
    expect(decideEmission(input({ audio: file('a'), metadata: file('m'), emitted })).kind).toBe('emit');
  });

  it('a new version of a lone object waits for the grace again', () => {
    const emitted = pair(['a', 'v1'], null);
    expect(decideEmission(input({ audio: file('a', 'v2'), emitted })).kind).toBe('wait');
  });
});

describe('observeListed', () => {
  it('reuses the emitted version id when ETag and LastModified are unchanged', () => {
    const emitted = { etag: 'e', versionId: 'v7', lastModifiedMs: 10 };
    expect(observeListed({ etag: 'e', lastModifiedMs: 10 }, emitted)).toEqual({
      etag: 'e',
      versionId: 'v7',
      resolved: true,
    });
    expect(observeListed({ etag: 'e', lastModifiedMs: 11 }, emitted)?.resolved).toBe(false);
    expect(observeListed({ etag: 'f', lastModifiedMs: 10 }, emitted)?.resolved).toBe(false);
    expect(observeListed({ etag: 'e', lastModifiedMs: 10 }, undefined)?.resolved).toBe(false);
    expect(observeListed(undefined, emitted)).toBeNull();
  });
});
