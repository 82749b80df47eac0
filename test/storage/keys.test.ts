import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { storedHashCount } from '../../src/merkle/stored.js';
import { INDEX_TABLE } from '../../src/state/indexes.js';
import { STATE_TABLE } from '../../src/state/state.js';
import { BUNDLE_WIDTH } from '../../src/storage/bundles.js';
import { HASHES_PER_PAGE, LOG_REGION, layoutOf, TABLE } from '../../src/storage/keys.js';

const compare = (a: Uint8Array, b: Uint8Array): number => Buffer.compare(a, b);
const inRange = (k: Uint8Array, r: { gte: Uint8Array; lt: Uint8Array }): boolean =>
  compare(k, r.gte) >= 0 && compare(k, r.lt) < 0;
const position = (k: Uint8Array): number => Number(Buffer.from(k).readBigUInt64BE(1));

describe('log layouts', () => {
  for (const format of [2, 3]) {
    it(`format ${format}: bundle keys name their bundle, ranges hold exactly their bundles, pages are no bundle`, () => {
      const layout = layoutOf(format);
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: 2 ** 36 }),
          fc.integer({ min: 0, max: 2 ** 36 }),
          fc.integer({ min: 0, max: 2 ** 36 }),
          (n, from, span) => {
            const key = layout.bundleKey(n);
            expect(layout.bundleOf(key)).toBe(n);
            expect(layout.bundleOf(layout.pageKey(n))).toBeUndefined();
            expect(inRange(key, layout.bundleRange(from, from + span))).toBe(n >= from && n < from + span);
            expect(inRange(key, layout.bundleRange(from))).toBe(n >= from);
            // Key order is number order, for bundles and for pages.
            expect(Math.sign(compare(key, layout.bundleKey(from)))).toBe(Math.sign(n - from));
            expect(Math.sign(compare(layout.pageKey(n), layout.pageKey(from)))).toBe(Math.sign(n - from));
          },
        ),
      );
    });
  }

  it('format 3 keeps bundles and pages above every other table', () => {
    const layout = layoutOf(3);
    const others = [...Object.values(TABLE), STATE_TABLE, INDEX_TABLE];
    for (const t of others) expect(t).toBeLessThan(LOG_REGION);
    expect(layout.bundleKey(0)[0]).toBe(LOG_REGION);
    expect(layout.pageKey(0)[0]).toBe(LOG_REGION);
  });

  it('format 3: every bundle and page a block writes sits within 256 positions below the new tree size', () => {
    // What keeps LevelDB from rewriting old bundles and pages: a block's keys
    // sort above almost everything written before it.
    const layout = layoutOf(3);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 40 }), fc.integer({ min: 1, max: 5000 }), (a, grow) => {
        const b = a + grow;
        const firstPage = Math.floor(storedHashCount(a) / HASHES_PER_PAGE);
        const lastPage = Math.floor((storedHashCount(b) - 1) / HASHES_PER_PAGE);
        const keys = [layout.pageKey(firstPage), layout.pageKey(lastPage)];
        // Bundles completing in (a, b].
        for (let n = Math.floor(a / BUNDLE_WIDTH); (n + 1) * BUNDLE_WIDTH <= b; n++)
          keys.push(layout.bundleKey(n));
        for (const k of keys) {
          expect(position(k)).toBeLessThanOrEqual(b);
          expect(position(k)).toBeGreaterThanOrEqual(a - BUNDLE_WIDTH);
        }
      }),
    );
  });
});
