/**
 * Issue 28, item 6, on the sequencer's write methods: whatever a caller hands
 * `append`, `appendMany`, `appendBatch`, `submit` or `submitBatch`, the promise
 * resolves or rejects with a DirchainError, never a TypeError or RangeError;
 * a value of the wrong type is E_INVALID_ARGUMENT, and an event where the
 * seal belongs is E_BATCH_MISMATCH ("a seal or event came alone").
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memberSigner } from '../../src/directory/member-signer.js';
import type { SignedBatch } from '../../src/encoding/event.js';
import { DirchainError, ErrorCode } from '../../src/errors.js';
import type { Ledger } from '../../src/ledger/ledger.js';
import { KIND } from '../../src/policy/schemas.js';
import { tempDir } from '../helpers.js';
import { type City, makeCity, newLedger, signedBy } from '../ledger/fixture.js';
import { argument, junk } from './stranger.js';

let dir: ReturnType<typeof tempDir>;
let city: City;
let ledger: Ledger;
let batch: SignedBatch;

beforeAll(async () => {
  dir = tempDir('dirchain-ledger-input-');
  city = makeCity(1);
  ledger = await newLedger(dir.path, city, { workers: 0, durability: 'buffered' });
  batch = ledger.signBatch(city.departments[0]!.signer, 'x.log', [{ a: 1 }, { a: 2 }]);
});
afterAll(async () => {
  await ledger.close();
  dir.cleanup();
});

/** 'ok', the DirchainError's code, or a description of the untyped failure (thrown or in a result list). */
async function outcome(call: () => Promise<unknown>): Promise<string> {
  const name = (e: unknown) =>
    e instanceof DirchainError
      ? e.code
      : `untyped ${(e as Error | undefined)?.constructor?.name ?? typeof e}: ${String((e as Error)?.message ?? e).slice(0, 120)}`;
  try {
    const result = await call();
    if (Array.isArray(result)) {
      for (const r of result) if (r instanceof Error && !(r instanceof DirchainError)) return name(r);
    }
    return 'ok';
  } catch (e) {
    return name(e);
  }
}

type Method = (...args: unknown[]) => Promise<unknown>;
const method = (name: 'append' | 'appendMany' | 'appendBatch' | 'submit' | 'submitBatch'): Method =>
  ((...args: unknown[]) => (ledger[name] as (...a: unknown[]) => Promise<unknown>)(...args)) as Method;

const d = () => city.departments[0]!;
const METHODS: ReadonlyArray<readonly [string, Method, () => unknown[]]> = [
  ['append', method('append'), () => [signedBy(d(), { n: Math.random() })]],
  ['appendMany', method('appendMany'), () => [[signedBy(d(), { n: 1 }), signedBy(d(), { n: 2 })], {}]],
  ['appendBatch', method('appendBatch'), () => [batch.seal.bytes, batch.events]],
  ['submit', method('submit'), () => [d().signer, 'x.t', { a: 1 }]],
  ['submitBatch', method('submitBatch'), () => [d().signer, 'x.log', [{ a: 1 }]]],
];

describe('Ledger write methods: typed refusals only (property)', () => {
  it.each(METHODS)('%s', async (_name, fn, valid) => {
    expect(await outcome(() => fn(...valid()))).toBe('ok');
    const args = valid();
    await fc.assert(
      fc.asyncProperty(fc.tuple(...args.map(argument)), async (a) => {
        const got = await outcome(() => fn(...a));
        expect(got).not.toMatch(/^untyped|^E_INTERNAL/);
      }),
      { numRuns: 200 },
    );
    // Each argument alone replaced by anything at all: the wrong type is E_INVALID_ARGUMENT.
    for (let i = 0; i < args.length; i++) {
      await fc.assert(
        fc.asyncProperty(junk, async (x) => {
          const a = args.slice();
          a[i] = x;
          expect(await outcome(() => fn(...a))).not.toMatch(/^untyped|^E_INTERNAL/);
        }),
        { numRuns: 60 },
      );
    }
  });
});

describe('the cases named in issue 28', () => {
  const code = outcome;

  it('a null or a number where bytes or a member belong is E_INVALID_ARGUMENT', async () => {
    for (const x of [null, undefined, 42, 'entry', [1, 2], {}, { bytes: 'abc' }]) {
      expect(await code(() => ledger.append(x as never))).toBe(ErrorCode.INVALID_ARGUMENT);
      expect(await code(() => ledger.appendBatch(x as never, batch.events))).toBe(ErrorCode.INVALID_ARGUMENT);
    }
    for (const x of [null, 42, 'entries', new Uint8Array(3), { length: 1 }]) {
      expect(await code(() => ledger.appendMany(x as never))).toBe(ErrorCode.INVALID_ARGUMENT);
      expect(await code(() => ledger.appendBatch(batch.seal.bytes, x as never))).toBe(
        ErrorCode.INVALID_ARGUMENT,
      );
      expect(await code(() => ledger.submitBatch(d().signer, 'x.log', x as never))).toBe(
        ErrorCode.INVALID_ARGUMENT,
      );
    }
    for (const x of [null, 42, 'options', { atomic: 'yes' }]) {
      expect(await code(() => ledger.appendMany([signedBy(d())], x as never))).toBe(
        ErrorCode.INVALID_ARGUMENT,
      );
    }
    const m = d().signer;
    for (const x of [
      null,
      undefined,
      42,
      'dept-0',
      {},
      { ...m, id: 7 },
      { ...m, keyId: -1 },
      { ...m, keyId: 0.5 },
      { ...m, signer: null },
      { ...m, signer: { sign: m.signer.sign } },
      { ...m, signer: { publicKey: m.signer.publicKey } },
    ]) {
      expect(await code(() => ledger.submit(x as never, 'x.t', { a: 1 }))).toBe(ErrorCode.INVALID_ARGUMENT);
      expect(await code(() => ledger.submitBatch(x as never, 'x.log', [{ a: 1 }]))).toBe(
        ErrorCode.INVALID_ARGUMENT,
      );
    }
    expect(await code(() => ledger.submit(m, 42 as never, { a: 1 }))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(await code(() => ledger.submitBatch(m, null as never, [{ a: 1 }]))).toBe(
      ErrorCode.INVALID_ARGUMENT,
    );
  });

  it('appendMany refuses an entry that is not bytes with E_INVALID_ARGUMENT, as decodeRecord does', async () => {
    const size = ledger.head().size;
    const results = await ledger.appendMany([signedBy(d(), { n: 10 }), null as never, 'x' as never]);
    expect(results.map((r) => (r instanceof DirchainError ? r.code : 'receipt'))).toEqual([
      'receipt',
      ErrorCode.INVALID_ARGUMENT,
      ErrorCode.INVALID_ARGUMENT,
    ]);
    expect((results[1] as DirchainError).message).toMatch(/entry 1/);
    // The one record and the block entry of its block.
    expect(ledger.head().size).toBe(size + 2);
  });

  it('appendBatch with an event where the seal belongs is E_BATCH_MISMATCH', async () => {
    const b = ledger.signBatch(d().signer, 'x.log', [{ b: 1 }, { b: 2 }]);
    for (const event of b.events) {
      expect(await code(() => ledger.appendBatch(event, b.events))).toBe(ErrorCode.BATCH_MISMATCH);
    }
    // An event that is not bytes, in the events, is the caller's type error.
    for (const x of [null, 'event', [1], new Int8Array(3)]) {
      expect(await code(() => ledger.appendBatch(b.seal.bytes, [b.events[0]!, x as never]))).toBe(
        ErrorCode.INVALID_ARGUMENT,
      );
    }
    expect((await ledger.appendBatch(b.seal, b.events)).count).toBe(2);
  });
});

describe('directory proposals: typed refusals only', () => {
  const suspend = () => ({ member: d().id, reason: 'audit' });

  it('propose and submitProposal (property)', async () => {
    const admin = memberSigner(city.admin.signerKey);
    const proposal = ledger.directory.propose(KIND.memberSuspend, suspend());
    const propose = (...a: unknown[]) => (ledger.directory.propose as (...x: unknown[]) => unknown)(...a);
    const submit = (...a: unknown[]) =>
      (ledger.directory.submitProposal as (...x: unknown[]) => unknown).call(ledger.directory, ...a);
    for (const [fn, valid] of [
      [propose, [KIND.memberSuspend, suspend()]],
      [submit, [admin, proposal, { approvers: [admin] }]],
    ] as const) {
      expect(await outcome(async () => fn(...valid))).toBe('ok');
      await fc.assert(
        fc.asyncProperty(fc.tuple(...valid.map(argument)), async (a) => {
          expect(await outcome(async () => fn(...a))).not.toMatch(/^untyped|^E_INTERNAL/);
        }),
        { numRuns: 200 },
      );
    }
  });

  it('the wrong types are E_INVALID_ARGUMENT', async () => {
    const admin = memberSigner(city.admin.signerKey);
    const proposal = ledger.directory.propose(KIND.memberSuspend, suspend());
    for (const x of [null, 42, 'terms']) {
      expect(await code(() => ledger.directory.propose(KIND.memberSuspend, x as never))).toBe(
        ErrorCode.INVALID_ARGUMENT,
      );
      if (typeof x !== 'string')
        expect(await code(() => ledger.directory.propose(x as never, suspend()))).toBe(
          ErrorCode.INVALID_ARGUMENT,
        );
      expect(await code(() => ledger.directory.submitProposal(admin, x as never))).toBe(
        ErrorCode.INVALID_ARGUMENT,
      );
      expect(await code(() => ledger.directory.submitProposal(admin, proposal, x as never))).toBe(
        ErrorCode.INVALID_ARGUMENT,
      );
      expect(
        await code(() => ledger.directory.submitProposal(admin, proposal, { approvers: x as never })),
      ).toBe(ErrorCode.INVALID_ARGUMENT);
    }
    // Terms that are not plain data are the schema's refusal, as a record body's are.
    expect(
      await code(() => ledger.directory.propose(KIND.memberSuspend, { ...suspend(), at: new Date() })),
    ).toBe(ErrorCode.SCHEMA);
  });
});

async function code(call: () => unknown): Promise<string> {
  return outcome(async () => call());
}
