/**
 * RFC 9162 leaf and node hashes, four at a time, by the WebAssembly SIMD
 * SHA-256 in sha256x4-wasm.ts (generated; four messages in the four 32-bit
 * lanes of each register). For the many short messages of a batch: its
 * events' leaves and the levels of their tree.
 *
 * Why: node's crypto.hash costs ~0.95 µs per call however short the input
 * (the call, not the hashing), and the plain-JS compression ~0.45 µs per
 * 64-byte block; four lanes share one pass of the rounds. Longer messages
 * (over `MAX_LANE_BYTES`) go to node's SHA-256, which hashes long input far
 * faster per byte (SHA-NI). The output is plain SHA-256, checked against
 * node's and the shared vectors in test/crypto/sha256x4.test.ts. Where
 * WebAssembly is not available (`node --jitless`) the same hashes are made
 * one at a time (test/e2e/jitless.test.ts).
 */
import { sha256Node } from './node-crypto.js';
import { nodeHashInto } from './node-hash.js';
import { SHA256X4_WASM } from './sha256x4-wasm.js';

/**
 * Entries up to this many bytes are hashed in lanes. Measured (bench/README,
 * session 9): a 500-byte leaf costs 1.1 µs in lanes against 1.9 by node's
 * SHA-256; longer ones gain less and would need more lane memory.
 */
export const MAX_LANE_BYTES = 512;

// Memory layout: the call's descriptor (4 lane pointers, 4 block counts), the
// 4 digests, the 4 node messages (padding written once), the 4 leaf messages.
const DESC = 0;
const OUT = 32;
const NODE = 256;
const NODE_STRIDE = 128;
const LEAF = NODE + 4 * NODE_STRIDE;
const LEAF_STRIDE = MAX_LANE_BYTES + 1 + 9 + 63 - ((MAX_LANE_BYTES + 1 + 9 + 63) % 64);

interface Lanes {
  readonly u8: Uint8Array;
  readonly i32: Int32Array;
  readonly hash4: (desc: number, blocks: number) => void;
}

/** Undefined until first use; null where WebAssembly is not available (`node --jitless`). */
let compiled: Lanes | null | undefined;

/** Compiled on first use (a few ms), once per thread. */
function instance(): Lanes | null {
  if (compiled !== undefined) return compiled;
  try {
    compiled = compile();
  } catch {
    // No WebAssembly here: the same hashes one at a time (node's SHA-256, the plain-JS node hash).
    compiled = null;
  }
  return compiled;
}

function compile(): Lanes {
  const module = new WebAssembly.Module(Buffer.from(SHA256X4_WASM, 'base64'));
  const exports = new WebAssembly.Instance(module).exports as {
    memory: WebAssembly.Memory;
    hash4: (desc: number, blocks: number) => void;
  };
  const u8 = new Uint8Array(exports.memory.buffer);
  const i32 = new Int32Array(exports.memory.buffer);
  // Node messages are 0x01 ‖ left ‖ right, then fixed padding: 0x80, zeros, 520 bits.
  for (let lane = 0; lane < 4; lane++) {
    const at = NODE + lane * NODE_STRIDE;
    u8[at] = 1;
    u8[at + 65] = 0x80;
    u8[at + 126] = 0x02;
    u8[at + 127] = 0x08;
  }
  return { u8, i32, hash4: exports.hash4 };
}

/**
 * Writes the leaf hash of each entry, SHA-256(0x00 ‖ entry), to
 * out[at + 32 i ..], for entries[i] in [from, to).
 */
export function leafHashesInto(
  entries: readonly Uint8Array[],
  from: number,
  to: number,
  out: Uint8Array,
  at: number,
): void {
  const lanes = instance();
  if (lanes === null) {
    for (let i = from; i < to; i++) out.set(sha256Node(leafInput(entries[i]!)), at + 32 * (i - from));
    return;
  }
  const { u8, i32, hash4 } = lanes;
  let i = from;
  while (i < to) {
    let lane = 0;
    let blocks = 0;
    const first = i;
    // Up to four short entries; a long one is hashed alone by node's SHA-256.
    while (lane < 4 && i < to) {
      const entry = entries[i]!;
      if (entry.length > MAX_LANE_BYTES) {
        if (lane === 0) {
          out.set(sha256Node(leafInput(entry)), at + 32 * (i - from));
          i++;
        }
        break;
      }
      const base = LEAF + lane * LEAF_STRIDE;
      const length = entry.length + 1;
      const count = (length + 9 + 63) >>> 6;
      u8[base] = 0;
      u8.set(entry, base + 1);
      u8[base + length] = 0x80;
      const end = base + 64 * count;
      u8.fill(0, base + length + 1, end - 4);
      const bits = length * 8;
      u8[end - 4] = bits >>> 24;
      u8[end - 3] = bits >>> 16;
      u8[end - 2] = bits >>> 8;
      u8[end - 1] = bits;
      i32[(DESC >> 2) + lane] = base;
      i32[(DESC >> 2) + 4 + lane] = count;
      if (count > blocks) blocks = count;
      lane++;
      i++;
    }
    if (lane === 0) continue;
    for (let l = lane; l < 4; l++) {
      i32[(DESC >> 2) + l] = LEAF;
      i32[(DESC >> 2) + 4 + l] = 0;
    }
    hash4(DESC, blocks);
    out.set(u8.subarray(OUT, OUT + 32 * lane), at + 32 * (first - from));
  }
}

/**
 * Writes SHA-256(0x01 ‖ left ‖ right) for `pairs` pairs of 32-byte hashes
 * laid out back to back in `input` from `inAt` (left, right, left, ...) to
 * out[at + 32 p ..]. `out` may be `input` (a level over the one below it).
 */
export function nodeHashesInto(
  input: Uint8Array,
  inAt: number,
  pairs: number,
  out: Uint8Array,
  at: number,
): void {
  const lanes = instance();
  if (lanes === null) {
    // Output p never overlaps a pair not yet read (it lies at or before pair p's left half).
    for (let p = 0; p < pairs; p++) {
      const src = inAt + 64 * p;
      nodeHashInto(input, src, input, src + 32, out, at + 32 * p);
    }
    return;
  }
  const { u8, i32, hash4 } = lanes;
  for (let p = 0; p < pairs; p += 4) {
    const lanesUsed = Math.min(4, pairs - p);
    for (let lane = 0; lane < 4; lane++) {
      const base = NODE + lane * NODE_STRIDE;
      if (lane < lanesUsed) {
        const src = inAt + 64 * (p + lane);
        u8.set(input.subarray(src, src + 64), base + 1);
      }
      i32[(DESC >> 2) + lane] = base;
      i32[(DESC >> 2) + 4 + lane] = lane < lanesUsed ? 2 : 0;
    }
    hash4(DESC, 2);
    out.set(u8.subarray(OUT, OUT + 32 * lanesUsed), at + 32 * p);
  }
}

/**
 * The RFC 9162 root of `count` leaf hashes laid out back to back in `leaves`:
 * each level pairs adjacent nodes and carries an odd last one up, which is
 * the tree of §2.1.1 (its left subtrees are the largest powers of two).
 * `scratch` holds 32 · count bytes and is overwritten.
 */
export function rootOfLeaves(leaves: Uint8Array, count: number, scratch: Uint8Array): Uint8Array {
  if (count === 1) return leaves.slice(0, 32);
  let level = leaves;
  let n = count;
  while (n > 1) {
    const pairs = n >>> 1;
    nodeHashesInto(level, 0, pairs, scratch, 0);
    // The odd last node moves up unchanged (its source lies beyond the pairs just written).
    if ((n & 1) === 1) scratch.set(level.subarray(32 * (n - 1), 32 * n), 32 * pairs);
    level = scratch;
    n = pairs + (n & 1);
  }
  return scratch.slice(0, 32);
}

/** 0x00 ‖ entry, for a leaf hashed on its own (long, or no WebAssembly here). */
function leafInput(entry: Uint8Array): Uint8Array {
  const input = new Uint8Array(entry.length + 1);
  input.set(entry, 1);
  return input;
}
