/**
 * Opening a folder that holds no ledger, for reading or writing, is
 * E_LEDGER_NOT_FOUND and leaves the folder as it was. LevelDB told not to
 * create a database still makes the folder, LOCK and LOG before it finds none,
 * so the store looks for LevelDB's CURRENT first (level-db.ts).
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LedgerStore } from '../../src/storage/store.js';
import { tempDir } from '../helpers.js';

let dir: ReturnType<typeof tempDir>;
beforeEach(() => {
  dir = tempDir('dirchain-open-nothing-');
});
afterEach(() => dir.cleanup());

/** Every path under `root`, folders marked with a trailing slash. */
function listing(root: string): string[] {
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .map((d) => `${join(d.parentPath, d.name).slice(root.length)}${d.isDirectory() ? '/' : ''}`)
    .sort();
}

const opens: ReadonlyArray<[string, (path: string) => Promise<LedgerStore>]> = [
  ['open', (p) => LedgerStore.open(p, { create: false })],
  ['openForReading', (p) => LedgerStore.openForReading(p)],
];

describe('opening where there is no ledger', () => {
  for (const [name, open] of opens) {
    it(`${name}: a missing folder, an empty one, one with other files: E_LEDGER_NOT_FOUND, nothing made`, async () => {
      const missing = join(dir.path, 'missing', 'ledger');
      const empty = join(dir.path, 'empty');
      mkdirSync(empty);
      const other = join(dir.path, 'other');
      mkdirSync(other);
      writeFileSync(join(other, 'notes.txt'), 'not a ledger');
      const before = listing(dir.path);
      for (const path of [missing, empty, other]) {
        await expect(open(path), path).rejects.toMatchObject({ code: 'E_LEDGER_NOT_FOUND' });
      }
      expect(listing(dir.path)).toEqual(before);
    });
  }

  it('a folder refused for reading can then be created', async () => {
    const empty = join(dir.path, 'empty');
    mkdirSync(empty);
    await expect(LedgerStore.openForReading(empty)).rejects.toMatchObject({ code: 'E_LEDGER_NOT_FOUND' });
    const created = await LedgerStore.open(empty, { create: true });
    await created.close();
    // Now it holds a LevelDB (no ledger in it yet, which openLedger reports): the store opens it.
    await (await LedgerStore.open(empty, { create: false })).close();
  });
});
