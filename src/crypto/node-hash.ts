/**
 * RFC 9162 interior-node hashing, SHA-256(0x01 || left || right), in plain
 * JavaScript, reading and writing caller-owned buffers at offsets.
 *
 * Why not node's crypto.hash on the sequencer's hot path: measured here, a
 * 65-byte crypto.hash costs ~1.0 µs alone but 1.6–2.5 µs while worker threads
 * use OpenSSL too (its locks are shared across threads), and every digest is
 * a new Buffer for the GC. This runs in ~0.8 µs whatever other threads do
 * (the compression is unrolled, sha256-rounds.ts) and allocates nothing. The
 * output is plain SHA-256 (checked against node's and noble's in
 * test/crypto/node-hash.test.ts).
 */
import { compressBlock, compressLastBlock } from './sha256-rounds.js';

const IV = Int32Array.from([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);
const H = new Int32Array(8);

/** Big-endian word of 4 bytes at `p`. */
function word(bytes: Uint8Array, p: number): number {
  return (bytes[p]! << 24) | (bytes[p + 1]! << 16) | (bytes[p + 2]! << 8) | bytes[p + 3]!;
}

/**
 * Writes SHA-256(0x01 || left[lo..lo+32) || right[ro..ro+32)) to out[at..at+32).
 * `out` may be `left` or `right` (all input is read before anything is written).
 */
export function nodeHashInto(
  left: Uint8Array,
  lo: number,
  right: Uint8Array,
  ro: number,
  out: Uint8Array,
  at: number,
): void {
  H.set(IV);
  // The 65-byte message is 0x01, left, right: shifted one byte against the words.
  compressBlock(
    H,
    0x01000000 | (left[lo]! << 16) | (left[lo + 1]! << 8) | left[lo + 2]!,
    word(left, lo + 3),
    word(left, lo + 7),
    word(left, lo + 11),
    word(left, lo + 15),
    word(left, lo + 19),
    word(left, lo + 23),
    word(left, lo + 27),
    (left[lo + 31]! << 24) | (right[ro]! << 16) | (right[ro + 1]! << 8) | right[ro + 2]!,
    word(right, ro + 3),
    word(right, ro + 7),
    word(right, ro + 11),
    word(right, ro + 15),
    word(right, ro + 19),
    word(right, ro + 23),
    word(right, ro + 27),
  );
  // Second block: the last byte, the 0x80 pad, zeros, and the bit length 520.
  compressLastBlock(H, (right[ro + 31]! << 24) | 0x800000);
  for (let i = 0; i < 8; i++) {
    const v = H[i]!;
    out[at + 4 * i] = v >>> 24;
    out[at + 4 * i + 1] = (v >>> 16) & 255;
    out[at + 4 * i + 2] = (v >>> 8) & 255;
    out[at + 4 * i + 3] = v & 255;
  }
}

/** SHA-256(0x01 || left || right) of two 32-byte hashes, as a new array. */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  const out = new Uint8Array(32);
  nodeHashInto(left, 0, right, 0, out, 0);
  return out;
}
