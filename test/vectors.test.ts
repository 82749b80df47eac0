import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sharedVectorsDir, vectorsDir } from './helpers.js';

describe('committed known-answer vectors', () => {
  it('are present, and byte-identical to ../shared/vectors where that folder exists', () => {
    const files = readdirSync(vectorsDir).sort();
    expect(files).toEqual(['README.md', 'rfc9162-tlog.json', 'signed-note.json']);
    if (!existsSync(sharedVectorsDir)) return; // a clone outside the workspace has only the copy
    expect(readdirSync(sharedVectorsDir).sort()).toEqual(files);
    for (const f of files) {
      expect(readFileSync(join(vectorsDir, f)).equals(readFileSync(join(sharedVectorsDir, f))), f).toBe(true);
    }
  });
});
