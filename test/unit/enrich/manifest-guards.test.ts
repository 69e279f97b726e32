/**
 * The hand-written guards of the manifest body and the custody entry against their zod schemas: true for every
 * manifest and entry custody builds (so the fast path is taken), and never true where the schema would reject the
 * value or hand back something different (checked on every node of them damaged in many ways, and on random
 * replacements).
 */
import { fc, test } from '@fast-check/vitest';
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { custodyEntrySchema, isCustodyEntry, toCustodyInstant } from '../../../src/enrich/custody-entry.ts';
import type { CustodyEntry } from '../../../src/enrich/custody-entry.ts';
import { ISO_DATETIME_WITH_OFFSET, isJsonRecord } from '../../../src/enrich/data-guards.ts';
import type { Manifest } from '../../../src/enrich/manifest.ts';
import { isManifestBody } from '../../../src/enrich/manifest-guards.ts';
import { manifestSchema } from '../../../src/enrich/manifest-schema.ts';
import { invalidMetadata, sampleEntries, sampleManifest } from '../../fixtures/manifest/sample.ts';
import { expectSound, mutationsOf, nodesOf, withAt } from '../../support/guard-differential.ts';
import type { Path } from '../../support/guard-differential.ts';

function nodeAt(root: unknown, path: Path): unknown {
  return path.reduce<unknown>((v, k) => (v as Record<string | number, unknown> | undefined)?.[k], root);
}

const HOLD_MATTERS = [
  {
    matter: 'M-1',
    status: 'released' as const,
    applied_at: '2024-04-01T00:00:00.000Z',
    applied_by: 'jane',
    released_at: '2024-05-01T00:00:00.000Z',
    released_by: 'joe',
    reason: 'case closed',
  },
  {
    matter: 'M-2',
    status: 'on' as const,
    applied_at: '2024-04-02T00:00:00.000Z',
    applied_by: 'jane',
    released_at: null,
    released_by: null,
    reason: null,
  },
];

/** Manifests as buildManifest makes them, covering every branch of the schema's cross-field rules. */
const manifests: [string, Manifest][] = [
  ['complete WebRTC call', sampleManifest()],
  [
    'incomplete, no legs or objects',
    sampleManifest({ audio: null, metadata: { status: 'missing' }, legs: [] }),
  ],
  ['invalid metadata', sampleManifest({ metadata: invalidMetadata() })],
  [
    'hold on, with matters, enforced',
    sampleManifest({
      legalHold: {
        status: 'on',
        matter: 'M-2',
        applied_at: '2024-04-02T00:00:00.000Z',
        source: 'custody.legal-holds.v1',
        matters: HOLD_MATTERS,
        enforced: true,
      },
    }),
  ],
  [
    'hold released, version 2',
    sampleManifest({
      legalHold: {
        status: 'released',
        matter: 'M-1',
        applied_at: '2024-04-01T00:00:00.000Z',
        released_at: '2024-05-01T00:00:00.000Z',
        source: 's',
        enforced: false,
      },
      manifestVersion: 2,
      previousManifestSha256: 'c'.repeat(64),
    }),
  ],
];

describe('isManifestBody', () => {
  it.each(manifests)('accepts a built manifest (%s), which the schema gives back unchanged', (_, m) => {
    expect(isManifestBody(m)).toBe(true);
    const parsed = manifestSchema.safeParse(m);
    expect(parsed.success && isDeepStrictEqual(parsed.data, m)).toBe(true);
  });

  it.each(manifests)(
    'never accepts what the schema rejects or changes: every node of %s damaged',
    (_, m) => {
      // The first manifest is damaged everywhere; the others where they differ from it. Custody entries past the
      // first are left to isCustodyEntry's own sweep below.
      const first = manifests[0]?.[1] as Manifest;
      const only = (path: Path): boolean =>
        !(path[0] === 'chain_of_custody' && typeof path[1] === 'number' && path[1] > 0) &&
        (m === first ||
          (path.length > 0 &&
            !isDeepStrictEqual(nodeAt(m, path.slice(0, 2)), nodeAt(first, path.slice(0, 2)))));
      const { guardTrue, zodTrue } = expectSound(isManifestBody, manifestSchema, mutationsOf(m, only));
      // Harmless changes (another valid string, say) stay on the fast path; the guard is not merely "false".
      expect(guardTrue).toBeGreaterThan(m === first ? 100 : 10);
      expect(zodTrue).toBeGreaterThanOrEqual(guardTrue);
    },
    30_000,
  );

  test.prop(
    [fc.nat(), fc.anything({ withNullPrototype: true, withBoxedValues: true, withSparseArray: true })],
    {
      numRuns: 300,
    },
  )('never accepts what the schema rejects or changes: random values at random nodes', (n, value) => {
    const [base] = manifests[n % manifests.length] as [string, Manifest];
    const nodes = nodesOf(base);
    const [path] = nodes[n % nodes.length] as [readonly (string | number)[], unknown];
    expectSound(isManifestBody, manifestSchema, [withAt(base, path, value)]);
  });

  it('agrees with the schema on every combination of the members of a tag field (its two refinements)', () => {
    const m = manifests[0]?.[1] as Manifest;
    const absence = { reason: 'not_captured', source: null, checked_at: '2024-03-07T09:15:04.200Z' };
    const inputs: unknown[] = [];
    for (const value of [null, 'x', true])
      for (const provenance of ['live', 'reconciled', 'absent'])
        for (const captured_at of [null, '2024-03-07T09:15:04.200Z'])
          for (const source of [null, 's'])
            for (const withAbsence of [false, true]) {
              const field = { value, provenance, captured_at, source, ...(withAbsence ? { absence } : {}) };
              inputs.push(withAt(m, ['webrtc', 'client_ip'], field));
            }
    for (const x of inputs) expect(isManifestBody(x)).toBe(manifestSchema.safeParse(x).success);
    expectSound(isManifestBody, manifestSchema, inputs);
  });

  test.prop([fc.jsonValue()], { numRuns: 200 })(
    'verbatim metadata: any JSON record as zod sees it',
    (json) => {
      const m = manifests[0]?.[1] as Manifest;
      const verbatim = typeof json === 'object' && json !== null && !Array.isArray(json) ? json : { v: json };
      const x = withAt(m, ['genesys_metadata', 'verbatim'], verbatim);
      expectSound(isManifestBody, manifestSchema, [x]);
      // JSON.parse output is plain data: the guard takes all of it (-0 is JSON too, and zod keeps it), except a
      // `__proto__` key, which zod's record drops (so its output would not be the input).
      expect(isJsonRecord(verbatim)).toBe(!hasProtoKey(verbatim));
    },
  );

  it('refuses verbatim metadata with a __proto__ key at any depth, as zod would not keep it', () => {
    const m = manifests[0]?.[1] as Manifest;
    for (const text of ['{"__proto__":0}', '{"a":{"b":[{"__proto__":{"x":1}}]}}']) {
      const verbatim = JSON.parse(text) as Record<string, unknown>;
      expect(isJsonRecord(verbatim)).toBe(false);
      const x = withAt(m, ['genesys_metadata', 'verbatim'], verbatim);
      expect(isManifestBody(x)).toBe(false);
      expectSound(isManifestBody, manifestSchema, [x]);
    }
  });
});

/** Whether a JSON value has an own `__proto__` key anywhere (JSON.parse makes one an own property). */
function hasProtoKey(v: unknown): boolean {
  if (Array.isArray(v)) return v.some(hasProtoKey);
  if (typeof v !== 'object' || v === null) return false;
  return Object.keys(v).some((k) => k === '__proto__' || hasProtoKey((v as Record<string, unknown>)[k]));
}

describe('isCustodyEntry', () => {
  const entries = sampleEntries();
  const apiEntry = {
    ...entries[3],
    evidence: { api: { method: 'POST', path: '/api/v2/x', correlation_id: 'c-1' } },
  };
  const genesysJob = {
    event: 'export_job_created',
    at: '2024-03-07T10:00:00.000Z',
    time_source: 'genesys',
    actor: { kind: 'genesys', job_id: 'j-1', user_id: 'u-1', client_id: 'c-1' },
    evidence: null,
    detail: { job_id: 'j-1', job_state: 'FULFILLED', manifest_version: 2, manifest_sha256: 'd'.repeat(64) },
  };
  const valid: unknown[] = [...entries, apiEntry, genesysJob];

  it('accepts every entry custody builds, which the schema gives back unchanged', () => {
    for (const e of valid) {
      expect(isCustodyEntry(e)).toBe(true);
      const parsed = custodyEntrySchema.safeParse(e);
      expect(parsed.success && isDeepStrictEqual(parsed.data, e)).toBe(true);
    }
  });

  it('never accepts what the schema rejects or changes: every node of every entry damaged', () => {
    const { guardTrue } = expectSound(
      isCustodyEntry,
      custodyEntrySchema,
      valid.flatMap((e) => mutationsOf(e)),
    );
    expect(guardTrue).toBeGreaterThan(50);
  });

  it('agrees with the schema on every actor kind with every set of actor fields, and every set of evidence', () => {
    const base = entries[0] as CustodyEntry;
    const inputs: unknown[] = [];
    const actorFields = { component: 'sink', version: '1', instance: 'a', job_id: 'j' };
    for (const kind of ['custody', 'genesys', 's3', 'other'])
      for (let bits = 0; bits < 16; bits++) {
        const actor = Object.fromEntries(
          Object.entries(actorFields).filter((_, i) => (bits & (1 << i)) !== 0),
        );
        inputs.push({ ...base, actor: { kind, ...actor } });
      }
    const evidence = {
      kafka: { topic: 't', partition: 0, offset: '0' },
      s3: { bucket: 'b', key: 'k', version_id: null },
      api: { method: 'GET', path: '/' },
    };
    for (let bits = 0; bits < 8; bits++) {
      const e = Object.fromEntries(Object.entries(evidence).filter((_, i) => (bits & (1 << i)) !== 0));
      inputs.push({ ...base, evidence: e });
    }
    for (const x of inputs) expect(isCustodyEntry(x)).toBe(custodyEntrySchema.safeParse(x).success);
    expectSound(isCustodyEntry, custodyEntrySchema, inputs);
  });

  test.prop([fc.nat(), fc.anything({ withNullPrototype: true, withSparseArray: true })], { numRuns: 300 })(
    'never accepts what the schema rejects or changes: random values at random nodes',
    (n, value) => {
      const base = valid[n % valid.length];
      const nodes = nodesOf(base);
      const [path] = nodes[n % nodes.length] as [readonly (string | number)[], unknown];
      expectSound(isCustodyEntry, custodyEntrySchema, [withAt(base, path, value)]);
    },
  );
});

describe('ISO_DATETIME_WITH_OFFSET', () => {
  const schema = z.iso.datetime({ offset: true });

  it('is the pattern z.iso.datetime({ offset: true }) checks', () => {
    expect(ISO_DATETIME_WITH_OFFSET.source).toBe(schema._zod.def.pattern?.source);
  });

  test.prop([
    fc.oneof(
      fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
      fc
        .tuple(
          fc.date({ noInvalidDate: true }),
          fc.integer({ min: -23, max: 23 }),
          fc.constantFrom('', '.1', '.123456'),
        )
        .map(
          ([d, h, f]) =>
            `${d.toISOString().slice(0, 19)}${f}${h < 0 ? '-' : '+'}${String(Math.abs(h)).padStart(2, '0')}:30`,
        ),
      fc.string(),
    ),
  ])('agrees with the schema, and toCustodyInstant with it', (s) => {
    expect(ISO_DATETIME_WITH_OFFSET.test(s)).toBe(schema.safeParse(s).success);
    if (!schema.safeParse(s).success) expect(toCustodyInstant(s)).toBeUndefined();
  });
});
