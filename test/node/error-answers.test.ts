/**
 * A failed storage read is answered 500 with its code and a fixed sentence;
 * the error's message and causes (file paths, LevelDB's words) go to the log.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DirchainError, ErrorCode } from '../../src/errors.js';
import { createLimitedServer } from '../../src/node/http.js';
import { type ServedStore, tileHandler } from '../../src/node/serve.js';
import { LedgerStore } from '../../src/storage/store.js';
import { tempDir } from '../helpers.js';
import { makeCity, newLedger, signedBy } from '../ledger/fixture.js';

const FILE = '/srv/ledgers/city/ledger/000042.ldb';
let dir: ReturnType<typeof tempDir>;
let store: LedgerStore;
let server: Server;
let base: string;
const logged: string[] = [];

beforeAll(async () => {
  dir = tempDir();
  const city = makeCity(1);
  const ledger = await newLedger(dir.path, city);
  for (let i = 0; i < 3; i++) await ledger.append(signedBy(city.departments[0]!, { i }));
  await ledger.close();
  store = await LedgerStore.open(dir.path, { create: false });
  // The real checkpoint and block notes; entry bundles and hashes fail the way damaged storage does.
  const failing: ServedStore = {
    lastBlock: () => store.lastBlock(),
    blocks: (from) => store.blocks(from),
    checkNewTablesGently: async () => undefined,
    checkedEntryBundle: () => {
      throw new DirchainError(
        ErrorCode.LEDGER_CORRUPT,
        `entry bundle 0 in ${FILE} does not match its hashes`,
      );
    },
    checkedHashTile: () => {
      throw new DirchainError(ErrorCode.STORAGE, 'read failed', {
        cause: new Error(`Corruption: block checksum mismatch: ${FILE}`),
      });
    },
  };
  server = createLimitedServer(tileHandler(failing, { log: (d) => logged.push(d) }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => {
    server?.close(() => resolve());
    server?.closeAllConnections();
  });
  await store?.close();
  dir.cleanup();
});

describe('tileHandler error answers', () => {
  it('answers E_LEDGER_CORRUPT and E_STORAGE with the code only, and logs the detail', async () => {
    for (const [path, code] of [
      ['tile/entries/000.p/2', 'E_LEDGER_CORRUPT'],
      ['tile/0/000.p/2', 'E_STORAGE'],
    ] as const) {
      const res = await fetch(new URL(path, base));
      const text = await res.text();
      expect(res.status, path).toBe(500);
      expect(res.headers.get('content-type')).toBe('application/json');
      expect(res.headers.get('cache-control')).toBeNull();
      const body = JSON.parse(text) as { code: string; message: string };
      expect(Object.keys(body)).toEqual(['code', 'message']);
      expect(body.code).toBe(code);
      expect(text).not.toMatch(/srv|\.ldb|Corruption|checksum/);
      expect(logged.join('\n')).toContain(`GET /${path}`);
    }
    expect(logged.join('\n')).toContain(`Corruption: block checksum mismatch: ${FILE}`);
    expect(logged.join('\n')).toContain(`entry bundle 0 in ${FILE}`);
    // What does not fail is still served.
    const checkpoint = await fetch(new URL('checkpoint', base));
    expect(checkpoint.status).toBe(200);
  });
});
