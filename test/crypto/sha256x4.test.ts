import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { generateSha256x4 } from '../../scripts/sha256x4.gen.js';
import { toHex } from '../../src/crypto/bytes.js';
import { leafHashesInto, MAX_LANE_BYTES, nodeHashesInto, rootOfLeaves } from '../../src/crypto/sha256x4.js';
import { Frontier, HashSink, storedHashCount, subtreesOf } from '../../src/merkle/stored.js';
import { leafData, nodeHasher, readVectors } from '../helpers.js';

const file = new URL('../../src/crypto/sha256x4-wasm.ts', import.meta.url);

describe('src/crypto/sha256x4-wasm.ts', () => {
  it('is exactly what its generator writes (UPDATE_ROUNDS=1 rewrites it)', () => {
    const want = generateSha256x4();
    if (process.env.UPDATE_ROUNDS === '1') writeFileSync(file, want);
    expect(readFileSync(file, 'utf8')).toBe(want);
  });
});

const roots = readVectors<{ roots: Record<string, string> }>('rfc9162-tlog.json').roots;
const sha256 = (...parts: Uint8Array[]): string => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
};

describe('leafHashesInto (four leaves per pass in WebAssembly lanes)', () => {
  it('writes SHA-256(0x00 || entry) for every entry of a range, short, long and empty, at an offset', () => {
    const entry = fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      fc.uint8Array({ minLength: MAX_LANE_BYTES - 70, maxLength: MAX_LANE_BYTES + 70 }),
    );
    fc.assert(
      fc.property(
        fc.array(entry, { minLength: 1, maxLength: 23 }),
        fc.nat(5),
        fc.nat(3),
        (entries, cut, at) => {
          const from = Math.min(cut, entries.length - 1);
          const out = new Uint8Array(at + 32 * entries.length);
          leafHashesInto(entries, from, entries.length, out, at);
          for (let i = from; i < entries.length; i++) {
            const got = toHex(out.subarray(at + 32 * (i - from), at + 32 * (i - from + 1)));
            expect(got).toBe(sha256(Uint8Array.of(0), entries[i]!));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('gets every padding boundary right (entry lengths 0..200 in one call)', () => {
    const entries = Array.from({ length: 201 }, (_, n) =>
      Uint8Array.from({ length: n }, (_, k) => (7 * k + n) & 255),
    );
    const out = new Uint8Array(32 * entries.length);
    leafHashesInto(entries, 0, entries.length, out, 0);
    for (const [i, e] of entries.entries())
      expect(toHex(out.subarray(32 * i, 32 * i + 32))).toBe(sha256(Uint8Array.of(0), e));
  });
});

describe('nodeHashesInto and rootOfLeaves', () => {
  it('hash each pair as SHA-256(0x01 || left || right), also in place', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 11 }), fc.nat(2), fc.nat(), (pairs, inAt, seed) => {
        const input = Uint8Array.from({ length: 32 * inAt + 64 * pairs }, (_, k) => (k * 31 + seed) & 255);
        const want = Array.from({ length: pairs }, (_, p) =>
          sha256(Uint8Array.of(1), input.subarray(32 * inAt + 64 * p, 32 * inAt + 64 * p + 64)),
        );
        const out = new Uint8Array(32 * pairs + 5);
        nodeHashesInto(input, 32 * inAt, pairs, out, 5);
        expect(Array.from({ length: pairs }, (_, p) => toHex(out.subarray(5 + 32 * p, 37 + 32 * p)))).toEqual(
          want,
        );
        nodeHashesInto(input, 32 * inAt, pairs, input, 32 * inAt);
        expect(
          Array.from({ length: pairs }, (_, p) =>
            toHex(input.subarray(32 * inAt + 32 * p, 32 * inAt + 32 * p + 32)),
          ),
        ).toEqual(want);
      }),
      { numRuns: 200 },
    );
  });

  it('rootOfLeaves gives every vector root (sizes 1..64)', () => {
    for (let size = 1; size <= 64; size++) {
      const leaves = new Uint8Array(32 * size);
      const entries = Array.from({ length: size }, (_, i) => leafData(i));
      leafHashesInto(entries, 0, size, leaves, 0);
      expect(toHex(rootOfLeaves(leaves, size, new Uint8Array(32 * size)))).toBe(roots[String(size)]);
    }
  });

  it('rootOfLeaves equals the frontier root for random sizes and leaves, and catches any flipped bit', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300 }), fc.nat(), fc.nat(), (size, seed, flip) => {
        const leaves = Uint8Array.from({ length: 32 * size }, (_, k) => (k * 131 + seed) & 255);
        const f = new Frontier(nodeHasher);
        for (let i = 0; i < size; i++) f.append(leaves.slice(32 * i, 32 * i + 32), []);
        const root = toHex(rootOfLeaves(leaves, size, new Uint8Array(32 * size)));
        expect(root).toBe(toHex(f.root()));
        leaves[flip % leaves.length]! ^= 1 << (seed % 8);
        expect(toHex(rootOfLeaves(leaves, size, new Uint8Array(32 * size)))).not.toBe(root);
      }),
      { numRuns: 200 },
    );
  });
});

describe('Frontier.appendAll (a level at a time, pairs hashed in lanes)', () => {
  it('stores exactly the hashes appendTo stores and ends at the same frontier, from any size, past 2^32 too', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.nat(300), fc.integer({ min: 2 ** 31 - 40, max: 2 ** 33 })),
        fc.integer({ min: 1, max: 200 }),
        fc.nat(),
        (start, count, seed) => {
          const subtrees = subtreesOf(0, start).map((_, i) =>
            Uint8Array.from({ length: 32 }, (_, k) => (i * 37 + k + seed) & 255),
          );
          const a = new Frontier(nodeHasher, start, subtrees);
          const b = new Frontier(nodeHasher, start, subtrees);
          const leaves = Uint8Array.from({ length: 32 * count }, (_, k) => (k * 13 + seed) & 255);
          const sa = new HashSink(1);
          const sb = new HashSink(1);
          for (let i = 0; i < count; i++) a.appendTo(leaves, 32 * i, sa);
          b.appendAll(leaves, count, sb, nodeHashesInto);
          expect(toHex(sb.hashes())).toBe(toHex(sa.hashes()));
          expect(b.size).toBe(a.size);
          expect(toHex(b.root())).toBe(toHex(a.root()));
          // And they go on alike.
          a.appendTo(leaves, 0, sa);
          b.appendAll(leaves, 1, sb, nodeHashesInto);
          expect(toHex(b.root())).toBe(toHex(a.root()));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('builds every vector root, appending the leaves in uneven runs', () => {
    const f = new Frontier(nodeHasher);
    const sink = new HashSink(1);
    const runs = [1, 2, 3, 1, 5, 8, 13, 31];
    let size = 0;
    for (const run of runs) {
      const leaves = new Uint8Array(32 * run);
      leafHashesInto(
        Array.from({ length: run }, (_, i) => leafData(size + i)),
        0,
        run,
        leaves,
        0,
      );
      f.appendAll(leaves, run, sink, nodeHashesInto);
      size += run;
      expect(toHex(f.root())).toBe(roots[String(size)]);
    }
    expect(sink.count).toBe(storedHashCount(size));
  });
});
