// Batches checked on admission worker threads: the built package (dist/), where
// the worker script sits beside the ledger code, must give the same verdicts
// as the in-thread check the unit tests exercise from source.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RECORD_SIGNATURE_CONTEXT } from '../../src/crypto/domain.js';
import { flipBit, repoRoot, tempDir } from '../helpers.js';
import { makeCity, ORIGIN } from '../ledger/fixture.js';

const dist = join(repoRoot, 'dist/index.js');

describe('appendBatch on worker threads (built package)', () => {
  const dir = tempDir('dirchain-workers-');
  const city = makeCity(2);
  // biome-ignore lint/suspicious/noExplicitAny: the built module is untyped here
  let lib: any;
  // biome-ignore lint/suspicious/noExplicitAny: a Ledger from dist/
  let ledger: any;

  beforeAll(async () => {
    if (!existsSync(join(repoRoot, 'dist/admission-worker.js')))
      throw new Error('run `npm run build` first (npm test does)');
    lib = await import(dist);
    ledger = await lib.createLedger(dir.path, {
      origin: ORIGIN,
      sequencerKey: city.sequencer.signerKey,
      members: city.members,
      workers: 2,
    });
    // Batches are checked in-thread until the workers have loaded.
    expect(await ledger.workersStarted()).toBe(2);
  });
  afterAll(async () => {
    await ledger?.close();
    dir.cleanup();
  });

  const batch = (d: number, n: number, tag: string, signer = city.departments[d]!.signer.signer) =>
    lib.signBatch(
      { origin: ORIGIN, kind: 'x.event', author: city.departments[d]!.id, keyId: 0, timestamp: Date.now() },
      Array.from({ length: n }, (_, i) => ({ tag, i })),
      signer,
    );
  /** A single record signed by department `d` (or by `signer`, to forge one), as bytes. */
  const record = (d: number, tag: string, signer = city.departments[d]!.signer.signer, kind = 'x.single') =>
    lib.signRecord(
      {
        origin: ORIGIN,
        kind,
        author: city.departments[d]!.id,
        keyId: 0,
        timestamp: Date.now(),
        body: { tag, n: 5 },
      },
      signer,
    ).bytes as Uint8Array;
  const code = (p: Promise<unknown>) =>
    p.then(
      () => 'accepted',
      (e: { code?: string }) => e.code ?? String(e),
    );

  it('accepts good batches from many callers at once, each event at its own index', async () => {
    const batches = Array.from({ length: 40 }, (_, k) => batch(k % 2, 1 + (k % 9), `b${k}`));
    const receipts = await Promise.all(batches.map((b) => ledger.appendBatch(b.seal.bytes, b.events)));
    for (const [k, r] of receipts.entries()) {
      expect(r.count).toBe(batches[k]!.events.length);
      for (let i = 0; i < r.count; i++)
        expect(Buffer.compare(ledger.getEntry(r.first + i), batches[k]!.events[i]!)).toBe(0);
    }
  });

  it('refuses changed events and forged seals with the same codes as in-thread', async () => {
    const size = ledger.head().size;
    const b = batch(0, 5, 'x');
    const changed = b.events.slice();
    changed[3] = flipBit(changed[3]!, 60);
    expect(await code(ledger.appendBatch(b.seal.bytes, changed))).toMatch(
      /^E_(BATCH_MISMATCH|DECODE|SCHEMA)$/,
    );
    const swapped = [b.events[1]!, b.events[0]!, ...b.events.slice(2)];
    expect(await code(ledger.appendBatch(b.seal.bytes, swapped))).toBe('E_BATCH_MISMATCH');
    const forged = batch(0, 5, 'y', city.departments[1]!.signer.signer);
    expect(await code(ledger.appendBatch(forged.seal.bytes, forged.events))).toBe('E_BAD_SIGNATURE');
    expect(ledger.head().size).toBe(size);
    expect(await code(ledger.appendBatch(b.seal.bytes, b.events))).toBe('accepted');
  });

  it('answers each batch of a burst on its own: refusals in the same worker message do not touch the others', async () => {
    const { size, height } = ledger.head();
    const good = Array.from({ length: 12 }, (_, k) => batch(k % 2, 3, `burst${k}`));
    const forged = batch(0, 3, 'forged', city.departments[1]!.signer.signer);
    const bad = batch(1, 4, 'bad');
    const changed = [bad.events[0]!, flipBit(bad.events[1]!, 70), ...bad.events.slice(2)];
    // All asked for in one turn: they travel to the workers together.
    const results = await Promise.all([
      ...good.slice(0, 6).map((b) => code(ledger.appendBatch(b.seal.bytes, b.events))),
      code(ledger.appendBatch(forged.seal.bytes, forged.events)),
      code(ledger.appendBatch(bad.seal.bytes, changed)),
      ...good.slice(6).map((b) => code(ledger.appendBatch(b.seal.bytes, b.events))),
    ]);
    expect(results.slice(0, 6)).toEqual(Array(6).fill('accepted'));
    expect(results[6]).toBe('E_BAD_SIGNATURE');
    expect(results[7]).toMatch(/^E_(BATCH_MISMATCH|DECODE|SCHEMA)$/);
    expect(results.slice(8)).toEqual(Array(6).fill('accepted'));
    // The 12 good batches (seal + 3 events each) and the block entry of each block they formed.
    expect(ledger.head().size).toBe(size + 12 * 4 + (ledger.head().height - height));
  });

  it('stores the bytes the workers checked, even if the caller reuses its buffers before the ack', async () => {
    const b = batch(0, 8, 'reuse');
    const original = b.events.map((e: Uint8Array) => e.slice());
    const done = ledger.appendBatch(b.seal.bytes, b.events);
    for (const e of b.events) e.fill(0x41);
    const r = await done;
    for (let i = 0; i < 8; i++) expect(Buffer.compare(ledger.getEntry(r.first + i), original[i]!)).toBe(0);
  });

  it('verifies single records signed elsewhere on the workers, refusing a forged one', async () => {
    const results = await Promise.all([
      code(ledger.append(record(0, 'a'))),
      code(ledger.append(record(0, 'forged', city.departments[1]!.signer.signer))),
      code(ledger.append(record(1, 'b'))),
    ]);
    expect(results).toEqual(['accepted', 'E_BAD_SIGNATURE', 'accepted']);

    // Single records and batches asked for in one turn share a worker message, in order.
    const good = batch(0, 5, 'mixed-good');
    const bad = batch(1, 4, 'mixed-bad');
    const mixed = await Promise.all([
      code(ledger.append(record(1, 'c'))),
      code(ledger.appendBatch(good.seal.bytes, good.events)),
      code(ledger.append(record(0, 'forged-2', city.departments[1]!.signer.signer))),
      // Two events swapped: each says it is at the other's position.
      code(ledger.appendBatch(bad.seal.bytes, [bad.events[1]!, bad.events[0]!, ...bad.events.slice(2)])),
      code(ledger.append(record(0, 'd'))),
    ]);
    expect(mixed).toEqual(['accepted', 'accepted', 'E_BAD_SIGNATURE', 'E_BATCH_MISMATCH', 'accepted']);
  });

  it('appendMany: one verdict per record, in order, with single appends in the same turn; stores its own copies', async () => {
    const { size, height } = ledger.head();
    const d0 = city.departments[0]!;
    // Correctly signed, but its body's 5 is written as uint8 (0xcc 0x05), not
    // as the shortest form: the head reads fine, the strict decode refuses it.
    const canonical = record(0, 'long', undefined, 'x.many');
    const signed = canonical.subarray(3, canonical.length - 66);
    const at = signed.lastIndexOf(0x05);
    const longSigned = new Uint8Array([...signed.subarray(0, at), 0xcc, 0x05, ...signed.subarray(at + 1)]);
    const message = new Uint8Array([...new TextEncoder().encode(RECORD_SIGNATURE_CONTEXT), ...longSigned]);
    const nonCanonical = new Uint8Array([
      0x92,
      0xc4,
      longSigned.length,
      ...longSigned,
      0xc4,
      64,
      ...d0.signer.signer.sign(message),
    ]);
    const entries = [
      record(0, 'm0'),
      record(0, 'forged', city.departments[1]!.signer.signer),
      flipBit(record(1, 'tampered'), 8 * 120),
      new Uint8Array([0x92, 1, 2]),
      record(1, 'm1'),
      nonCanonical,
      lib.signRecord(
        { origin: ORIGIN, kind: 'x.many', author: 'stranger', keyId: 0, timestamp: Date.now(), body: {} },
        d0.signer.signer,
      ).bytes,
      ...Array.from({ length: 40 }, (_, i) => record(i % 2, `bulk${i}`)),
    ];
    const copies = entries.map((e) => e.slice());
    const many = ledger.appendMany(entries);
    const single = code(ledger.append(record(1, 'alongside')));
    for (const e of entries) e.fill(0x41); // the caller reuses its buffers before the ack
    const results = await many;
    const codes = results.map((r: { code?: string; index?: number }) => r.code ?? 'accepted');
    expect(codes.slice(0, 7)).toEqual([
      'accepted',
      'E_BAD_SIGNATURE',
      'E_BAD_SIGNATURE',
      'E_DECODE',
      'accepted',
      'E_DECODE',
      'E_UNKNOWN_MEMBER',
    ]);
    expect(codes.slice(7)).toEqual(Array(40).fill('accepted'));
    expect(await single).toBe('accepted');
    const accepted = results
      .map((r: { index?: number }, i: number) => [r.index, i] as const)
      .filter(([index]: readonly [number | undefined, number]) => index !== undefined);
    // In the given order, each at its own index, stored as given.
    const indexes = accepted.map(([index]: readonly [number, number]) => index);
    expect(indexes).toEqual([...indexes].sort((a, b) => a - b));
    for (const [index, i] of accepted) expect(Buffer.compare(ledger.getEntry(index), copies[i]!)).toBe(0);
    // The 42 accepted, the one alongside, and the block entry of each block they formed.
    expect(ledger.head().size).toBe(size + 42 + 1 + (ledger.head().height - height));
  });
});

describe('admission workers outlive their ledger (built package)', () => {
  const city = makeCity(2);
  const dirs: Array<{ path: string; cleanup: () => void }> = [];
  // biome-ignore lint/suspicious/noExplicitAny: the built module is untyped here
  let lib: any;

  beforeAll(async () => {
    lib = await import(dist);
  });
  afterAll(() => {
    for (const d of dirs) d.cleanup();
  });

  const open = async (workers: number) => {
    const dir = tempDir('dirchain-spares-');
    dirs.push(dir);
    return lib.createLedger(dir.path, {
      origin: ORIGIN,
      sequencerKey: city.sequencer.signerKey,
      members: city.members,
      workers,
    });
  };
  const batch = (d: number, tag: string, signer = city.departments[d]!.signer.signer) =>
    lib.signBatch(
      { origin: ORIGIN, kind: 'x.event', author: city.departments[d]!.id, keyId: 0, timestamp: Date.now() },
      Array.from({ length: 6 }, (_, i) => ({ tag, i })),
      signer,
    );

  it('a ledger opened after another closed checks on its warm workers, with the same verdicts', async () => {
    const first = await open(2);
    expect(await first.workersStarted()).toBe(2);
    const threads = [...first.admissionThreadIds].sort();
    const b = batch(0, 'first');
    await first.appendBatch(b.seal.bytes, b.events);
    // A second ledger open at the same time gets workers of its own.
    const beside = await open(2);
    const besideThreads: number[] = beside.admissionThreadIds;
    expect(besideThreads.some((t) => threads.includes(t))).toBe(false);
    await beside.close();
    await first.close();

    const next = await open(2);
    // Both of the first ledger's workers (or those of the ledger beside it): ready at once.
    expect(next.admissionThreadIds).toHaveLength(2);
    expect(
      next.admissionThreadIds.every((t: number) => threads.includes(t) || besideThreads.includes(t)),
    ).toBe(true);
    expect(await next.workersStarted()).toBe(2);
    const good = batch(1, 'next');
    const forged = batch(0, 'forged', city.departments[1]!.signer.signer);
    const results = await Promise.all([
      next.appendBatch(good.seal.bytes, good.events).then(
        (r: { count: number }) => r.count,
        (e: { code?: string }) => e.code,
      ),
      next.appendBatch(forged.seal.bytes, forged.events).then(
        () => 'accepted',
        (e: { code?: string }) => e.code,
      ),
    ]);
    expect(results).toEqual([6, 'E_BAD_SIGNATURE']);
    await next.close();
  });
});
