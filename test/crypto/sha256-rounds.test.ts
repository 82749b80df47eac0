import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { generateRounds } from '../../scripts/sha256-rounds.gen.js';

const file = new URL('../../src/crypto/sha256-rounds.ts', import.meta.url);

describe('src/crypto/sha256-rounds.ts', () => {
  it('is exactly what its generator writes (UPDATE_ROUNDS=1 rewrites it)', () => {
    const want = generateRounds();
    if (process.env.UPDATE_ROUNDS === '1') writeFileSync(file, want);
    expect(readFileSync(file, 'utf8')).toBe(want);
  });
});
