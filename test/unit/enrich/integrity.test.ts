import { execFileSync } from 'node:child_process';
import { createHash, generateKeyPairSync, verify } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { canonicalize } from '../../../src/enrich/canonical-json.ts';
import {
  keyIdFor,
  manifestBodyBytes,
  manifestSha256,
  sealManifest,
  serializeSealedManifest,
} from '../../../src/enrich/integrity.ts';
import { sampleManifest, testSigner } from '../../fixtures/manifest/sample.ts';

const signer = testSigner();

describe('sealManifest', () => {
  it('hashes and signs the canonical body, and copies the previous hash', () => {
    const body = sampleManifest({ manifestVersion: 2, previousManifestSha256: 'd'.repeat(64) });
    const sealed = sealManifest(body, signer);
    const bytes = Buffer.from(canonicalize(body), 'utf8');
    expect(sealed.integrity).toMatchObject({
      algorithm: 'Ed25519',
      canonicalization: 'RFC8785',
      manifest_sha256: createHash('sha256').update(bytes).digest('hex'),
      previous_manifest_sha256: 'd'.repeat(64),
      key_id: signer.keyId,
    });
    expect(verify(null, bytes, signer.publicKey, Buffer.from(sealed.integrity.signature, 'base64'))).toBe(
      true,
    );
    expect(manifestSha256(sealed)).toBe(sealed.integrity.manifest_sha256);
    expect(manifestBodyBytes(sealed)).toEqual(bytes);
  });

  it('is deterministic (Ed25519) and changes with the body', () => {
    const a = sealManifest(sampleManifest(), signer);
    expect(sealManifest(sampleManifest(), signer)).toEqual(a);
    const b = sealManifest(
      sampleManifest({ generatedBy: { component: 'sink', version: '0.1.1', instance: 'sink-a' } }),
      signer,
    );
    expect(b.integrity.manifest_sha256).not.toBe(a.integrity.manifest_sha256);
    expect(b.integrity.signature).not.toBe(a.integrity.signature);
  });

  it('refuses a wrong key type, a mismatched key id, or an already sealed manifest', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    expect(() =>
      sealManifest(sampleManifest(), { keyId: keyIdFor(rsa.publicKey), privateKey: rsa.privateKey }),
    ).toThrow(TypeError);
    expect(() =>
      sealManifest(sampleManifest(), { keyId: 'ffffffffffffffff', privateKey: signer.privateKey }),
    ).toThrow(/keyId/);
    expect(() =>
      sealManifest(sampleManifest(), { keyId: signer.keyId, privateKey: signer.publicKey }),
    ).toThrow(TypeError);
    const sealed = sealManifest(sampleManifest(), signer);
    expect(() => sealManifest(sealed, signer)).toThrow(/already sealed/);
  });
});

describe('keyIdFor', () => {
  it('is the first 16 hex of the SHA-256 of the SPKI DER, from either half of the pair', () => {
    const der = signer.publicKey.export({ type: 'spki', format: 'der' });
    expect(keyIdFor(signer.publicKey)).toBe(createHash('sha256').update(der).digest('hex').slice(0, 16));
    expect(keyIdFor(signer.privateKey)).toBe(keyIdFor(signer.publicKey));
    expect(keyIdFor(testSigner().publicKey)).not.toBe(keyIdFor(signer.publicKey));
  });
});

describe('serializeSealedManifest', () => {
  it('is one line of valid JSON: the canonical body with integrity appended', () => {
    const sealed = sealManifest(sampleManifest(), signer);
    const text = serializeSealedManifest(sealed).toString('utf8');
    expect(text).not.toContain('\n');
    expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(sealed)));
    expect(text.startsWith(canonicalize(sampleManifest()).slice(0, -1))).toBe(true);
    expect(text.endsWith(`,"integrity":${canonicalize(sealed.integrity)}}`)).toBe(true);
  });
});

describe('the auditor recipe (sed + openssl, as in the README)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'custody-manifest-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  // Exactly the commands the README gives auditors.
  const RECIPE = [
    `sed -E 's/,"integrity":\\{[^{}]*\\}\\}$/}/' manifest.json > body.bin`,
    `sed -E 's/.*,"integrity":\\{[^{}]*"signature":"([^"]*)".*/\\1/' manifest.json | base64 -d > sig.bin`,
    `sed -E 's/.*,"integrity":\\{[^{}]*"manifest_sha256":"([0-9a-f]{64})".*/\\1/' manifest.json`,
    `openssl dgst -sha256 -r body.bin`,
    `openssl pkeyutl -verify -pubin -inkey pub.pem -rawin -in body.bin -sigfile sig.bin`,
    `openssl pkey -pubin -in pub.pem -outform DER | openssl dgst -sha256 -r | cut -c1-16`,
  ];

  // Runs each command on its own (as an auditor would type them) and returns their outputs, or the failure.
  function runRecipe(manifestBytes: Uint8Array): { code: number; outputs: string[]; out: string } {
    writeFileSync(join(dir, 'manifest.json'), manifestBytes);
    writeFileSync(join(dir, 'pub.pem'), signer.publicKey.export({ type: 'spki', format: 'pem' }));
    const outputs: string[] = [];
    for (const command of RECIPE) {
      try {
        outputs.push(
          execFileSync('sh', ['-c', command], { cwd: dir, encoding: 'utf8', stdio: 'pipe' }).trim(),
        );
      } catch (e) {
        const failure = e as { status: number; stdout: string; stderr: string };
        return { code: failure.status, outputs, out: `${failure.stdout}${failure.stderr}` };
      }
    }
    return { code: 0, outputs, out: '' };
  }

  it('is the recipe the README gives, command for command', () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    for (const command of RECIPE) expect(readme).toContain(command);
  });

  it('recovers the signed bytes and verifies hash, signature and key id with openssl', () => {
    // Verbatim metadata with its own "integrity" key must not confuse the sed pattern.
    const manifest = sampleManifest();
    const tricky = {
      ...manifest,
      genesys_metadata: {
        ...manifest.genesys_metadata,
        verbatim: { ...manifest.genesys_metadata.verbatim, integrity: { a: '}}' } },
      },
    };
    const sealed = sealManifest(tricky, signer);
    const { code, outputs, out } = runRecipe(serializeSealedManifest(sealed));
    expect(out).toBe('');
    expect(code).toBe(0);
    expect(outputs).toEqual([
      '',
      '',
      sealed.integrity.manifest_sha256,
      `${sealed.integrity.manifest_sha256} *body.bin`,
      'Signature Verified Successfully',
      sealed.integrity.key_id,
    ]);
  });

  it('fails with openssl when one byte of the body is changed', () => {
    const bytes = Buffer.from(serializeSealedManifest(sealManifest(sampleManifest(), signer)));
    const at = bytes.indexOf('"audio"') + 2;
    bytes[at] = 'b'.charCodeAt(0); // "audio" → "budio"
    const { code, out } = runRecipe(bytes);
    expect(code).not.toBe(0);
    expect(out).toContain('Signature Verification Failure');
  });
});
