import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { concatBytes, utf8 } from '../src/crypto/bytes.js';
import { sha256Node } from '../src/crypto/node-crypto.js';
import { sha256Noble } from '../src/crypto/sha256.js';
import { type TreeHasher, treeHasher } from '../src/merkle/hasher.js';
import type { HashReader } from '../src/merkle/prove.js';
import { Frontier, storedHashCount } from '../src/merkle/stored.js';
import { encodeEntryBundle } from '../src/merkle/tiles.js';
import { BUNDLE_WIDTH, joinPieces, readBundle } from '../src/storage/bundles.js';
import {
  CURRENT_LAYOUT,
  HASHES_PER_PAGE,
  keyNumber,
  LOG_REGION,
  metaKey,
  numberKey,
  pieceKey,
  pieceOf,
  TABLE,
  tableRange,
} from '../src/storage/keys.js';
import { LedgerStore } from '../src/storage/store.js';

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

/**
 * The raw LevelDB value that holds entry `index`: its piece (format 5), or
 * its full bundle or the fragment of the last bundle (formats 2–4).
 */
async function storedValueOf(
  db: RawDb,
  index: number,
): Promise<{ key: Uint8Array; value: Uint8Array; first: number; entries: Uint8Array[] }> {
  const n = Math.floor(index / BUNDLE_WIDTH);
  let found: { key: Uint8Array; value: Uint8Array; first: number } | undefined;
  const pieces = await hasPieces(db);
  const bundle = pieces ? undefined : await db.get(CURRENT_LAYOUT.bundleKey(n));
  if (pieces) {
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
  } else if (bundle !== undefined)
    found = { key: CURRENT_LAYOUT.bundleKey(n), value: bundle, first: n * BUNDLE_WIDTH };
  else {
    for await (const [key, value] of db.iterator({
      gte: numberKey(TABLE.entryFragment, n * BUNDLE_WIDTH),
      lte: numberKey(TABLE.entryFragment, index),
      reverse: true,
      limit: 1,
    })) {
      found = { key, value, first: keyNumber(key) };
    }
  }
  const entries = found === undefined ? [] : readBundle(found.value).map((e) => e.slice());
  if (found === undefined || index - found.first >= entries.length)
    throw new Error(`entry ${index} is not stored`);
  return { ...found, entries };
}

/**
 * Changes the stored bytes of entry `index` in a ledger's raw LevelDB, the
 * way damage or tampering would: inside its entry bundle (or the fragment of
 * the last bundle that holds it). `change` returns the new bytes, or
 * undefined to delete it, or several entries to put in its place (the
 * entries after it in that value shift).
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

async function hasPieces(db: RawDb): Promise<boolean> {
  const format = await db.get(metaKey('format'));
  return format !== undefined && Number(new TextDecoder().decode(format).split('/')[1]) >= 5;
}

/**
 * Rewrites a format-5 folder's entries the way format 4 stored them: each
 * complete bundle whole under its bundle key (in place of its index of
 * pieces), the open bundle's pieces as fragments ('F' + first index), and the
 * format as 4. Does nothing to a folder of another format.
 */
export async function storeEntriesAsFormat4(db: RawDb): Promise<void> {
  if (!(await hasPieces(db))) return;
  const pieces = new Map<number, Uint8Array>();
  const batch = db.batch();
  for await (const [k, v] of db.iterator(tableRange(LOG_REGION))) {
    const first = pieceOf(k);
    if (first === undefined) continue;
    pieces.set(first, v);
    batch.del(k);
  }
  const complete = new Set<number>();
  for (const first of pieces.keys()) {
    const n = Math.floor(first / BUNDLE_WIDTH);
    if (complete.has(n)) continue;
    const index = await db.get(CURRENT_LAYOUT.bundleKey(n));
    if (index === undefined) continue;
    complete.add(n);
    const bytes = joinPieces(index, (offset) => pieces.get(n * BUNDLE_WIDTH + offset));
    if (bytes === undefined) throw new Error(`bundle ${n} has a damaged index`);
    batch.put(CURRENT_LAYOUT.bundleKey(n), bytes);
  }
  for (const [first, bytes] of pieces)
    if (!complete.has(Math.floor(first / BUNDLE_WIDTH)))
      batch.put(numberKey(TABLE.entryFragment, first), bytes);
  batch.put(metaKey('format'), utf8('dirchain-ledger/4'));
  await batch.write();
}

/**
 * Rewrites a closed format-4 or -5 ledger folder the way format 3 stored it: with
 * its incomplete last hash page stored too (format 4 keeps that page only in
 * memory and rebuilds it on open). `change` may alter the page first, to
 * tamper with hashes that are then read from disk. Returns the page number.
 */
export async function storeTailPageAsFormat3(
  path: string,
  change?: (page: Uint8Array) => void,
): Promise<number> {
  const store = await LedgerStore.open(path, { create: false });
  let page: number;
  let bytes: Uint8Array;
  try {
    const count = storedHashCount(store.entryCount);
    page = Math.floor(count / HASHES_PER_PAGE);
    const first = page * HASHES_PER_PAGE;
    bytes = concatBytes(...store.readHashesSync(Array.from({ length: count - first }, (_, i) => first + i)));
  } finally {
    await store.close();
  }
  change?.(bytes);
  const { ClassicLevel } = await import('classic-level');
  const db: RawDb = new ClassicLevel(path, { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  try {
    await storeEntriesAsFormat4(db);
    await db
      .batch()
      .put(CURRENT_LAYOUT.pageKey(page), bytes)
      .put(metaKey('format'), utf8('dirchain-ledger/3'))
      .write();
  } finally {
    await db.close();
  }
  return page;
}
