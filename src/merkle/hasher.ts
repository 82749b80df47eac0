/**
 * RFC 9162 §2.1.1 hashing: leaf = SHA-256(0x00 || entry), node = SHA-256(0x01 || left || right).
 * Parameterised by the SHA-256 implementation so the same math runs on node's
 * crypto (sequencer) and on noble (verify entry, browsers).
 */
import type { Sha256 } from '../crypto/sha256.js';

export const HASH_SIZE = 32;

export interface TreeHasher {
  leaf(entry: Uint8Array): Uint8Array;
  node(left: Uint8Array, right: Uint8Array): Uint8Array;
  /** MTH({}) = SHA-256 of the empty string (RFC 9162 §2.1.1). */
  readonly emptyRoot: Uint8Array;
}

export function treeHasher(sha256: Sha256): TreeHasher {
  return {
    leaf(entry) {
      const buf = new Uint8Array(entry.length + 1);
      buf.set(entry, 1);
      return sha256(buf);
    },
    node(left, right) {
      const buf = new Uint8Array(1 + 2 * HASH_SIZE);
      buf[0] = 1;
      buf.set(left, 1);
      buf.set(right, 1 + HASH_SIZE);
      return sha256(buf);
    },
    emptyRoot: sha256(new Uint8Array(0)),
  };
}
