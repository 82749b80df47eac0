/**
 * The architecture rules (.dependency-cruiser.cjs, `npm run arch`) can fail: each is run,
 * through dependency-cruiser's own API and with the same rule set, on a small tree of
 * TypeScript files written to a temporary folder, first clean, then with one break.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cruise, type ICruiseOptions, type ICruiseResult } from 'dependency-cruiser';
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options';
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

type Files = Record<string, string>;
interface Violation {
  rule: string;
  from: string;
  to: string;
  /** For a cycle: its modules, sorted (dependency-cruiser reports each cycle once). */
  cycle?: string[];
}

/** A tree that keeps every rule: what the real one should look like. */
const CLEAN: Files = {
  'src/errors.ts': 'export const E = 1;\n',
  'src/crypto/bytes.ts': "import { E } from '../errors.js';\nexport const b = E;\n",
  // A node-only engine: may import node:.
  'src/crypto/node-crypto.ts': "import { createHash } from 'node:crypto';\nexport const h = createHash;\n",
  'src/encoding/checkpoint.ts':
    "import { b } from '../crypto/bytes.js';\nimport type { Leaf } from '../merkle/a.js';\nexport const c = b;\nexport type L = Leaf;\n",
  // A cycle inside one folder is allowed.
  'src/merkle/a.ts': "import { y } from './b.js';\nexport type Leaf = number;\nexport const x = () => y;\n",
  'src/merkle/b.ts': "import { x } from './a.js';\nexport const y = () => x;\n",
  'src/state/status-map.ts': "import { x } from '../merkle/a.js';\nexport const s = x;\n",
  // The storage half of state may use node:.
  'src/state/status-store.ts':
    "import { readFileSync } from 'node:fs';\nimport { s } from './status-map.js';\nexport const t = [readFileSync, s];\n",
  'src/storage/store.ts':
    "import { readFileSync } from 'node:fs';\nimport { x } from '../merkle/a.js';\nexport const st = [readFileSync, x];\n",
  'src/verify.ts':
    "import { c } from './encoding/checkpoint.js';\nimport { s } from './state/status-map.js';\nexport const v = [c, s];\n",
  // The auditor command: node: only by dynamic import.
  'src/verify/cli.ts': "import { v } from '../verify.js';\nexport const vc = v;\n",
  'src/verify/standalone.ts':
    "export * from '../verify.js';\nexport async function run() {\n  const fs = await import('node:fs');\n  const { vc } = await import('./cli.js');\n  return [fs, vc];\n}\n",
  'src/web/page.ts': "import { v } from '../verify.js';\nexport const page = v;\n",
  'src/web/build-page.ts': "import { writeFileSync } from 'node:fs';\nexport const build = writeFileSync;\n",
  'src/index.ts':
    "import { st } from './storage/store.js';\nimport { t } from './state/status-store.js';\nimport { h } from './crypto/node-crypto.js';\nexport { v } from './verify.js';\nexport const i = [st, t, h];\n",
  'src/cli/io.ts': "import { argv } from 'node:process';\nexport const args = argv;\n",
  'src/cli/main.ts':
    "import { i } from '../index.js';\nimport { v } from '../verify.js';\nimport { args } from './io.js';\nexport const main = [i, v, args];\n",
};

const TSCONFIG = JSON.stringify({
  compilerOptions: {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    strict: true,
    verbatimModuleSyntax: true,
    noEmit: true,
  },
  include: ['src'],
});

let base: string;
let options: ICruiseOptions;
let count = 0;

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), 'dirchain-arch-'));
  options = await extractDepcruiseOptions(join(ROOT, '.dependency-cruiser.cjs'));
});

afterAll(() => {
  rmSync(base, { recursive: true, force: true });
});

/** Writes CLEAN with `changes` applied (null deletes a file), cruises its src/ and returns the violations. */
async function violationsOf(changes: Record<string, string | null> = {}): Promise<Violation[]> {
  const dir = join(base, `tree-${count++}`);
  const files: Files = { ...CLEAN };
  for (const [path, text] of Object.entries(changes)) {
    if (text === null) delete files[path];
    else files[path] = text;
  }
  for (const [path, text] of Object.entries({ ...files, 'tsconfig.json': TSCONFIG })) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  const tsConfigFile = join(dir, 'tsconfig.json');
  const result = await cruise(
    ['src'],
    { ...options, baseDir: dir, tsConfig: { fileName: tsConfigFile }, outputType: 'json' },
    {},
    { tsConfig: extractTSConfig(tsConfigFile) },
  );
  const output: ICruiseResult =
    typeof result.output === 'string' ? JSON.parse(result.output) : (result.output as ICruiseResult);
  // Every import of the tree resolved (else a rule could pass for want of an edge).
  const unresolved = output.modules.flatMap((m) =>
    m.dependencies.filter((d) => d.couldNotResolve).map((d) => `${m.source} → ${d.module}`),
  );
  expect(unresolved).toEqual([]);
  return sorted(
    output.summary.violations.map((v) => ({
      rule: v.rule.name,
      from: v.from,
      to: v.to,
      ...(v.cycle ? { cycle: v.cycle.map((m) => m.name).sort() } : {}),
    })),
  );
}

function sorted(violations: Violation[]): Violation[] {
  return violations.sort((a, b) =>
    `${a.rule} ${a.from} ${a.to}`.localeCompare(`${b.rule} ${b.from} ${b.to}`),
  );
}

/** The verify-reaches-only-pure-parts violations when `to` is reached through src/verify.ts. */
function reachedFromVerify(to: string): Violation[] {
  return ['src/verify.ts', 'src/verify/cli.ts', 'src/web/page.ts'].map((from) => ({
    rule: 'verify-reaches-only-pure-parts',
    from,
    to,
  }));
}

describe('architecture rules (.dependency-cruiser.cjs)', () => {
  it('has the rules this test exercises', async () => {
    const names = new Set((options.ruleSet?.forbidden ?? []).map((rule) => rule.name));
    for (const name of [
      'no-cycles-between-parts',
      'pure-no-node-builtins',
      'pure-no-leveldb-or-http',
      'pure-no-impure-parts',
      'verify-reaches-only-pure-parts',
      'verify-standalone-static-imports',
      'no-imports-of-cli',
      'cli-imports-only-public-entries',
      'local-store-not-served',
      'no-orphans',
    ]) {
      expect(names).toContain(name);
    }
  });

  it('passes a clean tree (cycles inside a folder, node: in engines, stores and the CLI)', async () => {
    expect(await violationsOf()).toEqual([]);
  });

  it('catches a cycle through two folders', async () => {
    const violations = await violationsOf({
      'src/storage/x.ts': "import { y } from '../policy/y.js';\nexport const x = () => y;\n",
      'src/policy/y.ts': "import { z } from '../storage/z.js';\nexport const y = () => z;\n",
      'src/storage/z.ts': "import { x } from './x.js';\nexport const z = () => x;\n",
      'src/index.ts': `${CLEAN['src/index.ts']}export { x } from './storage/x.js';\n`,
    });
    const cycles = violations.filter((v) => v.rule === 'no-cycles-between-parts');
    expect(cycles).toHaveLength(1);
    expect(cycles[0]?.cycle).toEqual(['src/policy/y.ts', 'src/storage/x.ts', 'src/storage/z.ts']);
    // policy → storage also breaks purity.
    expect(violations.filter((v) => v.rule !== 'no-cycles-between-parts')).toEqual([
      { rule: 'pure-no-impure-parts', from: 'src/policy/y.ts', to: 'src/storage/z.ts' },
    ]);
  });

  it('catches a cycle through a root file', async () => {
    const violations = await violationsOf({
      'src/storage/store.ts': `${CLEAN['src/storage/store.ts']}import type { i } from '../index.js';\nexport type I = typeof i;\n`,
    });
    expect(violations).toEqual([
      {
        rule: 'no-cycles-between-parts',
        from: 'src/index.ts',
        to: 'src/storage/store.ts',
        cycle: ['src/index.ts', 'src/storage/store.ts'],
      },
    ]);
  });

  it('catches a pure part importing a node: builtin', async () => {
    const violations = await violationsOf({
      'src/encoding/checkpoint.ts': `import { readFileSync } from 'node:fs';\n${CLEAN['src/encoding/checkpoint.ts']}export const r = readFileSync;\n`,
      'src/state/status-map.ts': `import { createHash } from 'node:crypto';\n${CLEAN['src/state/status-map.ts']}export const ch = createHash;\n`,
    });
    expect(violations).toEqual(
      sorted([
        // (dependency-cruiser names node: builtins without the prefix)
        { rule: 'pure-no-node-builtins', from: 'src/encoding/checkpoint.ts', to: 'fs' },
        { rule: 'pure-no-node-builtins', from: 'src/state/status-map.ts', to: 'crypto' },
        // ...and verify.ts, and the verifier command and page built on it, reach both through them.
        ...reachedFromVerify('crypto'),
        ...reachedFromVerify('fs'),
      ]),
    );
  });

  it('catches a pure part importing storage, a node-only engine or LevelDB', async () => {
    const violations = await violationsOf({
      'src/policy/rules.ts':
        "import { st } from '../storage/store.js';\nimport { h } from '../crypto/node-crypto.js';\nimport type { ClassicLevel } from 'classic-level';\nexport const r = [st, h];\nexport type DB = ClassicLevel;\n",
      'src/index.ts': `${CLEAN['src/index.ts']}export { r } from './policy/rules.js';\n`,
      // A stand-in package, so the import resolves in the temporary folder.
      'node_modules/classic-level/package.json':
        '{"name":"classic-level","version":"3.0.0","main":"index.js","types":"index.d.ts"}',
      'node_modules/classic-level/index.js': 'export class ClassicLevel {}\n',
      'node_modules/classic-level/index.d.ts': 'export declare class ClassicLevel {}\n',
    });
    expect(violations).toEqual([
      { rule: 'pure-no-impure-parts', from: 'src/policy/rules.ts', to: 'src/crypto/node-crypto.ts' },
      { rule: 'pure-no-impure-parts', from: 'src/policy/rules.ts', to: 'src/storage/store.ts' },
      {
        rule: 'pure-no-leveldb-or-http',
        from: 'src/policy/rules.ts',
        to: expect.stringMatching(/^node_modules\/classic-level\//),
      },
    ]);
  });

  it('catches verify.ts reaching an impure module through a pure-looking one', async () => {
    // A module outside the pure parts (query/) that imports nothing impure itself.
    const violations = await violationsOf({
      'src/query/query.ts': "import { x } from '../merkle/a.js';\nexport const q = x;\n",
      'src/verify.ts': `${CLEAN['src/verify.ts']}import { q } from './query/query.js';\nexport const vq = q;\n`,
    });
    expect(violations).toEqual(reachedFromVerify('src/query/query.ts'));
  });

  it('catches the standalone verifier importing node: statically', async () => {
    const violations = await violationsOf({
      'src/verify/standalone.ts': `import { readFileSync } from 'node:fs';\n${CLEAN['src/verify/standalone.ts']}export const rf = readFileSync;\n`,
    });
    expect(violations).toEqual([
      { rule: 'verify-standalone-static-imports', from: 'src/verify/standalone.ts', to: 'fs' },
    ]);
  });

  it('catches the CLI importing something other than a public entry', async () => {
    const violations = await violationsOf({
      'src/cli/main.ts': `${CLEAN['src/cli/main.ts']}import { st } from '../storage/store.js';\nimport { E } from '../errors.js';\nexport const more = [st, E];\n`,
    });
    expect(violations).toEqual([
      { rule: 'cli-imports-only-public-entries', from: 'src/cli/main.ts', to: 'src/errors.ts' },
      { rule: 'cli-imports-only-public-entries', from: 'src/cli/main.ts', to: 'src/storage/store.ts' },
    ]);
  });

  it('catches an import of the CLI from below', async () => {
    const violations = await violationsOf({
      'src/storage/store.ts': `${CLEAN['src/storage/store.ts']}import { args } from '../cli/io.js';\nexport const a = args;\n`,
    });
    expect(violations).toEqual([
      { rule: 'no-imports-of-cli', from: 'src/storage/store.ts', to: 'src/cli/io.ts' },
    ]);
  });

  it('catches a serving part reaching the local-only store, directly or through another part', async () => {
    // The public entry and the sequencer may use it: that tree is clean.
    const store =
      "import { readFileSync } from 'node:fs';\nimport { E } from '../errors.js';\nexport const secrets = [readFileSync, E];\n";
    const signer = "import { secrets } from '../storage/local-store.js';\nexport const sign = secrets;\n";
    const legit = {
      'src/storage/local-store.ts': store,
      'src/sequencer/signer.ts': signer,
      'src/index.ts': `${CLEAN['src/index.ts']}export { sign } from './sequencer/signer.js';\n`,
    };
    expect(await violationsOf(legit)).toEqual([]);
    const violations = await violationsOf({
      ...legit,
      'src/node/server.ts':
        "import { secrets } from '../storage/local-store.js';\nexport const serve = secrets;\n",
      'src/sync/follower.ts': "import { sign } from '../sequencer/signer.js';\nexport const follow = sign;\n",
      'src/verify-node.ts':
        "import type { sign } from './sequencer/signer.js';\nexport type S = typeof sign;\n",
    });
    expect(violations).toEqual(
      ['src/node/server.ts', 'src/sync/follower.ts', 'src/verify-node.ts'].map((from) => ({
        rule: 'local-store-not-served',
        from,
        to: 'src/storage/local-store.ts',
      })),
    );
  });

  it('warns of an orphan', async () => {
    const violations = await violationsOf({ 'src/query/unused.ts': 'export const u = 1;\n' });
    expect(violations).toEqual([
      { rule: 'no-orphans', from: 'src/query/unused.ts', to: 'src/query/unused.ts' },
    ]);
  });
});
