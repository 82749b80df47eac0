import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/crypto/bytes.js';
import { sha256Node } from '../../src/crypto/node-crypto.js';
import { nodeHashInto } from '../../src/crypto/node-hash.js';
import { nodeTreeHasher } from '../../src/crypto/node-tree-hasher.js';
import { sha256Noble } from '../../src/crypto/sha256.js';
import { Frontier, HashSink, storedHashCount } from '../../src/merkle/stored.js';
import { leafData, nobleHasher, nodeHasher, readVectors } from '../helpers.js';

const roots = readVectors<{ roots: Record<string, string> }>('rfc9162-tlog.json').roots;
const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 });

describe('nodeHashInto (plain-JS RFC 9162 node hash)', () => {
  it('equals SHA-256(0x01 || left || right) by node and by noble, at any offsets, in place too', () => {
    fc.assert(
      fc.property(bytes32, bytes32, fc.nat(40), fc.nat(40), fc.nat(40), (l, r, lo, ro, at) => {
        const message = new Uint8Array(65);
        message[0] = 1;
        message.set(l, 1);
        message.set(r, 33);
        const want = toHex(sha256Node(message));
        expect(toHex(sha256Noble(message))).toBe(want);
        const left = new Uint8Array(lo + 32);
        left.set(l, lo);
        const right = new Uint8Array(ro + 32);
        right.set(r, ro);
        const out = new Uint8Array(at + 32);
        nodeHashInto(left, lo, right, ro, out, at);
        expect(toHex(out.subarray(at))).toBe(want);
        // Written over its own left input.
        nodeHashInto(left, lo, right, ro, left, lo);
        expect(toHex(left.subarray(lo))).toBe(want);
      }),
      { numRuns: 300 },
    );
  });

  it('builds every vector root through Frontier.appendTo', () => {
    const f = new Frontier(nodeHasher);
    const sink = new HashSink(1);
    for (let size = 1; size <= 64; size++) {
      f.appendTo(nobleHasher.leaf(leafData(size - 1)), 0, sink);
      expect(toHex(f.root())).toBe(roots[String(size)]);
      expect(sink.count).toBe(storedHashCount(size));
    }
  });

  it('stores exactly the hashes Frontier.append stores, from any starting size', () => {
    fc.assert(
      fc.property(fc.nat(300), fc.integer({ min: 1, max: 300 }), (start, count) => {
        const a = new Frontier(nobleHasher);
        const b = new Frontier(nobleHasher);
        const sink = new HashSink(1);
        const listed: Uint8Array[] = [];
        for (let i = 0; i < start + count; i++) {
          const leaf = nobleHasher.leaf(leafData(i));
          if (i < start) {
            a.append(leaf, []);
            b.append(leaf, []);
            continue;
          }
          a.append(leaf, listed);
          // Leaves read from inside a larger buffer, as the admission workers hand them over.
          const packed = new Uint8Array(96);
          packed.set(leaf, 40);
          b.appendTo(packed, 40, sink);
        }
        expect(sink.count).toBe(listed.length);
        expect(toHex(sink.hashes())).toBe(listed.map(toHex).join(''));
        expect(toHex(b.root())).toBe(toHex(a.root()));
      }),
      { numRuns: 60 },
    );
  });

  it('nodeTreeHasher (the node side: OpenSSL leaves, JS nodes) equals noble on random trees, and every vector root', () => {
    for (let size = 1; size <= 64; size++) {
      const leaves = Array.from({ length: size }, (_, i) => nodeTreeHasher.leaf(leafData(i)));
      const fold = (hs: Uint8Array[]): Uint8Array[] =>
        hs.length === 1
          ? hs
          : fold(
              Array.from({ length: Math.ceil(hs.length / 2) }, (_, i) =>
                i * 2 + 1 < hs.length ? nodeTreeHasher.node(hs[2 * i]!, hs[2 * i + 1]!) : hs[2 * i]!,
              ),
            );
      // RFC 9162 splits at the largest power of two, which a pairwise fold matches only for full trees.
      if ((size & (size - 1)) === 0) expect(toHex(fold(leaves)[0]!)).toBe(roots[String(size)]);
      const f = new Frontier(nodeTreeHasher);
      for (const leaf of leaves) f.append(leaf, []);
      expect(toHex(f.root())).toBe(roots[String(size)]);
    }
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), bytes32, bytes32, (entry, l, r) => {
        expect(toHex(nodeTreeHasher.leaf(entry))).toBe(toHex(nobleHasher.leaf(entry)));
        expect(toHex(nodeTreeHasher.node(l, r))).toBe(toHex(nobleHasher.node(l, r)));
      }),
      { numRuns: 300 },
    );
  });
});
