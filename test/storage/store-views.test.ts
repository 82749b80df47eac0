import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LedgerStore } from '../../src/storage/store.js';
import { tempDir } from '../helpers.js';
import { makeCity, newLedger, signedBy } from '../ledger/fixture.js';

describe('snapshot views live and die with the handle that holds the folder', () => {
  const dir = tempDir('dirchain-views-');
  const path = join(dir.path, 'ledger');
  beforeAll(async () => {
    const city = makeCity(1);
    const ledger = await newLedger(path, city);
    await ledger.appendMany(Array.from({ length: 300 }, (_, i) => signedBy(city.departments[0]!, { i })));
    await ledger.close();
  });
  afterAll(() => dir.cleanup());

  it('a view of a handle that closes is closed with it: its reads are E_LEDGER_CLOSED', async () => {
    const holder = await LedgerStore.open(path, { create: false });
    const view = await LedgerStore.openForReading(path);
    expect(view.isView).toBe(true);
    expect(view.getEntry(10)).toBeDefined();
    await holder.close();
    for (const read of [() => view.getEntry(10), () => view.getEntry(290)])
      expect(read).toThrow(expect.objectContaining({ code: 'E_LEDGER_CLOSED' }));
    await expect(view.lastBlock()).rejects.toMatchObject({ code: 'E_LEDGER_CLOSED' });
    await view.close();
  });

  it('openForReading while the holder closes opens the folder afresh once it is closed', async () => {
    const holder = await LedgerStore.open(path, { create: false });
    const [reader] = await Promise.all([LedgerStore.openForReading(path), holder.close()]);
    try {
      expect(reader.getEntry(10)).toBeDefined();
      expect(await reader.lastBlock()).toBeDefined();
    } finally {
      await reader.close();
    }
  });
});
