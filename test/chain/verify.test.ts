import { cpSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { blockWrite } from '../../src/chain/chain.js';
import { nodeChain } from '../../src/chain/node-chain.js';
import { chainStart } from '../../src/chain/resume.js';
import { verifyLedger } from '../../src/chain/verify.js';
import { loadSigner } from '../../src/crypto/keys.js';
import { nodeTreeHasher } from '../../src/crypto/node-tree-hasher.js';
import { isBlockEntry } from '../../src/encoding/block-entry.js';
import { openLedger } from '../../src/ledger/open.js';
import { storedHashCount } from '../../src/merkle/stored.js';
import { numberKey, pageKey, TABLE } from '../../src/storage/keys.js';
import { LedgerStore } from '../../src/storage/store.js';
import { rewriteStoredEntry, tempDir } from '../helpers.js';
import { type City, makeCity, newLedger, signedBy } from '../ledger/fixture.js';

let dir: ReturnType<typeof tempDir>;
let city: City;
let checkpoint: string;
/** The tree size: N records, genesis, and one block entry per block. */
let size: number;
/** Indexes of the block entries (where blocks end depends on how appends were grouped). */
let blockEntries: Set<number>;
const N = 300;

beforeEach(async () => {
  dir = tempDir();
  city = makeCity();
  const ledger = await newLedger(dir.path, city, { block: { maxRecords: 32 } });
  await Promise.all(
    Array.from({ length: N }, (_, i) =>
      ledger.append(signedBy(city.departments[i % 5]!, { i, pad: 'p'.repeat(i % 50) })),
    ),
  );
  checkpoint = ledger.head().checkpoint;
  size = ledger.head().size;
  blockEntries = new Set();
  for (let i = 0; i < size; i++) if (isBlockEntry(ledger.getEntry(i))) blockEntries.add(i);
  await ledger.close();
});

/** The first record (not a block entry) at or after `index`. */
function recordAtOrAfter(index: number): number {
  while (blockEntries.has(index)) index++;
  return index;
}
afterEach(() => dir.cleanup());

async function withRawDb(f: (db: ClassicLevel<Uint8Array, Uint8Array>) => Promise<void>): Promise<void> {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(dir.path, {
    keyEncoding: 'view',
    valueEncoding: 'view',
  });
  await db.open();
  try {
    await f(db);
  } finally {
    await db.close();
  }
}

/** Whether the entry the ledger now reads at `index` differs from `entry` (or cannot be read at all). */
async function liveCopyDamaged(index: number, entry: Uint8Array): Promise<boolean> {
  try {
    const l = await openLedger(dir.path);
    try {
      return Buffer.compare(l.getEntry(index), entry) !== 0;
    } finally {
      await l.close();
    }
  } catch {
    return true;
  }
}

describe('verifyLedger', () => {
  it('passes an untouched ledger, against the trusted key and checkpoint', async () => {
    const progress: number[] = [];
    const r = await verifyLedger(dir.path, {
      trustedKeys: [city.sequencer.verifierKey],
      checkpoint,
      onProgress: (n) => progress.push(n),
    });
    // `records` counts every entry checked: the block entries too.
    expect(r).toMatchObject({ ok: true, records: size, origin: 'dirchain.example.gov/test' });
    expect(r.blocks).toBeGreaterThan(N / 32);
    expect([size, blockEntries.size]).toEqual([N + 1 + r.blocks, r.blocks]);
    expect(progress.at(-1)).toBe(size);
  });

  it('names the first block whose logged status map root is not the one its records make', async () => {
    // The sequencer's key signs a block whose block entry carries another map root: planted by wrapping
    // the chain's map update, so the note, the link and the tree are all as a sequencer would make them.
    const store = await LedgerStore.open(dir.path, { create: false });
    let planted: number;
    try {
      const start = await chainStart(store, dir.path);
      const chain = nodeChain(start.params, start.state, start.frontier, {
        height: start.header.height,
        entry: start.tipEntry,
        time: start.header.time,
      });
      const map = start.state.map;
      const stage = map.stage.bind(map);
      map.stage = (changes) => {
        const root = Uint8Array.from(stage(changes));
        root[0] = root[0]! ^ 1;
        return root;
      };
      chain.begin(start.header.time + 1);
      const record = signedBy(city.departments[0]!, { planted: true });
      expect(chain.apply(record, nodeTreeHasher.leaf(record))).not.toBeInstanceOf(Error);
      const formed = chain.sign(loadSigner(city.sequencer.signerKey));
      planted = formed.header.height;
      await store.writeBlock(blockWrite(formed), 'sync');
    } finally {
      await store.close();
    }
    const report = await verifyLedger(dir.path, { trustedKeys: [city.sequencer.verifierKey] });
    expect(report.ok).toBe(false);
    expect(report.blocks).toBe(planted);
    expect(report.error).toMatchObject({ code: 'E_LEDGER_CORRUPT', height: planted });
    expect(report.error!.message).toMatch(new RegExp(`block entry of block ${planted} .*status map root`));
    // And the folder no longer opens: its stored map is not the one the last block entry commits to.
    await expect(openLedger(dir.path)).rejects.toMatchObject({ code: 'E_LEDGER_CORRUPT' });
  });

  it('refuses a ledger whose sequencer key is not the trusted one', async () => {
    const r = await verifyLedger(dir.path, { trustedKeys: [makeCity(1).sequencer.verifierKey] });
    expect(r.ok).toBe(false);
    expect(r.error?.code).toBe('E_CHECKPOINT_INVALID');
  });

  it.each([17, 150, 299])(
    'names the index of the record at or after %i when one byte of it was changed',
    async (near) => {
      const index = recordAtOrAfter(near);
      await withRawDb(async (db) => {
        await rewriteStoredEntry(db, index, (v) => {
          v[Math.floor(v.length / 2)]! ^= 0x20;
          return v;
        });
      });
      const r = await verifyLedger(dir.path);
      expect(r.ok).toBe(false);
      expect(r.error?.index).toBe(index);
      expect(r.records).toBeLessThanOrEqual(index);
    },
  );

  it('names the index whose stored Merkle hash was changed', async () => {
    await withRawDb(async (db) => {
      const key = pageKey(1); // stored hashes 256..511: leaves ~128..255
      const v = (await db.get(key))!;
      v[32 * 10 + 3]! ^= 1; // stored hash 266
      await db.put(key, v);
    });
    const r = await verifyLedger(dir.path);
    expect(r.ok).toBe(false);
    expect(r.error?.code).toBe('E_LEDGER_CORRUPT');
    // The leaf whose append wrote stored hash 266 (see merkle/stored.ts).
    let leaf = 0;
    while (storedHashCount(leaf + 1) <= 266) leaf++;
    expect(leaf).toBe(135);
    expect(r.error?.index).toBe(leaf);
  });

  it('finds a deleted entry, a changed block note and a dropped block', async () => {
    await withRawDb((db) => rewriteStoredEntry(db, 40, () => undefined));
    let r = await verifyLedger(dir.path);
    expect([r.ok, r.error?.index]).toEqual([false, 40]);
    await withRawDb(async (db) => {
      // Put entry 40 back, empty: entries 41.. are in place again, 40 does not decode.
      await rewriteStoredEntry(db, 40, (shifted) => [new Uint8Array(0), shifted]);
    });
    r = await verifyLedger(dir.path);
    expect([r.ok, r.error?.index, r.error?.code]).toEqual([false, 40, 'E_DECODE']);

    const fresh = tempDir();
    try {
      const l2 = await newLedger(fresh.path, city, { block: { maxRecords: 10 } });
      await Promise.all(
        Array.from({ length: 50 }, (_, i) => l2.append(signedBy(city.departments[0]!, { i }))),
      );
      let saved = l2.head().checkpoint;
      await l2.close();
      const db = new ClassicLevel<Uint8Array, Uint8Array>(fresh.path, {
        keyEncoding: 'view',
        valueEncoding: 'view',
      });
      const note = new TextDecoder().decode(await db.get(numberKey(TABLE.block, 2)));
      await db.put(numberKey(TABLE.block, 2), new TextEncoder().encode(note.replace('\ntime ', '\ntime 1')));
      await db.close();
      r = await verifyLedger(fresh.path);
      expect([r.ok, r.error?.code, r.error?.height]).toEqual([false, 'E_BAD_SIGNATURE', 2]);
      // A ledger that lost its newest blocks whole (e.g. restored from an older copy) is internally
      // consistent: only a trusted checkpoint catches it.
      const db2 = new ClassicLevel<Uint8Array, Uint8Array>(fresh.path, {
        keyEncoding: 'view',
        valueEncoding: 'view',
      });
      await db2.put(numberKey(TABLE.block, 2), new TextEncoder().encode(note));
      await db2.close();
      const older = `${fresh.path}-older`;
      cpSync(fresh.path, older, { recursive: true });
      const l3 = await openLedger(fresh.path, { sequencerKey: city.sequencer.signerKey });
      await l3.append(signedBy(city.departments[0]!, { late: true }));
      saved = l3.head().checkpoint;
      await l3.close();
      rmSync(fresh.path, { recursive: true });
      renameSync(older, fresh.path);
      expect((await verifyLedger(fresh.path)).ok).toBe(true);
      r = await verifyLedger(fresh.path, { checkpoint: saved });
      expect([r.ok, r.error?.code]).toEqual([false, 'E_LEDGER_CORRUPT']);
      expect(r.error?.message).toMatch(/records were lost/);
    } finally {
      fresh.cleanup();
    }
  });

  it('fails, naming the record, when a byte of it is flipped in a LevelDB file on disk', async () => {
    // Reopen once so LevelDB moves the log into a sorted table file.
    const l = await openLedger(dir.path);
    const candidates = [150, 151, 152, 153, 154, 155]
      .filter((index) => !blockEntries.has(index)) // records: their last 48 bytes are a signature
      .map((index) => ({ index, entry: l.getEntry(index) }));
    await l.close();
    for (const { index, entry } of candidates) {
      // A signature is incompressible, so its bytes usually sit verbatim in the file (Snappy keeps
      // literals). Usually: a copy Snappy happened to encode with a back-reference is not found, and
      // the flips then miss the copy the ledger reads.
      const signature = Buffer.from(entry.subarray(-48));
      let flipped = 0;
      for (const f of readdirSync(dir.path).filter((n) => n.endsWith('.ldb') || n.endsWith('.log'))) {
        const bytes = readFileSync(join(dir.path, f));
        for (let at = bytes.indexOf(signature); at >= 0; at = bytes.indexOf(signature, at + 1)) {
          bytes[at + 20]! ^= 0x01;
          flipped++;
        }
        writeFileSync(join(dir.path, f), bytes);
      }
      if (flipped === 0 || !(await liveCopyDamaged(index, entry))) continue;
      const r = await verifyLedger(dir.path, { trustedKeys: [city.sequencer.verifierKey], checkpoint });
      expect(r.ok).toBe(false);
      // Either LevelDB notices the damaged block, or the record's signature check names it.
      if (r.error?.code !== 'E_LEDGER_CORRUPT')
        expect([r.error?.code, r.error?.index]).toEqual(['E_BAD_SIGNATURE', index]);
      return;
    }
    throw new Error('no flipped byte reached the copy of an entry the ledger reads');
  });

  it('names the index of a block entry one byte of which was changed', async () => {
    const l = await openLedger(dir.path);
    const index = [...blockEntries].find((i) => i > 100)!;
    const entry = l.getEntry(index);
    await l.close();
    expect(isBlockEntry(entry)).toBe(true);
    // [0x95, 0x01, height, time (float64), prev (bin 8, 32 bytes), state (nil)]: a byte of the height,
    // of the time, of prev, and the state made undecodable (0xc1 is never used in MessagePack).
    const cases: Array<[at: number, xor: number]> = [
      [2, 0x01],
      [8, 0x10],
      [entry.length - 10, 0x80],
      [entry.length - 1, 0xc0 ^ 0xc1],
    ];
    for (const [at, xor] of cases) {
      await withRawDb((db) =>
        rewriteStoredEntry(db, index, (v) => {
          v[at]! ^= xor;
          return v;
        }),
      );
      const r = await verifyLedger(dir.path);
      expect(r.ok, `byte ${at}`).toBe(false);
      expect(r.error?.index, `byte ${at}`).toBe(index);
      expect(['E_LEDGER_CORRUPT', 'E_DECODE'], `byte ${at}: ${r.error?.message}`).toContain(r.error?.code);
      expect(r.records).toBeLessThanOrEqual(index);
      await withRawDb((db) => rewriteStoredEntry(db, index, () => entry));
    }
    expect((await verifyLedger(dir.path)).ok).toBe(true);
  });
});
