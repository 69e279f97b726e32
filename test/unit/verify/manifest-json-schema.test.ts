import { describe, expect, it } from 'vitest';
import { sealManifest } from '../../../src/enrich/integrity.ts';
import { compileManifestJsonSchema } from '../../../src/verify/manifest-json-schema.ts';
import { sampleManifest, testSigner } from '../../fixtures/manifest/sample.ts';

describe('compileManifestJsonSchema', () => {
  const validate = compileManifestJsonSchema();
  const sealed = sealManifest(sampleManifest(), testSigner());

  it('accepts a sealed manifest', () => {
    expect(validate(sealed)).toEqual([]);
  });

  it('names what the published schema rejects', () => {
    expect(validate({ ...sealed, extra: 1 }).join('; ')).toMatch(
      /^\(root\): must NOT have additional properties/,
    );
    expect(validate({ ...sealed, manifest_version: 0 }).join('; ')).toContain('/manifest_version');
  });
});
