import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AuditSummary, auditRecording, holdTargets } from '../../../src/enrich/audit.ts';
import type { AuditOptions, RecordingFacts } from '../../../src/enrich/audit.ts';
import {
  keyIdFor,
  manifestSha256,
  sealManifest,
  serializeSealedManifest,
} from '../../../src/enrich/integrity.ts';
import type { SealedManifest } from '../../../src/enrich/integrity.ts';
import { BUCKET, CONV, FOLDER, REC, sampleManifest, testSigner } from '../../fixtures/manifest/sample.ts';

const signer = testSigner();
const audioKey = `${FOLDER}/${REC}.opus`;
const metadataKey = `${FOLDER}/${REC}.opus_metadata.json`;
const manifestKey = `${FOLDER}/${REC}.opus_manifest.json`;
const v1 = sealManifest(sampleManifest(), signer);
const v2 = sealManifest(
  sampleManifest({ manifestVersion: 2, previousManifestSha256: manifestSha256(v1) }),
  signer,
);
const METADATA_SHA = v1.genesys_metadata.sha256 as string;
const AUDIO_SHA = v1.audio?.sha256 as string;
const bytes = (m: SealedManifest) => serializeSealedManifest(m);

const options = (over: Partial<AuditOptions> = {}): AuditOptions => ({
  publicKeys: signer.keys,
  expectManifestHold: false,
  objectLock: true,
  ...over,
});

function facts(over: Partial<RecordingFacts> = {}): RecordingFacts {
  return {
    manifestKey,
    conversationId: CONV,
    recordingId: REC,
    partitionHour: '2024-03-07T09:00:00.000Z',
    audio: { state: 'present', key: audioKey, versionId: 'va1', sha256: AUDIO_SHA },
    metadata: { state: 'present', key: metadataKey, versionId: 'vm1', sha256: METADATA_SHA },
    manifestVersions: [
      { versionId: 'm2', bytes: bytes(v2) },
      { versionId: 'm1', bytes: bytes(v1) },
    ],
    manifestDeleted: false,
    ...over,
  };
}

const checks = (f: RecordingFacts, o = options()) =>
  auditRecording(f, o).findings.map((x) => `${x.check} ${x.key}`);

describe('auditRecording', () => {
  it('verifies an untouched two-version chain, whatever order S3 listed it in', () => {
    const a = auditRecording(facts(), options());
    expect(a.findings).toEqual([]);
    expect(a).toMatchObject({ status: 'verified', versions: 2, forked: false, completeness: 'complete' });
    expect(a.newest?.manifest_version).toBe(2);
  });

  it('reports a recording without a manifest, and one whose manifest was deleted', () => {
    expect(auditRecording(facts({ manifestVersions: [] }), options())).toMatchObject({
      status: 'missing',
      findings: [{ check: 'manifest-missing', key: manifestKey }],
    });
    expect(checks(facts({ manifestVersions: [], manifestDeleted: true }))).toEqual([
      `manifest-deleted ${manifestKey}`,
    ]);
    expect(checks(facts({ manifestDeleted: true }))).toEqual([`manifest-deleted ${manifestKey}`]);
  });

  it('counts a recording exported after the pending grace began, without a manifest yet, as pending', () => {
    const fresh = facts({ manifestVersions: [], exportedAt: 1_000_001 });
    expect(auditRecording(fresh, options({ pendingAfter: 1_000_000 }))).toMatchObject({
      status: 'pending',
      findings: [],
    });
    // Exported before it, or no grace given (the default), or the manifest deleted: a finding as before.
    expect(auditRecording(fresh, options({ pendingAfter: 1_000_001 })).status).toBe('missing');
    expect(auditRecording(fresh, options()).status).toBe('missing');
    expect(
      checks(facts({ manifestVersions: [], manifestDeleted: true, exportedAt: 1_000_001 }), {
        ...options(),
        pendingAfter: 1_000_000,
      }),
    ).toEqual([`manifest-deleted ${manifestKey}`]);
    // A recording whose export time is unknown is never pending.
    expect(auditRecording(facts({ manifestVersions: [] }), options({ pendingAfter: 0 })).status).toBe(
      'missing',
    );
  });

  it('reports audio and metadata that no longer hash to what the manifest records, or were replaced', () => {
    expect(
      checks(
        facts({
          audio: { state: 'present', key: audioKey, versionId: 'va2', sha256: 'c'.repeat(64) },
          metadata: { state: 'deleted', key: metadataKey },
        }),
      ),
    ).toEqual([`object-version ${audioKey}`, `object-missing ${metadataKey}`, `audio-sha256 ${audioKey}`]);
  });

  it('reports an edited field (hash) and the fork it makes', () => {
    const edited = bytes({ ...v2, duration_ms: 1 });
    const f = checks(
      facts({ manifestVersions: [...facts().manifestVersions, { versionId: 'm3', bytes: edited }] }),
    );
    expect(f).toContain(`fork ${manifestKey}`);
    expect(f).toContain(`manifest-invalid ${manifestKey}@m3`);
  });

  it('reports a broken link, a chain that does not start at 1, and a foreign signature', () => {
    const broken = sealManifest(
      sampleManifest({ manifestVersion: 2, previousManifestSha256: 'a'.repeat(64) }),
      signer,
    );
    expect(
      checks(
        facts({
          manifestVersions: [
            { versionId: 'm1', bytes: bytes(v1) },
            { versionId: 'm2', bytes: bytes(broken) },
          ],
        }),
      ),
    ).toEqual([`chain ${manifestKey}@m2`]);
    expect(checks(facts({ manifestVersions: [{ versionId: 'm2', bytes: bytes(v2) }] }))).toEqual([
      `chain ${manifestKey}@m2`,
    ]);
    const other = generateKeyPairSync('ed25519').privateKey;
    const foreign = sealManifest(sampleManifest(), { privateKey: other, keyId: keyIdFor(other) });
    const forged = bytes({ ...foreign, integrity: { ...foreign.integrity, key_id: signer.keyId } });
    const a = auditRecording(facts({ manifestVersions: [{ versionId: 'm1', bytes: forged }] }), options());
    expect(a.findings.map((x) => x.detail)).toEqual([
      expect.stringMatching(/^signature: signature does not verify/),
    ]);
    // No trusted version: nothing to compare the objects with, and no completeness claimed.
    expect(a.completeness).toBeNull();
  });

  it('reports a manifest version without the legal hold the configuration requires', () => {
    const held = facts({
      manifestVersions: [
        { versionId: 'm1', bytes: bytes(v1), legalHold: 'ON' },
        { versionId: 'm2', bytes: bytes(v2), legalHold: 'OFF' },
      ],
    });
    expect(checks(held, options({ expectManifestHold: true }))).toEqual([`legal-hold ${manifestKey}@m2`]);
    expect(checks(held, options({ expectManifestHold: false }))).toEqual([]);
  });

  it('checks the objects and every manifest version are held when the manifest says the hold is on', () => {
    const on = sealManifest(
      sampleManifest({
        legalHold: {
          status: 'on',
          matter: 'M-1',
          applied_at: '2024-03-08T00:00:00.000Z',
          source: 'custody hold',
        },
      }),
      signer,
    );
    const versions = [{ versionId: 'm1', bytes: bytes(on) }];
    expect(holdTargets(versions, options())).toEqual({ manifestVersions: true, exportObjects: true });
    expect(holdTargets(versions, options({ objectLock: false }))).toEqual({
      manifestVersions: false,
      exportObjects: false,
    });
    expect(holdTargets([{ versionId: 'm1', bytes: bytes(v1) }], options())).toEqual({
      manifestVersions: false,
      exportObjects: false,
    });
    const f = facts({
      manifestVersions: [{ ...versions[0]!, legalHold: 'ON' }],
      audio: { state: 'present', key: audioKey, versionId: 'va1', sha256: AUDIO_SHA, legalHold: 'OFF' },
      metadata: {
        state: 'present',
        key: metadataKey,
        versionId: 'vm1',
        sha256: METADATA_SHA,
        legalHold: 'ON',
      },
    });
    expect(checks(f)).toEqual([`legal-hold ${audioKey}@va1`]);
    expect(checks(f, options({ objectLock: false }))).toEqual([`legal-hold ${manifestKey}`]);
  });

  it('reports what the published JSON Schema rejects, and trusts no such version', () => {
    const a = auditRecording(
      facts(),
      options({
        jsonSchema: (v) => ((v as { manifest_version: number }).manifest_version === 2 ? ['/x: bad'] : []),
      }),
    );
    expect(a.findings).toEqual([
      { key: `${manifestKey}@m2`, check: 'manifest-invalid', detail: 'json-schema: /x: bad' },
    ]);
    expect(a.newest?.manifest_version).toBe(1);
  });
});

describe('AuditSummary', () => {
  it('counts recordings by day and check, and lists findings by key', () => {
    const s = new AuditSummary();
    s.add(auditRecording(facts(), options()));
    s.add(
      auditRecording(facts({ manifestVersions: [], partitionHour: '2024-03-08T01:00:00.000Z' }), options()),
    );
    s.add(
      auditRecording(
        facts({ audio: { state: 'present', key: audioKey, versionId: 'va1', sha256: 'd'.repeat(64) } }),
        options(),
      ),
    );
    const r = s.report({
      version: 'test',
      generatedAt: '2024-03-09T00:00:00.000Z',
      scope: {
        bucket: BUCKET,
        prefix: '',
        manifestBucket: BUCKET,
        manifestPrefix: '',
        from: null,
        to: null,
        conversations: null,
        publicKeyIds: [signer.keyId],
        objectLock: true,
        expectManifestHold: false,
        pendingGraceMinutes: null,
      },
    });
    expect(r.ok).toBe(false);
    expect(r.counts).toEqual({
      recordings: 3,
      verified: 1,
      failed: 2,
      missingManifest: 1,
      pending: 0,
      complete: 2,
      incomplete: 0,
      manifestVersions: 4,
      findings: 2,
      forkedChains: 0,
    });
    expect(r.byDay).toEqual([
      {
        day: '2024-03-07',
        recordings: 2,
        verified: 1,
        failed: 1,
        missingManifest: 0,
        pending: 0,
        complete: 2,
        incomplete: 0,
      },
      {
        day: '2024-03-08',
        recordings: 1,
        verified: 0,
        failed: 1,
        missingManifest: 1,
        pending: 0,
        complete: 0,
        incomplete: 0,
      },
    ]);
    expect(r.findingsByCheck).toEqual({ 'audio-sha256': 1, 'manifest-missing': 1 });
    expect(r.findings.map((f) => f.key)).toEqual([audioKey, manifestKey]);
  });
});
