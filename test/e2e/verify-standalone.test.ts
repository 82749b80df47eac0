/**
 * dist/verify.js as an auditor uses it: the one file copied alone into an empty
 * folder (no node_modules anywhere above it), run with `node` on bundles made
 * by the real `dirchain prove`.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cosignCheckpoint, generateWitnessKey } from '../../src/sync/witness.js';
import { repoRoot } from '../helpers.js';

const CLI = path.join(repoRoot, 'dist', 'cli.js');
const ORIGIN = 'dirchain.example.gov/city';
const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
delete env.DIRCHAIN_DIR;
delete env.NODE_PATH;

let tmp: string;
let solo: string;
let seqKey: string;
let good: Record<string, unknown>;

function run(file: string, args: readonly string[], cwd?: string) {
  const r = spawnSync(process.execPath, [file, ...args], { encoding: 'utf8', env, cwd });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function dirchain(args: readonly string[]) {
  const r = run(CLI, args);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

/** Runs the copied verify.js from inside its empty folder. */
function verifyJs(args: readonly string[]) {
  return run(path.join(solo, 'verify.js'), args, solo);
}

function write(name: string, value: unknown): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, typeof value === 'string' ? value : JSON.stringify(value));
  return file;
}

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dirchain-standalone-'));
  const dir = path.join(tmp, 'city');
  seqKey = (JSON.parse(dirchain(['init', dir, '--origin', ORIGIN, '--json'])) as { verifierKey: string })
    .verifierKey;
  const records = Array.from({ length: 20 }, (_, i) => JSON.stringify({ kind: 'x.access.log', body: { i } }));
  const file = write('records.ndjson', `${records.join('\n')}\n`);
  dirchain(['append', dir, '--file', file, '--key', path.join(dir, 'keys', 'bureau.key')]);
  good = JSON.parse(dirchain(['prove', dir, '--index', '7', '--json']));
  // From the genesis block (the genesis record and its block entry): both sizes have signed checkpoints.
  write('consistency.json', dirchain(['prove', dir, '--from', '2', '--json']));
  solo = path.join(tmp, 'auditor');
  fs.mkdirSync(solo);
  fs.copyFileSync(path.join(repoRoot, 'dist', 'verify.js'), path.join(solo, 'verify.js'));
});

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('standalone dist/verify.js', () => {
  it('sits alone: no node_modules in its folder or any folder above it', () => {
    expect(fs.readdirSync(solo)).toEqual(['verify.js']);
    for (let d = solo; ; d = path.dirname(d)) {
      expect(fs.existsSync(path.join(d, 'node_modules')), d).toBe(false);
      if (path.dirname(d) === d) break;
    }
  });

  it('verifies a good inclusion bundle (exit 0, one line per check, "verified")', () => {
    const r = verifyJs([write('good.json', good), '--key', path.join(tmp, 'city', 'sequencer.pub')]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.slice(0, -1).every((l) => l.startsWith('ok   '))).toBe(true);
    // 20 records after the genesis block (2 entries), and the block entry that ends their block.
    expect(lines).toContain('ok   inclusion proof: leaf 7 of 23, 5 hashes');
    expect(lines.at(-1)).toBe('verified');
  });

  it('verifies a consistency bundle with the key given as text, and prints JSON with --json', () => {
    const r = verifyJs([path.join(tmp, 'consistency.json'), '--key', seqKey, '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { ok: boolean; kind: string; checks: { name: string }[] };
    expect(report).toMatchObject({ ok: true, kind: 'consistency' });
    expect(report.checks.map((c) => c.name)).toContain('consistency proof');
  });

  it('refuses a bundle with one flipped proof hash (exit 1) and names the check', () => {
    const proof = [...(good.inclusion as string[])];
    const bytes = Buffer.from(proof[2]!, 'base64');
    bytes[5]! ^= 0x10;
    proof[2] = bytes.toString('base64');
    const r = verifyJs([write('tampered.json', { ...good, inclusion: proof }), '--key', seqKey]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^FAIL inclusion proof: E_PROOF_INVALID/m);
    expect(r.stdout.trim().split('\n').at(-1)).toBe('NOT verified: inclusion proof failed');
  });

  it('fails the checkpoint check under another log’s key', () => {
    const other = fs.mkdtempSync(path.join(tmp, 'other-'));
    const key = (
      JSON.parse(dirchain(['init', path.join(other, 'c'), '--origin', ORIGIN, '--json'])) as {
        verifierKey: string;
      }
    ).verifierKey;
    const r = verifyJs([write('good2.json', good), '--key', key]);
    expect(r.code).toBe(1);
    expect(r.stdout.trim().split('\n').at(-1)).toBe('NOT verified: checkpoint signature failed');
  });

  it('asks a k-of-n witness quorum with --witness and --quorum', () => {
    const court = generateWitnessKey('witness.example.org/court');
    const press = generateWitnessKey('witness.example.org/press');
    const checkpoint = cosignCheckpoint(good.checkpoint as string, court.signerKey, { logKeys: [seqKey] });
    const bundle = write('cosigned.json', { ...good, checkpoint });
    const courtFile = write('court.pub', `${court.verifierKey}\n`);
    const args = [bundle, '--key', seqKey, '--witness', courtFile, '--witness', press.verifierKey];
    const one = verifyJs([...args, '--quorum', '1']);
    expect(one.code, one.stdout).toBe(0);
    expect(one.stdout).toMatch(
      /^ok {3}witness cosignatures: quorum 1 of 2 met: witness\.example\.org\/court at /m,
    );
    const two = verifyJs([...args, '--quorum=2']);
    expect(two.code).toBe(1);
    expect(two.stdout).toMatch(/^FAIL witness cosignatures: E_QUORUM/m);
    expect(two.stdout.trim().split('\n').at(-1)).toBe('NOT verified: witness cosignatures failed');
  });

  it('exit 2 for usage errors, 3 for unreadable input, 0 for --help', () => {
    const bundle = write('good3.json', good);
    for (const args of [
      [bundle],
      [bundle, '--key'],
      [bundle, '--key', seqKey, '--bogus'],
      [bundle, '--key', seqKey, '--quorum', 'x'],
    ]) {
      const r = verifyJs(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/^error: /);
    }
    const missing = verifyJs([path.join(tmp, 'missing.json'), '--key', seqKey]);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain('cannot read bundle');
    const noKeyFile = verifyJs([bundle, '--key', path.join(tmp, 'no-such.pub')]);
    expect(noKeyFile.code).toBe(3);
    expect(noKeyFile.stderr).toContain('cannot read key file');
    const help = verifyJs(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^usage: node verify\.js <bundle\.json> --key/);
  });
});
