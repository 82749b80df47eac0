import {
  copyFileSync,
  cpSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkLogs,
  checkTable,
  FileDamage,
  liveTables,
  readVersion,
  tableFile,
} from '../../src/storage/leveldb-files.js';
import { LedgerStore } from '../../src/storage/store.js';
import { TableGuard } from '../../src/storage/table-guard.js';
import { tempDir } from '../helpers.js';
import { makeCity, newLedger, signedBy } from '../ledger/fixture.js';

/** A ledger whose entries LevelDB has moved into tables (reopening writes the log out as a level-0 table). */
async function tabledLedger(path: string, records: number): Promise<void> {
  const city = makeCity(2);
  const ledger = await newLedger(path, city);
  const d = city.departments[0]!;
  for (let i = 0; i < records; i += 500) {
    await ledger.appendMany(
      Array.from({ length: Math.min(500, records - i) }, (_, j) =>
        signedBy(d, { i: i + j, pad: 'p'.repeat(200) }),
      ),
    );
  }
  await ledger.close();
  await (await LedgerStore.open(path, { create: false })).close();
}

describe('LevelDB file checks', () => {
  const dir = tempDir('dirchain-ldbfiles-');
  const pristine = join(dir.path, 'pristine');
  const work = join(dir.path, 'work');
  beforeAll(() => tabledLedger(pristine, 3000));
  afterAll(() => dir.cleanup());

  it('lists the live tables with the sizes LevelDB recorded, and every one checks', () => {
    const live = liveTables(pristine)!;
    expect(live.length).toBeGreaterThan(0);
    for (const t of live) {
      expect(statSync(tableFile(pristine, t.number)).size).toBe(t.size);
      expect(() => checkTable(pristine, t)).not.toThrow();
    }
    expect(liveTables(join(dir.path, 'nowhere'))).toBeUndefined();
  });

  it('catches any one changed byte, and any 4 KiB zeroed, anywhere in a table', () => {
    const live = liveTables(pristine)!;
    const biggest = live.reduce((a, b) => (b.size > a.size ? b : a));
    const original = readFileSync(tableFile(pristine, biggest.number));
    rmSync(work, { recursive: true, force: true });
    cpSync(pristine, work, { recursive: true });
    const target = tableFile(work, biggest.number);
    fc.assert(
      fc.property(
        fc.nat({ max: original.length - 1 }),
        fc.integer({ min: 1, max: 255 }),
        fc.boolean(),
        (at, xor, zeroPage) => {
          const damaged = Buffer.from(original);
          if (zeroPage) {
            const start = Math.floor(at / 4096) * 4096;
            damaged.fill(0, start, Math.min(start + 4096, damaged.length));
            if (damaged.equals(original)) return; // nothing changed
          } else damaged[at]! ^= xor;
          writeFileSync(target, damaged);
          expect(() => checkTable(work, biggest)).toThrow(FileDamage);
        },
      ),
      { numRuns: 300 },
    );
    copyFileSync(tableFile(pristine, biggest.number), target);
    expect(() => checkTable(work, biggest)).not.toThrow();
  });

  it('reports a truncated, missing or grown table, and a damaged MANIFEST', () => {
    rmSync(work, { recursive: true, force: true });
    cpSync(pristine, work, { recursive: true });
    const t = liveTables(work)![0]!;
    const file = tableFile(work, t.number);
    const bytes = readFileSync(file);
    writeFileSync(file, bytes.subarray(0, bytes.length - 1));
    expect(() => checkTable(work, t)).toThrow(/LevelDB recorded/);
    writeFileSync(file, Buffer.concat([bytes, Buffer.of(0)]));
    expect(() => checkTable(work, t)).toThrow(/LevelDB recorded/);
    rmSync(file);
    expect(() => checkTable(work, t)).toThrow(/is missing/);
    const manifest = readdirSync(work).find((f) => f.startsWith('MANIFEST-'))!;
    const m = readFileSync(join(work, manifest));
    m[10]! ^= 0x40;
    writeFileSync(join(work, manifest), m);
    expect(() => liveTables(work)).toThrow(/fails its checksum/);
  });

  it('a ledger with a damaged table is refused when opened, with E_LEDGER_CORRUPT naming the file', async () => {
    rmSync(work, { recursive: true, force: true });
    cpSync(pristine, work, { recursive: true });
    const t = liveTables(work)![0]!;
    const file = tableFile(work, t.number);
    const bytes = readFileSync(file);
    bytes.fill(0, 4096, 8192);
    writeFileSync(file, bytes);
    const name = file.slice(work.length + 1);
    await expect(LedgerStore.open(work, { create: false })).rejects.toMatchObject({
      code: 'E_LEDGER_CORRUPT',
      message: expect.stringContaining(name),
    });
    await expect(LedgerStore.openForReading(work)).rejects.toMatchObject({ code: 'E_LEDGER_CORRUPT' });
  });

  it('checks the logs LevelDB will replay: a cut-short end passes, damage before later records does not', async () => {
    // Records still in LevelDB's log (the ledger is not reopened, so nothing moved them to a table).
    const logged = join(dir.path, 'logged');
    const city = makeCity(1);
    const ledger = await newLedger(logged, city);
    for (let i = 0; i < 20; i++)
      await ledger.appendMany(Array.from({ length: 50 }, (_, j) => signedBy(city.departments[0]!, { i, j })));
    await ledger.close();
    const version = readVersion(logged)!;
    const log = readdirSync(logged).find(
      (f) => f.endsWith('.log') && Number(f.slice(0, -4)) >= version.logNumber,
    )!;
    const original = readFileSync(join(logged, log));
    expect(original.length).toBeGreaterThan(100_000);
    expect(() => checkLogs(logged, version)).not.toThrow();
    const check = (bytes: Uint8Array) => {
      writeFileSync(join(logged, log), bytes);
      return () => checkLogs(logged, version);
    };
    // A crash cuts the last write short, or leaves allocated zeros after it: LevelDB stops there; so do we.
    expect(check(original.subarray(0, original.length - 100))).not.toThrow();
    expect(check(Buffer.concat([original, Buffer.alloc(5000)]))).not.toThrow();
    // Any byte changed, or 1 KiB zeroed, before the last record (which a crash may leave torn, and
    // LevelDB drops): what LevelDB would skip, with records after it, is damage.
    fc.assert(
      fc.property(
        fc.nat({ max: lastRecordStart(original) - 1 }),
        fc.integer({ min: 1, max: 255 }),
        fc.boolean(),
        (at, xor, zero) => {
          const damaged = Buffer.from(original);
          if (zero) damaged.fill(0, at, at + 1024);
          else damaged[at]! ^= xor;
          if (damaged.equals(original)) return;
          expect(check(damaged)).toThrow(FileDamage);
        },
      ),
      { numRuns: 200 },
    );
    const damaged = Buffer.from(original);
    damaged[original.length >> 1]! ^= 0x10;
    writeFileSync(join(logged, log), damaged);
    await expect(LedgerStore.open(logged, { create: false })).rejects.toMatchObject({
      code: 'E_LEDGER_CORRUPT',
      message: expect.stringContaining(log),
    });
    writeFileSync(join(logged, log), original);
    await (await LedgerStore.open(logged, { create: false })).close();
  });
});

describe('a file that cannot be read is not damage', () => {
  const dir = tempDir('dirchain-unreadable-');
  afterAll(() => dir.cleanup());
  it('at open it is E_STORAGE; while open it is tried again later, never kept as damage', () => {
    // CURRENT that is a folder: reading it fails with EISDIR, as a read fails with EMFILE or EIO.
    mkdirSync(join(dir.path, 'CURRENT'));
    const guard = new TableGuard(dir.path);
    expect(() => guard.checkAll()).toThrow(expect.objectContaining({ code: 'E_STORAGE' }));
    guard.checkNew();
    expect(guard.damage).toBeUndefined();
  });
});

/** Where a LevelDB log's last record starts (log_format.md: 32 KiB blocks, 7-byte headers). */
function lastRecordStart(log: Uint8Array): number {
  let pos = 0;
  let last = 0;
  while (pos + 7 <= log.length) {
    const left = 32768 - (pos % 32768);
    if (left < 7) {
      pos += left;
      continue;
    }
    last = pos;
    pos += 7 + (log[pos + 4]! | (log[pos + 5]! << 8));
  }
  return last;
}
