/**
 * Verification of a manifest file, as an auditor (or `custody verify`) would do it: from the file's bytes and a
 * set of trusted public keys, with no trust in the writer. Every check is reported, with a reason, so a failed
 * verification says what failed rather than just "invalid".
 */
import { verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { isCanonicalizable } from './canonical-json.ts';
import { verifyTimeline } from './custody.ts';
import { manifestBodyBytes, serializeSealedManifest, sha256Hex } from './integrity.ts';
import type { SealedManifest } from './integrity.ts';
import type { Manifest } from './manifest.ts';
import { sealedManifestSchema } from './manifest-schema.ts';

/** The checks, in the order they run. */
export type CheckName =
  | 'json'
  | 'schema'
  | 'canonical-form'
  | 'hash'
  | 'signature'
  | 'integrity-copy'
  | 'chain'
  | 'timeline'
  | 'audio-sha256'
  | 'metadata-sha256';

/** One check's outcome. A skipped check (not enough input to run it) has `ok: true` and `skipped: true`. */
export type VerificationCheck = Readonly<{ name: CheckName; ok: boolean; skipped: boolean; detail: string }>;

/** `ok` is true when no check failed. `manifest` is the parsed manifest once it passed the schema check. */
export type VerificationReport = Readonly<{
  ok: boolean;
  checks: readonly VerificationCheck[];
  manifest: SealedManifest | null;
}>;

const pass = (name: CheckName, detail: string): VerificationCheck => ({
  name,
  ok: true,
  skipped: false,
  detail,
});
const fail = (name: CheckName, detail: string): VerificationCheck => ({
  name,
  ok: false,
  skipped: false,
  detail,
});
const skip = (name: CheckName, detail: string): VerificationCheck => ({
  name,
  ok: true,
  skipped: true,
  detail,
});

function report(checks: VerificationCheck[], manifest: SealedManifest | null): VerificationReport {
  return { ok: checks.every((c) => c.ok), checks, manifest };
}

function parseJson(bytes: Uint8Array): { value: unknown } | { error: string } {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return { error: 'not valid UTF-8' };
  }
  try {
    return { value: JSON.parse(text) as unknown };
  } catch {
    return { error: 'not JSON' };
  }
}

function chainCheck(
  manifest: SealedManifest,
  publicKeys: ReadonlyMap<string, KeyObject>,
  previousBytes: Uint8Array | undefined,
): VerificationCheck {
  if (previousBytes === undefined) {
    return manifest.manifest_version === 1
      ? pass('chain', 'version 1: no previous manifest')
      : skip(
          'chain',
          `version ${manifest.manifest_version}: previous manifest not supplied, link not checked`,
        );
  }
  const previous = verifyManifest(previousBytes, publicKeys);
  if (!previous.ok || previous.manifest === null) {
    const failed = previous.checks.filter((c) => !c.ok).map((c) => c.name);
    return fail('chain', `the previous manifest does not verify (${failed.join(', ')})`);
  }
  const prev = previous.manifest;
  const problems: string[] = [];
  const prevHash = sha256Hex(manifestBodyBytes(prev));
  if (manifest.previous_manifest_sha256 !== prevHash)
    problems.push('previous_manifest_sha256 is not its hash');
  if (manifest.manifest_version !== prev.manifest_version + 1) {
    problems.push(`version ${manifest.manifest_version} does not follow ${prev.manifest_version}`);
  }
  if (manifest.conversation_id !== prev.conversation_id || manifest.recording_id !== prev.recording_id) {
    problems.push('the previous manifest is for another recording');
  }
  return problems.length === 0
    ? pass('chain', `follows version ${prev.manifest_version} (${prevHash})`)
    : fail('chain', problems.join('; '));
}

/**
 * Verifies a manifest file.
 *
 * Checks: the bytes are UTF-8 JSON; the manifest matches the v1 schema; the file is exactly the canonical
 * sealed form; `integrity.manifest_sha256` is the hash of the canonical body; the signature verifies with the key
 * named by `key_id` (looked up in `publicKeys`); the integrity copy of `previous_manifest_sha256` equals the
 * body's; with `opts.previous` (the previous version's file), that it verifies and this one links to its hash
 * with version + 1; and the custody timeline is valid and ordered. Pure; never throws.
 */
export function verifyManifest(
  bytes: Uint8Array,
  publicKeys: ReadonlyMap<string, KeyObject>,
  opts: Readonly<{ previous?: Uint8Array }> = {},
): VerificationReport {
  const checks: VerificationCheck[] = [];
  const parsed = parseJson(bytes);
  if ('error' in parsed) return report([fail('json', parsed.error)], null);
  checks.push(pass('json', `${bytes.byteLength} bytes of JSON`));

  const shaped = sealedManifestSchema.safeParse(parsed.value);
  if (!shaped.success) {
    const issues = shaped.error.issues
      .slice(0, 5)
      .map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`);
    checks.push(fail('schema', issues.join('; ')));
    return report(checks, null);
  }
  if (!isCanonicalizable(parsed.value)) {
    checks.push(fail('schema', 'not I-JSON (a string holds a lone surrogate)'));
    return report(checks, null);
  }
  // Keep the parsed value (not zod's copy) so hashing sees exactly what the file holds.
  const manifest = parsed.value as SealedManifest;
  checks.push(pass('schema', 'matches manifest schema v1'));

  const canonicalFile = serializeSealedManifest(manifest);
  checks.push(
    Buffer.from(bytes).equals(canonicalFile)
      ? pass('canonical-form', 'file is the canonical sealed form')
      : fail(
          'canonical-form',
          'file is not byte-for-byte the canonical sealed form (whitespace, order or escaping)',
        ),
  );

  const body = manifestBodyBytes(manifest);
  const hash = sha256Hex(body);
  checks.push(
    hash === manifest.integrity.manifest_sha256
      ? pass('hash', `sha256 ${hash}`)
      : fail('hash', `body hashes to ${hash}, integrity says ${manifest.integrity.manifest_sha256}`),
  );

  const key = publicKeys.get(manifest.integrity.key_id);
  if (key === undefined) {
    checks.push(fail('signature', `no trusted public key with id ${manifest.integrity.key_id}`));
  } else {
    let valid: boolean;
    try {
      valid = verify(null, body, key, Buffer.from(manifest.integrity.signature, 'base64'));
    } catch {
      // A key of another type (e.g. RSA in the trusted set) throws instead of answering false.
      valid = false;
    }
    checks.push(
      valid
        ? pass('signature', `Ed25519 signature by key ${manifest.integrity.key_id}`)
        : fail('signature', `signature does not verify with key ${manifest.integrity.key_id}`),
    );
  }

  checks.push(
    manifest.integrity.previous_manifest_sha256 === manifest.previous_manifest_sha256
      ? pass('integrity-copy', 'integrity.previous_manifest_sha256 equals the signed body')
      : fail('integrity-copy', 'integrity.previous_manifest_sha256 differs from the signed body'),
  );

  checks.push(chainCheck(manifest, publicKeys, opts.previous));

  const timeline = verifyTimeline(manifest.chain_of_custody);
  checks.push(
    timeline.ok
      ? pass('timeline', `${manifest.chain_of_custody.length} custody entries, valid and ordered`)
      : fail('timeline', timeline.error.detail),
  );
  return report(checks, manifest);
}

/**
 * Compares a manifest with hashes the shell computed by re-reading the S3 objects it names. A hash not supplied
 * is skipped; a hash supplied for an object the manifest does not record fails.
 */
export function verifyAgainstObjects(
  manifest: Manifest | SealedManifest,
  objects: Readonly<{ audioSha256?: string; metadataSha256?: string }>,
): VerificationReport {
  const compare = (
    name: CheckName,
    recorded: string | null,
    actual: string | undefined,
  ): VerificationCheck => {
    if (actual === undefined) return skip(name, 'object not re-hashed');
    if (recorded === null) return fail(name, 'the manifest records no hash for this object');
    return recorded === actual.toLowerCase()
      ? pass(name, `matches ${recorded}`)
      : fail(name, `object hashes to ${actual.toLowerCase()}, manifest records ${recorded}`);
  };
  const checks = [
    compare('audio-sha256', manifest.audio?.sha256 ?? null, objects.audioSha256),
    compare('metadata-sha256', manifest.genesys_metadata.sha256, objects.metadataSha256),
  ];
  return { ok: checks.every((c) => c.ok), checks, manifest: 'integrity' in manifest ? manifest : null };
}
