import type { AddressInfo } from 'node:net';
import { type Tile, tileHashIndexes } from '../../src/merkle/tiles.js';
import { createLimitedServer } from '../../src/node/http.js';
import { type ServedStore, tileHandler } from '../../src/node/serve.js';
import { LedgerStore } from '../../src/storage/store.js';

/**
 * Serves a folder's stored bytes as they are, without the checks against the
 * stored tree that `serveLedger` makes: a server whose storage was changed and
 * that lies about it, to test what an auditor catches on its own.
 * `changeHashTile` may alter a hash tile before it is served: for hashes not
 * stored on disk (the page being filled is derived from the entries).
 */
export async function serveAsStored(
  path: string,
  options: { changeHashTile?: (tile: Tile, data: Uint8Array) => void } = {},
): Promise<{ url: string; close(): Promise<void> }> {
  const store = await LedgerStore.open(path, { create: false });
  const asStored: ServedStore = {
    lastBlock: () => store.lastBlock(),
    blocks: (from) => store.blocks(from),
    checkNewTablesGently: () => store.checkNewTablesGently(),
    checkedEntryBundle: (n, width) => store.entryBundle(n, width),
    checkedHashTile: (level, n, width) => {
      const hashes = store.readHashesSync(tileHashIndexes({ level, n, width }));
      const data = new Uint8Array(width * 32);
      for (const [i, h] of hashes.entries()) data.set(h, i * 32);
      options.changeHashTile?.({ level, n, width }, data);
      return data;
    },
  };
  const server = createLimitedServer(tileHandler(asStored, { log: () => {} }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await store.close();
    },
  };
}
