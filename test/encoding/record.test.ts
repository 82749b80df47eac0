import fc from 'fast-check';
import { Packr } from 'msgpackr/pack';
import { describe, expect, it } from 'vitest';
import { verifyNoble } from '../../src/crypto/ed25519.js';
import { nodeSigner, verifyNode } from '../../src/crypto/node-crypto.js';
import { pack } from '../../src/encoding/msgpack.js';
import {
  decodeRecord,
  decodeRecordLazily,
  MAX_ENTRY_BYTES,
  type RecordDraft,
  readRecordHead,
  signRecord,
  verifyRecordSignature,
} from '../../src/encoding/record.js';
import { isDirchainError } from '../../src/errors.js';

const signer = nodeSigner(new Uint8Array(32).fill(7));
const draft: RecordDraft = {
  origin: 'dirchain.example.gov/city',
  kind: 'access.log',
  author: 'health',
  keyId: 0,
  timestamp: 1_732_280_000_000,
  body: { grant: 'g-1', fields: ['name', 'id_number'], count: 3, blob: new Uint8Array([1, 2, 3]) },
};

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return isDirchainError(e) ? e.code : `not a DirchainError: ${String(e)}`;
  }
  return undefined;
}

describe('record envelope', () => {
  it('decodes exactly what was signed, and the signature verifies on both crypto paths', () => {
    const r = signRecord(draft, signer);
    const d = decodeRecord(r.bytes);
    const body = d.body as { blob: Uint8Array };
    expect({ ...body, blob: [...body.blob] }).toEqual({ ...(draft.body as object), blob: [1, 2, 3] });
    expect([d.origin, d.kind, d.author, d.keyId, d.timestamp]).toEqual([
      draft.origin,
      draft.kind,
      draft.author,
      0,
      draft.timestamp,
    ]);
    expect(verifyRecordSignature(d, signer.publicKey, verifyNode)).toBe(true);
    expect(verifyRecordSignature(d, signer.publicKey, verifyNoble)).toBe(true);
    expect([...d.signed]).toEqual([...r.signed]);
  });

  it('any single bit flip is refused: by strict decoding or by the signature', () => {
    const r = signRecord(draft, signer);
    fc.assert(
      fc.property(fc.nat(r.bytes.length * 8 - 1), (bit) => {
        const bad = r.bytes.slice();
        bad[bit >> 3]! ^= 1 << (bit & 7);
        let ok = false;
        try {
          ok = verifyRecordSignature(decodeRecord(bad), signer.publicKey, verifyNode);
        } catch (e) {
          expect(isDirchainError(e)).toBe(true);
        }
        expect(ok).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  it('readRecordHead reads the author, keyId and kind decodeRecord reads, from any bytes decodeRecord accepts', () => {
    const text = fc.string({ unit: 'binary', maxLength: 40 });
    const drafts = fc.record({
      origin: text.filter((s) => s.length > 0),
      kind: fc.stringMatching(/^[a-z][a-z0-9._-]{0,63}$/),
      author: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/),
      keyId: fc.oneof(fc.nat(300), fc.nat(0xffff_ffff)),
      timestamp: fc.nat(2 ** 45),
      body: fc.dictionary(text, fc.oneof(text, fc.integer(), fc.boolean()), { noNullPrototype: true }),
    });
    fc.assert(
      fc.property(drafts, fc.array(fc.nat(), { maxLength: 3 }), (d, flips) => {
        const bytes = signRecord(d as RecordDraft, signer).bytes.slice();
        // Random bit flips: wherever the strict decoder still accepts, the head reader must agree.
        for (const f of flips) bytes[f % bytes.length]! ^= 1 << (f % 8);
        let full: ReturnType<typeof decodeRecord> | undefined;
        try {
          full = decodeRecord(bytes);
        } catch {}
        let head: ReturnType<typeof readRecordHead> | undefined;
        try {
          head = readRecordHead(bytes);
        } catch (e) {
          // It may refuse more (it is not the validation) but only with a typed error.
          expect(isDirchainError(e)).toBe(true);
        }
        if (full === undefined) return;
        expect(head).toBeDefined();
        expect([head!.kind, head!.author, head!.keyId]).toEqual([full.kind, full.author, full.keyId]);
        expect([...head!.signed]).toEqual([...full.signed]);
        expect([...head!.signature]).toEqual([...full.signature]);
      }),
      { numRuns: 400 },
    );
  });

  it('decodeRecordLazily gives decodeRecord’s fields, body and refusals', () => {
    const text = fc.string({ unit: 'binary', maxLength: 30 });
    const value = fc.oneof(
      text,
      fc.integer(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.boolean(),
    );
    const drafts = fc.record({
      origin: text.filter((s) => s.length > 0),
      kind: fc.stringMatching(/^[a-z][a-z0-9._-]{0,20}$/),
      author: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,20}$/),
      keyId: fc.nat(70_000),
      timestamp: fc.nat(2 ** 45),
      body: fc.oneof(
        fc.dictionary(text, fc.oneof(value, fc.array(value, { maxLength: 4 })), { noNullPrototype: true }),
        value,
        fc.constant(null),
      ),
    });
    const verdict = (f: () => ReturnType<typeof decodeRecord>): unknown => {
      try {
        const r = f();
        return [
          r.version,
          r.origin,
          r.kind,
          r.author,
          r.keyId,
          r.timestamp,
          r.body,
          [...r.signed],
          [...r.signature],
        ];
      } catch (e) {
        return isDirchainError(e) ? e.code : `not a DirchainError: ${String(e)}`;
      }
    };
    fc.assert(
      fc.property(drafts, fc.array(fc.nat(), { maxLength: 2 }), (d, flips) => {
        const bytes = signRecord(d as RecordDraft, signer).bytes.slice();
        for (const f of flips) bytes[f % bytes.length]! ^= 1 << (f % 8);
        expect(verdict(() => decodeRecordLazily(bytes))).toEqual(verdict(() => decodeRecord(bytes)));
      }),
      { numRuns: 400 },
    );
  });

  it('readRecordHead refuses what is not a record head with E_DECODE', () => {
    const r = signRecord(draft, signer);
    expect(codeOf(() => readRecordHead(new Uint8Array([1, 2, 3])))).toBe('E_DECODE');
    expect(codeOf(() => readRecordHead(r.bytes.subarray(0, r.bytes.length - 1)))).toBe('E_DECODE');
    // The signed part cut short inside the author string: the outer layout re-framed around it.
    const signed = r.signed.subarray(0, 30);
    const cut = new Uint8Array([0x92, 0xc4, signed.length, ...signed, 0xc4, 64, ...r.signature]);
    expect(codeOf(() => readRecordHead(cut))).toBe('E_DECODE');
  });

  it('refuses trailing bytes, truncation, wrong version, wrong shapes and extension types', () => {
    const r = signRecord(draft, signer);
    const sig = r.signature;
    const wrap = (signed: Uint8Array) => {
      const p = new Packr({ useRecords: false });
      return new Uint8Array(p.pack([signed, Buffer.from(sig)]));
    };
    expect(codeOf(() => decodeRecord(new Uint8Array([...r.bytes, 0])))).toBe('E_DECODE');
    expect(codeOf(() => decodeRecord(r.bytes.subarray(0, r.bytes.length - 1)))).toBe('E_DECODE');
    expect(codeOf(() => decodeRecord(new Uint8Array(0)))).toBe('E_DECODE');
    expect(codeOf(() => decodeRecord(wrap(pack([2, draft.origin, 'k', 'a', 0, 1, null]))))).toBe('E_DECODE');
    expect(codeOf(() => decodeRecord(wrap(pack([1, draft.origin, 'k', 'a', 0, 1]))))).toBe('E_DECODE');
    expect(codeOf(() => decodeRecord(wrap(pack([1, draft.origin, 'Bad Kind', 'a', 0, 1, null]))))).toBe(
      'E_SCHEMA',
    );
    expect(codeOf(() => decodeRecord(wrap(pack([1, draft.origin, 'k', 'a', -1, 1, null]))))).toBe('E_SCHEMA');
    expect(codeOf(() => decodeRecord(wrap(pack([1, draft.origin, 'k', 'a', 0, 1.5, null]))))).toBe(
      'E_SCHEMA',
    );
    // A MessagePack timestamp extension (-1) in the body is not plain data.
    const withExt = new Uint8Array([
      ...pack([1, draft.origin, 'k', 'a', 0, 1]).subarray(0),
      0xd6,
      0xff,
      0,
      0,
      0,
      1,
    ]);
    withExt[0] = 0x97;
    expect(codeOf(() => decodeRecord(wrap(withExt)))).toBe('E_SCHEMA');
    // The signed part must be binary, not an embedded array.
    expect(
      codeOf(() =>
        decodeRecord(new Uint8Array(new Packr({ useRecords: false }).pack([[1], Buffer.from(sig)]))),
      ),
    ).toBe('E_DECODE');
  });

  it('refuses an entry larger than 65,535 bytes with E_TOO_LARGE', () => {
    const big = { ...draft, body: { blob: new Uint8Array(MAX_ENTRY_BYTES) } };
    expect(codeOf(() => signRecord(big, signer))).toBe('E_TOO_LARGE');
    const near = { ...draft, body: { blob: new Uint8Array(MAX_ENTRY_BYTES - 200) } };
    const r = signRecord(near, signer);
    expect(r.bytes.length).toBeLessThanOrEqual(MAX_ENTRY_BYTES);
    expect(decodeRecord(r.bytes).author).toBe('health');
  });

  it('refuses bad drafts before signing', () => {
    expect(codeOf(() => signRecord({ ...draft, author: '' }, signer))).toBe('E_SCHEMA');
    expect(codeOf(() => signRecord({ ...draft, timestamp: -5 }, signer))).toBe('E_SCHEMA');
    expect(codeOf(() => signRecord({ ...draft, body: { x: Number.NaN } }, signer))).toBe('E_SCHEMA');
    expect(codeOf(() => signRecord({ ...draft, body: { d: new Date() as never } }, signer))).toBe('E_SCHEMA');
  });
});
