import { describe, expect, it } from 'vitest';
import { sealManifest, serializeSealedManifest } from '../../../src/enrich/integrity.ts';
import type { SealedManifest } from '../../../src/enrich/integrity.ts';
import { verifyAgainstObjects, verifyManifest } from '../../../src/enrich/verify.ts';
import type { CheckName, VerificationReport } from '../../../src/enrich/verify.ts';
import { sampleManifest, sampleMetadata, testSigner } from '../../fixtures/manifest/sample.ts';

const signer = testSigner();
const v1 = sealManifest(sampleManifest(), signer);
const v1Bytes = serializeSealedManifest(v1);
const v2 = sealManifest(
  sampleManifest({ manifestVersion: 2, previousManifestSha256: v1.integrity.manifest_sha256, audio: null }),
  signer,
);
const v2Bytes = serializeSealedManifest(v2);

function check(report: VerificationReport, name: CheckName) {
  return report.checks.find((c) => c.name === name);
}
function failed(report: VerificationReport): CheckName[] {
  return report.checks.filter((c) => !c.ok).map((c) => c.name);
}
/** Re-serialises a tampered manifest with its original integrity member (as a forger without the key would). */
function reserialize(sealed: SealedManifest): Buffer {
  return serializeSealedManifest(sealed);
}

describe('verifyManifest', () => {
  it('passes every check of a fresh manifest', () => {
    const r = verifyManifest(v1Bytes, signer.keys);
    expect(failed(r)).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.checks.map((c) => c.name)).toEqual([
      'json',
      'schema',
      'canonical-form',
      'hash',
      'signature',
      'integrity-copy',
      'chain',
      'timeline',
    ]);
    expect(r.manifest).toEqual(JSON.parse(v1Bytes.toString('utf8')));
  });

  it('verifies the chain to the previous version', () => {
    const r = verifyManifest(v2Bytes, signer.keys, { previous: v1Bytes });
    expect(r.ok).toBe(true);
    expect(check(r, 'chain')?.detail).toContain(v1.integrity.manifest_sha256);
  });

  it('skips the link check when the previous version is not supplied', () => {
    const r = verifyManifest(v2Bytes, signer.keys);
    expect(r.ok).toBe(true);
    expect(check(r, 'chain')).toMatchObject({ ok: true, skipped: true });
  });

  it('fails the chain for a wrong previous manifest or version', () => {
    const other = serializeSealedManifest(sealManifest(sampleManifest({ audio: null }), signer));
    expect(failed(verifyManifest(v2Bytes, signer.keys, { previous: other }))).toEqual(['chain']);
    const v3 = sealManifest(
      sampleManifest({ manifestVersion: 3, previousManifestSha256: v1.integrity.manifest_sha256 }),
      signer,
    );
    const r = verifyManifest(serializeSealedManifest(v3), signer.keys, { previous: v1Bytes });
    expect(check(r, 'chain')?.detail).toContain('version 3 does not follow 1');
    const badPrevious = Buffer.from(v1Bytes);
    badPrevious[10] = badPrevious[10]! ^ 1;
    expect(check(verifyManifest(v2Bytes, signer.keys, { previous: badPrevious }), 'chain')?.detail).toContain(
      'does not verify',
    );
  });

  it('fails the signature with an unknown or a different key', () => {
    expect(failed(verifyManifest(v1Bytes, new Map()))).toEqual(['signature']);
    const other = testSigner();
    expect(failed(verifyManifest(v1Bytes, new Map([[signer.keyId, other.publicKey]])))).toEqual([
      'signature',
    ]);
  });

  it('detects a changed body re-serialised canonically (hash and signature fail)', () => {
    const tampered = { ...v1, audio: { ...v1.audio!, sha256: 'c'.repeat(64) } };
    expect(failed(verifyManifest(reserialize(tampered), signer.keys))).toEqual(['hash', 'signature']);
  });

  it('detects a body re-signed with a forged hash but the old signature', () => {
    const forged = sealManifest({ ...sampleManifest(), duration_ms: 1 }, testSigner());
    const withOldSignature = {
      ...forged,
      integrity: { ...forged.integrity, key_id: signer.keyId, signature: v1.integrity.signature },
    };
    expect(failed(verifyManifest(reserialize(withOldSignature), signer.keys))).toEqual(['signature']);
  });

  it('rejects a signature re-encoded in non-canonical base64 (same bytes, different file)', () => {
    const sig = v1.integrity.signature;
    const last = sig.charAt(85);
    const alias = String.fromCharCode(last.charCodeAt(0) + 1); // differs only in the 4 padding bits
    const malleated = { ...v1, integrity: { ...v1.integrity, signature: `${sig.slice(0, 85)}${alias}==` } };
    expect(Buffer.from(malleated.integrity.signature, 'base64')).toEqual(Buffer.from(sig, 'base64'));
    expect(failed(verifyManifest(reserialize(malleated), signer.keys))).toEqual(['schema']);
  });

  it('detects an integrity copy that disagrees with the body', () => {
    const bad = { ...v1, integrity: { ...v1.integrity, previous_manifest_sha256: 'e'.repeat(64) } };
    expect(failed(verifyManifest(reserialize(bad), signer.keys))).toEqual(['integrity-copy']);
  });

  it('detects a non-canonical file even when its content is intact', () => {
    const pretty = Buffer.from(JSON.stringify(JSON.parse(v1Bytes.toString('utf8')), null, 2));
    expect(failed(verifyManifest(pretty, signer.keys))).toEqual(['canonical-form']);
    expect(failed(verifyManifest(Buffer.concat([v1Bytes, Buffer.from('\n')]), signer.keys))).toEqual([
      'canonical-form',
    ]);
  });

  it('detects an out-of-order timeline (and the hash change it causes)', () => {
    const swapped = [...v1.chain_of_custody];
    [swapped[0], swapped[1]] = [swapped[1]!, swapped[0]!];
    const r = verifyManifest(
      reserialize({ ...v1, chain_of_custody: swapped as unknown as SealedManifest['chain_of_custody'] }),
      signer.keys,
    );
    expect(failed(r)).toEqual(['hash', 'signature', 'timeline']);
  });

  it.each([
    ['not UTF-8', Buffer.from([0xff, 0xfe]), 'json'],
    ['not JSON', Buffer.from('{"a":'), 'json'],
    ['an array', Buffer.from('[]'), 'schema'],
    ['a body without integrity', Buffer.from(JSON.stringify(sampleManifest())), 'schema'],
    ['an unknown top-level member', Buffer.from(JSON.stringify({ ...v1, extra: 1 })), 'schema'],
    [
      'a lone surrogate in verbatim metadata',
      Buffer.from(v1Bytes.toString('utf8').replace('"mediaType":"Call"', '"mediaType":"\\ud800"')),
      'schema',
    ],
  ])('stops at %s', (_name, bytes, name) => {
    const r = verifyManifest(bytes, signer.keys);
    expect(r.ok).toBe(false);
    expect(r.checks.at(-1)).toMatchObject({ name, ok: false });
    expect(r.manifest).toBeNull();
  });
});

describe('verifyAgainstObjects', () => {
  it('matches the recorded hashes, case-insensitively', () => {
    const r = verifyAgainstObjects(v1, {
      audioSha256: 'B'.repeat(64),
      metadataSha256: sampleMetadata().sha256,
    });
    expect(r.ok).toBe(true);
    expect(r.checks.map((c) => [c.name, c.ok, c.skipped])).toEqual([
      ['audio-sha256', true, false],
      ['metadata-sha256', true, false],
    ]);
  });

  it('fails a changed object, skips one not re-hashed, fails one the manifest lacks', () => {
    const r = verifyAgainstObjects(v1, { audioSha256: 'c'.repeat(64) });
    expect(failed(r)).toEqual(['audio-sha256']);
    expect(r.checks[1]).toMatchObject({ name: 'metadata-sha256', skipped: true });
    expect(failed(verifyAgainstObjects(v2, { audioSha256: 'b'.repeat(64) }))).toEqual(['audio-sha256']);
  });
});
