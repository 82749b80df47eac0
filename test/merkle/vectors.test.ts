import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../src/crypto/bytes.js';
import { checkConsistency, checkInclusion } from '../../src/merkle/check.js';
import { proveConsistency, proveInclusion, treeHash } from '../../src/merkle/prove.js';
import { leafData, MemoryLog, nobleHasher, nodeHasher, readVectors } from '../helpers.js';

interface TlogVectors {
  roots: Record<string, string>;
  inclusion: Array<{ index: number; size: number; leaf: string; leafHash: string; proof: string[] }>;
  consistency: Array<{ size1: number; size2: number; proof: string[] }>;
}

const vectors = readVectors<TlogVectors>('rfc9162-tlog.json');
const maxSize = Math.max(...Object.keys(vectors.roots).map(Number));

describe.each([
  ['node crypto', nodeHasher],
  ['noble', nobleHasher],
])('RFC 9162 vectors (%s)', (_name, hasher) => {
  const log = new MemoryLog(hasher);
  for (let i = 0; i < maxSize; i++) log.append(leafData(i));

  it('has vectors to check', () => {
    expect(Object.keys(vectors.roots).length).toBe(64);
    expect(vectors.inclusion.length).toBeGreaterThan(200);
    expect(vectors.consistency.length).toBeGreaterThan(200);
  });

  it('computes every root, from stored hashes and from the frontier', async () => {
    for (const [size, root] of Object.entries(vectors.roots)) {
      expect(toHex(await treeHash(hasher, log, Number(size)))).toBe(root);
    }
    expect(toHex(log.frontier.root())).toBe(vectors.roots[String(maxSize)]);
  });

  it('produces and checks every inclusion proof', async () => {
    for (const v of vectors.inclusion) {
      expect(toHex(hasher.leaf(fromHex(v.leaf)))).toBe(v.leafHash);
      const proof = await proveInclusion(hasher, log, v.index, v.size);
      expect(proof.map(toHex)).toEqual(v.proof);
      const root = fromHex(vectors.roots[String(v.size)]!);
      expect(checkInclusion(hasher, v.index, v.size, fromHex(v.leafHash), v.proof.map(fromHex), root)).toBe(
        true,
      );
    }
  });

  it('produces and checks every consistency proof', async () => {
    for (const v of vectors.consistency) {
      const proof = await proveConsistency(hasher, log, v.size1, v.size2);
      expect(proof.map(toHex)).toEqual(v.proof);
      const r1 = fromHex(vectors.roots[String(v.size1)]!);
      const r2 = fromHex(vectors.roots[String(v.size2)]!);
      expect(checkConsistency(hasher, v.size1, v.size2, r1, r2, v.proof.map(fromHex))).toBe(true);
    }
  });
});
