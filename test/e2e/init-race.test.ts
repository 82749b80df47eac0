/**
 * Races of `dirchain init` on one folder (issue 28, item 5): several real CLI
 * processes start together; exactly one must create the ledger, the others must
 * exit 3 with E_LEDGER_EXISTS, and the winner's folder must be complete — its
 * keys/sequencer.key the ledger's sequencer key, its admin key a member's key,
 * its sequencer.pub the key genesis names.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { openLedger } from '../../src/ledger/open.js';
import { repoRoot, tempDir } from '../helpers.js';

const CLI = join(repoRoot, 'dist', 'cli.js');
const ORIGIN = 'dirchain.example.gov/city';
const tmp = tempDir('dirchain-init-race-');
afterAll(() => tmp.cleanup());

/**
 * A start line for the racers, loaded with --import: it loads dirchain's shared
 * chunks (through dist/index.js), says "ready" on stderr, and waits for a byte
 * on stdin. The test sends that byte to every racer at once, so their `init`
 * bodies start together rather than a process start-up (~100 ms) apart.
 */
const START_LINE = `data:text/javascript,${encodeURIComponent(
  `await import(${JSON.stringify(pathToFileURL(join(repoRoot, 'dist', 'index.js')).href)});` +
    "process.stderr.write('ready\\n');" +
    "await new Promise((r) => process.stdin.once('data', r));" +
    'process.stdin.destroy();',
)}`;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

interface Racer {
  readonly ready: Promise<void>;
  readonly done: Promise<Run>;
  go(): void;
}

function racer(dir: string): Racer {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete env.DIRCHAIN_DIR;
  const child = spawn(
    process.execPath,
    ['--import', START_LINE, CLI, 'init', dir, '--origin', ORIGIN, '--json'],
    {
      env,
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => {
    stdout += s;
  });
  const ready = new Promise<void>((resolve, reject) => {
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      stderr += s;
      if (stderr.startsWith('ready\n')) resolve();
    });
    child.once('exit', () => reject(new Error(`racer exited before the start: ${stderr}`)));
  });
  const done = new Promise<Run>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) =>
      resolve({ code: code ?? -1, stdout, stderr: stderr.replace(/^ready\n/, '') }),
    );
  });
  return { ready, done, go: () => child.stdin.end('\n') };
}

/** One init, no race. */
function runInit(dir: string): Promise<Run> {
  const r = racer(dir);
  r.go();
  return r.done;
}

/** Everything wrong with one race's outcome; empty when it is right. */
async function checkRace(dir: string, runs: Run[]): Promise<string[]> {
  const problems: string[] = [];
  const winners = runs.filter((r) => r.code === 0);
  const losers = runs.filter((r) => r.code !== 0);
  if (winners.length !== 1) problems.push(`${winners.length} of ${runs.length} exited 0`);
  for (const r of losers) {
    if (r.code !== 3 || !r.stdout.includes('E_LEDGER_EXISTS'))
      problems.push(`a loser exited ${r.code}: ${r.stdout.trim()} ${r.stderr.trim()}`);
  }
  if (winners.length !== 1) return problems;
  const won = JSON.parse(winners[0]!.stdout) as { verifierKey: string; admin: { id: string } };
  if (!existsSync(dir)) return [...problems, 'the folder is gone'];
  const top = readdirSync(dir).sort();
  if (top.join(',') !== 'keys,ledger,sequencer.pub') problems.push(`the folder holds [${top.join(', ')}]`);
  const keys = join(dir, 'keys');
  const files = existsSync(keys) ? readdirSync(keys).sort() : [];
  if (files.join(',') !== 'bureau.key,sequencer.key') problems.push(`keys/ holds [${files.join(', ')}]`);
  const pub = join(dir, 'sequencer.pub');
  if (!existsSync(pub) || readFileSync(pub, 'utf8').trim() !== won.verifierKey)
    problems.push('sequencer.pub is not the winner’s verifier key');
  if (problems.length > 0) return problems;
  try {
    const ledger = await openLedger(join(dir, 'ledger'), {
      sequencerKey: readFileSync(join(keys, 'sequencer.key'), 'utf8').trim(),
    });
    try {
      if (ledger.sequencerKey !== won.verifierKey) problems.push('genesis names another sequencer key');
      // Exactly the genesis block: the genesis record and its block entry.
      const { size, height } = ledger.head();
      if (height !== 0 || size !== 2)
        problems.push(`the ledger holds ${size} entries in ${height + 1} blocks`);
      ledger.memberSigner(readFileSync(join(keys, 'bureau.key'), 'utf8').trim());
    } finally {
      await ledger.close();
    }
  } catch (e) {
    problems.push(`the winner's ledger does not open with its keys: ${String(e)}`);
  }
  return problems;
}

/** Runs `rounds` races of `racers` processes; returns the problems of each bad round. */
async function race(name: string, rounds: number, racers: number, premade: boolean): Promise<string[]> {
  const bad: string[] = [];
  for (let round = 0; round < rounds; round++) {
    // A new folder two levels down (init makes its parent too), or an empty folder made beforehand.
    const dir = join(tmp.path, `${name}-${round}`, 'city');
    if (premade) mkdirSync(dir, { recursive: true });
    const all = Array.from({ length: racers }, () => racer(dir));
    // Settled, not all: a racer that died early must not leave the others waiting.
    await Promise.allSettled(all.map((r) => r.ready));
    for (const r of all) r.go();
    const runs = await Promise.all(all.map((r) => r.done));
    const problems = await checkRace(dir, runs);
    if (problems.length > 0) bad.push(`round ${round}: ${problems.join('; ')}`);
  }
  return bad;
}

describe('concurrent dirchain init on one folder', () => {
  it('into a new folder: exactly one creates a complete ledger, the others get E_LEDGER_EXISTS', async () => {
    const rounds = 12;
    const bad = await race('new', rounds, 4, false);
    expect(bad, `${bad.length} of ${rounds} races went wrong`).toEqual([]);
  }, 120_000);

  it('into an existing empty folder: the same', async () => {
    const rounds = 8;
    const bad = await race('empty', rounds, 3, true);
    expect(bad, `${bad.length} of ${rounds} races went wrong`).toEqual([]);
  }, 120_000);

  it('refuses a folder an init stopped midway in (keys/ without sequencer.pub), saying so, until it is removed', async () => {
    const dir = join(tmp.path, 'stopped', 'city');
    // What a crash right after the claim leaves: keys/ and at most some keys.
    mkdirSync(join(dir, 'keys'), { recursive: true });
    writeFileSync(join(dir, 'keys', 'sequencer.key'), '');
    const again = await runInit(dir);
    expect(again.code).toBe(3);
    expect(again.stdout).toContain('E_LEDGER_EXISTS');
    expect(again.stderr).toContain('stopped midway');
    expect(again.stderr).toContain('hint: if no init is running, remove the folder');
    expect(readdirSync(join(dir, 'keys'))).toEqual(['sequencer.key']);
    rmSync(dir, { recursive: true });
    const fresh = await runInit(dir);
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(await checkRace(dir, [fresh])).toEqual([]);
  });
});
