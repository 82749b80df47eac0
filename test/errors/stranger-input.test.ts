/**
 * Issue 28, item 6: whatever a stranger hands a public function (null, a
 * number, an object with the wrong fields, random bytes, a huge string, a valid
 * input with one thing changed), it either works or throws a DirchainError with
 * one of its documented codes, never a TypeError or RangeError; `verifyBundle`
 * never throws at all.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { verifyNoble } from '../../src/crypto/ed25519.js';
import { DirchainError, ErrorCode } from '../../src/errors.js';
import * as main from '../../src/index.js';
import { parseTileIndexPath, tileIndexPath } from '../../src/merkle/tiles.js';
import * as verify from '../../src/verify.js';
import { argument, type Fixture, junk, makeFixture, mutant, TARGETS, verifyBundleArgs } from './stranger.js';

let fx: Fixture;
beforeAll(async () => {
  fx = await makeFixture();
});

/** 'ok', the DirchainError's code, or a description of the untyped throw. */
function outcome(call: () => unknown): string {
  try {
    call();
    return 'ok';
  } catch (e) {
    if (e instanceof DirchainError) return e.code;
    const name = (e as Error | undefined)?.constructor?.name ?? typeof e;
    return `untyped ${name}: ${String((e as Error | undefined)?.message ?? e).slice(0, 120)}`;
  }
}

const RUNS = 300;

describe('every public parser and checker: typed errors only (property)', () => {
  it.each(TARGETS.map((t) => [t.name, t] as const))('%s', (_name, t) => {
    const valid = t.valid(fx);
    expect(
      outcome(() => t.fn(...valid)),
      'the valid arguments work',
    ).toBe('ok');
    const allowed = ['ok', ...(t.codes === 'never' ? [] : t.codes)];
    fc.assert(
      fc.property(fc.tuple(...valid.map(argument)), (args) => {
        expect(allowed).toContain(outcome(() => t.fn(...args)));
      }),
      { numRuns: RUNS },
    );
    // Each argument alone replaced by anything at all, the others valid.
    for (let i = 0; i < valid.length; i++) {
      fc.assert(
        fc.property(junk, (x) => {
          const args = valid.slice();
          args[i] = x;
          expect(allowed).toContain(outcome(() => t.fn(...args)));
        }),
        { numRuns: 100 },
      );
    }
  });
});

/** A report as documented: `{ ok, kind, checks }`, and every failed check names a code. */
function expectReport(report: unknown): void {
  const r = report as verify.BundleReport;
  expect(typeof r.ok).toBe('boolean');
  expect(['inclusion', 'consistency', 'unknown']).toContain(r.kind);
  expect(Array.isArray(r.checks)).toBe(true);
  for (const c of r.checks) {
    expect(['pass', 'fail', 'skip']).toContain(c.status);
    expect(typeof c.name).toBe('string');
    // A failure inside a check is a typed refusal, not a TypeError caught on the way out.
    if (c.status === 'fail') {
      expect(c.detail).toMatch(/^E_[A-Z_]+: /);
      expect(c.detail).not.toMatch(/^E_INTERNAL/);
    }
  }
  expect(r.ok).toBe(r.checks.every((c) => c.status !== 'fail'));
}

describe('verifyBundle never throws (property)', () => {
  it('returns a well-formed report for any bundle, keys and policy', () => {
    for (const valid of verifyBundleArgs(fx)) {
      const report = verify.verifyBundle(...(valid as Parameters<typeof verify.verifyBundle>));
      expectReport(report);
      expect(report.ok, JSON.stringify(report.checks)).toBe(true);
      fc.assert(
        fc.property(fc.tuple(...valid.map(argument)), (args) => {
          let report: unknown;
          expect(() => {
            report = (verify.verifyBundle as (...a: unknown[]) => unknown)(...args);
          }).not.toThrow();
          expectReport(report);
        }),
        { numRuns: RUNS },
      );
    }
  });

  it('any one change to a valid bundle fails it, with a typed check', () => {
    fc.assert(
      fc.property(mutant(fx.eventJSON), (json) => {
        const report = verify.verifyBundle(json, [fx.logKey]);
        expectReport(report);
        // Only a change that leaves the bundle's content as it was (an ignored extra field) may verify.
        if (report.ok) {
          const content = (j: unknown) => main.inclusionBundleToJSON(verify.inclusionBundleFromJSON(j));
          expect(content(json)).toEqual(content(fx.eventJSON));
        }
      }),
      { numRuns: RUNS },
    );
  });
});

describe('the cases named in issue 28', () => {
  const code = (call: () => unknown) => outcome(call);

  it('parsers given null or a non-string throw E_INVALID_ARGUMENT', () => {
    for (const x of [null, undefined, 42, {}, [], new Uint8Array(3)]) {
      expect(code(() => main.parseNote(x as never))).toBe(ErrorCode.INVALID_ARGUMENT);
      expect(code(() => main.parseCheckpoint(x as never))).toBe(ErrorCode.INVALID_ARGUMENT);
      expect(code(() => main.parseBlockHeader(x as never))).toBe(ErrorCode.INVALID_ARGUMENT);
      expect(code(() => main.verifyCheckpoint(x as never, [fx.logKey]))).toBe(ErrorCode.INVALID_ARGUMENT);
      expect(code(() => main.openNote(x as never, [], verifyNoble))).toBe(ErrorCode.INVALID_ARGUMENT);
      expect(code(() => main.loadVerifier(x as never))).toBe(ErrorCode.INVALID_ARGUMENT);
      expect(code(() => main.loadSigner(x as never))).toBe(ErrorCode.INVALID_ARGUMENT);
      expect(code(() => main.memberSigner(x as never))).toBe(ErrorCode.INVALID_ARGUMENT);
      expect(code(() => main.parseKeys([x as never]))).toBe(ErrorCode.INVALID_ARGUMENT);
      expect(code(() => verify.fromBase64(x as never))).toBe(ErrorCode.INVALID_ARGUMENT);
    }
    expect(code(() => main.parseNote('no blank line\n'))).toBe(ErrorCode.DECODE);
    expect(code(() => main.parseCheckpoint('a\nb\n'))).toBe(ErrorCode.CHECKPOINT_INVALID);
  });

  it('verifyRecord and decodeRecord given a non-byte argument throw E_INVALID_ARGUMENT', () => {
    for (const x of [null, undefined, 'bytes', [1, 2], { length: 3 }]) {
      expect(code(() => main.verifyRecord(x as never, fx.authorKey))).toBe(ErrorCode.INVALID_ARGUMENT);
      expect(code(() => main.verifyRecord(fx.record, x as never))).toBe(ErrorCode.INVALID_ARGUMENT);
      expect(code(() => main.decodeRecord(x as never))).toBe(ErrorCode.INVALID_ARGUMENT);
      expect(code(() => main.decodeEvent(x as never))).toBe(ErrorCode.INVALID_ARGUMENT);
      expect(main.isEventEntry(x as never)).toBe(false);
    }
    expect(code(() => main.verifyRecord(fx.record, fx.authorKey.subarray(1)))).toBe(
      ErrorCode.INVALID_ARGUMENT,
    );
    expect(code(() => main.verifyRecord(fx.record, new Uint8Array(32)))).toBe(ErrorCode.BAD_SIGNATURE);
  });

  it('verifyBundle(x, null) and friends return a failing report', () => {
    for (const [json, keys, policy] of [
      [fx.inclusionJSON, null, undefined],
      [fx.inclusionJSON, [null], undefined],
      [fx.inclusionJSON, [fx.logKey], null],
      [fx.inclusionJSON, [fx.logKey], 7],
      [fx.inclusionJSON, [fx.logKey], { witnesses: 'court', quorum: '1' }],
      [fx.inclusionJSON, [fx.logKey], { witnesses: [null], quorum: 1 }],
      [fx.inclusionJSON, [fx.logKey], { quorum: 10n }],
      [null, null, null],
      [{ ...fx.inclusionJSON, index: '0' }, [fx.logKey], undefined],
      [{ ...fx.eventJSON, attribution: null }, [fx.logKey], undefined],
      ['x'.repeat(1 << 20), [fx.logKey], undefined],
    ] as const) {
      const report = (verify.verifyBundle as (...a: unknown[]) => unknown)(json, keys, policy);
      expectReport(report);
      expect((report as verify.BundleReport).ok).toBe(false);
    }
  });

  it('cosignatures: a wrong time, options or policy is E_INVALID_ARGUMENT', () => {
    const cosign = (o: unknown) => () => main.cosignCheckpoint(fx.note, fx.witnessSignerKey, o as never);
    for (const o of [null, undefined, {}, { logKeys: 'k' }, { logKeys: [fx.logKey], time: 1.5 }]) {
      expect(code(cosign(o))).toBe(ErrorCode.INVALID_ARGUMENT);
    }
    expect(code(cosign({ logKeys: [fx.logKey], time: -1 }))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(code(cosign({ logKeys: [fx.logKey], time: '1' }))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(code(() => verify.verifyCosignatures(fx.cosigned, null as never))).toBe(
      ErrorCode.INVALID_ARGUMENT,
    );
    expect(
      code(() => verify.verifyCosignatures(fx.cosigned, { witnesses: [fx.witnessKey], quorum: 1n as never })),
    ).toBe(ErrorCode.INVALID_ARGUMENT);
  });

  it('a cosignature dated past what a Date holds is reported, not a RangeError', () => {
    const time = Number.MAX_SAFE_INTEGER; // POSIX seconds: far past year 275760
    const cosigned = main.cosignCheckpoint(fx.note, fx.witnessSignerKey, { logKeys: [fx.logKey], time });
    expect(fx.inclusionJSON.checkpoint).toBe(fx.note);
    const report = verify.verifyBundle({ ...fx.inclusionJSON, checkpoint: cosigned }, [fx.logKey], {
      witnesses: [fx.witnessKey],
    });
    expectReport(report);
    expect(report.ok, JSON.stringify(report.checks)).toBe(true);
  });

  it('verifyInclusion and verifyConsistency answer false for a claim with wrong field types', () => {
    const claim = {
      index: fx.inclusion.index,
      size: fx.inclusion.size,
      leaf: fx.inclusion.leaf,
      proof: fx.inclusion.inclusion,
      root: fx.inclusion.root,
    };
    expect(verify.verifyInclusion(claim)).toBe(true);
    for (const change of [
      { proof: null },
      { proof: 'abc' },
      { leaf: 'abc' },
      { leaf: undefined },
      { root: [1] },
    ]) {
      expect(verify.verifyInclusion({ ...claim, ...change } as never)).toBe(false);
    }
    expect(code(() => verify.verifyInclusion(null as never))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(code(() => verify.verifyConsistency(null as never))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(verify.verifyConsistency({ ...fx.consistency, proof: null } as never)).toBe(false);
    // A sparse array's holes are not hashes (`every` would skip them).
    const sparse = new Array<Uint8Array>(1);
    for (const check of [verify.verifyConsistency, main.verifyConsistency]) {
      expect(
        check({
          size1: 1,
          size2: 9,
          root1: fx.consistency.root1,
          root2: fx.consistency.root2,
          proof: sparse,
        }),
      ).toBe(false);
    }
    for (const check of [verify.verifyInclusion, main.verifyInclusion]) {
      expect(check({ ...claim, proof: new Array<Uint8Array>(claim.proof.length) })).toBe(false);
    }
  });
});

describe('the main entry and dirchain/verify answer alike (property)', () => {
  // Same answers, different hashing: a junk claim gets the same verdict or the same code from both.
  const same = (a: () => unknown, b: () => unknown) => {
    const [x, y] = [outcome(a), outcome(b)];
    expect(x).toBe(y);
    if (x === 'ok') expect(a()).toEqual(b());
  };

  it('verifyInclusion, verifyConsistency and leafHash', () => {
    const inclusion = {
      index: fx.inclusion.index,
      size: fx.inclusion.size,
      leaf: fx.inclusion.leaf,
      proof: fx.inclusion.inclusion,
      root: fx.inclusion.root,
    };
    const consistency = {
      size1: fx.consistency.size1,
      size2: fx.consistency.size2,
      root1: fx.consistency.root1,
      root2: fx.consistency.root2,
      proof: fx.consistency.consistency,
    };
    expect(main.verifyInclusion(inclusion)).toBe(true);
    expect(main.verifyConsistency(consistency)).toBe(true);
    fc.assert(
      fc.property(argument(inclusion), argument(consistency), argument(fx.record), (i, c, e) => {
        same(
          () => main.verifyInclusion(i as never),
          () => verify.verifyInclusion(i as never),
        );
        same(
          () => main.verifyConsistency(c as never),
          () => verify.verifyConsistency(c as never),
        );
        same(
          () => main.leafHash(e as never),
          () => verify.leafHash(e as never),
        );
      }),
      { numRuns: RUNS },
    );
  });

  it('the cases named in issue 28', () => {
    for (const x of [null, undefined, 42, 'claim', [1]]) {
      expect(outcome(() => main.verifyInclusion(x as never))).toBe(ErrorCode.INVALID_ARGUMENT);
      expect(outcome(() => main.verifyConsistency(x as never))).toBe(ErrorCode.INVALID_ARGUMENT);
      expect(outcome(() => main.leafHash(x as never))).toBe(ErrorCode.INVALID_ARGUMENT);
    }
    const claim = { index: 0, size: 1, leafHash: new Uint8Array(32), root: new Uint8Array(32) };
    for (const proof of [null, 'abc', 7, { length: 1 }]) {
      expect(main.verifyInclusion({ ...claim, proof } as never)).toBe(false);
      expect(main.verifyConsistency({ ...fx.consistency, proof } as never)).toBe(false);
    }
    expect(main.verifyInclusion({ ...claim, leafHash: undefined, leaf: 'abc' } as never)).toBe(false);
  });
});

describe('tiles and entry bundles a follower is served', () => {
  it('decodeEntryBundle refuses a typed array that is not bytes, without looping (issue 28)', () => {
    for (const x of [
      new Int8Array([-128, 0]),
      new Int16Array([-2, 0]),
      new Float64Array([-1, -1]),
      new Uint8ClampedArray(2),
      [0, 1, 7],
      'bundle',
      null,
      { length: 1e9 },
    ]) {
      expect(outcome(() => main.decodeEntryBundle(x as never))).toBe(ErrorCode.INVALID_ARGUMENT);
    }
  });

  it('any bytes decode to entries that re-encode to them, or are E_DECODE (property)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 600 }), mutant(fx.bundle)), (bytes) => {
        const b = bytes as Uint8Array;
        const got = outcome(() => main.decodeEntryBundle(b));
        expect(['ok', ErrorCode.DECODE]).toContain(got);
        if (got === 'ok') expect(main.encodeEntryBundle(main.decodeEntryBundle(b))).toEqual(b);
      }),
      { numRuns: RUNS },
    );
  });

  it('encodeEntryBundle names the entry that is not bytes', () => {
    for (const x of [null, 'abc', [1, 2], new Int8Array(3), { length: 2 }]) {
      expect(outcome(() => main.encodeEntryBundle([fx.record, x as never]))).toBe(ErrorCode.INVALID_ARGUMENT);
    }
    expect(() => main.encodeEntryBundle([fx.record, null as never])).toThrow(/entry 1/);
    for (const x of [null, fx.record, 'abc', new Set([fx.record])]) {
      expect(outcome(() => main.encodeEntryBundle(x as never))).toBe(ErrorCode.INVALID_ARGUMENT);
    }
    expect(outcome(() => main.encodeEntryBundle([new Uint8Array(65_536)]))).toBe(ErrorCode.TOO_LARGE);
  });

  it('a tile path is made only for a tile that has one, and parses back to it (property)', () => {
    const tile = fc.record({
      level: fc.oneof(fc.integer({ min: -2, max: 70 }), junk),
      n: fc.oneof(fc.nat(), fc.constantFrom(2 ** 53 - 1, 2 ** 53, -1, 0.5), junk),
      width: fc.oneof(fc.integer({ min: -1, max: 300 }), junk),
    });
    fc.assert(
      fc.property(fc.oneof(tile, junk, fc.constant({ level: -0, n: -0, width: 5 })), (t) => {
        const got = outcome(() => main.tilePath(t as never));
        expect(['ok', ErrorCode.INVALID_ARGUMENT]).toContain(got);
        if (got === 'ok') {
          const { level, n, width } = t as main.Tile;
          // + 0: a -0 is tile 0, and its path says so.
          expect(main.parseTilePath(main.tilePath(t as never))).toEqual({
            level: level + 0,
            n: n + 0,
            width,
          });
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('tile path parsers given a non-string throw E_INVALID_ARGUMENT, and undefined for any other text', () => {
    for (const x of [null, undefined, 42, Symbol('p'), Object.create(null), ['tile/0/000']]) {
      expect(outcome(() => main.parseTilePath(x as never))).toBe(ErrorCode.INVALID_ARGUMENT);
      expect(outcome(() => parseTileIndexPath(x as never))).toBe(ErrorCode.INVALID_ARGUMENT);
    }
    for (const x of [Symbol('n'), null, '7', 1.5, -1, 2 ** 53, Number.NaN]) {
      expect(outcome(() => tileIndexPath(x as never))).toBe(ErrorCode.INVALID_ARGUMENT);
    }
    for (const p of ['', 'tile/', 'tile/64/000', 'tile/0/000.p/0', 'tile/0/x000/001']) {
      expect(main.parseTilePath(p)).toBeUndefined();
    }
  });
});

describe('member signers and approvals', () => {
  it('memberSigner takes a keyId that is a whole number ≥ 0', () => {
    expect(main.memberSigner(fx.memberSignerKey).keyId).toBe(0);
    expect(main.memberSigner(fx.memberSignerKey, 3).keyId).toBe(3);
    for (const k of [null, -1, 1.5, Number.NaN, 2 ** 53, '0', 0n, {}]) {
      expect(outcome(() => main.memberSigner(fx.memberSignerKey, k as never))).toBe(
        ErrorCode.INVALID_ARGUMENT,
      );
    }
    fc.assert(
      fc.property(junk, (k) => {
        const got = outcome(() => main.memberSigner(fx.memberSignerKey, k as never));
        if (got === 'ok') {
          const { keyId } = main.memberSigner(fx.memberSignerKey, k as never);
          expect(Number.isSafeInteger(keyId) && keyId >= 0).toBe(true);
        } else expect(got).toBe(ErrorCode.INVALID_ARGUMENT);
      }),
      { numRuns: RUNS },
    );
  });

  it('approve given a malformed proposal or approver throws E_INVALID_ARGUMENT', () => {
    const approval = main.approve(fx.proposal, fx.approver);
    expect(approval.member).toBe('bureau');
    expect(approval.signature.length).toBe(64);
    for (const x of [null, undefined, 'terms', 42, {}]) {
      expect(outcome(() => main.approve(x as never, fx.approver))).toBe(ErrorCode.INVALID_ARGUMENT);
      expect(outcome(() => main.approve(fx.proposal, x as never))).toBe(ErrorCode.INVALID_ARGUMENT);
    }
    for (const change of [{ origin: null }, { kind: 7 }, { terms: 'abc' }, { terms: [1, 2] }]) {
      expect(outcome(() => main.approve({ ...fx.proposal, ...change } as never, fx.approver))).toBe(
        ErrorCode.INVALID_ARGUMENT,
      );
    }
    const a = fx.approver;
    for (const change of [
      { id: null },
      { keyId: -1 },
      { keyId: '0' },
      { signer: null },
      { signer: { publicKey: a.signer.publicKey } },
      { signer: { ...a.signer, sign: () => 1 } },
    ]) {
      expect(outcome(() => main.approve(fx.proposal, { ...a, ...change } as never))).toBe(
        ErrorCode.INVALID_ARGUMENT,
      );
    }
  });
});
