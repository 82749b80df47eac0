/**
 * verifyLog against tlog-tiles logs dirchain did not write: one made by the
 * independent writer of foreign-log.ts (node:crypto only), one made by Go's
 * golang.org/x/mod/sumdb/tlog (the committed fixture), served over real HTTP
 * on 127.0.0.1. Every refusal is checked for its code and for naming the
 * path and entry index it is about.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DirchainError, isDirchainError } from '../../src/errors.js';
import { verifyLog } from '../../src/sync/verify-log.js';
import { repoRoot, tempDir } from '../helpers.js';
import { ForeignKey, ForeignLog, foreignTilePath, StaticServer, seededBytes } from './foreign-log.js';

const KEY_NAME = 'log.example.org/key-2026';
const ORIGIN = 'log.example.org/tevere';
const EXTENSIONS = ['sth-extension 42'];

/** Entry i: seeded bytes of a length that varies, empty every 23rd, one of the largest size. */
function entry(i: number): Buffer {
  const length = i === 1000 ? 0xffff : (i * 37) % 23 === 0 ? 0 : (i * 131) % 97;
  return seededBytes(`entry ${i}`, length);
}

async function rejection(p: Promise<unknown>): Promise<DirchainError> {
  try {
    await p;
  } catch (e) {
    if (isDirchainError(e)) return e;
    throw e;
  }
  throw new Error('expected verifyLog to fail');
}

let tmp: ReturnType<typeof tempDir>;
const servers: StaticServer[] = [];
const key = new ForeignKey(KEY_NAME, seededBytes('log key', 32));
const otherKey = new ForeignKey(KEY_NAME, seededBytes('another key', 32));

async function serve(dir: string): Promise<StaticServer> {
  const s = await StaticServer.start(dir);
  servers.push(s);
  return s;
}

beforeAll(() => {
  tmp = tempDir('dirchain-verify-log-');
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  tmp?.cleanup();
});

describe('a log written by an independent tlog-tiles writer', () => {
  it('verifies at sizes on both sides of tile boundaries, each consistent with the one before', async () => {
    const log = new ForeignLog(join(tmp.path, 'growing'), key, { origin: ORIGIN, extensions: EXTENSIONS });
    const server = await serve(log.dir);
    let saved: string | undefined;
    let savedSize = 0;
    for (const size of [0, 1, 255, 256, 257, 65536 + 3]) {
      while (log.entries.length < size) log.append(entry(log.entries.length));
      const note = log.publish();
      const report = await verifyLog(server.url, {
        key: key.vkey,
        origin: ORIGIN,
        ...(saved === undefined ? {} : { checkpoint: saved }),
      });
      expect(report).toMatchObject({
        origin: ORIGIN,
        size,
        root: log.root().toString('base64'),
        checkpoint: note,
        entries: size,
        bundles: Math.ceil(size / 256),
      });
      // Hash tiles: one per 256 hashes or part of it, at every level that has a hash.
      let tiles = 0;
      for (let level = 0; Math.floor(size / 256 ** level) > 0; level++)
        tiles += Math.ceil(Math.floor(size / 256 ** level) / 256);
      expect(report.tiles).toBe(tiles);
      if (saved !== undefined)
        expect(report.consistentWith).toEqual({ size: savedSize, root: expect.any(String) });
      saved = note;
      savedSize = size;
    }
    // Level-2 tiles exist at the last size, and every file verify-log read is one the checkpoint implies.
    expect(server.requests).toContain('tile/2/000.p/1');
  }, 120_000);

  describe('served with damage', () => {
    let log: ForeignLog;
    let server: StaticServer;
    let big: ForeignLog;
    let bigServer: StaticServer;
    const SIZE = 700; // two full bundles and a partial one of 188; level 1 a partial tile of 2

    beforeAll(async () => {
      log = new ForeignLog(join(tmp.path, 'mid'), key, { origin: ORIGIN, extensions: EXTENSIONS });
      for (let i = 0; i < SIZE; i++) log.append(entry(i));
      log.publish(300);
      log.publish();
      server = await serve(log.dir);
      big = new ForeignLog(join(tmp.path, 'big'), key, { origin: ORIGIN });
      for (let i = 0; i < 65536 + 3; i++) big.append(entry(i));
      big.publish();
      bigServer = await serve(big.dir);
    }, 120_000);

    const file = (path: string) => readFileSync(join(log.dir, path));
    const flipped = (bytes: Buffer, at: number) => {
      const out = Buffer.from(bytes);
      out[at]! ^= 0x40;
      return out;
    };
    const verify = (s = server, extra: object = {}) =>
      verifyLog(s.url, { key: key.vkey, origin: ORIGIN, timeoutMs: 2_000, ...extra });
    const damaged = async (path: string, body: Uint8Array, s = server) => {
      s.overrides.set(path, { body });
      try {
        return await rejection(verify(s));
      } finally {
        s.overrides.delete(path);
      }
    };

    it('verifies when nothing is damaged', async () => {
      expect((await verify()).size).toBe(SIZE);
    });

    it('a changed entry: names the entry, its bundle and the tile it disagrees with', async () => {
      const bundle = file('tile/entries/001');
      // Entry 300 is the 45th of bundle 1: skip 44 entries (length prefix and bytes).
      let at = 0;
      for (let i = 0; i < 44; i++) at += 2 + bundle.readUInt16BE(at);
      expect(bundle.readUInt16BE(at)).toBeGreaterThan(0);
      const e = await damaged('tile/entries/001', flipped(bundle, at + 2));
      expect(e.code).toBe('E_LEDGER_CORRUPT');
      expect(e.index).toBe(300);
      expect(e.message).toContain('entry 300 (in tile/entries/001)');
      expect(e.message).toContain('tile/0/001');
    });

    it('a changed level-0 tile over intact entries: names the tile and the first entry under the hash', async () => {
      const e = await damaged('tile/0/001', flipped(file('tile/0/001'), 5 * 32 + 9));
      expect(e.code).toBe('E_LEDGER_CORRUPT');
      expect(e.index).toBe(256 + 5);
      expect(e.message).toContain('hash tile tile/0/001 ');
    });

    it('a changed partial level-0 tile at the right edge: named the same way', async () => {
      const path = 'tile/0/002.p/188';
      const e = await damaged(path, flipped(file(path), 187 * 32));
      expect([e.code, e.index]).toEqual(['E_LEDGER_CORRUPT', 512 + 187]);
      expect(e.message).toContain(`hash tile ${path} `);
    });

    it('a changed level-1 tile over intact entries and level 0: names it, and the first entry under the hash', async () => {
      const path = 'tile/1/000.p/2';
      const e = await damaged(path, flipped(file(path), 32 + 31));
      expect([e.code, e.index]).toEqual(['E_LEDGER_CORRUPT', 256]);
      expect(e.message).toContain(`hash tile ${path} `);
    });

    it('a changed full level-1 tile (checked against level 2): names it', async () => {
      const path = foreignTilePath(1, 0, 256);
      const bytes = readFileSync(join(big.dir, path));
      const e = await damaged(path, flipped(bytes, 7 * 32), bigServer);
      expect([e.code, e.index]).toEqual(['E_LEDGER_CORRUPT', 7 * 256]);
      expect(e.message).toContain('hash tile tile/1/000 ');
    }, 60_000);

    it('an entry and its leaf hash changed together: the level above names the entries under it', async () => {
      const bundle = Buffer.from(file('tile/entries/000'));
      const tile = Buffer.from(file('tile/0/000'));
      // Entry 1's bytes changed, and its leaf hash in the level-0 tile recomputed to match.
      const length = bundle.readUInt16BE(0);
      const at = 2 + length + 2;
      bundle[at]! ^= 1;
      const e1 = bundle.subarray(at, at + bundle.readUInt16BE(2 + length));
      const { createHash } = await import('node:crypto');
      createHash('sha256').update(Buffer.of(0)).update(e1).digest().copy(tile, 32);
      server.overrides.set('tile/0/000', { body: tile });
      const e = await damaged('tile/entries/000', bundle);
      server.overrides.delete('tile/0/000');
      expect([e.code, e.index]).toEqual(['E_LEDGER_CORRUPT', 0]);
      expect(e.message).toContain('entries 0..255 do not hash to hash 0 of tile/1/000.p/2');
    });

    it('a truncated bundle: names it and the entry it ends in', async () => {
      const path = 'tile/entries/002.p/188';
      const bundle = file(path);
      const e = await damaged(path, bundle.subarray(0, bundle.length - 1));
      expect(e.code).toBe('E_LEDGER_CORRUPT');
      expect(e.index).toBe(SIZE - 1);
      expect(e.message).toContain(path);
      // Whole entries missing at the end.
      let at = 0;
      for (let i = 0; i < 100; i++) at += 2 + bundle.readUInt16BE(at);
      const e2 = await damaged(path, bundle.subarray(0, at));
      expect([e2.code, e2.index]).toEqual(['E_LEDGER_CORRUPT', 512 + 100]);
      expect(e2.message).toContain(`${path} ends after 100 entries, not 188`);
    });

    it('a bundle with more than its entries: refused', async () => {
      const path = 'tile/entries/001';
      const e = await damaged(path, Buffer.concat([file(path), Buffer.of(0, 0)]));
      expect([e.code, e.index]).toEqual(['E_LEDGER_CORRUPT', 512]);
      expect(e.message).toContain(path);
    });

    it('a body longer than the resource can be is cut off: E_REMOTE', async () => {
      server.overrides.set('tile/0/000', { endless: true });
      let e = await rejection(verify());
      expect(e.code).toBe('E_REMOTE');
      expect(e.message).toContain('tile/0/000 sent more than 8192 bytes');
      server.overrides.delete('tile/0/000');
      server.overrides.set('checkpoint', { endless: true });
      e = await rejection(verify());
      server.overrides.delete('checkpoint');
      expect(e.code).toBe('E_REMOTE');
      expect(e.message).toContain('checkpoint sent more than');
      // One byte more than a full tile holds is cut off too.
      e = await damaged('tile/0/000', Buffer.concat([file('tile/0/000'), Buffer.alloc(1)]));
      expect(e.code).toBe('E_REMOTE');
    });

    it('a checkpoint signed by another key: E_BAD_SIGNATURE; its signature changed: the same', async () => {
      const other = otherKey.signNote(log.checkpoint().split('\n\n')[0]!.concat('\n'));
      let e = await damaged('checkpoint', Buffer.from(other));
      expect(e.code).toBe('E_BAD_SIGNATURE');
      expect(e.message).toContain('the served checkpoint');
      // A character of the signature (past the key ID's) changed to another base64 one.
      const note = file('checkpoint').toString();
      const at = note.lastIndexOf(' ') + 12;
      const changed = `${note.slice(0, at)}${note[at] === 'A' ? 'B' : 'A'}${note.slice(at + 1)}`;
      e = await damaged('checkpoint', Buffer.from(changed));
      expect(e.code).toBe('E_BAD_SIGNATURE');
    });

    it('other signatures beside the log key’s are ignored', async () => {
      const note = file('checkpoint').toString();
      const cosigned = `${note}${otherKey.signNote(note.split('\n\n')[0]!.concat('\n')).split('\n\n')[1]!.replace(KEY_NAME, 'witness.example/w1')}`;
      server.overrides.set('checkpoint', { body: Buffer.from(cosigned) });
      const r = await verify();
      server.overrides.delete('checkpoint');
      expect(r.size).toBe(SIZE);
    });

    it('the origin is pinned: by default the key name, or the one given', async () => {
      let e = await rejection(verifyLog(server.url, { key: key.vkey }));
      expect(e.code).toBe('E_CHECKPOINT_INVALID');
      expect(e.message).toContain(`origin "${ORIGIN}", not "${KEY_NAME}"`);
      expect(e.hint).toContain(ORIGIN);
      e = await rejection(verify(server, { origin: 'log.example.org/arno' }));
      expect(e.code).toBe('E_CHECKPOINT_INVALID');
    });

    it('a saved checkpoint: verified with the same key and origin, its tree contained', async () => {
      const saved300 = log.checkpoint(300);
      expect((await verify(server, { checkpoint: saved300 })).consistentWith).toEqual({
        size: 300,
        root: log.root(300).toString('base64'),
      });
      expect((await verify(server, { checkpoint: log.checkpoint() })).consistentWith?.size).toBe(SIZE);
      const e = await rejection(
        verify(server, {
          checkpoint: otherKey.signNote(`${ORIGIN}\n300\n${log.root(300).toString('base64')}\n`),
        }),
      );
      expect(e.code).toBe('E_BAD_SIGNATURE');
      expect(e.message).toContain('the saved checkpoint');
      const other = key.signNote(`log.example.org/arno\n300\n${log.root(300).toString('base64')}\n`);
      expect((await rejection(verify(server, { checkpoint: other }))).code).toBe('E_CHECKPOINT_INVALID');
    });

    it('a served checkpoint smaller than the saved one (rolled back): refused before any tile', async () => {
      const saved = log.checkpoint();
      server.overrides.set('checkpoint', { body: Buffer.from(log.checkpoint(300)) });
      const before = server.requests.length;
      const e = await rejection(verify(server, { checkpoint: saved }));
      server.overrides.delete('checkpoint');
      expect(e.code).toBe('E_CHECKPOINT_INVALID');
      expect(e.message).toContain('(size 300) is older than the saved one (size 700)');
      expect(server.requests.slice(before)).toEqual(['checkpoint']);
    });

    it('a different tree at the saved size: E_FORK, at the same size and at a smaller one', async () => {
      const fork = new ForeignLog(join(tmp.path, 'fork'), key, { origin: ORIGIN });
      for (let i = 0; i < SIZE; i++) fork.append(i === 123 ? Buffer.from('rewritten') : entry(i));
      let e = await rejection(verify(server, { checkpoint: fork.checkpoint(300) }));
      expect(e.code).toBe('E_FORK');
      expect(e.message).toContain('does not extend the saved checkpoint: its first 300 entries hash to');
      e = await rejection(verify(server, { checkpoint: fork.checkpoint(SIZE) }));
      expect(e.code).toBe('E_FORK');
      expect(e.message).toContain(`two trees of size ${SIZE} with different roots`);
      // Entry 123 is past a saved size of 100: that saved tree is contained.
      expect((await verify(server, { checkpoint: fork.checkpoint(100) })).consistentWith?.size).toBe(100);
    });

    it('entries and tiles of another tree than the checkpoint signs: refused on the root', async () => {
      const fork = new ForeignLog(join(tmp.path, 'other-tree'), key, {
        origin: ORIGIN,
        extensions: EXTENSIONS,
      });
      for (let i = 0; i < SIZE; i++) fork.append(i === 650 ? Buffer.from('another entry') : entry(i));
      const e = await damaged('checkpoint', Buffer.from(fork.checkpoint()));
      expect(e.code).toBe('E_LEDGER_CORRUPT');
      expect(e.message).toContain(
        `hash to root ${log.root().toString('base64')}, not the checkpoint's ${fork.root().toString('base64')}`,
      );
    });

    it('a missing tile (404): E_REMOTE naming it', async () => {
      server.overrides.set('tile/0/001', { status: 404 });
      const e = await rejection(verify());
      server.overrides.delete('tile/0/001');
      expect(e.code).toBe('E_REMOTE');
      expect(e.message).toBe(`${server.url}tile/0/001 answered HTTP 404`);
    });

    it('a partial tile deleted once its full tile exists: read from the full tile', async () => {
      const grown = new ForeignLog(join(tmp.path, 'grown'), key, { origin: ORIGIN });
      for (let i = 0; i < 800; i++) grown.append(entry(i));
      grown.publish(SIZE);
      const note = grown.publish(800);
      const s = await serve(grown.dir);
      s.overrides.set('checkpoint', { body: Buffer.from(grown.checkpoint(SIZE)) });
      for (const p of ['tile/0/002.p/188', 'tile/entries/002.p/188']) s.overrides.set(p, { status: 404 });
      const r = await verify(s);
      expect([r.size, r.root]).toEqual([SIZE, grown.root(SIZE).toString('base64')]);
      expect(s.requests).toContain('tile/entries/002');
      expect(note).toContain('\n800\n');
    });

    it('a stalled response: E_REMOTE once the time limit passes', async () => {
      for (const path of ['checkpoint', 'tile/entries/001']) {
        server.overrides.set(path, { stall: true });
        const e = await rejection(verify(server, { timeoutMs: 300 }));
        server.overrides.delete(path);
        expect(e.code).toBe('E_REMOTE');
        expect(e.message).toContain(path);
        expect(e.message).toContain('no answer in time');
      }
    });

    it('a redirect, to another host: not followed', async () => {
      server.overrides.set('checkpoint', {
        status: 302,
        headers: { location: 'http://elsewhere.invalid/checkpoint' },
      });
      const e = await rejection(verify());
      server.overrides.delete('checkpoint');
      expect(e.code).toBe('E_REMOTE');
      expect(e.message).toContain('HTTP 302 (a redirect to http://elsewhere.invalid/checkpoint)');
    });

    it('any single byte changed in any file the checkpoint covers is caught', async () => {
      const files = [...log.files(SIZE)].map(([path, bytes]) => ({ path, bytes }));
      files.push({ path: 'checkpoint', bytes: file('checkpoint') });
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 0, max: files.length - 1 }),
          fc.nat(),
          fc.integer({ min: 1, max: 255 }),
          async (f, offset, xor) => {
            const { path, bytes } = files[f]!;
            if (bytes.length === 0) return;
            const changed = Buffer.from(bytes);
            changed[offset % changed.length]! ^= xor;
            const e = await damaged(path, changed);
            expect(['E_LEDGER_CORRUPT', 'E_BAD_SIGNATURE', 'E_CHECKPOINT_INVALID', 'E_REMOTE']).toContain(
              e.code,
            );
          },
        ),
        { numRuns: 150, seed: 324 },
      );
    }, 120_000);
  });
});

describe('a log written by Go (golang.org/x/mod/sumdb/tlog and note)', () => {
  const fixture = join(repoRoot, 'test/fixtures/foreign-log-go');
  const vkey = readFileSync(join(fixture, 'log.vkey'), 'utf8').trim();

  it('verifies, and extends the checkpoint it published at 300', async () => {
    const server = await serve(join(fixture, 'log'));
    const report = await verifyLog(server.url, {
      key: vkey,
      checkpoint: readFileSync(join(fixture, 'checkpoint-300'), 'utf8'),
    });
    expect(report).toMatchObject({
      origin: 'go.example/tlog-fixture',
      size: 600,
      entries: 600,
      bundles: 3,
      tiles: 4,
      consistentWith: { size: 300 },
    });
    expect(report.checkpoint).toBe(readFileSync(join(fixture, 'log', 'checkpoint'), 'utf8'));
  });
});
