/**
 * The state machine on its own: a chain replaying a real ledger's blocks, and
 * what it does with notes it must refuse; plus the places a reopened
 * sequencer and the public entries depend on it.
 */
import { ClassicLevel } from 'classic-level';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nodeChain } from '../../src/chain/node-chain.js';
import { State } from '../../src/chain/state.js';
import { loadSigner } from '../../src/crypto/keys.js';
import { nodeTreeHasher } from '../../src/crypto/node-tree-hasher.js';
import { signNote } from '../../src/crypto/note.js';
import { encodeBlockEntry, isBlockEntry } from '../../src/encoding/block-entry.js';
import { inclusionBundleToJSON } from '../../src/encoding/bundle.js';
import { blockHeaderOfNote, formatBlockHeader } from '../../src/encoding/checkpoint.js';
import { decodeRecord } from '../../src/encoding/record.js';
import type { Ledger } from '../../src/ledger/ledger.js';
import { openLedger } from '../../src/ledger/open.js';
import { paramsFromGenesis } from '../../src/policy/genesis.js';
import { verifyBundle } from '../../src/verify.js';
import { rewriteStoredEntry, tempDir } from '../helpers.js';
import { type City, makeCity, newLedger, ORIGIN, signedBy } from '../ledger/fixture.js';

const hasher = nodeTreeHasher;

let dir: ReturnType<typeof tempDir>;
let city: City;
let ledger: Ledger;

beforeEach(async () => {
  dir = tempDir();
  city = makeCity(2);
  ledger = await newLedger(dir.path, city);
  // Three blocks after genesis, each of two records and its block entry.
  for (let b = 0; b < 3; b++) {
    await Promise.all([
      ledger.append(signedBy(city.departments[0]!)),
      ledger.append(signedBy(city.departments[1]!)),
    ]);
  }
});

afterEach(async () => {
  await ledger.close();
  dir.cleanup();
});

/** A chain that has accepted blocks 0..`upTo` of `ledger`, replayed from its entries. */
function replayed(upTo: number) {
  const genesis = decodeRecord(ledger.getEntry(0));
  const chain = nodeChain(paramsFromGenesis(genesis).params, new State(() => undefined, []));
  for (let h = 0; h <= upTo; h++) {
    const { note } = applyBlock(chain, h);
    if (h > 0) chain.accept(note);
  }
  return chain;
}

/** Begins block `h` and applies its entries (not its note). */
function applyBlock(chain: ReturnType<typeof nodeChain>, h: number): { note: string } {
  const { note, header } = ledger.block(h);
  chain.begin(header.time);
  for (let i = chain.size; i < header.size; i++) {
    const entry = ledger.getEntry(i);
    const leaf = hasher.leaf(entry);
    const r = i === 0 ? chain.applyGenesis(decodeRecord(entry), leaf) : chain.apply(entry, leaf);
    if (r instanceof Error) throw r;
  }
  if (h > 0) return { note };
  chain.accept(note);
  return { note };
}

describe('Chain.accept', () => {
  it('accepts a ledger block by block and ends where its head is', () => {
    const chain = replayed(0);
    for (let h = 1; h <= ledger.head().height; h++) chain.accept(applyBlock(chain, h).note);
    expect(chain.size).toBe(ledger.head().size);
    expect(chain.tip.height).toBe(ledger.head().height);
  });

  it('refuses a note for another tree, leaving the tree as it was; abandon() lets the block be received again', () => {
    const chain = replayed(1);
    const before = chain.size;
    applyBlock(chain, 2);
    // Block 3's real note (signed, but another size and root) offered for block 2.
    const wrong = ledger.block(3).note;
    expect(() => chain.accept(wrong)).toThrow(expect.objectContaining({ code: 'E_LEDGER_CORRUPT' }));
    // A note of the right size and height whose root is not the records' (signed by the sequencer).
    const { header } = ledger.block(2);
    const forged = signNote(formatBlockHeader({ ...header, root: new Uint8Array(32).fill(7) }), [
      loadSigner(city.sequencer.signerKey),
    ]);
    expect(() => chain.accept(forged)).toThrow(/root does not match its records/);
    expect(chain.tip.height).toBe(1);
    expect(chain.size - chain.pending).toBe(before);
    chain.abandon();
    expect(chain.size).toBe(before);
    const { note } = applyBlock(chain, 2);
    expect(chain.accept(note).header.size).toBe(ledger.block(2).header.size);
  });

  it('refuses a block that holds only its block entry', () => {
    const chain = replayed(1);
    const tip = chain.tip;
    const time = tip.time + 1;
    const entry = encodeBlockEntry({ height: tip.height + 1, time, prev: tip.entry!, state: chain.mapRoot });
    chain.begin(time);
    expect(chain.apply(entry, hasher.leaf(entry))).toBeUndefined();
    const note = signNote(
      formatBlockHeader({
        origin: ORIGIN,
        size: chain.size,
        root: new Uint8Array(32),
        height: tip.height + 1,
        prev: tip.entry!,
        time,
      }),
      [loadSigner(city.sequencer.signerKey)],
    );
    expect(() => chain.accept(note)).toThrow(/adds no records/);
  });

  it('refuses a clock that is not whole milliseconds with E_INVALID_ARGUMENT', () => {
    const chain = replayed(0);
    expect(() => chain.begin(1.5)).toThrow(expect.objectContaining({ code: 'E_INVALID_ARGUMENT' }));
  });
});

describe('a reopened sequencer links to the block entry it checked', () => {
  it('refuses to open when the last block entry was changed on disk', async () => {
    const { size } = ledger.head();
    expect(isBlockEntry(ledger.getEntry(size - 1))).toBe(true);
    await ledger.close();
    const db = new ClassicLevel<Uint8Array, Uint8Array>(dir.path, {
      keyEncoding: 'view',
      valueEncoding: 'view',
    });
    await rewriteStoredEntry(db, size - 1, (e) => {
      const changed = e.slice();
      changed[e.length - 36]! ^= 1; // inside prev (the 34 bytes after it are the status map root): still well-formed
      return changed;
    });
    await db.close();
    await expect(openLedger(dir.path, { sequencerKey: city.sequencer.signerKey })).rejects.toMatchObject({
      code: 'E_LEDGER_CORRUPT',
      index: size - 1,
    });
  });

  it('refuses to open when the status map root in the last block entry was changed on disk', async () => {
    const { size } = ledger.head();
    await ledger.close();
    const db = new ClassicLevel<Uint8Array, Uint8Array>(dir.path, {
      keyEncoding: 'view',
      valueEncoding: 'view',
    });
    await rewriteStoredEntry(db, size - 1, (e) => {
      const changed = e.slice();
      changed[e.length - 2]! ^= 1; // inside the status map root
      return changed;
    });
    await db.close();
    await expect(openLedger(dir.path, { sequencerKey: city.sequencer.signerKey })).rejects.toMatchObject({
      code: 'E_LEDGER_CORRUPT',
      index: size - 1,
    });
  });

  it('after reopening, the next block links to the last one', async () => {
    const last = ledger.head();
    await ledger.close();
    ledger = await openLedger(dir.path, { sequencerKey: city.sequencer.signerKey });
    await ledger.append(signedBy(city.departments[0]!));
    const next = ledger.block(last.height + 1).header;
    expect(next.prev).toEqual(hasher.leaf(ledger.getEntry(last.size - 1)));
  });
});

describe('the public entries', () => {
  it('a read-only ledger rejects appendMany (no synchronous throw) and has no admission workers', async () => {
    await ledger.close();
    ledger = await openLedger(dir.path);
    const pending = ledger.appendMany([signedBy(city.departments[0]!)]);
    expect(pending).toBeInstanceOf(Promise);
    await expect(pending).rejects.toMatchObject({ code: 'E_READ_ONLY' });
    await expect(ledger.workersStarted()).resolves.toBe(0);
  });

  it("verifyBundle compares the checkpoint's block lines with the block entry it proves", async () => {
    const { size } = ledger.head();
    const bundle = inclusionBundleToJSON(await ledger.proveInclusion(size - 1));
    expect(verifyBundle(bundle, [city.sequencer.verifierKey]).ok).toBe(true);
    // The same tree, signed with a `time` line the block entry does not have.
    const { header } = blockHeaderOfNote(bundle.checkpoint);
    const lying = signNote(formatBlockHeader({ ...header, time: header.time + 1 }), [
      loadSigner(city.sequencer.signerKey),
    ]);
    const report = verifyBundle({ ...bundle, checkpoint: lying }, [city.sequencer.verifierKey]);
    expect(report.ok).toBe(false);
    expect(report.checks.find((c) => c.status === 'fail')?.name).toBe('leaf is a block entry of this log');
  });
});
