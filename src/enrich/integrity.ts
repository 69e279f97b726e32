/**
 * Sealing manifests: SHA-256 over the RFC 8785 canonical JSON of the body, an Ed25519 signature over the same
 * bytes, and a file layout an auditor can check with `sed` and `openssl` alone.
 *
 * The signed body already contains `manifest_version` and `previous_manifest_sha256`, so the hash chain between
 * versions is itself signed; `integrity.previous_manifest_sha256` is an informational copy that verification
 * checks against the body.
 *
 * File layout: the canonical JSON of the body with `,"integrity":{…canonical…}` inserted before its final `}`, on
 * one line with no trailing newline. It is valid JSON, and removing that member gives back exactly the signed
 * bytes. Because `integrity` has no nested object and is the last member, the anchored pattern
 * `,"integrity":\{[^{}]*\}\}$` matches only it, even if Genesys's verbatim metadata has a key named "integrity".
 *
 * Node's crypto is the only dependency: keys are `KeyObject`s passed in (the shell loads them), Ed25519 is
 * deterministic, so sealing is a pure function of the manifest and the key.
 */
import { createPublicKey, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { canonicalBytes, canonicalize, canonicalizeFrozen } from './canonical-json.ts';
import type { Manifest } from './manifest.ts';
import { sha256Hex } from './sha256.ts';

export { sha256Hex };

/** The key that signs manifests and its id (see {@link keyIdFor}). */
export type ManifestSigner = Readonly<{ keyId: string; privateKey: KeyObject }>;

/** The `integrity` member of a sealed manifest. */
export type ManifestIntegrity = Readonly<{
  algorithm: 'Ed25519';
  canonicalization: 'RFC8785';
  /** Hex SHA-256 of the canonical JSON of the body (the manifest without `integrity`). */
  manifest_sha256: string;
  /** Copy of the body's `previous_manifest_sha256`, for readers. */
  previous_manifest_sha256: string | null;
  /** Base64 Ed25519 signature over the same canonical bytes. */
  signature: string;
  key_id: string;
}>;

/** A manifest body plus its `integrity` member. */
export type SealedManifest = Manifest & Readonly<{ integrity: ManifestIntegrity }>;

/**
 * The bytes that are hashed and signed: canonical JSON of the manifest without any `integrity` member.
 * Accepts unknown data so that verification can use it on a parsed file.
 */
export function manifestBodyBytes(
  manifest: Manifest | SealedManifest | Readonly<Record<string, unknown>>,
): Buffer {
  return canonicalBytes(manifestBodyOf(manifest));
}

/** Hex SHA-256 of {@link manifestBodyBytes}: the manifest's identity in the hash chain. */
export function manifestSha256(manifest: Manifest | SealedManifest): string {
  return sha256Hex(Buffer.from(bodyTextOf(manifest), 'utf8'));
}

/** Key ids by key (KeyObjects are immutable; the sink checks its key's id on every manifest it seals). */
const KEY_IDS = new WeakMap<KeyObject, string>();

/** A key's id: the first 16 hex characters of the SHA-256 of its SubjectPublicKeyInfo DER encoding. */
export function keyIdFor(key: KeyObject): string {
  const known = KEY_IDS.get(key);
  if (known !== undefined) return known;
  const publicKey = key.type === 'public' ? key : createPublicKey(key);
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const id = sha256Hex(spki).slice(0, 16);
  KEY_IDS.set(key, id);
  return id;
}

/** The canonical body text each manifest was sealed over, so writing it does not canonicalise it again. */
const SEALED_BODIES = new WeakMap<SealedManifest, string>();

/**
 * Adds `integrity` to a manifest body.
 * @throws {TypeError} if the key is not an Ed25519 private key, `keyId` is not that key's id, or the manifest is
 * already sealed — configuration or programming errors, not data errors.
 */
export function sealManifest(manifest: Manifest, signer: ManifestSigner): SealedManifest {
  const { privateKey, keyId } = signer;
  if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'ed25519') {
    throw new TypeError('manifests are signed with an Ed25519 private key');
  }
  if (keyIdFor(privateKey) !== keyId) throw new TypeError('signer keyId does not match the private key');
  if (Object.hasOwn(manifest, 'integrity')) throw new TypeError('manifest is already sealed');
  const text = bodyTextOf(manifest);
  const body = Buffer.from(text, 'utf8');
  const integrity: ManifestIntegrity = {
    algorithm: 'Ed25519',
    canonicalization: 'RFC8785',
    manifest_sha256: sha256Hex(body),
    previous_manifest_sha256: manifest.previous_manifest_sha256,
    signature: sign(null, body, privateKey).toString('base64'),
    key_id: keyId,
  };
  const sealed: SealedManifest = { ...manifest, integrity };
  SEALED_BODIES.set(sealed, text);
  return sealed;
}

/**
 * The manifest file's bytes (UTF-8, one line, no trailing newline): the canonical body with the canonical
 * `integrity` member appended before the final `}` (see the module comment for why, and how to strip it).
 */
export function serializeSealedManifest(sealed: SealedManifest): Buffer {
  // A sealed manifest is never changed (its type is read-only); the text it was sealed over is its body.
  const body = bodyTextOf(sealed);
  const integrity = canonicalize(sealed.integrity);
  return Buffer.from(`${body.slice(0, -1)},"integrity":${integrity}}`, 'utf8');
}

/**
 * The canonical text of a manifest's body. Manifests are never changed once built (their types are read-only):
 * a built one keeps the text buildManifest checked it with, a sealed one the text it was sealed over.
 */
function bodyTextOf(manifest: Manifest | SealedManifest): string {
  if (!Object.hasOwn(manifest, 'integrity')) return canonicalizeFrozen(manifest);
  return SEALED_BODIES.get(manifest as SealedManifest) ?? canonicalize(manifestBodyOf(manifest));
}

/** The manifest without any `integrity` member. */
function manifestBodyOf(
  manifest: Manifest | SealedManifest | Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const body: Record<string, unknown> = { ...manifest };
  delete body['integrity'];
  return body;
}
