/**
 * Ed25519 (RFC 8032) through noble: the portable path, used by the verify entry
 * and browsers. Verification is RFC 8032-strict (zip215: false). OpenSSL (the
 * Node hot path) and noble agree on every signature under a *strong* public
 * key, but not under small-order keys (OpenSSL accepts the identity key with a
 * signature that verifies any message). So no key enters the ledger unless
 * `isStrongPublicKey` holds: then both paths give the same verdicts.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { ErrorCode, fail } from '../errors.js';
import { copyBytes } from './bytes.js';

export const PUBLIC_KEY_LENGTH = 32;
export const SEED_LENGTH = 32;
export const SIGNATURE_LENGTH = 64;

/** Something that signs with one Ed25519 key. */
export interface Signer {
  readonly publicKey: Uint8Array;
  sign(message: Uint8Array): Uint8Array;
}

/** Verifies one Ed25519 signature; returns false (never throws) on any mismatch. */
export type Verify = (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) => boolean;

export function checkLength(bytes: Uint8Array, length: number, what: string): void {
  if (!(bytes instanceof Uint8Array) || bytes.length !== length) {
    fail(
      ErrorCode.INVALID_ARGUMENT,
      `${what}: expected ${length} bytes, got ${bytes instanceof Uint8Array ? bytes.length : typeof bytes}`,
    );
  }
}

/** A canonical encoding of a curve point that is not of small order (so no signature is universal). */
export function isStrongPublicKey(key: Uint8Array): boolean {
  if (!(key instanceof Uint8Array) || key.length !== PUBLIC_KEY_LENGTH) return false;
  try {
    const p = ed25519.Point.fromBytes(key, false);
    return !p.isSmallOrder() && p.isTorsionFree();
  } catch {
    return false;
  }
}

export function randomSeed(): Uint8Array {
  return ed25519.utils.randomSecretKey();
}

export function nobleSigner(seed: Uint8Array): Signer {
  checkLength(seed, SEED_LENGTH, 'Ed25519 seed');
  const secret = copyBytes(seed);
  return { publicKey: ed25519.getPublicKey(secret), sign: (m) => ed25519.sign(m, secret) };
}

export const verifyNoble: Verify = (publicKey, message, signature) => {
  if (
    !(publicKey instanceof Uint8Array && message instanceof Uint8Array && signature instanceof Uint8Array) ||
    publicKey.length !== PUBLIC_KEY_LENGTH ||
    signature.length !== SIGNATURE_LENGTH
  )
    return false;
  try {
    return ed25519.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
};
