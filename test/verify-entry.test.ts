import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as source from '../src/verify.js';
import { repoRoot } from './helpers.js';

/** Static import specifiers of a built file (`import … from "x"`, `import "x"`, `export … from "x"`). */
function staticImports(code: string): string[] {
  return [...code.matchAll(/^\s*(?:import|export)\b[^;(]*?(?:from\s*)?["']([^"']+)["']/gm)].map((m) => m[1]!);
}

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

describe('dirchain/verify entry (dist/verify.js)', () => {
  const built = join(repoRoot, 'dist/verify.js');

  it('is one self-contained file: no static imports, only node:fs and node:url loaded dynamically', () => {
    expect(existsSync(built), 'run `npm run build` first (npm test does)').toBe(true);
    const code = readFileSync(built, 'utf8');
    expect(staticImports(code)).toEqual([]);
    const dynamic = [...code.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1]!);
    expect(new Set(dynamic)).toEqual(new Set(['node:fs', 'node:url']));
    // noble and msgpackr are inside, and msgpackr's native addon path is not.
    expect(code).toContain('noble-curves');
    expect(code).toContain('// node_modules/msgpackr/unpack.js');
    expect(code).not.toContain('msgpackr-extract');
    expect(code).not.toMatch(/\brequire\(/);
  });

  it('the main entry does import LevelDB (so the checks above can fail)', () => {
    expect(staticImports(readFileSync(join(repoRoot, 'dist/cli.js'), 'utf8')).length).toBeGreaterThan(0);
    expect([...importGraph(join(repoRoot, 'dist/index.js'))]).toContain('classic-level');
  });

  it('exports what src/verify.ts exports, with its .d.ts, and works when imported', async () => {
    const mod = (await import(pathToFileURL(built).href)) as typeof source;
    expect(Object.keys(mod).sort()).toEqual(Object.keys(source).sort());
    expect(mod.toHex(mod.leafHash(new Uint8Array()))).toBe(
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
    );
    const dts = readFileSync(join(repoRoot, 'dist/verify.d.ts'), 'utf8');
    for (const name of ['verifyBundle', 'verifyCheckpoint', 'verifyCosignatures', 'WitnessPolicy'])
      expect(dts).toContain(name);
  });

  it('package.json exports both entries and the CLI', () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));
    expect(pkg.exports['.'].import).toBe('./dist/index.js');
    expect(pkg.exports['./verify'].import).toBe('./dist/verify.js');
    expect(pkg.exports['./verify'].types).toBe('./dist/verify.d.ts');
    expect(pkg.bin.dirchain).toBe('./dist/cli.js');
  });
});
