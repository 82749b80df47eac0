/**
 * End-to-end tests of the built `dirchain` CLI (dist/cli.js, built by `npm test`
 * before vitest runs). Every command runs as a real child process against a
 * real LevelDB folder in a fresh temp directory, and every proof bundle is
 * checked twice: by `dirchain verify` and by test/e2e/independent_verify.py, a
 * verifier written in Python from RFC 9162 and the C2SP specs alone.
 */
import { execFile, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ClassicLevel } from 'classic-level';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isBlockEntry } from '../../src/encoding/block-entry.js';
import { rewriteStoredEntry } from '../helpers.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(repoRoot, 'dist', 'cli.js');
const PY_VERIFIER = path.join(repoRoot, 'test', 'e2e', 'independent_verify.py');
const VECTORS = path.resolve(repoRoot, 'test/vectors');
const ORIGIN = 'dirchain.example.gov/city';
const VERIFIER_KEY = /^dirchain\.example\.gov\/city\+[0-9a-f]{8}\+[A-Za-z0-9+/]+=*$/;
const INCLUSION_FIELDS = ['checkpoint', 'inclusion', 'index', 'leaf', 'origin', 'root', 'size', 'type'];
const CONSISTENCY_FIELDS = ['consistency', 'root1', 'root2', 'size1', 'size2', 'type'];
/**
 * Kind of the test records. An application kind (`x.` prefix: any plain body, any
 * active member) so the records need no grant: a directory `access.log` body
 * must name an issued grant and its fields.
 */
const RECORD_KIND = 'x.access.log';
/** Tree size of a new ledger: its genesis block is the genesis record and the block entry that ends every block. */
const GENESIS_SIZE = 2;
/** Child processes run in parallel up to this many at once (two cores). */
const PARALLEL = 4;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

const childEnv: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
delete childEnv.DIRCHAIN_DIR;

function dirchain(args: readonly string[]): Run {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: childEnv });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function execAsync(file: string, args: readonly string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { encoding: 'utf8', env: childEnv, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') reject(error);
        else resolve({ code: error ? (error.code as number) : 0, stdout, stderr });
      },
    );
  });
}

function dirchainAsync(args: readonly string[]): Promise<Run> {
  return execAsync(process.execPath, [CLI, ...args]);
}

/** Runs independent CLI invocations in parallel (never two that open the same ledger). */
function dirchainAll(argsList: readonly (readonly string[])[]): Promise<Run[]> {
  return mapLimit(argsList, (args) => dirchainAsync(args));
}

function pythonAsync(args: readonly string[]): Promise<Run> {
  return execAsync('python3', [PY_VERIFIER, ...args]);
}

function python(args: readonly string[]): Run {
  const r = spawnSync('python3', [PY_VERIFIER, ...args], { encoding: 'utf8', env: childEnv });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

interface PyResult {
  bundle?: string;
  ok: boolean;
  reason: string;
}

/** Runs the Python verifier over many bundles in one process; one result per bundle, in order. */
async function pythonBatch(
  key: string,
  bundles: readonly string[],
): Promise<{ code: number; results: PyResult[] }> {
  const r = await pythonAsync(['--batch', key, ...bundles]);
  const results = r.stdout
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as PyResult);
  expect(results.map((x) => x.bundle)).toEqual(bundles);
  return { code: r.code, results };
}

async function mapLimit<T, R>(items: readonly T[], f: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await f(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, items.length) }, worker));
  return out;
}

/** Deterministic PRNG (mulberry32) so a failing random case can be replayed from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let tmp: string;

beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dirchain-e2e-'));
});

afterEach(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

function initLedger(dir: string, origin = ORIGIN): string {
  const r = dirchain(['init', dir, '--origin', origin, '--json']);
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { verifierKey: string }).verifierKey;
}

let fileCounter = 0;

function writeRecords(n: number, start = 0): string {
  const lines: string[] = [];
  for (let i = start; i < start + n; i++) {
    lines.push(
      JSON.stringify({ kind: RECORD_KIND, body: { grant: `g-${i}`, count: i, dataset: 'parcels' } }),
    );
  }
  const file = path.join(tmp, `records-${fileCounter++}.ndjson`);
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

interface AppendReport {
  appended: number;
  failed: Array<{ line: number; error: { code: string; message: string } }>;
  size: number;
  checkpoint: string;
}

function appendRecords(dir: string, n: number, start = 0): AppendReport {
  const r = dirchain([
    'append',
    dir,
    '--file',
    writeRecords(n, start),
    '--key',
    path.join(dir, 'keys', 'bureau.key'),
    '--json',
  ]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as AppendReport;
}

function b64FlipBit(text: string, bit: number): string {
  const bytes = Buffer.from(text, 'base64');
  expect(bytes.toString('base64')).toBe(text);
  bytes[bit >> 3]! ^= 1 << (bit & 7);
  return bytes.toString('base64');
}

/** Flips one bit inside the 64-byte Ed25519 signature (after the 4-byte key hash) of the last signature line. */
function flipNoteSignature(note: string): string {
  const lines = note.split('\n');
  const at = lines.length - 2; // the note ends with "\n", so the last element is ''
  const line = lines[at]!;
  expect(line.startsWith('\u2014 ')).toBe(true);
  const space = line.lastIndexOf(' ');
  lines[at] = `${line.slice(0, space + 1)}${b64FlipBit(line.slice(space + 1), 8 * 4 + 77)}`;
  return lines.join('\n');
}

/** Changes line `line` (0-based) of a note's text without re-signing it. */
function editNoteLine(note: string, line: number, f: (s: string) => string): string {
  const lines = note.split('\n');
  lines[line] = f(lines[line]!);
  return lines.join('\n');
}

function writeJSON(name: string, value: unknown): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, JSON.stringify(value));
  return file;
}

type InclusionBundle = {
  origin: string;
  index: number;
  size: number;
  leaf: string;
  inclusion: string[];
  root: string;
  checkpoint: string;
};

type ConsistencyBundle = {
  origin?: string;
  size1: number;
  size2: number;
  root1: string;
  root2: string;
  consistency: string[];
  checkpoint1?: string;
  checkpoint2?: string;
};

function prove(dir: string, args: string[]): Record<string, unknown> {
  const r = dirchain(['prove', dir, ...args, '--json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

describe('dirchain init', () => {
  it('creates a ledger, prints a C2SP verifier key and writes private keys with mode 0600', () => {
    const dir = path.join(tmp, 'city');
    const r = dirchain(['init', dir, '--origin', ORIGIN, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { verifierKey: string; origin: string; size: number };
    expect(out.verifierKey).toMatch(VERIFIER_KEY);
    expect(out.origin).toBe(ORIGIN);
    expect(out.size).toBe(GENESIS_SIZE);
    expect(fs.readFileSync(path.join(dir, 'sequencer.pub'), 'utf8').trim()).toBe(out.verifierKey);
    for (const key of ['sequencer.key', 'bureau.key']) {
      const file = path.join(dir, 'keys', key);
      expect(fs.existsSync(file), file).toBe(true);
      expect(fs.statSync(file).mode & 0o777, file).toBe(0o600);
      expect(fs.readFileSync(file, 'utf8')).toMatch(/^PRIVATE\+KEY\+/);
    }
    expect(fs.existsSync(path.join(dir, 'ledger'))).toBe(true);
  });

  it('refuses to initialise the same folder twice (exit 3, E_LEDGER_EXISTS)', () => {
    const dir = path.join(tmp, 'city');
    const key = initLedger(dir);
    const again = dirchain(['init', dir, '--origin', ORIGIN]);
    expect(again.code).toBe(3);
    expect(again.stderr).toContain('E_LEDGER_EXISTS');
    // The first ledger's key is untouched.
    expect(fs.readFileSync(path.join(dir, 'sequencer.pub'), 'utf8').trim()).toBe(key);
  });
});

describe('dirchain append', () => {
  it('appends 500 signed records from NDJSON', () => {
    const dir = path.join(tmp, 'city');
    initLedger(dir);
    const report = appendRecords(dir, 500);
    expect(report.appended).toBe(500);
    expect(report.failed).toEqual([]);
    // One block: the 500 records and its block entry.
    expect(report.size).toBe(GENESIS_SIZE + 500 + 1);
    expect(report.checkpoint.split('\n')[1]).toBe(String(GENESIS_SIZE + 500 + 1));
  });

  it('refuses bad lines with their line numbers and codes, and still appends the good ones', () => {
    const dir = path.join(tmp, 'city');
    initLedger(dir);
    const good = (i: number) => JSON.stringify({ kind: RECORD_KIND, body: { grant: `g-${i}` } });
    const file = path.join(tmp, 'mixed.ndjson');
    const garbage = Buffer.from('definitely not a signed dirchain record').toString('base64');
    fs.writeFileSync(
      file,
      [
        good(1),
        good(2),
        `{"kind": "${RECORD_KIND}", "body": {`,
        good(3),
        JSON.stringify({ record: garbage }),
        good(4),
      ]
        .map((l) => `${l}\n`)
        .join(''),
    );
    const args = ['append', dir, '--file', file, '--key', path.join(dir, 'keys', 'bureau.key')];
    const r = dirchain([...args, '--json']);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as AppendReport;
    expect(report.appended).toBe(4);
    expect(report.size).toBe(GENESIS_SIZE + 4 + 1); // one block: 4 records and its block entry
    expect(report.failed.map((f) => ({ line: f.line, code: f.error.code }))).toEqual([
      { line: 3, code: 'E_DECODE' },
      { line: 5, code: 'E_DECODE' },
    ]);
    // Human output lists the same lines; appending again adds the 4 good lines once more.
    const human = dirchain(args);
    expect(human.code).toBe(1);
    expect(human.stdout).toContain(`appended 4 records; tree size ${report.size + 4 + 1}`);
    expect(human.stdout).toMatch(/^line 3: E_DECODE /m);
    expect(human.stdout).toMatch(/^line 5: E_DECODE /m);
    const cp = dirchain(['checkpoint', dir]);
    expect(cp.stdout.split('\n')[1]).toBe(String(report.size + 4 + 1));
  });
});

describe('dirchain checkpoint', () => {
  it('prints the signed note, identical in --json, and the independent verifier accepts it', () => {
    const dir = path.join(tmp, 'city');
    const key = initLedger(dir);
    const size = appendRecords(dir, 10).size;
    expect(size).toBe(GENESIS_SIZE + 10 + 1); // one block: 10 records and its block entry
    const r = dirchain(['checkpoint', dir]);
    expect(r.code, r.stderr).toBe(0);
    const note = r.stdout;
    const lines = note.split('\n');
    expect(lines[0]).toBe(ORIGIN);
    expect(lines[1]).toBe(String(size));
    expect(lines[2]).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect(note.endsWith('\n')).toBe(true);
    expect(note).toContain('\n\n\u2014 ');
    expect(lines.at(-2)).toMatch(/^\u2014 dirchain\.example\.gov\/city [A-Za-z0-9+/]+=*$/);
    const json = dirchain(['checkpoint', dir, '--json']);
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout) as { checkpoint: string; size: number; origin: string };
    expect(parsed.checkpoint).toBe(note);
    expect(parsed.size).toBe(size);
    expect(parsed.origin).toBe(ORIGIN);

    const noteFile = path.join(tmp, 'checkpoint.txt');
    fs.writeFileSync(noteFile, note);
    const py = python(['--note', noteFile, key]);
    expect(py.code, py.stdout).toBe(0);
    expect(JSON.parse(py.stdout)).toMatchObject({ ok: true, origin: ORIGIN, size, root: lines[2] });
    fs.writeFileSync(
      noteFile,
      editNoteLine(note, 1, () => String(size + 1)),
    );
    const bad = python(['--note', noteFile, key]);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout)).toMatchObject({ ok: false });
  });
});

describe('dirchain prove and verify', () => {
  it('inclusion and consistency bundles verify with dirchain verify and the independent verifier', async () => {
    const dir = path.join(tmp, 'city');
    const key = initLedger(dir);
    const keyFile = path.join(dir, 'sequencer.pub');
    // Blocks end at tree sizes 2 (genesis), 503, 515 and 517: each block is its
    // records and the block entry that ends it.
    expect(appendRecords(dir, 500).size).toBe(503);
    expect(appendRecords(dir, 11, 500).size).toBe(515);
    expect(appendRecords(dir, 1, 511).size).toBe(517);
    const size = 517;
    const blockEnds = new Set([GENESIS_SIZE, 503, 515, 517]);

    // Replay a failing run with DIRCHAIN_E2E_SEED=<seed from the failure message>.
    const seed = Number(process.env.DIRCHAIN_E2E_SEED ?? Date.now()) >>> 0;
    const random = prng(seed);
    // The genesis record and block entry, the last record, and the last block entry.
    const fixed = [0, 1, size - 2, size - 1];
    const indexes = new Set(fixed);
    while (indexes.size < fixed.length + 20) indexes.add(Math.floor(random() * size));
    const inclusion: Array<{ args: string[]; index: number; size: number }> = [...indexes].map((i) => ({
      args: ['--index', String(i)],
      index: i,
      size,
    }));
    // Proofs against older checkpoints, of the last record and the block entry of their block.
    for (const [i, s] of [
      [0, 2],
      [1, 2],
      [513, 515],
      [514, 515],
    ] as const) {
      inclusion.push({ args: ['--index', String(i), '--size', String(s)], index: i, size: s });
    }
    const pairs: Array<[number, number]> = [
      [1, size],
      [2, size],
      [64, size],
      [256, size],
      [512, size],
      [515, size],
      [503, 515],
      [100, 503],
      [size, size],
      [503, 503],
    ];
    const jobs = [
      ...inclusion.map((c) => ({ kind: 'inclusion' as const, ...c })),
      ...pairs.map(([from, to]) => ({
        kind: 'consistency' as const,
        args: ['--from', String(from), '--to', String(to)],
        from,
        to,
      })),
    ];
    const what = (n: number) => `prove ${jobs[n]!.args.join(' ')} (seed ${seed})`;

    // LevelDB allows one process per ledger: copy the (closed) ledger so two lanes can
    // prove in parallel, each one proof after another; each bundle's `dirchain verify`
    // runs alongside the next proof.
    const copy = path.join(tmp, 'city-copy');
    fs.cpSync(dir, copy, { recursive: true });
    const files: string[] = new Array(jobs.length);
    const bundles: Array<Record<string, unknown>> = new Array(jobs.length);
    const verifying: Array<Promise<Run>> = new Array(jobs.length);
    const lane = async (ledger: string, parity: number) => {
      for (const [n, job] of jobs.entries()) {
        if (n % 2 !== parity) continue;
        const r = await dirchainAsync(['prove', ledger, ...job.args, '--json']);
        expect(r.code, `${what(n)}: ${r.stderr}`).toBe(0);
        const bundle = JSON.parse(r.stdout) as Record<string, unknown>;
        if (job.kind === 'inclusion') {
          expect(Object.keys(bundle).sort()).toEqual(INCLUSION_FIELDS);
          const b = bundle as InclusionBundle;
          expect(b).toMatchObject({ origin: ORIGIN, index: job.index, size: job.size });
          expect(b.checkpoint.split('\n').slice(0, 3)).toEqual([ORIGIN, String(job.size), b.root]);
        } else {
          const b = bundle as ConsistencyBundle;
          expect(b).toMatchObject({ size1: job.from, size2: job.to });
          const keys = Object.keys(bundle).filter(
            (k) => !['origin', 'checkpoint1', 'checkpoint2'].includes(k),
          );
          expect(keys.sort()).toEqual(CONSISTENCY_FIELDS);
          expect('checkpoint1' in b, `checkpoint1 for ${job.from}`).toBe(blockEnds.has(job.from));
          expect('checkpoint2' in b, `checkpoint2 for ${job.to}`).toBe(true);
          if (job.from === job.to) {
            expect(b.consistency).toEqual([]);
            expect(b.root1).toBe(b.root2);
          }
        }
        const file = path.join(tmp, `bundle-${n}.json`);
        fs.writeFileSync(file, r.stdout);
        files[n] = file;
        bundles[n] = bundle;
        verifying[n] = dirchainAsync(['verify', file, '--key', keyFile]);
      }
    };
    await Promise.all([lane(dir, 0), lane(copy, 1)]);

    // Roots agree across bundles: every proof at a block boundary names that block's root.
    const rootAt = new Map<number, Set<unknown>>();
    const seen = (size: unknown, root: unknown) => {
      if (typeof size === 'number' && blockEnds.has(size))
        rootAt.set(size, (rootAt.get(size) ?? new Set()).add(root));
    };
    for (const b of bundles) {
      seen(b.size, b.root);
      seen(b.size1, b.root1);
      seen(b.size2, b.root2);
    }
    expect([...rootAt.keys()].sort((a, b) => a - b)).toEqual([...blockEnds]);
    for (const roots of rootAt.values()) expect(roots.size).toBe(1);

    const verified = await Promise.all(verifying);
    verified.forEach((r, n) => {
      expect(r.code, `${what(n)}:\n${r.stdout}${r.stderr}`).toBe(0);
      expect(r.stdout.trim().split('\n').at(-1)).toBe('verified');
      expect(r.stdout).not.toContain('FAIL');
    });

    const py = await pythonBatch(keyFile, files);
    py.results.forEach((res, n) => {
      expect(res.ok, `${what(n)}: ${res.reason}`).toBe(true);
    });
    expect(py.code).toBe(0);

    // The single-bundle form, with the key given as text rather than a file.
    const singles = await Promise.all([files[0]!, files.at(-1)!].map((f) => pythonAsync([f, key])));
    for (const one of singles) {
      expect(one.code, one.stdout).toBe(0);
      expect(JSON.parse(one.stdout)).toMatchObject({ ok: true });
    }
  });

  it('prove --index emits exactly the inclusion bundle fields; --from/--to the consistency fields', () => {
    const dir = path.join(tmp, 'city');
    initLedger(dir);
    const size = appendRecords(dir, 20).size;
    expect(size).toBe(GENESIS_SIZE + 20 + 1); // one block: 20 records and its block entry
    const inc = prove(dir, ['--index', '7']);
    expect(Object.keys(inc).sort()).toEqual(INCLUSION_FIELDS);
    expect(inc).toMatchObject({ origin: ORIGIN, index: 7, size });
    expect(Buffer.from(inc.root as string, 'base64')).toHaveLength(32);
    const con = prove(dir, ['--from', '1', '--to', String(size)]);
    for (const f of CONSISTENCY_FIELDS) expect(con, f).toHaveProperty(f);
    expect(con).toMatchObject({ size1: 1, size2: size, root2: inc.root });
    expect(Object.keys(inc)).not.toContain('consistency');
    expect(Object.keys(con)).not.toContain('inclusion');
  });
});

describe('tampered bundles', () => {
  it('are rejected by dirchain verify (naming the failed check) and by the independent verifier', async () => {
    const dir = path.join(tmp, 'city');
    const key = initLedger(dir);
    const keyFile = path.join(dir, 'sequencer.pub');
    appendRecords(dir, 500);
    const inc = prove(dir, ['--index', '42']) as InclusionBundle;
    // From the genesis block, so that both sizes have a signed checkpoint in the bundle.
    const con = prove(dir, ['--from', String(GENESIS_SIZE)]) as ConsistencyBundle;
    expect(inc.inclusion.length).toBeGreaterThan(4);
    expect(con.checkpoint1).toBeDefined();
    expect(con.checkpoint2).toBeDefined();

    const flippedRoot = b64FlipBit(inc.root, 100);
    const cases: Array<{ name: string; bundle: unknown; failed: string | null }> = [
      { name: 'untouched inclusion bundle (control)', bundle: inc, failed: null },
      { name: 'untouched consistency bundle (control)', bundle: con, failed: null },
      {
        name: 'leaf bit',
        bundle: { ...inc, leaf: b64FlipBit(inc.leaf, 8 * 40 + 3) },
        failed: 'inclusion proof',
      },
      {
        name: 'inclusion hash bit',
        bundle: { ...inc, inclusion: inc.inclusion.map((h, i) => (i === 2 ? b64FlipBit(h, 7) : h)) },
        failed: 'inclusion proof',
      },
      { name: 'root bit', bundle: { ...inc, root: flippedRoot }, failed: 'checkpoint matches bundle' },
      {
        name: 'checkpoint signature bit',
        bundle: { ...inc, checkpoint: flipNoteSignature(inc.checkpoint) },
        failed: 'checkpoint signature',
      },
      {
        name: 'checkpoint size line',
        bundle: { ...inc, checkpoint: editNoteLine(inc.checkpoint, 1, (s) => String(Number(s) + 1)) },
        failed: 'checkpoint signature',
      },
      {
        name: 'root and checkpoint root line changed together',
        bundle: { ...inc, root: flippedRoot, checkpoint: editNoteLine(inc.checkpoint, 2, () => flippedRoot) },
        failed: 'checkpoint signature',
      },
      { name: 'index', bundle: { ...inc, index: 43 }, failed: 'inclusion proof' },
      {
        name: 'dropped proof hash',
        bundle: { ...inc, inclusion: inc.inclusion.slice(1) },
        failed: 'inclusion proof',
      },
      {
        name: 'consistency hash bit',
        bundle: { ...con, consistency: con.consistency.map((h, i) => (i === 0 ? b64FlipBit(h, 200) : h)) },
        failed: 'consistency proof',
      },
      { name: 'root1 bit', bundle: { ...con, root1: b64FlipBit(con.root1, 3) }, failed: 'checkpoint 1' },
      {
        name: 'checkpoint2 signature bit',
        bundle: { ...con, checkpoint2: flipNoteSignature(con.checkpoint2!) },
        failed: 'checkpoint 2',
      },
      {
        name: 'checkpoint2 size line',
        bundle: { ...con, checkpoint2: editNoteLine(con.checkpoint2!, 1, () => '502') },
        failed: 'checkpoint 2',
      },
    ];
    const files = cases.map((c, i) => writeJSON(`case-${i}.json`, c.bundle));
    const [verified, singles, py] = await Promise.all([
      dirchainAll(files.map((f) => ['verify', f, '--key', keyFile])),
      mapLimit(files, (f) => pythonAsync([f, key])),
      pythonBatch(keyFile, files),
    ]);
    cases.forEach((c, i) => {
      const r = verified[i]!;
      const one = singles[i]!;
      const batch = py.results[i]!;
      if (c.failed === null) {
        expect(r.code, `${c.name}:\n${r.stdout}${r.stderr}`).toBe(0);
        expect(r.stdout).not.toContain('FAIL');
        expect(one.code, `${c.name}: ${one.stdout}`).toBe(0);
        expect(batch.ok, `${c.name}: ${batch.reason}`).toBe(true);
        return;
      }
      expect(r.code, `${c.name}:\n${r.stdout}${r.stderr}`).toBe(1);
      expect(r.stdout, c.name).toContain('FAIL');
      expect(r.stdout, c.name).toMatch(new RegExp(`^FAIL ${c.failed}: `, 'm'));
      expect(r.stdout, c.name).toContain(`NOT verified`);
      expect(one.code, `${c.name}: python accepted it: ${one.stdout}`).not.toBe(0);
      expect(JSON.parse(one.stdout), c.name).toMatchObject({ ok: false });
      expect(batch.ok, `${c.name}: python --batch accepted it (${batch.reason})`).toBe(false);
    });
    expect(py.code).toBe(1);
  });

  it('a wrong or malformed key is rejected (exit 1)', async () => {
    const dir = path.join(tmp, 'city');
    const otherSameName = path.join(tmp, 'other');
    const otherName = path.join(tmp, 'town');
    const inits = await dirchainAll([
      ['init', dir, '--origin', ORIGIN, '--json'],
      ['init', otherSameName, '--origin', ORIGIN, '--json'],
      ['init', otherName, '--origin', 'dirchain.example.gov/town', '--json'],
    ]);
    for (const r of inits) expect(r.code, r.stderr).toBe(0);
    appendRecords(dir, 30);
    const inc = writeJSON('inclusion.json', prove(dir, ['--index', '5']));
    const con = writeJSON('consistency.json', prove(dir, ['--from', String(GENESIS_SIZE)]));
    const good = fs.readFileSync(path.join(dir, 'sequencer.pub'), 'utf8').trim();
    const hashAt = good.indexOf('+') + 1;
    const badHash = `${good.slice(0, hashAt)}${good[hashAt] === '0' ? '1' : '0'}${good.slice(hashAt + 1)}`;
    const wrongKeys = [
      path.join(otherSameName, 'sequencer.pub'),
      path.join(otherName, 'sequencer.pub'),
      badHash,
    ];
    expect(fs.readFileSync(wrongKeys[0]!, 'utf8').trim()).not.toBe(good);
    const checks = [...wrongKeys, good].flatMap((key) => [inc, con].map((bundle) => ({ key, bundle })));
    const [cli, py] = await Promise.all([
      dirchainAll(checks.map((c) => ['verify', c.bundle, '--key', c.key])),
      mapLimit(checks, (c) => pythonAsync([c.bundle, c.key])),
    ]);
    checks.forEach((c, i) => {
      const right = c.key === good;
      const what = `${c.key} ${path.basename(c.bundle)}`;
      expect(cli[i]!.code, `${what}: ${cli[i]!.stdout}`).toBe(right ? 0 : 1);
      expect(cli[i]!.stdout.includes('FAIL'), what).toBe(!right);
      expect(py[i]!.code, `${what}: ${py[i]!.stdout}`).toBe(right ? 0 : 1);
      expect(JSON.parse(py[i]!.stdout), what).toMatchObject({ ok: right });
    });
  });
});

describe('errors and usage', () => {
  it('prove --index beyond the size exits 3 with E_NOT_FOUND', async () => {
    const dir = path.join(tmp, 'city');
    initLedger(dir);
    const size = appendRecords(dir, 4).size;
    expect(size).toBe(GENESIS_SIZE + 4 + 1); // one block: 4 records and its block entry
    for (const index of [String(size), '1000']) {
      const r = await dirchainAsync(['prove', dir, '--index', index]);
      expect(r.code).toBe(3);
      expect(r.stderr).toContain('E_NOT_FOUND');
    }
    const json = await dirchainAsync(['prove', dir, '--index', String(size), '--json']);
    expect(json.code).toBe(3);
    expect(JSON.parse(json.stdout)).toMatchObject({ error: { code: 'E_NOT_FOUND', index: size } });
    // The last index is still fine.
    expect((await dirchainAsync(['prove', dir, '--index', String(size - 1)])).code).toBe(0);
    // Consistency: sizes past the head, or a size2 that ends no block (no checkpoint to sign it), are E_NOT_FOUND.
    for (const args of [
      ['--from', '9'],
      ['--from', '1', '--to', '9'],
      ['--from', '1', '--to', '3'],
    ]) {
      const r = await dirchainAsync(['prove', dir, ...args]);
      expect(r.code, args.join(' ')).toBe(3);
      expect(r.stderr).toContain('E_NOT_FOUND');
    }
  });

  it('a consistency bundle without a signed checkpoint for size2 is not verified', async () => {
    const dir = path.join(tmp, 'city');
    initLedger(dir);
    appendRecords(dir, 4);
    const r = await dirchainAsync(['prove', dir, '--from', '2', '--json']);
    const bundle = JSON.parse(r.stdout) as Record<string, unknown>;
    delete bundle.checkpoint2;
    const file = path.join(tmp, 'stripped.json');
    fs.writeFileSync(file, JSON.stringify(bundle));
    const v = await dirchainAsync(['verify', file, '--key', path.join(dir, 'sequencer.pub')]);
    expect(v.code).toBe(1);
    expect(v.stdout).toContain('checkpoint 2');
  });

  it('unknown commands, unknown options and missing arguments exit 2', async () => {
    const dir = path.join(tmp, 'city');
    const cases: string[][] = [
      ['frobnicate'],
      [],
      ['init', dir],
      ['init', '--origin', ORIGIN],
      ['append', dir],
      ['prove', dir],
      ['prove', dir, '--index', '1', '--from', '1'],
      ['prove', dir, '--index', 'one'],
      ['verify'],
      ['checkpoint', dir, '--bogus'],
    ];
    const runs = await dirchainAll(cases);
    runs.forEach((r, i) => {
      expect(r.code, `dirchain ${cases[i]!.join(' ')}: ${r.stderr}`).toBe(2);
    });
    expect(runs[0]!.stderr).toContain('unknown command');
    expect(runs[3]!.stderr).toContain('E_INVALID_ARGUMENT');
    expect(fs.existsSync(dir)).toBe(false);
  });

  it('--help for every command exits 0 and prints usage', async () => {
    const commands = [
      'init',
      'append',
      'checkpoint',
      'prove',
      'verify',
      'audit',
      'member',
      'resource',
      'scenario',
      'request',
      'grant',
      'access',
      'query',
    ];
    const runs = await dirchainAll([...commands.map((c) => [c, '--help']), ['--help']]);
    commands.forEach((command, i) => {
      expect(runs[i]!.code, command).toBe(0);
      expect(runs[i]!.stdout, command).toContain('usage:');
      expect(runs[i]!.stdout, command).toContain(`dirchain ${command}`);
    });
    expect(runs.at(-1)!.code).toBe(0);
    expect(runs.at(-1)!.stdout).toContain('usage: dirchain <command>');
  });
});

describe('dirchain audit', () => {
  it('verifies an intact ledger and names record 100 after one byte of it changes in LevelDB', async () => {
    const dir = path.join(tmp, 'city');
    initLedger(dir);
    const size = appendRecords(dir, 500).size;
    const keyFile = path.join(dir, 'sequencer.pub');
    const ok = dirchain(['audit', dir, '--key', keyFile]);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toContain(`ledger verified: 501 records in 2 blocks (${size} log entries)`);
    const okJson = JSON.parse(dirchain(['audit', dir, '--key', keyFile, '--json']).stdout) as { ok: boolean };
    expect(okJson.ok).toBe(true);

    /** Flips one bit in the middle of stored entry `index` of `folder`'s LevelDB. */
    const flipStored = async (folder: string, index: number, check?: (entry: Uint8Array) => void) => {
      const db = new ClassicLevel<Uint8Array, Uint8Array>(path.join(folder, 'ledger'), {
        keyEncoding: 'view',
        valueEncoding: 'view',
      });
      await db.open();
      try {
        await rewriteStoredEntry(db, index, (entry) => {
          check?.(entry);
          entry[entry.length >> 1]! ^= 0x01;
          return entry;
        });
      } finally {
        await db.close();
      }
    };
    // A changed block entry (the last entry of block 1) is named too, on a copy.
    const copy = path.join(tmp, 'city-copy');
    fs.cpSync(dir, copy, { recursive: true });
    await flipStored(copy, size - 1, (entry) => expect(isBlockEntry(entry)).toBe(true));
    const badBlockEntry = dirchain(['audit', copy, '--key', keyFile, '--json']);
    expect(badBlockEntry.code).toBe(1);
    expect(JSON.parse(badBlockEntry.stdout)).toMatchObject({
      ok: false,
      error: { code: 'E_LEDGER_CORRUPT', index: size - 1 },
    });

    await flipStored(dir, 100);

    const bad = dirchain(['audit', dir, '--key', keyFile, '--json']);
    expect(bad.code).toBe(1);
    const report = JSON.parse(bad.stdout) as { ok: boolean; error?: { index?: number; code: string } };
    expect(report.ok).toBe(false);
    expect(report.error?.index).toBe(100);
    const human = dirchain(['audit', dir, '--key', keyFile]);
    expect(human.code).toBe(1);
    expect(human.stdout).toContain('first bad record index: 100');
  });

  it('fails against another ledger’s key', () => {
    const dir = path.join(tmp, 'city');
    initLedger(dir);
    const other = path.join(tmp, 'other');
    initLedger(other);
    const r = dirchain(['audit', dir, '--key', path.join(other, 'sequencer.pub')]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('NOT verified');
  });
});

describe('independent verifier self-test', () => {
  it('passes every RFC 9162 and signed-note vector', () => {
    const r = python(['--vectors', VECTORS]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout) as Record<string, unknown>;
    const tlog = JSON.parse(fs.readFileSync(path.join(VECTORS, 'rfc9162-tlog.json'), 'utf8')) as {
      roots: Record<string, string>;
      inclusion: unknown[];
      consistency: unknown[];
    };
    expect(summary).toMatchObject({
      ok: true,
      roots: Object.keys(tlog.roots).length,
      inclusion: tlog.inclusion.length,
      consistency: tlog.consistency.length,
      note: true,
      failures: [],
    });
    expect(summary.negative).toBeGreaterThan(1000);
  });

  it('fails when a vector is wrong (the self-test can fail)', () => {
    const copy = path.join(tmp, 'vectors');
    fs.mkdirSync(copy);
    const tlog = JSON.parse(fs.readFileSync(path.join(VECTORS, 'rfc9162-tlog.json'), 'utf8')) as {
      roots: Record<string, string>;
    };
    const r7 = tlog.roots['7']!;
    tlog.roots['7'] = `${r7[0] === '0' ? '1' : '0'}${r7.slice(1)}`;
    fs.writeFileSync(path.join(copy, 'rfc9162-tlog.json'), JSON.stringify(tlog));
    const note = JSON.parse(fs.readFileSync(path.join(VECTORS, 'signed-note.json'), 'utf8')) as {
      note: string;
    };
    note.note = note.note.replace('block 2', 'block 9');
    fs.writeFileSync(path.join(copy, 'signed-note.json'), JSON.stringify(note));
    const r = python(['--vectors', copy]);
    expect(r.code).toBe(1);
    const summary = JSON.parse(r.stdout) as { ok: boolean; failures: string[] };
    expect(summary.ok).toBe(false);
    expect(summary.failures).toContain('root of size 7');
    expect(summary.failures.some((f) => f.startsWith('signed note'))).toBe(true);
  });
});
