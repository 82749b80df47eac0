/**
 * Blind-index tokens (src/privacy/blind-index.ts): terms normalised before
 * they are keyed; the planner keeps each token's matches in [2, √R]; over a
 * city-sized index the measured matches per token are what the planner says;
 * tokens under two departments' keys agree only as often as chance says (never
 * on purpose); an index of low-entropy fields alone is refused.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/crypto/bytes.js';
import { blindIndexKey, blindToken, normalizeTerm, planTokenBits } from '../../src/privacy/blind-index.js';

const spec = { name: 'subject-name', fields: ['name'] };

describe('blind-index tokens', () => {
  it('normalise terms: width, case, outer and inner white space', () => {
    expect(normalizeTerm('  Ｚhang\u3000  SAN ')).toBe('zhang san');
    const key = blindIndexKey(new Uint8Array(32).fill(1), spec);
    expect(toHex(blindToken(key, ['Zhang San'], 12))).toBe(toHex(blindToken(key, [' zhang  san'], 12)));
    // A token is `bits` long: the unused bits of its last byte are zero.
    const t = blindToken(key, ['x'], 12);
    expect(t).toHaveLength(2);
    expect(t[1]! & 0x0f).toBe(0);
  });

  it('plans a token length whose matches per token lie in [2, √R]', () => {
    for (const r of [8, 9, 100, 5_000, 31_000, 1_000_000, 10_000_000]) {
      const plan = planTokenBits(r);
      expect(plan.matchesPerToken, String(r)).toBeGreaterThanOrEqual(2);
      expect(plan.matchesPerToken, String(r)).toBeLessThanOrEqual(Math.sqrt(r));
      expect(plan.falsePositiveRate).toBe(2 ** -plan.bits);
    }
    expect(() => planTokenBits(7)).toThrow(/at least 8/);
  });

  it('over 31,000 distinct terms, a token matches as many records as planned', () => {
    const r = 31_000;
    const plan = planTokenBits(r);
    const key = blindIndexKey(randomBytes(32), spec);
    const counts = new Map<string, number>();
    const tokens: string[] = [];
    for (let i = 0; i < r; i++) {
      const t = toHex(blindToken(key, [`resident ${i}`], plan.bits));
      tokens.push(t);
      counts.set(t, (counts.get(t) ?? 0) + 1);
    }
    // A query for a held term returns its record and those sharing its token by chance.
    const asked = Array.from({ length: 2_000 }, (_, i) => counts.get(tokens[(i * 7919) % r]!)!);
    const mean = asked.reduce((s, c) => s + c, 0) / asked.length;
    const expected = 1 + (r - 1) / 2 ** plan.bits;
    expect(mean).toBeGreaterThan(expected * 0.85);
    expect(mean).toBeLessThan(expected * 1.15);
    expect(Math.min(...asked)).toBeGreaterThanOrEqual(2);
  });

  it('two departments’ tokens of the same terms agree only by chance', () => {
    const bits = 8;
    const a = blindIndexKey(randomBytes(32), spec);
    const b = blindIndexKey(randomBytes(32), spec);
    const n = 4_000;
    let same = 0;
    for (let i = 0; i < n; i++)
      if (toHex(blindToken(a, [`term ${i}`], bits)) === toHex(blindToken(b, [`term ${i}`], bits))) same++;
    // Binomial(n, 2^-8): mean 15.6, σ 3.9; 6σ either side.
    expect(same).toBeGreaterThan(15.6 - 6 * 3.9);
    expect(same).toBeLessThan(15.6 + 6 * 3.9);
    // The same index under another name is another key.
    expect(toHex(blindIndexKey(new Uint8Array(32), spec))).not.toBe(
      toHex(blindIndexKey(new Uint8Array(32), { ...spec, name: 'other' })),
    );
  });

  it('refuses an index of low-entropy fields alone; takes them in a compound index', () => {
    const k = new Uint8Array(32);
    expect(() => blindIndexKey(k, { name: 'level', fields: ['level'], lowEntropy: ['level'] })).toThrow(
      /only low-entropy fields/,
    );
    expect(
      blindIndexKey(k, { name: 'name+level', fields: ['name', 'level'], lowEntropy: ['level'] }),
    ).toHaveLength(32);
  });
});
