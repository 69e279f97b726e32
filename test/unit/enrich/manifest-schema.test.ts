import { describe, expect, it } from 'vitest';
import { sealManifest } from '../../../src/enrich/integrity.ts';
import { sealedManifestSchema } from '../../../src/enrich/manifest-schema.ts';
import { compileManifestJsonSchema } from '../../fixtures/manifest/json-schema.ts';
import { sampleManifest, testSigner } from '../../fixtures/manifest/sample.ts';

const validate = compileManifestJsonSchema();
const signer = testSigner();
const sealed = JSON.parse(JSON.stringify(sealManifest(sampleManifest(), signer))) as Record<string, unknown>;

function set(path: string[], value: unknown): Record<string, unknown> {
  const copy = structuredClone(sealed);
  let node: Record<string, unknown> = copy;
  for (const step of path.slice(0, -1)) node = node[step] as Record<string, unknown>;
  const last = path.at(-1)!;
  if (value === undefined) delete node[last];
  else node[last] = value;
  return copy;
}

describe('schemas/manifest.v1.schema.json', () => {
  it('accepts sealed manifests in several states, as the zod schema does', () => {
    const v2 = sealManifest(
      sampleManifest({
        manifestVersion: 2,
        previousManifestSha256: 'a'.repeat(64),
        audio: null,
        metadata: { status: 'missing' },
        legs: [],
        legalHold: {
          status: 'on',
          matter: 'M-7',
          applied_at: '2024-04-01T00:00:00.000Z',
          source: 'custody.legal-holds.v1',
        },
      }),
      signer,
    );
    for (const m of [sealed, JSON.parse(JSON.stringify(v2)) as unknown]) {
      expect(validate(m), JSON.stringify(validate.errors)).toBe(true);
      expect(sealedManifestSchema.safeParse(m).success).toBe(true);
    }
  });

  it.each([
    ['an unknown top-level member', ['extra'], 1],
    ['an unknown webrtc member', ['webrtc', 'session'], 'x'],
    ['an unknown integrity member', ['integrity', 'tsa_token'], 'x'],
    ['a missing integrity', ['integrity'], undefined],
    ['a wrong algorithm', ['integrity', 'algorithm'], 'RSA'],
    ['a short signature', ['integrity', 'signature'], 'AAAA'],
    ['an upper-case hash', ['integrity', 'manifest_sha256'], 'A'.repeat(64)],
    ['schema version 2', ['schema_version'], 2],
    ['version 1 with a previous hash', ['previous_manifest_sha256'], 'a'.repeat(64)],
    ['version 2 without a previous hash', ['manifest_version'], 2],
    ['complete with missing items', ['completeness', 'missing'], [{ field: 'audio', reason: 'x' }]],
    [
      'an absent tag with a value',
      ['webrtc', 'peer_id'],
      { value: 'x', provenance: 'absent', captured_at: null, source: null },
    ],
    [
      'a captured tag without a time',
      ['webrtc', 'peer_id'],
      { value: 'x', provenance: 'live', captured_at: null, source: 's' },
    ],
    ['a custody time without milliseconds', ['chain_of_custody', '0', 'at'], '2024-03-07T09:14:40Z'],
    ['an unknown custody event', ['chain_of_custody', '0', 'event'], 'teleported'],
    ['a custody detail outside the closed set', ['chain_of_custody', '1', 'detail', 'note'], 'x'],
    ['valid metadata without verbatim', ['genesys_metadata', 'verbatim'], null],
    ['a hold released without a release time', ['legal_hold_status', 'status'], 'released'],
    ['a negative audio size', ['audio', 'size'], -1],
    ['a non-UUID recording id', ['recording_id'], 'rec-1'],
  ])('rejects %s, as the zod schema does', (_name, path, value) => {
    const bad = set(path as string[], value);
    expect(validate(bad)).toBe(false);
    expect(sealedManifestSchema.safeParse(bad).success).toBe(false);
  });

  it('keeps genesys_metadata.verbatim open for fields Genesys may add', () => {
    const open = set(['genesys_metadata', 'verbatim', 'someNewGenesysField'], { any: ['shape'] });
    expect(validate(open)).toBe(true);
    expect(sealedManifestSchema.safeParse(open).success).toBe(true);
  });
});
