/**
 * Node's native SHA-256 and Ed25519 (OpenSSL): 3-18x faster than the pure-JS
 * path on this hardware (see bench/), behind the same `Sha256` / `Signer` /
 * `Verify` shapes as the noble path. Never imported by the verify entry.
 */
import * as crypto from 'node:crypto';
import {
  checkLength,
  PUBLIC_KEY_LENGTH,
  SEED_LENGTH,
  SIGNATURE_LENGTH,
  type Signer,
  type Verify,
} from './ed25519.js';
import type { Sha256 } from './sha256.js';

export const sha256Node: Sha256 = (data) => {
  const digest = crypto.hash('sha256', data, 'buffer') as unknown as Buffer;
  return new Uint8Array(digest.buffer, digest.byteOffset, digest.length);
};

// DER prefixes wrapping a raw Ed25519 seed (PKCS#8) and public key (SPKI), RFC 8410.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export function nodeSigner(seed: Uint8Array): Signer {
  checkLength(seed, SEED_LENGTH, 'Ed25519 seed');
  const privateKey = crypto.createPrivateKey({
    key: Buffer.concat([PKCS8_PREFIX, seed]),
    format: 'der',
    type: 'pkcs8',
  });
  const spki = crypto.createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  const publicKey = new Uint8Array(spki.subarray(SPKI_PREFIX.length));
  return {
    publicKey,
    sign: (message) => new Uint8Array(crypto.sign(null, message, privateKey)),
  };
}

/**
 * KeyObjects by the public key's bytes (parsing a key costs more than half a
 * verification), found without making a string of them: by the key's first
 * four bytes, then compared in full.
 */
const keysByBytes = new Map<number, Array<{ key: Uint8Array; object: crypto.KeyObject }>>();

/** The KeyObject of the public key at `keys[at..at+32]` (throws for a key OpenSSL refuses). */
function publicKeyObject(keys: Uint8Array, at = 0): crypto.KeyObject {
  const id = ((keys[at]! << 24) | (keys[at + 1]! << 16) | (keys[at + 2]! << 8) | keys[at + 3]!) >>> 0;
  const bucket = keysByBytes.get(id);
  if (bucket !== undefined) {
    for (const k of bucket) {
      let same = true;
      for (let i = 4; i < PUBLIC_KEY_LENGTH && same; i++) same = k.key[i] === keys[at + i];
      if (same) return k.object;
    }
  }
  const key = keys.slice(at, at + PUBLIC_KEY_LENGTH);
  const object = crypto.createPublicKey({
    key: Buffer.concat([SPKI_PREFIX, key]),
    format: 'der',
    type: 'spki',
  });
  if (keysByBytes.size >= 4096) keysByBytes.clear();
  const entries = keysByBytes.get(id) ?? [];
  entries.push({ key, object });
  keysByBytes.set(id, entries);
  return object;
}

export const verifyNode: Verify = (publicKey, message, signature) =>
  publicKey.length === PUBLIC_KEY_LENGTH && verifyNodeAt(message, signature, publicKey, 0);

/**
 * `verifyNode` with the public key at `keys[at..at+32]`, for many
 * verifications under a few keys (an admission worker's signature checks).
 */
export function verifyNodeAt(
  message: Uint8Array,
  signature: Uint8Array,
  keys: Uint8Array,
  at: number,
): boolean {
  if (signature.length !== SIGNATURE_LENGTH || at + PUBLIC_KEY_LENGTH > keys.length) return false;
  try {
    return crypto.verify(null, message, publicKeyObject(keys, at), signature);
  } catch {
    return false;
  }
}

/** Verification on libuv's thread pool, so both cores verify while the main thread sequences. */
export function verifyNodeAsync(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  if (publicKey.length !== PUBLIC_KEY_LENGTH || signature.length !== SIGNATURE_LENGTH)
    return Promise.resolve(false);
  return new Promise((resolve) => {
    try {
      crypto.verify(null, message, publicKeyObject(publicKey), signature, (err, ok) => resolve(!err && ok));
    } catch {
      resolve(false);
    }
  });
}
