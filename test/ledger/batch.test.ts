import { ClassicLevel } from 'classic-level';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rebuildState } from '../../src/chain/rebuild.js';
import { verifyLedger } from '../../src/chain/verify.js';
import { equalBytes, fromBase64, toBase64 } from '../../src/crypto/bytes.js';
import { inclusionBundleToJSON } from '../../src/encoding/bundle.js';
import { decodeEvent, encodeEvent, signBatch } from '../../src/encoding/event.js';
import { decodeRecord } from '../../src/encoding/record.js';
import type { Ledger } from '../../src/ledger/ledger.js';
import { openLedger } from '../../src/ledger/open.js';
import { checkInclusion } from '../../src/merkle/check.js';
import { memoryPath, memoryRoot } from '../../src/merkle/memory-tree.js';
import { warmUp } from '../../src/sequencer/worker-warm-up.js';
import { verifyBundle } from '../../src/verify.js';
import { grantTerms, makeActors, openCity, refusal, seed } from '../directory/city.js';
import { flipBit, nodeHasher, readStoredEntry, rewriteStoredEntry, tempDir } from '../helpers.js';
import { type City, makeCity, newLedger, ORIGIN, signedBy } from './fixture.js';

let dir: ReturnType<typeof tempDir>;
let city: City;
let ledger: Ledger;

beforeEach(async () => {
  dir = tempDir();
  city = makeCity(3);
  ledger = await newLedger(dir.path, city);
});
afterEach(async () => {
  await ledger.close();
  dir.cleanup();
});

const bodies = (n: number, tag = 'e') =>
  Array.from({ length: n }, (_, i) => ({ call: `${tag}-${i}`, rows: i }));

function presigned(d: City['departments'][number], n: number, tag = 'e') {
  return signBatch(
    { origin: ORIGIN, kind: 'x.access-log', author: d.id, keyId: 0, timestamp: Date.now() },
    bodies(n, tag),
    d.signer.signer,
    nodeHasher,
  );
}

describe('batches: one signature, many individually provable events', () => {
  it('appends a batch as its seal followed by its events, each with its own index', async () => {
    const d = city.departments[0]!;
    const start = ledger.head().size; // after the genesis block
    const r = await ledger.submitBatch(d.signer, 'x.access-log', bodies(5));
    expect(r).toMatchObject({ seal: start, first: start + 1, count: 5 });
    expect(decodeRecord(ledger.getEntry(start))).toMatchObject({ kind: 'batch', author: d.id });
    for (let i = 0; i < 5; i++) {
      expect(decodeEvent(ledger.getEntry(start + 1 + i))).toMatchObject({
        position: i,
        body: { call: `e-${i}` },
      });
    }
    // The seal, its 5 events, and the block entry.
    expect(ledger.head().size).toBe(start + 7);
  });

  it('proves one event and who signed it, without the other events', async () => {
    const d = city.departments[1]!;
    const batch = presigned(d, 13);
    const r = await ledger.appendBatch(batch.seal.bytes, batch.events);
    for (const position of [0, 6, 12]) {
      const b = await ledger.proveInclusion(r.first + position);
      const a = b.attribution!;
      expect(a.sealIndex).toBe(r.seal);
      expect(a.position).toBe(position);
      expect(equalBytes(a.authorKey, d.key.publicKey)).toBe(true);
      // The event is in the log, the seal is in the log, and the seal's root covers the event.
      expect(checkInclusion(nodeHasher, b.index, b.size, nodeHasher.leaf(b.leaf), b.inclusion, b.root)).toBe(
        true,
      );
      expect(
        checkInclusion(nodeHasher, a.sealIndex, b.size, nodeHasher.leaf(a.seal), a.sealInclusion, b.root),
      ).toBe(true);
      const seal = decodeRecord(a.seal);
      const root = (seal.body as { root: Uint8Array }).root;
      expect(checkInclusion(nodeHasher, position, 13, nodeHasher.leaf(b.leaf), a.path, root)).toBe(true);
    }
    // The auditor's entry (pure JS) checks the same, and names what fails.
    const json = inclusionBundleToJSON(await ledger.proveInclusion(r.first + 6));
    const keys = [city.sequencer.verifierKey];
    const good = verifyBundle(json, keys);
    expect(good.ok).toBe(true);
    expect(good.checks.find((c) => c.name === 'event attribution')?.detail).toMatch(
      new RegExp(`x.access-log event 7 of 13 sealed at index ${r.seal} by ${d.id}`),
    );
    const failing = (j: object) => verifyBundle(j, keys).checks.find((c) => c.status === 'fail')?.name;
    const { attribution } = json;
    expect(failing({ ...json, attribution: undefined })).toBe('event attribution');
    expect(failing({ ...json, attribution: { ...attribution, position: 5 } })).toBe('event attribution');
    expect(failing({ ...json, attribution: { ...attribution, sealIndex: r.seal + 1 } })).toBe(
      'event attribution',
    );
    expect(
      failing({
        ...json,
        attribution: { ...attribution, authorKey: toBase64(city.departments[0]!.key.publicKey) },
      }),
    ).toBe('event attribution');
    expect(failing({ ...json, attribution: { ...attribution, path: attribution!.path.slice(1) } })).toBe(
      'event attribution',
    );
    const sealBytes = fromBase64(attribution!.seal);
    expect(
      failing({ ...json, attribution: { ...attribution, seal: toBase64(flipBit(sealBytes, 200)) } }),
    ).toBe('event attribution');
    expect(failing({ ...json, leaf: toBase64(encodeEvent(6, { call: 'other', rows: 6 })) })).toBe(
      'event attribution',
    );
    // A plain record has no attribution section: its own signature covers it.
    expect((await ledger.proveInclusion(0)).attribution).toBeUndefined();
  });

  it('refuses events that do not match their seal, and writes nothing', async () => {
    const d = city.departments[0]!;
    const b = presigned(d, 4);
    const size = ledger.head().size;
    const changed = b.events.slice();
    changed[2] = encodeEvent(2, { call: 'forged', rows: 999 });
    expect(await refusal(ledger.appendBatch(b.seal.bytes, changed))).toBe('E_BATCH_MISMATCH');
    expect(await refusal(ledger.appendBatch(b.seal.bytes, b.events.slice(0, 3)))).toBe('E_BATCH_MISMATCH');
    expect(
      await refusal(ledger.appendBatch(b.seal.bytes, [b.events[1]!, b.events[0]!, ...b.events.slice(2)])),
    ).toBe('E_BATCH_MISMATCH');
    // A seal alone would leave the log promising events that never come; an event alone has no author.
    expect(await refusal(ledger.append(b.seal.bytes))).toBe('E_BATCH_MISMATCH');
    expect(await refusal(ledger.append(b.events[0]!))).toBe('E_BATCH_MISMATCH');
    expect(
      await refusal(ledger.submit(d.signer, 'batch', { kind: 'x.a', count: 1, root: new Uint8Array(32) })),
    ).toBe('E_BATCH_MISMATCH');
    expect(await refusal(ledger.submitBatch(d.signer, 'member.add', [{}]))).toBe('E_SCHEMA');
    expect(await refusal(ledger.submitBatch(d.signer, 'x.a', []))).toBe('E_INVALID_ARGUMENT');
    // A seal signed by someone else does not verify.
    const other = presigned(city.departments[1]!, 4);
    const forged = signBatch(
      { origin: ORIGIN, kind: 'x.access-log', author: d.id, keyId: 0, timestamp: Date.now() },
      bodies(4),
      city.departments[1]!.signer.signer,
      nodeHasher,
    );
    expect(await refusal(ledger.appendBatch(forged.seal.bytes, forged.events))).toBe('E_BAD_SIGNATURE');
    expect(ledger.head().size).toBe(size);
    // The same batch is accepted once.
    expect(await refusal(ledger.appendBatch(other.seal.bytes, other.events))).toBe('accepted');
    expect(await refusal(ledger.appendBatch(other.seal.bytes, other.events))).toBe('E_DUPLICATE');
    // The seal, its 4 events, and the block entry of their block.
    expect(ledger.head().size).toBe(size + 6);
  });

  it('stores what was checked, even when the caller reuses its buffers before the ack', async () => {
    const d = city.departments[2]!;
    const b = presigned(d, 6, 'reuse');
    const original = b.events.map((e) => e.slice());
    // Node Buffers, whose slice() shares memory: the ledger must copy, not slice.
    b.events.splice(0, 6, ...b.events.map((e) => Buffer.from(e)));
    const seal = Buffer.from(b.seal.bytes);
    const record = Buffer.from(signedBy(d, { reused: true }));
    const recordCopy = Uint8Array.from(record);
    const batchDone = ledger.appendBatch(seal, b.events);
    const singleDone = ledger.append(record);
    // The caller scribbles over everything it handed in, before the block is written.
    for (const e of b.events) e.fill(0x41);
    seal.fill(0x42);
    record.fill(0x43);
    const [batch, single] = await Promise.all([batchDone, singleDone]);
    for (let i = 0; i < 6; i++)
      expect(Buffer.from(ledger.getEntry(batch.first + i)).equals(original[i]!)).toBe(true);
    expect(Buffer.from(ledger.getEntry(single.index)).equals(recordCopy)).toBe(true);
    await ledger.close();
    expect((await verifyLedger(dir.path)).ok).toBe(true);
    ledger = await openLedger(dir.path, { sequencerKey: city.sequencer.signerKey });
  });

  it('any change to any event of a random batch is refused (property)', async () => {
    const d = city.departments[2]!;
    const size = ledger.head().size;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 40 }), fc.nat(), fc.nat(), async (n, which, bit) => {
        const b = presigned(d, n, `p${n}-${which}-${bit}`);
        const events = b.events.slice();
        const k = which % n;
        events[k] = flipBit(events[k]!, bit % (events[k]!.length * 8));
        const code = await refusal(ledger.appendBatch(b.seal.bytes, events));
        expect(['E_BATCH_MISMATCH', 'E_DECODE', 'E_SCHEMA', 'E_TOO_LARGE']).toContain(code);
      }),
      { numRuns: 60 },
    );
    expect(ledger.head().size).toBe(size);
  });

  it('the batch tree matches RFC 9162 MTH for every size (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 70 }), fc.nat(), (n, k) => {
        const leaves = Array.from({ length: n }, (_, i) => nodeHasher.leaf(Uint8Array.of(i, n)));
        const root = memoryRoot(nodeHasher, leaves);
        const i = k % n;
        expect(checkInclusion(nodeHasher, i, n, leaves[i]!, memoryPath(nodeHasher, leaves, i), root)).toBe(
          true,
        );
        const j = (i + 1) % n;
        if (n > 1)
          expect(checkInclusion(nodeHasher, i, n, leaves[j]!, memoryPath(nodeHasher, leaves, i), root)).toBe(
            false,
          );
      }),
    );
  });
});

describe('admission worker warm-up', () => {
  it('its synthetic batch passes the real check (a worker that failed it would never start)', () => {
    // Every kind of body value, through the same pack → check → answer path as a worker message.
    expect(() => warmUp(2)).not.toThrow();
  });
});

describe('batches on a closed ledger: audit and rebuild', () => {
  it('verifyLedger replays batches, and catches a changed event in storage', async () => {
    for (let i = 0; i < 6; i++) {
      await ledger.submitBatch(city.departments[i % 3]!.signer, 'x.access-log', bodies(3 + i * 7, `b${i}`));
    }
    await ledger.append(presigned(city.departments[0]!, 1).seal.bytes).catch(() => {});
    const size = ledger.head().size;
    await ledger.close();
    const good = await verifyLedger(dir.path);
    expect(good).toMatchObject({ ok: true, records: size });
    const rebuilt = await rebuildState(dir.path);
    expect(rebuilt.records).toBe(size);
    expect((await verifyLedger(dir.path)).ok).toBe(true);
    // Change one event's body in LevelDB: its leaf no longer matches what the seal signed.
    const db = new ClassicLevel<Uint8Array, Uint8Array>(dir.path, {
      keyEncoding: 'view',
      valueEncoding: 'view',
    });
    await db.open();
    const target = 12;
    const entry = await readStoredEntry(db, target);
    expect(decodeEvent(entry).position).toBeGreaterThanOrEqual(0);
    await rewriteStoredEntry(db, target, () =>
      encodeEvent(decodeEvent(entry).position, { call: 'rewritten', rows: 0 }),
    );
    await db.close();
    const bad = await verifyLedger(dir.path);
    expect(bad.ok).toBe(false);
    expect(bad.error?.index).toBeLessThanOrEqual(target);
    ledger = await openLedger(dir.path, { sequencerKey: city.sequencer.signerKey });
  });
});

describe('access logs in batches', () => {
  it('judges every event by the access rules; one refused event refuses the batch', async () => {
    await ledger.close();
    const d2 = tempDir();
    const a = makeActors();
    const city2 = await openCity(d2.path, a);
    try {
      await seed(city2, a);
      await city2.directory.issueGrant(a.civil.as, grantTerms());
      const use = (i: number) => ({ grant: 'g-1', fields: ['name'], count: 1 + i, purpose: `case ${i}` });
      const r = await city2.directory.logAccessBatch(a.health.as, [use(0), use(1), use(2)]);
      expect(r.count).toBe(3);
      const logs = await city2.query.accessLogs('g-1');
      expect(logs.items.map((l) => [l.index, l.seal, l.record.kind, l.record.author])).toEqual(
        [0, 1, 2].map((i) => [r.first + i, r.seal, 'access.log', 'health']),
      );
      expect(logs.items[2]!.record.body).toMatchObject({ count: 3, purpose: 'case 2' });
      const size = city2.head().size;
      // Another consumer may not use health's grant; and fields outside the grant are refused.
      expect(await refusal(city2.directory.logAccessBatch(a.school.as, [use(3)]))).toBe('E_NOT_AUTHORIZED');
      const err = await city2.directory
        .logAccessBatch(a.health.as, [use(4), { ...use(5), fields: ['spouse'] }])
        .catch((e) => e);
      expect(err.code).toBe('E_FIELD_NOT_GRANTED');
      expect(err.message).toMatch(/^event 1 of the batch/);
      expect(city2.head().size).toBe(size);
      await city2.directory.revokeGrant(a.civil.as, 'g-1');
      expect(await refusal(city2.directory.logAccessBatch(a.health.as, [use(6)]))).toBe('E_GRANT_REVOKED');
      const b = await city2.proveInclusion(r.first + 1);
      expect(decodeRecord(b.attribution!.seal).author).toBe('health');
      await city2.close();
      expect((await verifyLedger(d2.path)).ok).toBe(true);
    } finally {
      await city2.close();
      d2.cleanup();
    }
    ledger = await openLedger(dir.path, { sequencerKey: city.sequencer.signerKey });
  });
});
