import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { sha256Node } from '../src/crypto/node-crypto.js';
import { sha256Noble } from '../src/crypto/sha256.js';
import { type TreeHasher, treeHasher } from '../src/merkle/hasher.js';
import type { HashReader } from '../src/merkle/prove.js';
import { Frontier } from '../src/merkle/stored.js';

export const repoRoot = resolve(import.meta.dirname, '..');
/**
 * The known-answer vectors of ../shared/vectors (made with Go's sumdb/tlog and
 * sumdb/note), committed byte for byte in test/vectors so a fresh clone has
 * them; test/vectors.test.ts checks the copy against the shared originals
 * whenever those are present.
 */
export const vectorsDir = resolve(repoRoot, 'test/vectors');
export const sharedVectorsDir = resolve(repoRoot, '../shared/vectors');

export function readVectors<T>(name: string): T {
  return JSON.parse(readFileSync(join(vectorsDir, name), 'utf8')) as T;
}

export const nodeHasher: TreeHasher = treeHasher(sha256Node);
export const nobleHasher: TreeHasher = treeHasher(sha256Noble);

/** An in-memory log with the stored-hash layout, for testing the Merkle math without a database. */
export class MemoryLog implements HashReader {
  readonly stored: Uint8Array[] = [];
  readonly entries: Uint8Array[] = [];
  readonly frontier: Frontier;
  reads = 0;

  constructor(readonly hasher: TreeHasher = nodeHasher) {
    this.frontier = new Frontier(hasher);
  }

  append(entry: Uint8Array): void {
    this.entries.push(entry);
    this.frontier.append(this.hasher.leaf(entry), this.stored);
  }

  async readHashes(indexes: readonly number[]): Promise<Uint8Array[]> {
    this.reads += indexes.length;
    return indexes.map((i) => {
      const h = this.stored[i];
      if (h === undefined) throw new Error(`no stored hash ${i}`);
      return h;
    });
  }
}

export function leafData(i: number): Uint8Array {
  return new TextEncoder().encode(`leaf-${i}`);
}

export function tempDir(prefix = 'dirchain-test-'): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

export function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const out = bytes.slice();
  out[Math.floor(bit / 8) % out.length]! ^= 1 << (bit % 8);
  return out;
}
