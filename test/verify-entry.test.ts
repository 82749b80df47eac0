import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './helpers.js';

/** Every module specifier the built file imports, following relative chunks. */
function importGraph(entry: string, seen = new Set<string>(), bare = new Set<string>()): Set<string> {
  if (seen.has(entry)) return bare;
  seen.add(entry);
  const code = readFileSync(entry, 'utf8');
  for (const m of code.matchAll(/(?:from\s*|import\s*\(?\s*)["']([^"']+)["']/g)) {
    const spec = m[1]!;
    if (spec.startsWith('.')) importGraph(resolve(dirname(entry), spec), seen, bare);
    else bare.add(spec);
  }
  return bare;
}

describe('dirchain/verify entry', () => {
  const built = join(repoRoot, 'dist/verify.js');

  it('is built, and imports only noble and msgpackr (no LevelDB, no node: modules)', () => {
    expect(existsSync(built), 'run `npm run build` first (npm test does)').toBe(true);
    const deps = [...importGraph(built)];
    expect(deps.length).toBeGreaterThan(0);
    for (const d of deps) expect(d, d).toMatch(/^(@noble\/(hashes|curves)\/|msgpackr$)/);
  });

  it('the main entry does pull in LevelDB (so the check above can fail)', () => {
    expect([...importGraph(join(repoRoot, 'dist/index.js'))]).toContain('classic-level');
  });

  it('package.json exports both entries and the CLI', () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));
    expect(pkg.exports['.'].import).toBe('./dist/index.js');
    expect(pkg.exports['./verify'].import).toBe('./dist/verify.js');
    expect(pkg.bin.dirchain).toBe('./dist/cli.js');
  });
});
