import { existsSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { verifyLedger } from '../../src/chain/verify.js';
import { equalBytes, toHex, utf8 } from '../../src/crypto/bytes.js';
import { parseNote } from '../../src/crypto/note.js';
import { decodeBlockEntry, isBlockEntry } from '../../src/encoding/block-entry.js';
import { consistencyBundleToJSON, inclusionBundleToJSON } from '../../src/encoding/bundle.js';
import { parseBlockHeader } from '../../src/encoding/checkpoint.js';
import { decodeRecord } from '../../src/encoding/record.js';
import { isDirchainError } from '../../src/errors.js';
import { verifyInclusion as verifyInclusionNode } from '../../src/index.js';
import type { Ledger } from '../../src/ledger/ledger.js';
import { createLedger, openLedger } from '../../src/ledger/open.js';
import type { CreateLedgerOptions, Receipt } from '../../src/ledger/types.js';
import { LedgerStore } from '../../src/storage/store.js';
import {
  verifyBundle,
  verifyCheckpoint,
  verifyConsistency,
  verifyInclusion,
  verifyRecord,
} from '../../src/verify.js';
import { nodeHasher, tempDir } from '../helpers.js';
import { type City, makeCity, newLedger, ORIGIN, signedBy } from './fixture.js';

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string | undefined> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    return isDirchainError(e) ? e.code : `not a DirchainError: ${String(e)}`;
  }
  return undefined;
}

let dir: ReturnType<typeof tempDir>;
let city: City;
let ledger: Ledger | undefined;

beforeEach(() => {
  dir = tempDir();
  city = makeCity();
});
afterEach(async () => {
  await ledger?.close();
  ledger = undefined;
  dir.cleanup();
});

describe('creating and opening', () => {
  it('writes a signed genesis block that names members, sequencer key and policy', async () => {
    ledger = await newLedger(dir.path, city);
    const head = ledger.head();
    // The genesis block: the genesis record, then its block entry.
    expect([head.size, head.height]).toEqual([2, 0]);
    const cp = verifyCheckpoint(head.checkpoint, [city.sequencer.verifierKey], { origin: ORIGIN });
    expect(cp.size).toBe(2);
    expect(isBlockEntry(ledger.getEntry(1))).toBe(true);
    const genesis = decodeRecord(ledger.getEntry(0));
    expect(genesis.kind).toBe('genesis');
    expect(verifyRecord(genesis.bytes, city.sequencer.publicKey).author).toBe('sequencer');
    expect(ledger.sequencerKey).toBe(city.sequencer.verifierKey);
    expect([...ledger.view.members()].map((m) => m.id)).toEqual([
      'sequencer',
      'bureau',
      ...city.departments.map((d) => d.id),
    ]);
  });

  it('refuses to create over an existing ledger, and to open a missing one', async () => {
    ledger = await newLedger(dir.path, city);
    await ledger.close();
    expect(await codeOf(newLedger(dir.path, city))).toBe('E_LEDGER_EXISTS');
    expect(await codeOf(openLedger(`${dir.path}/nope`))).toBe('E_LEDGER_NOT_FOUND');
  });

  it('refuses a genesis without an admin, and a sequencer key not named after the origin', async () => {
    expect(await codeOf(newLedger(`${dir.path}/a`, city, { members: city.members.slice(1) }))).toBe(
      'E_SCHEMA',
    );
    expect(await codeOf(newLedger(`${dir.path}/b`, city, { origin: 'other.example/log' }))).toBe(
      'E_KEY_INVALID',
    );
  });

  it('starts a second ledger from a genesis record alone; members or policy given with it are E_INVALID_ARGUMENT', async () => {
    ledger = await newLedger(`${dir.path}/first`, city, { policy: { maxClockSkewMs: 60_000 } });
    const genesisRecord = ledger.getEntry(0);
    await ledger.close();
    const base = { origin: ORIGIN, sequencerKey: city.sequencer.signerKey };
    // Without members: no TypeError, the record's members and policy.
    ledger = await createLedger(`${dir.path}/second`, { ...base, genesisRecord });
    expect(equalBytes(ledger.getEntry(0), genesisRecord)).toBe(true);
    expect(ledger.params.policy.maxClockSkewMs).toBe(60_000);
    expect([...ledger.view.members()].map((m) => m.id)).toEqual([
      'sequencer',
      'bureau',
      ...city.departments.map((d) => d.id),
    ]);
    await ledger.close();
    ledger = undefined;
    // Members, policy or a sequencer id beside it would be ignored or disagree: refused, nothing written.
    const alsoGiven: Array<[Record<string, unknown>, RegExp]> = [
      [{ members: city.members }, /members cannot be given with it/],
      [{ policy: { adminQuorum: 2 } }, /policy cannot be given with it/],
      [{ members: city.members, policy: {} }, /members and policy cannot be given with it/],
      [{ sequencerId: 'seq' }, /sequencerId cannot be given with it/],
    ];
    for (const [i, [extra, message]] of alsoGiven.entries()) {
      const path = `${dir.path}/third-${i}`;
      const p = createLedger(path, { ...base, genesisRecord, ...extra } as unknown as CreateLedgerOptions);
      await expect(p).rejects.toMatchObject({
        code: 'E_INVALID_ARGUMENT',
        message: expect.stringMatching(message),
      });
      expect(existsSync(path)).toBe(false);
    }
    // Neither members nor a genesis record; options of the wrong type: E_INVALID_ARGUMENT, never a TypeError.
    const bad: unknown[] = [
      base,
      { ...base, members: null },
      { ...base, genesisRecord: 'bytes' },
      { ...base, members: city.members, policy: 3 },
      null,
      { ...base, origin: 7, members: city.members },
    ];
    for (const options of bad) {
      expect(await codeOf(createLedger(`${dir.path}/bad`, options as CreateLedgerOptions))).toBe(
        'E_INVALID_ARGUMENT',
      );
    }
    expect(existsSync(`${dir.path}/bad`)).toBe(false);
  });

  it('opens read-only without the sequencer key, and refuses a wrong sequencer key', async () => {
    ledger = await newLedger(dir.path, city);
    await ledger.close();
    ledger = await openLedger(dir.path);
    expect(await codeOf(ledger.append(signedBy(city.departments[0]!)))).toBe('E_READ_ONLY');
    await ledger.close();
    const other = makeCity(1);
    expect(await codeOf(openLedger(dir.path, { sequencerKey: other.sequencer.signerKey }))).toBe(
      'E_KEY_INVALID',
    );
    ledger = undefined;
  });
});

describe('appending', () => {
  it('gathers concurrent appends from many callers into blocks with one total order and no gaps', async () => {
    ledger = await newLedger(dir.path, city, { block: { maxRecords: 37 } });
    const l = ledger;
    // Each write is held 5 ms (then really written), so that blocks form while one is in
    // flight however fast this disk's fsync is.
    const write = LedgerStore.prototype.writeBlocks;
    const writes = vi.spyOn(LedgerStore.prototype, 'writeBlocks').mockImplementation(async function (
      this: LedgerStore,
      ...args
    ) {
      await new Promise((r) => setTimeout(r, 5));
      return write.apply(this, args);
    });
    try {
      const sent = new Map<number, Uint8Array>();
      const callers = city.departments.flatMap((d, di) =>
        Array.from({ length: 8 }, async (_, ci) => {
          const out: Receipt[] = [];
          for (let k = 0; k < 25; k++) {
            const bytes = signedBy(d, { caller: ci, k, d: di });
            const r = await l.append(bytes);
            sent.set(r.index, bytes);
            out.push(r);
          }
          return out;
        }),
      );
      const receipts = (await Promise.all(callers)).flat();
      const total = city.departments.length * 8 * 25;
      expect(receipts).toHaveLength(total);
      const head = l.head();
      // The genesis record, the records sent, and one block entry ending each block.
      expect(head.size).toBe(total + 1 + head.height + 1);
      // No gaps: the receipts name every index but the genesis record's and the block entries'.
      const blockEntries = new Set(
        Array.from({ length: head.height + 1 }, (_, h) => l.block(h).header.size - 1),
      );
      const indexes = receipts.map((r) => r.index).sort((a, b) => a - b);
      expect(indexes).toEqual(
        Array.from({ length: head.size }, (_, i) => i).filter((i) => i > 0 && !blockEntries.has(i)),
      );
      for (const [index, bytes] of sent) expect(equalBytes(l.getEntry(index), bytes)).toBe(true);
      // Blocks were bounded by count; each one links to the previous and its receipts name it.
      expect(head.height).toBeGreaterThanOrEqual(Math.ceil(total / 37));
      let prevEntry: Uint8Array | undefined;
      let prevSize = 0;
      for (let h = 0; h <= head.height; h++) {
        const { header } = l.block(h);
        // At most 37 records, then the block entry.
        expect(header.size - 1 - prevSize).toBeLessThanOrEqual(37);
        expect(header.size - 1).toBeGreaterThan(prevSize);
        expect(header.prev).toEqual(
          prevEntry === undefined ? new Uint8Array(32) : nodeHasher.leaf(prevEntry),
        );
        for (const r of receipts.filter((x) => x.height === h))
          expect(r.index >= prevSize && r.index < header.size - 1).toBe(true);
        prevEntry = l.getEntry(header.size - 1);
        prevSize = header.size;
      }
      // Blocks formed while a write was in flight went to disk together, in one write.
      const perWrite = writes.mock.calls.map(([blocks]) => blocks.length);
      expect(perWrite.reduce((a, b) => a + b, 0)).toBe(head.height);
      expect(Math.max(...perWrite)).toBeGreaterThan(1);
      await l.close();
      const audit = await verifyLedger(dir.path);
      expect([audit.ok, audit.records, audit.blocks]).toEqual([true, head.size, head.height + 1]);
    } finally {
      writes.mockRestore();
    }
  });

  it('submit signs in-process; appendMany keeps the given order', async () => {
    ledger = await newLedger(dir.path, city);
    const d = city.departments[1]!;
    const r = await ledger.submit(d.signer, 'x.note', { grant: 'g-9' });
    expect(ledger.getRecord(r.index).body).toEqual({ grant: 'g-9' });
    const batch = Array.from({ length: 50 }, (_, i) => signedBy(d, { i }));
    const results = await ledger.appendMany(batch);
    // One block after the submitted record's (whose block entry follows it at r.index + 1).
    expect(results.map((x) => (x as Receipt).index)).toEqual(
      Array.from({ length: 50 }, (_, i) => r.index + 2 + i),
    );
    expect(ledger.head().size).toBe(r.index + 2 + 50 + 1);
  });

  it('refuses bad records with stable codes, writes nothing for them, and keeps the rest of the block', async () => {
    ledger = await newLedger(dir.path, city);
    const [a, b] = city.departments as [City['departments'][0], City['departments'][0]];
    const stranger = makeCity(1).departments[0]!;
    const tampered = signedBy(a, { x: 1 });
    tampered[tampered.length - 10]! ^= 1; // inside the signature
    const cases: Array<[string, Uint8Array]> = [
      ['E_UNKNOWN_MEMBER', signedBy(stranger, {}, { author: 'stranger' })],
      ['E_BAD_SIGNATURE', signedBy(stranger, {}, { author: a.id })],
      ['E_BAD_SIGNATURE', tampered],
      ['E_WRONG_ORIGIN', signedBy(a, {}, { origin: 'dirchain.example.gov/other' })],
      ['E_UNKNOWN_KEY', signedBy(a, {}, { keyId: 1 })],
      ['E_CLOCK_SKEW', signedBy(a, {}, { timestamp: Date.now() - 3_600_000 })],
      ['E_NOT_AUTHORIZED', signedBy(a, {}, { kind: 'genesis' })],
      ['E_DECODE', new Uint8Array([1, 2, 3])],
    ];
    const good = [signedBy(a, { ok: 1 }), signedBy(b, { ok: 2 })];
    const results = await ledger.appendMany([good[0]!, ...cases.map(([, bytes]) => bytes), good[1]!]);
    expect(results.slice(1, -1).map((r) => (isDirchainError(r) ? r.code : 'accepted'))).toEqual(
      cases.map(([c]) => c),
    );
    // After the genesis block (record 0, block entry 1); then this block's entry at 4.
    expect((results[0] as Receipt).index).toBe(2);
    expect((results.at(-1) as Receipt).index).toBe(3);
    expect(ledger.head().size).toBe(5);
    const refusals = results.filter((r) => isDirchainError(r));
    expect(refusals).toHaveLength(cases.length);
    for (const r of refusals) expect(r.message.length).toBeGreaterThan(10);
  });

  it('a record appended more than maxClockSkewMs after it was signed is refused for good, with both times in ISO 8601 and what to do', async () => {
    let now = Date.UTC(2025, 0, 1);
    ledger = await newLedger(dir.path, city, { clock: () => now });
    const a = city.departments[0]!;
    const record = signedBy(a, { n: 1 }, { timestamp: now });
    now += 11 * 60_000;
    const e = await ledger.append(record).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toMatchObject({
      code: 'E_CLOCK_SKEW',
      message:
        `record time 2025-01-01T00:00:00.000Z (${now - 11 * 60_000} ms) is 11 min (660000 ms) before the block time ` +
        `2025-01-01T00:11:00.000Z (${now} ms); at most 10 min (600000 ms) is allowed`,
    });
    expect((e as { hint?: string }).hint).toMatch(
      /^re-sign the record .*maxClockSkewMs \(600000 ms\).*genesis/,
    );
    // Signed again now, the same body goes in.
    expect(await codeOf(ledger.append(ledger.sign(a.signer, 'x.test', { n: 1 }).bytes))).toBeUndefined();
  });

  it('buffered durability appends too', async () => {
    ledger = await newLedger(dir.path, city, { durability: 'buffered' });
    const rs = await Promise.all(
      Array.from({ length: 100 }, (_, i) => ledger!.append(signedBy(city.departments[0]!, { i }))),
    );
    expect(new Set(rs.map((r) => r.index)).size).toBe(100);
  });

  it('splits blocks by byte size', async () => {
    ledger = await newLedger(dir.path, city, { block: { maxBytes: 2000 } });
    const d = city.departments[0]!;
    await Promise.all(
      Array.from({ length: 40 }, (_, i) => ledger!.append(signedBy(d, { pad: 'x'.repeat(200), i }))),
    );
    expect(ledger.head().height).toBeGreaterThanOrEqual(5);
  });

  it('refuses appends after close with E_LEDGER_CLOSED, having finished the queued ones', async () => {
    ledger = await newLedger(dir.path, city);
    const pending = Array.from({ length: 30 }, (_, i) =>
      ledger!.append(signedBy(city.departments[0]!, { i })),
    );
    await Promise.all(pending);
    await ledger.close();
    expect(await codeOf(ledger.append(signedBy(city.departments[0]!)))).toBe('E_LEDGER_CLOSED');
    ledger = await openLedger(dir.path);
    // The genesis record, the 30 records, and one block entry per block.
    const head = ledger.head();
    expect(head.size).toBe(31 + head.height + 1);
  });
});

describe('block entries', () => {
  it('every block ends with a block entry that matches its checkpoint header and is not a record', async () => {
    ledger = await newLedger(dir.path, city, { block: { maxRecords: 4 } });
    const l = ledger;
    await Promise.all(
      Array.from({ length: 21 }, (_, i) => l.append(signedBy(city.departments[i % 5]!, { i }))),
    );
    const head = l.head();
    expect(head.height).toBeGreaterThanOrEqual(6);
    const ends = new Set<number>();
    let prev: Uint8Array = new Uint8Array(32); // block 0 has no previous block entry
    for (let h = 0; h <= head.height; h++) {
      const { header } = l.block(h);
      const index = header.size - 1;
      ends.add(index);
      const bytes = l.getEntry(index);
      expect(isBlockEntry(bytes), `entry ${index}, the last of block ${h}`).toBe(true);
      const entry = decodeBlockEntry(bytes);
      expect(entry.height).toBe(header.height);
      expect(entry.height).toBe(h);
      expect(entry.time).toBe(header.time);
      expect(toHex(entry.prev)).toBe(toHex(header.prev));
      expect(toHex(entry.prev)).toBe(toHex(prev));
      expect(await codeOf(() => l.getRecord(index))).toBe('E_NOT_FOUND');
      expect(() => l.getRecord(index)).toThrow(`entry ${index} is the block entry of block ${h}`);
      prev = nodeHasher.leaf(bytes);
    }
    // No other entry is a block entry: every other one is a record.
    for (let i = 0; i < head.size; i++) {
      expect(isBlockEntry(l.getEntry(i)), `entry ${i}`).toBe(ends.has(i));
      if (!ends.has(i)) expect(equalBytes(l.getRecord(i).bytes, l.getEntry(i))).toBe(true);
    }
  });
});

describe('reopening', () => {
  it('restores the head after close and continues the chain', async () => {
    ledger = await newLedger(dir.path, city, { block: { maxRecords: 10 } });
    for (let round = 0; round < 3; round++) {
      await Promise.all(
        Array.from({ length: 25 }, (_, i) =>
          ledger!.append(signedBy(city.departments[i % 5]!, { round, i })),
        ),
      );
      const before = ledger.head();
      await ledger.close();
      ledger = await openLedger(dir.path, {
        sequencerKey: city.sequencer.signerKey,
        block: { maxRecords: 10 },
      });
      const after = ledger.head();
      expect(after).toEqual(before);
      expect(await ledger.treeHash()).toEqual(before.root);
    }
    // The genesis record, 75 records, and one block entry per block.
    const last = ledger.head();
    expect(last.size).toBe(76 + last.height + 1);
    const r = await ledger.append(signedBy(city.departments[0]!, { last: true }));
    expect([r.index, r.height]).toEqual([last.size, last.height + 1]);
    const { header } = ledger.block(r.height);
    const prevEntry = ledger.getEntry(ledger.block(r.height - 1).header.size - 1);
    expect(header.prev).toEqual(nodeHasher.leaf(prevEntry));
  });
});

describe('proofs from the ledger', () => {
  it('inclusion proofs at every block boundary and consistency proofs between them verify offline', async () => {
    ledger = await newLedger(dir.path, city, { block: { maxRecords: 7 } });
    await Promise.all(
      Array.from({ length: 60 }, (_, i) => ledger!.append(signedBy(city.departments[i % 5]!, { i }))),
    );
    const head = ledger.head();
    const sizes = Array.from({ length: head.height + 1 }, (_, h) => ledger!.block(h).header.size);
    for (const size of sizes) {
      for (const index of [0, Math.floor(size / 2), size - 1]) {
        const b = await ledger.proveInclusion(index, size);
        expect(verifyInclusion({ index, size, leaf: b.leaf, proof: b.inclusion, root: b.root })).toBe(true);
        // The bare audit path is the bundle's; the main entry's (node-hashing) check agrees with noble's.
        const path = await ledger.inclusionProof(index, size);
        expect(path.map(toHex)).toEqual(b.inclusion.map(toHex));
        expect(verifyInclusionNode({ index, size, leaf: b.leaf, proof: path, root: b.root })).toBe(true);
        expect(verifyInclusionNode({ index, size, leaf: utf8('other'), proof: path, root: b.root })).toBe(
          false,
        );
        const report = verifyBundle(inclusionBundleToJSON(b), [city.sequencer.verifierKey]);
        expect(report.checks.filter((c) => c.status !== 'pass')).toEqual([]);
      }
      const c = await ledger.proveConsistency(size);
      expect(verifyConsistency({ ...c, proof: c.consistency })).toBe(true);
      expect(verifyBundle(consistencyBundleToJSON(c), [city.sequencer.verifierKey]).ok).toBe(true);
    }
    // A size that is not a block boundary has no checkpoint; arbitrary consistency still works.
    const odd = sizes[1]! + 1;
    expect(await codeOf(ledger.proveInclusion(0, odd))).toBe('E_NOT_FOUND');
    const c = await ledger.proveConsistency(odd);
    expect(c.checkpoint1).toBeUndefined();
    expect(verifyBundle(consistencyBundleToJSON(c), [city.sequencer.verifierKey]).ok).toBe(true);
    expect(await codeOf(ledger.proveInclusion(head.size, head.size))).toBe('E_NOT_FOUND');
    expect(await codeOf(ledger.inclusionProof(head.size))).toBe('E_NOT_FOUND');
    expect(await codeOf(ledger.inclusionProof(-1))).toBe('E_NOT_FOUND');
    expect(await codeOf(ledger.proveConsistency(0))).toBe('E_INVALID_ARGUMENT');
  });

  it('a bundle checked against the wrong key or with a changed field fails the named check', async () => {
    ledger = await newLedger(dir.path, city);
    const r = await ledger.append(signedBy(city.departments[0]!));
    const json = inclusionBundleToJSON(await ledger.proveInclusion(r.index));
    const wrongKey = verifyBundle(json, [makeCity(1).sequencer.verifierKey]);
    expect(wrongKey.ok).toBe(false);
    expect(wrongKey.checks.find((c) => c.status === 'fail')?.name).toBe('checkpoint signature');
    const moved = verifyBundle({ ...json, index: 0 }, [city.sequencer.verifierKey]);
    expect(moved.checks.find((c) => c.status === 'fail')?.name).toBe('inclusion proof');
    const resized = verifyBundle({ ...json, size: 3 }, [city.sequencer.verifierKey]);
    expect(resized.checks.find((c) => c.status === 'fail')?.name).toBe('checkpoint matches bundle');
    expect(
      verifyBundle('{not json', [city.sequencer.verifierKey]).checks.find((c) => c.status === 'fail')?.name,
    ).toBe('bundle format');
  });

  it('every checkpoint parses as a block header with increasing time', async () => {
    let t = 1_000_000;
    ledger = await newLedger(dir.path, city, { clock: () => t, policy: { maxClockSkewMs: 0 } });
    for (let i = 0; i < 5; i++) {
      t += i % 2 === 0 ? 10 : -5; // a clock that steps back must not make block time go back
      await ledger.append(signedBy(city.departments[0]!, { i }, { timestamp: t }));
    }
    const times = Array.from(
      { length: 6 },
      (_, h) => parseBlockHeader(parseNote(ledger!.block(h).note).text).time,
    );
    expect(times).toEqual([...times].sort((a, b) => a - b));
  });
});
