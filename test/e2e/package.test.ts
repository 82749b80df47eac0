/**
 * The package as a user gets it: `npm pack` of a clean copy of this repository (no dist/: the
 * prepack script builds it), installed from the tarball into an empty ES module project and an
 * empty CommonJS project. Each runs the library example of test/fixtures/package/ (create a
 * ledger, submit a record, prove it, verify the bundle with `dirchain/verify`), the ESM one with
 * `import`, the CommonJS one with `require`; the CommonJS project also typechecks and runs
 * TypeScript compiled to CommonJS (module node16 and nodenext). The pack runs in a copy so the
 * build never replaces the dist/ that other tests run.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, tempDir } from '../helpers.js';

const { version } = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
const FIXTURES = join(repoRoot, 'test', 'fixtures', 'package');
const TSC = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
/** Top-level names a clean clone does not have (ignored by git, or made by a build or a run). */
const NOT_IN_A_CLONE = new Set([
  '.git',
  'node_modules',
  'dist',
  'dist-bench',
  'dist-examples',
  'dist-web',
  'test-artifacts',
  'data',
  'coverage',
]);

// The child npm must not take this run's npm settings (under `npm test`, npm_config_local_prefix
// names this repository, npm_package_* describe it): keep only where the cache and config are.
const env: NodeJS.ProcessEnv = { NO_COLOR: '1' };
for (const [k, v] of Object.entries(process.env)) {
  if (!/^npm_/i.test(k) || /^npm_config_(cache|userconfig|globalconfig|registry)$/i.test(k)) env[k] = v;
}
delete env.DIRCHAIN_DIR;
delete env.NODE_PATH;

function run(command: string, args: readonly string[], cwd: string) {
  const r = spawnSync(command, args, { cwd, env, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const node = (args: readonly string[], cwd: string) => run(process.execPath, args, cwd);

let tmp: { path: string; cleanup: () => void } | undefined;
let tarball: string;
/** The tarball's files, without npm's leading `package/`. */
let listing: string[];
let esm: string;
let cjs: string;

/** An empty project of the given module type with the tarball installed and `example` as example.js. */
function project(name: string, type: 'module' | 'commonjs', example: string): string {
  const dir = join(tmp!.path, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `${name}-consumer`, private: true, type }));
  copyFileSync(join(FIXTURES, example), join(dir, 'example.js'));
  const flags = ['--no-audit', '--no-fund'];
  // From the npm cache (`npm ci` filled it with the tarballs); a cache that lacks the registry's
  // package documents (they are not needed by `npm ci`) fetches those once.
  let r = run('npm', ['install', '--offline', ...flags, tarball], dir);
  if (r.code !== 0) r = run('npm', ['install', '--prefer-offline', ...flags, tarball], dir);
  expect(r.code, `npm install in ${name}: ${r.stderr}`).toBe(0);
  return dir;
}

beforeAll(() => {
  tmp = tempDir('dirchain-package-');
  const clone = join(tmp.path, 'clone');
  cpSync(repoRoot, clone, {
    recursive: true,
    filter: (src) => !NOT_IN_A_CLONE.has(relative(repoRoot, src).split(sep)[0]!),
  });
  symlinkSync(join(repoRoot, 'node_modules'), join(clone, 'node_modules'), 'junction');
  const packed = run('npm', ['pack', '--pack-destination', tmp.path], clone);
  expect(packed.code, `npm pack: ${packed.stdout}\n${packed.stderr}`).toBe(0);
  tarball = join(tmp.path, `dirchain-${version}.tgz`);
  const tar = run('tar', ['-tzf', tarball], tmp.path);
  expect(tar.code, tar.stderr).toBe(0);
  listing = tar.stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => line.replace(/^package\//, ''));
  esm = project('esm', 'module', 'example.mjs');
  cjs = project('cjs', 'commonjs', 'example.cjs');
}, 240_000);

afterAll(() => tmp?.cleanup());

describe('npm pack', () => {
  it('builds first (prepack) and packs the entries, their types, LICENSE and CHANGELOG', () => {
    for (const file of [
      'package.json',
      'README.md',
      'LICENSE',
      'CHANGELOG.md',
      'SECURITY.md',
      'THREAT-MODEL.md',
      'dist/index.js',
      'dist/index.d.ts',
      'dist/index.d.cts',
      'dist/cli.js',
      'dist/admission-worker.js',
      'dist/verify.js',
      'dist/verify.d.ts',
      'dist/verify.d.cts',
      'dist/verifier.html',
    ]) {
      expect(listing, file).toContain(file);
    }
  });

  it('packs no sources, tests, benchmarks, examples or other build folders', () => {
    expect(listing.filter((f) => /^(src|test|bench|examples|node_modules|dist-[^/]*)\//.test(f))).toEqual([]);
  });
});

describe('an ES module project', () => {
  it('imports dirchain and dirchain/verify: the example submits, proves and verifies a record', () => {
    const r = node(['example.js'], esm);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ index: 2, verified: true, size: 4 });
  });

  it('npx dirchain --version and node verify.js --version print the version of package.json', () => {
    for (const r of [
      run('npx', ['dirchain', '--version'], esm),
      node([join('node_modules', 'dirchain', 'dist', 'verify.js'), '--version'], esm),
    ]) {
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`${version}\n`);
    }
    expect(JSON.parse(run('npx', ['dirchain', '--version', '--json'], esm).stdout)).toEqual({ version });
  });
});

describe('a CommonJS project', () => {
  it('require()s dirchain and dirchain/verify (Node >= 20.19): the same example runs', () => {
    const r = node(['example.js'], cjs);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ index: 2, verified: true, size: 4 });
  });

  it('typechecks TypeScript compiled to CommonJS (module node16 and nodenext), and it runs', () => {
    writeFileSync(
      join(cjs, 'check.ts'),
      `import { createLedger, generateKeyPair, type Ledger } from 'dirchain';
import { verifyBundle } from 'dirchain/verify';
import dirchain = require('dirchain');
import * as namespace from 'dirchain';

export function create(path: string): Promise<Ledger> {
  const sequencer = generateKeyPair('dirchain.example.gov/city');
  const admin = generateKeyPair('bureau');
  return createLedger(path, {
    origin: 'dirchain.example.gov/city',
    sequencerKey: sequencer.signerKey,
    members: [{ id: 'bureau', name: 'Bureau', roles: ['admin'], signingKey: admin.publicKey }],
  });
}

// @ts-expect-error: a key is a string; this line fails to compile if the types were 'any'
const wrong: number = dirchain.generateKeyPair('x').verifierKey;
const key = generateKeyPair('auditor');
console.log(JSON.stringify({
  key: key.verifierKey.startsWith('auditor+'),
  verified: verifyBundle('{}', [key.verifierKey]).ok,
  open: typeof namespace.openLedger,
  wrong: typeof wrong,
}));
`,
    );
    writeFileSync(
      join(cjs, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'node16',
          moduleResolution: 'node16',
          target: 'es2022',
          lib: ['es2022'],
          strict: true,
          esModuleInterop: true,
          outDir: 'out',
          types: ['node'],
          typeRoots: [join(repoRoot, 'node_modules', '@types')],
        },
        files: ['check.ts'],
      }),
    );
    // node16 also checks the declaration files themselves (dist/*.d.cts); nodenext resolves to the
    // same files, so it skips that slow part.
    const node16 = node([TSC, '-p', '.'], cjs);
    expect(node16.code, node16.stdout).toBe(0);
    const nodenext = node(
      [
        TSC,
        '-p',
        '.',
        '--noEmit',
        '--skipLibCheck',
        '--module',
        'nodenext',
        '--moduleResolution',
        'nodenext',
      ],
      cjs,
    );
    expect(nodenext.code, nodenext.stdout).toBe(0);
    expect(readFileSync(join(cjs, 'out', 'check.js'), 'utf8')).toContain('require("dirchain")');
    const r = node([join('out', 'check.js')], cjs);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ key: true, verified: false, open: 'function', wrong: 'string' });
  });
});
