/**
 * The LevelDB key layout (storage format `dirchain-ledger/7`, store.ts). One
 * byte of prefix per table, then a big-endian 8-byte number, so every table
 * is ordered and appends are sequential keys (LevelDB's fastest write pattern).
 *
 *   'M' + name        meta (storage format, origin, replay floor)
 *   'B' + height      the block's signed checkpoint note (UTF-8)
 *   'S' + size        height of the block that ends at this tree size
 *   0xF0 + position + 'E'   a piece: the entries one write appended to one
 *                           bundle, in C2SP entry-bundle form, from entry
 *                           `position` (never rewritten; see bundles.ts)
 *   0xF0 + position + 'D'   the bundle from entry `position` is complete:
 *                           the offsets its pieces start at
 *   0xF0 + position + 'H'   a full page of 256 stored Merkle hashes, 32
 *                           bytes each (see merkle/stored.ts), complete at
 *                           about tree size `position` + 128 (the page being
 *                           filled is not stored; see store.ts)
 */
import { readU64, u64, writeU64 } from '../encoding/u64.js';
import { BUNDLE_WIDTH } from './bundles.js';

export const TABLE = {
  meta: 0x4d,
  block: 0x42,
  blockBySize: 0x53,
} as const;

/** Stored hashes per page ('H'). */
export const HASHES_PER_PAGE = 256;

/**
 * The region for what grows with the log, above every other table.
 * Why: LevelDB compacts a level-0 file together with every deeper file that
 * overlaps its key range. With bundles and pages in tables below the state
 * and index tables, each new file's range spanned all older bundles and pages,
 * so they were read and rewritten on their way down each level; kept above
 * everything else and in write order, new bundles and pages overlap nothing
 * older and move down whole. Measured on 10M batched events, one run each
 * (bench/NOTES.md, "LevelDB compaction and the key layout"): LevelDB's
 * compaction CPU 102 s → 60 s, the run 263 s → 203 s, peak-RSS growth from 1M
 * to 10M 58 → 47 MiB.
 */
export const LOG_REGION = 0xf0;
const LOG_BUNDLE = 0x44; // 'D'
const LOG_PAGE = 0x48; // 'H'
const LOG_PIECE = 0x45; // 'E'

function logKey(position: number, kind: number): Uint8Array {
  const key = new Uint8Array(10);
  key[0] = LOG_REGION;
  writeU64(key, 1, position);
  key[9] = kind;
  return key;
}

/** The key of complete bundle `n`'s index of pieces (in the log region). */
export function bundleKey(n: number): Uint8Array {
  return logKey(n * BUNDLE_WIDTH, LOG_BUNDLE);
}

/** The bundle number a bundle key names, or undefined for another kind of key. */
export function bundleOf(key: Uint8Array): number | undefined {
  if (key.length !== 10 || key[0] !== LOG_REGION || key[9] !== LOG_BUNDLE) return undefined;
  const position = keyNumber(key);
  return position % BUNDLE_WIDTH === 0 ? position / BUNDLE_WIDTH : undefined;
}

/**
 * The key of full hash page `page` (in the log region). A page of stored
 * hashes starts at stored index 256·page, which the tree reaches at no fewer
 * than 128·page leaves (about two stored hashes per leaf), so every key a
 * block writes lies within ~256 positions of the tree size.
 */
export function pageKey(page: number): Uint8Array {
  return logKey(page * (HASHES_PER_PAGE / 2), LOG_PAGE);
}

/** The key of the piece that starts at entry `first` (in the log region). */
export function pieceKey(first: number): Uint8Array {
  return logKey(first, LOG_PIECE);
}

/** The entry a piece key starts at, or undefined for another kind of key. */
export function pieceOf(key: Uint8Array): number | undefined {
  return key.length === 10 && key[0] === LOG_REGION && key[9] === LOG_PIECE ? keyNumber(key) : undefined;
}

/** Keys of the log region from entry position `from` up to (not including) `to`. */
export function logRange(from: number, to: number): { gte: Uint8Array; lt: Uint8Array } {
  return { gte: numberKey(LOG_REGION, from), lt: numberKey(LOG_REGION, to) };
}

export function numberKey(table: number, n: number): Uint8Array {
  const key = new Uint8Array(9);
  key[0] = table;
  writeU64(key, 1, n);
  return key;
}

/** The number after a key's one-byte table prefix. */
export function keyNumber(key: Uint8Array): number {
  return readU64(key, 1);
}

export { readU64, u64 };

export function metaKey(name: string): Uint8Array {
  const n = new TextEncoder().encode(name);
  const key = new Uint8Array(1 + n.length);
  key[0] = TABLE.meta;
  key.set(n, 1);
  return key;
}

/** The range of all keys of one table, for iterators. */
export function tableRange(table: number): { gte: Uint8Array; lt: Uint8Array } {
  return { gte: Uint8Array.of(table), lt: Uint8Array.of(table + 1) };
}

/**
 * What a key holds, in words, and the first log index it concerns when it
 * concerns one: for naming what a damaged piece of storage held.
 */
export function describeKey(key: Uint8Array): { text: string; index?: number } {
  if (key.length === 10 && key[0] === LOG_REGION) {
    const position = keyNumber(key);
    if (key[9] === LOG_PIECE) return { text: `entries from index ${position}`, index: position };
    if (key[9] === LOG_BUNDLE)
      return { text: `the bundle of entries from index ${position}`, index: position };
    if (key[9] === LOG_PAGE) return { text: `the stored hashes near entry ${position}`, index: position };
  }
  if (key.length === 9 && key[0] === TABLE.block) return { text: `the note of block ${keyNumber(key)}` };
  if (key.length === 9 && key[0] === TABLE.blockBySize)
    return { text: `the block ending at size ${keyNumber(key)}` };
  if (key[0] === TABLE.meta) return { text: `the ledger's meta data` };
  return { text: 'state and index tables' };
}
