import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { sha256Node } from '../src/crypto/node-crypto.js';
import { sha256Noble } from '../src/crypto/sha256.js';
import { type TreeHasher, treeHasher } from '../src/crypto/tree-hasher.js';
import type { HashReader } from '../src/merkle/prove.js';
import { Frontier } from '../src/merkle/stored.js';
import { encodeEntryBundle } from '../src/merkle/tiles.js';
import { BUNDLE_WIDTH, readBundle } from '../src/storage/bundles.js';
import { pieceKey, pieceOf } from '../src/storage/keys.js';

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

type RawDb = import('classic-level').ClassicLevel<Uint8Array, Uint8Array>;

/** The raw LevelDB value that holds entry `index`: the piece it was written in. */
async function storedValueOf(
  db: RawDb,
  index: number,
): Promise<{ key: Uint8Array; value: Uint8Array; first: number; entries: Uint8Array[] }> {
  const n = Math.floor(index / BUNDLE_WIDTH);
  let found: { key: Uint8Array; value: Uint8Array; first: number } | undefined;
  // The last piece that starts at or before the entry (the region holds pages too).
  for await (const [key, value] of db.iterator({
    gte: pieceKey(n * BUNDLE_WIDTH),
    lte: pieceKey(index),
    reverse: true,
  })) {
    const first = pieceOf(key);
    if (first === undefined) continue;
    found = { key, value, first };
    break;
  }
  const entries = found === undefined ? [] : readBundle(found.value).map((e) => e.slice());
  if (found === undefined || index - found.first >= entries.length)
    throw new Error(`entry ${index} is not stored`);
  return { ...found, entries };
}

/**
 * Changes the stored bytes of entry `index` in a ledger's raw LevelDB, the
 * way damage or tampering would: inside the piece that holds it. `change`
 * returns the new bytes, or undefined to delete it, or several entries to put
 * in its place (the entries after it in that piece shift).
 */
export async function rewriteStoredEntry(
  db: RawDb,
  index: number,
  change: (entry: Uint8Array) => Uint8Array | Uint8Array[] | undefined,
): Promise<void> {
  const { key, first, entries } = await storedValueOf(db, index);
  const changed = change(entries[index - first]!);
  entries.splice(
    index - first,
    1,
    ...(changed === undefined ? [] : Array.isArray(changed) ? changed : [changed]),
  );
  await db.put(key, encodeEntryBundle(entries));
}

/** Entry `index` as stored in a ledger's raw LevelDB (before any check). */
export async function readStoredEntry(db: RawDb, index: number): Promise<Uint8Array> {
  const { first, entries } = await storedValueOf(db, index);
  return entries[index - first]!;
}
