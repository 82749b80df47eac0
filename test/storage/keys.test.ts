import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { storedHashCount } from '../../src/merkle/stored.js';
import { BUNDLE_WIDTH } from '../../src/storage/bundles.js';
import { INDEX_TABLE } from '../../src/storage/index-table.js';
import {
  bundleKey,
  bundleOf,
  HASHES_PER_PAGE,
  LOG_REGION,
  logRange,
  pageKey,
  pieceKey,
  pieceOf,
  TABLE,
} from '../../src/storage/keys.js';
import { STATE_TABLE } from '../../src/storage/state-table.js';

const compare = (a: Uint8Array, b: Uint8Array): number => Buffer.compare(a, b);
const inRange = (k: Uint8Array, r: { gte: Uint8Array; lt: Uint8Array }): boolean =>
  compare(k, r.gte) >= 0 && compare(k, r.lt) < 0;
const position = (k: Uint8Array): number => Number(Buffer.from(k).readBigUInt64BE(1));

describe('the log region', () => {
  it('bundle and piece keys name their bundle and entry, and no other kind of key does', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 36 }),
        fc.integer({ min: 0, max: 2 ** 36 }),
        fc.integer({ min: 0, max: 2 ** 36 }),
        (n, from, span) => {
          const key = bundleKey(n);
          expect(bundleOf(key)).toBe(n);
          expect(bundleOf(pageKey(n))).toBeUndefined();
          expect(bundleOf(pieceKey(n * BUNDLE_WIDTH))).toBeUndefined();
          expect(pieceOf(pieceKey(n))).toBe(n);
          expect(pieceOf(key)).toBeUndefined();
          expect(pieceOf(pageKey(n))).toBeUndefined();
          // A range of positions holds exactly the bundles and pieces that start in it.
          const range = logRange(from, from + span);
          expect(inRange(key, range)).toBe(n * BUNDLE_WIDTH >= from && n * BUNDLE_WIDTH < from + span);
          expect(inRange(pieceKey(n), range)).toBe(n >= from && n < from + span);
          // Key order is number order, for bundles and for pages.
          expect(Math.sign(compare(key, bundleKey(from)))).toBe(Math.sign(n - from));
          expect(Math.sign(compare(pageKey(n), pageKey(from)))).toBe(Math.sign(n - from));
        },
      ),
    );
  });

  it('lies above every other table', () => {
    const others = [...Object.values(TABLE), STATE_TABLE, INDEX_TABLE];
    for (const t of others) expect(t).toBeLessThan(LOG_REGION);
    for (const key of [bundleKey(0), pageKey(0), pieceKey(0)]) expect(key[0]).toBe(LOG_REGION);
  });

  it('every bundle index and page a block writes sits within 256 positions below the new tree size', () => {
    // What keeps LevelDB from rewriting old bundles and pages: a block's keys
    // sort above almost everything written before it.
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 40 }), fc.integer({ min: 1, max: 5000 }), (a, grow) => {
        const b = a + grow;
        const firstPage = Math.floor(storedHashCount(a) / HASHES_PER_PAGE);
        const lastPage = Math.floor((storedHashCount(b) - 1) / HASHES_PER_PAGE);
        const keys = [pageKey(firstPage), pageKey(lastPage)];
        // Bundles completing in (a, b].
        for (let n = Math.floor(a / BUNDLE_WIDTH); (n + 1) * BUNDLE_WIDTH <= b; n++) keys.push(bundleKey(n));
        for (const k of keys) {
          expect(position(k)).toBeLessThanOrEqual(b);
          expect(position(k)).toBeGreaterThanOrEqual(a - BUNDLE_WIDTH);
        }
      }),
    );
  });
});
