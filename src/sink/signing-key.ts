/**
 * Loads the Ed25519 key that signs manifests from a PEM file (CUSTODY_SIGNING_KEY_FILE). Errors name the file
 * and what is wrong with it, never its content.
 */
import { readFile } from 'node:fs/promises';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { keyIdFor } from '../enrich/integrity.ts';
import type { ManifestSigner } from '../enrich/integrity.ts';

/** The signer plus its public key (to verify manifests the sink reads back). */
export type SigningKey = ManifestSigner & Readonly<{ publicKey: KeyObject }>;

/** Makes a signer from an Ed25519 private key. @throws {TypeError} for any other key type. */
export function signingKeyOf(privateKey: KeyObject): SigningKey {
  if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'ed25519') {
    throw new TypeError('the manifest signing key must be an Ed25519 private key');
  }
  return { privateKey, publicKey: createPublicKey(privateKey), keyId: keyIdFor(privateKey) };
}

/**
 * Reads a PKCS#8 (or any Node-readable) PEM private key and checks that it is Ed25519.
 * @throws {Error} when the file cannot be read or holds no Ed25519 private key (message without key material).
 */
export async function loadSigningKey(path: string): Promise<SigningKey> {
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch {
    throw new Error(`signing key file ${path} cannot be read`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new Error(`signing key file ${path} does not hold a PEM private key`);
  }
  try {
    return signingKeyOf(key);
  } catch {
    throw new Error(`signing key file ${path} does not hold an Ed25519 private key`);
  }
}

/** Reads a PEM public key (or the public half of a private key); errors name the file, never its content. */
export async function loadPublicKey(path: string): Promise<KeyObject> {
  try {
    return createPublicKey(await readFile(path, 'utf8'));
  } catch {
    throw new Error(`trusted key file ${path} cannot be read or holds no PEM public key`);
  }
}
