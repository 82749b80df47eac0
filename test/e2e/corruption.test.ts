import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLedger } from '../../src/ledger/open.js';
import { storedHashIndex } from '../../src/merkle/stored.js';
import { createLimitedServer } from '../../src/node/http.js';
import { serveLedger, tileHandler } from '../../src/node/serve.js';
import { HASHES_PER_PAGE, pageKey, pieceKey, pieceOf } from '../../src/storage/keys.js';
import { liveTables, tableFile } from '../../src/storage/leveldb-files.js';
import { LedgerStore } from '../../src/storage/store.js';
import { TableGuard } from '../../src/storage/table-guard.js';
import { repoRoot, tempDir } from '../helpers.js';
import { makeCity, newLedger, signedBy } from '../ledger/fixture.js';

const reader = join(repoRoot, 'test/fixtures/corrupt-reader.mjs');
const cli = join(repoRoot, 'dist/cli.js');
const TRIALS = Number(process.env.CORRUPTION_TRIALS ?? 50);

interface Outcome {
  signal: NodeJS.Signals | null;
  code: number | null;
  result?: { opened: boolean; read: number; wrong: number; errors: Record<string, number>; verify?: string };
  stderr: string;
}

function run(args: string[]): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('exit', (code, signal) => {
      const line = stdout.trim().split('\n').pop();
      let result: Outcome['result'];
      try {
        result = line ? JSON.parse(line) : undefined;
      } catch {
        result = undefined;
      }
      resolve({ signal, code, stderr, ...(result ? { result } : {}) });
    });
  });
}

/** Zeroes the 4 KiB page `page` (modulo the file's pages) of a live table of `dir`. */
function zeroPage(dir: string, table: number, page: number): string {
  const tables = liveTables(dir)!;
  const t = tables[table % tables.length]!;
  const file = tableFile(dir, t.number);
  const bytes = readFileSync(file);
  const start = (page % Math.ceil(bytes.length / 4096)) * 4096;
  bytes.fill(0, start, Math.min(start + 4096, bytes.length));
  writeFileSync(file, bytes);
  return `${file.slice(dir.length + 1)} @${start}`;
}

describe('a damaged table is a typed error, never an abort or wrong bytes (issue 28, item 2)', () => {
  const dir = tempDir('dirchain-corrupt-');
  const pristine = join(dir.path, 'pristine');
  const expectedFile = join(dir.path, 'expected.json');
  const city = makeCity(2);

  beforeAll(async () => {
    const ledger = await newLedger(pristine, city);
    const d = city.departments[0]!;
    for (let i = 0; i < 4000; i += 500) {
      await ledger.appendMany(
        Array.from({ length: 500 }, (_, j) => signedBy(d, { i: i + j, pad: 'p'.repeat(200) })),
      );
    }
    const hashes = [];
    for (let i = 0; i < ledger.head().size; i++)
      hashes.push(createHash('sha256').update(ledger.getEntry(i)).digest('hex'));
    writeFileSync(expectedFile, JSON.stringify(hashes));
    await ledger.close();
    // Reopening writes LevelDB's log out as a table: every entry is then in a table.
    await (await LedgerStore.open(pristine, { create: false })).close();
  });
  afterAll(() => dir.cleanup());

  it(`${TRIALS} trials of 4 KiB zeroed in a table: each opens refused with E_LEDGER_CORRUPT, none aborts`, async () => {
    const trials = fc.sample(fc.tuple(fc.nat(), fc.nat()), { numRuns: TRIALS, seed: 28 });
    const outcomes: Array<Outcome & { where: string }> = [];
    const one = async (i: number) => {
      const [table, page] = trials[i]!;
      const path = join(dir.path, `trial-${i}`);
      cpSync(pristine, path, { recursive: true });
      const where = zeroPage(path, table, page);
      outcomes.push({ where, ...(await run([reader, join(repoRoot, 'dist'), path, expectedFile])) });
      rmSync(path, { recursive: true, force: true });
    };
    for (let i = 0; i < TRIALS; i += 2) await Promise.all([one(i), ...(i + 1 < TRIALS ? [one(i + 1)] : [])]);
    const aborted = outcomes.filter((o) => o.signal !== null || o.result === undefined);
    const wrong = outcomes.filter((o) => (o.result?.wrong ?? 0) > 0);
    const untyped = outcomes.filter((o) =>
      Object.keys(o.result?.errors ?? {}).some((c) => !c.startsWith('E_')),
    );
    console.log(
      `corruption trials: ${outcomes.length}, aborted ${aborted.length}, wrong bytes ${wrong.length}, untyped ${untyped.length}, refused at open ${outcomes.filter((o) => o.result?.opened === false).length}`,
    );
    expect(aborted.map((o) => `${o.where}: ${o.signal ?? o.code} ${o.stderr.slice(0, 200)}`)).toEqual([]);
    expect(wrong).toEqual([]);
    expect(untyped).toEqual([]);
    for (const o of outcomes) {
      // Zeroing a page always changes a table, and every table is checked before LevelDB reads it.
      expect(o.result, o.where).toMatchObject({ opened: false, errors: { E_LEDGER_CORRUPT: 1 } });
    }
  });

  it('`dirchain serve` and `dirchain audit` of a damaged folder report E_LEDGER_CORRUPT and exit, never abort', async () => {
    const path = join(dir.path, 'cli');
    cpSync(pristine, path, { recursive: true });
    zeroPage(path, 0, 1);
    // The CLI takes the node folder (it holds ledger/).
    const node = join(dir.path, 'cli-node');
    cpSync(path, join(node, 'ledger'), { recursive: true });
    const serve = await run([cli, 'serve', node, '--json']);
    expect(serve.signal).toBeNull();
    expect(serve.code).toBe(3);
    expect(serve.stderr + JSON.stringify(serve.result ?? '')).toContain('E_LEDGER_CORRUPT');
    const audit = await run([cli, 'audit', node, '--json']);
    expect(audit.signal).toBeNull();
    expect(audit.code).toBe(1);
    expect(JSON.stringify(audit.result)).toContain('E_LEDGER_CORRUPT');
  });

  it('`dirchain audit <dir>` reads in a child process: if that process dies, the audit still reports', async () => {
    const node = join(dir.path, 'audit-node');
    cpSync(pristine, join(node, 'ledger'), { recursive: true });
    const parent = spawn(process.execPath, [cli, 'audit', node, '--json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    parent.stdout.on('data', (d) => {
      stdout += d;
    });
    // The reading process is the CLI's child: abort it as LevelDB would.
    let reader: number | undefined;
    for (let i = 0; i < 500 && reader === undefined; i++) {
      reader = childOf(parent.pid!);
      if (reader === undefined) await new Promise((r) => setTimeout(r, 10));
    }
    expect(reader).toBeDefined();
    process.kill(reader!, 'SIGABRT');
    const code = await new Promise<number | null>((resolve) => parent.on('exit', (c) => resolve(c)));
    expect(code).toBe(1);
    const report = JSON.parse(stdout);
    expect(report).toMatchObject({ ok: false, error: { code: 'E_LEDGER_CORRUPT' } });
    expect(report.error.message).toContain('SIGABRT');
  });

  it('a table damaged while the ledger is open: every later read and answer is E_LEDGER_CORRUPT', async () => {
    const path = join(dir.path, 'running');
    cpSync(pristine, path, { recursive: true });
    const store = await LedgerStore.open(path, { create: false });
    try {
      const before = new Set(liveTables(path)!.map((t) => t.number));
      // A compaction writes new tables, which the guard has not checked yet.
      await store.db.compactRange(Uint8Array.of(0), Uint8Array.of(0xff));
      const added = liveTables(path)!.filter((t) => !before.has(t.number));
      expect(added.length).toBeGreaterThan(0);
      const file = tableFile(path, added[0]!.number);
      const bytes = readFileSync(file);
      bytes.fill(0, 0, 4096);
      writeFileSync(file, bytes);
      // Served: health checks the new tables first, then fails, as does every other request.
      const server = createLimitedServer(tileHandler(store, { log: () => {} }));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      try {
        const health = await fetch(`${url}dirchain/health`);
        expect(health.status).toBe(503);
        expect(await health.json()).toMatchObject({ code: 'E_LEDGER_CORRUPT' });
        const tile = await fetch(`${url}tile/entries/000`);
        expect(tile.status).toBe(500);
        expect(await tile.json()).toMatchObject({ code: 'E_LEDGER_CORRUPT' });
      } finally {
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
      // The periodic check finds it too: without blocking, once a table has stayed live for an interval.
      const guard = new TableGuard(path);
      guard.watch(30);
      for (let i = 0; i < 200 && guard.damage === undefined; i++) await new Promise((r) => setTimeout(r, 10));
      guard.stop();
      expect(guard.damage).toMatchObject({ code: 'E_LEDGER_CORRUPT' });
      expect(guard.damage?.message).toContain(file.slice(path.length + 1));
      expect(store.checkNewTables()).toMatchObject({ code: 'E_LEDGER_CORRUPT' });
      expect(() => store.getEntry(1)).toThrow(expect.objectContaining({ code: 'E_LEDGER_CORRUPT' }));
      await expect(store.lastBlock()).rejects.toMatchObject({ code: 'E_LEDGER_CORRUPT' });
      await expect(store.writeBlock({} as never, 'sync')).rejects.toMatchObject({ code: 'E_LEDGER_CORRUPT' });
    } finally {
      await store.close();
    }
    // And the next open refuses the folder.
    await expect(openLedger(path)).rejects.toMatchObject({ code: 'E_LEDGER_CORRUPT' });
  });

  it('served and proven entries and tiles are checked against the stored tree: damage that passes LevelDB is caught', async () => {
    const path = join(dir.path, 'served');
    cpSync(pristine, path, { recursive: true });
    // Damage LevelDB's checksums cannot see: values rewritten through LevelDB itself.
    const store = await LedgerStore.open(path, { create: false });
    // An entry: one byte of entry 300, in the piece that holds it.
    let piece: [Uint8Array, Uint8Array] | undefined;
    for await (const [k, v] of store.db.iterator({ gte: pieceKey(0), lt: pieceKey(301) }))
      if (pieceOf(k) !== undefined) piece = [k, v];
    const [key, value] = piece!;
    let at = 0;
    for (let i = pieceOf(key)!; i < 300; i++) at += 2 + ((value[at]! << 8) | value[at + 1]!);
    value[at + 10]! ^= 1;
    await store.db.put(key, value);
    // A stored leaf hash: that of entry 700.
    const hashAt = storedHashIndex(0, 700);
    const page = Math.floor(hashAt / HASHES_PER_PAGE);
    const bytes = (await store.db.get(pageKey(page)))!;
    bytes[(hashAt % HASHES_PER_PAGE) * 32]! ^= 1;
    await store.db.put(pageKey(page), bytes);
    await store.close();

    const served = await serveLedger(path);
    try {
      // Healthy: the damage is in values, found only by the reads that meet it.
      expect((await fetch(`${served.url}dirchain/health`)).status).toBe(200);
      const damagedBundle = await fetch(`${served.url}tile/entries/001`);
      expect(damagedBundle.status).toBe(500);
      expect(await damagedBundle.json()).toMatchObject({ code: 'E_LEDGER_CORRUPT' });
      const damagedTile = await fetch(`${served.url}tile/0/002`);
      expect(damagedTile.status).toBe(500);
      expect(await damagedTile.json()).toMatchObject({ code: 'E_LEDGER_CORRUPT' });
      // The rest is served as before.
      for (const good of ['tile/entries/000', 'tile/entries/002', 'tile/0/000', 'tile/0/001', 'checkpoint'])
        expect((await fetch(`${served.url}${good}`)).status, good).toBe(200);
    } finally {
      await served.close();
    }
    const ledger = await openLedger(path);
    try {
      expect(() => ledger.getEntry(300)).toThrow(
        expect.objectContaining({ code: 'E_LEDGER_CORRUPT', index: 300 }),
      );
      expect(() => ledger.getEntry(700)).toThrow(
        expect.objectContaining({ code: 'E_LEDGER_CORRUPT', index: 700 }),
      );
      expect(ledger.getEntry(299).length).toBeGreaterThan(0);
      await expect(ledger.proveInclusion(300)).rejects.toMatchObject({ code: 'E_LEDGER_CORRUPT' });
      // A proof whose path crosses the damaged hash does not leave the process either.
      await expect(ledger.proveInclusion(701)).rejects.toMatchObject({ code: 'E_LEDGER_CORRUPT' });
      expect((await ledger.proveInclusion(2000)).index).toBe(2000);
    } finally {
      await ledger.close();
    }
  });
});

/** The pid of a child process of `pid`, if it has one (Linux /proc). */
function childOf(pid: number): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      if (new RegExp(`^PPid:\\s+${pid}$`, 'm').test(status)) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}
