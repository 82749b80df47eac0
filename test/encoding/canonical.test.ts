import fc from 'fast-check';
import { Unpackr } from 'msgpackr/unpack';
import { describe, expect, it } from 'vitest';
import { checkCanonical } from '../../src/encoding/canonical.js';
import { checkEvent, decodeCheckedEvent, decodeEvent, encodeEvent } from '../../src/encoding/event.js';
import { assertPlain, pack, stringAt, unpackChecked, unpackStrict } from '../../src/encoding/msgpack.js';

/** The reference: decode, re-encode, compare, then check plain data (msgpack.ts). */
function reference(bytes: Uint8Array): string {
  try {
    assertPlain(unpackStrict(bytes, 'value'), 'value');
    return 'ok';
  } catch (e) {
    return (e as { code?: string }).code ?? 'thrown';
  }
}

function fast(bytes: Uint8Array): string {
  try {
    checkCanonical(bytes, 'value');
    return 'ok';
  } catch (e) {
    return (e as { code?: string }).code ?? 'thrown';
  }
}

const key = fc.oneof(
  fc.string({ maxLength: 6 }),
  fc.nat(40).map(String),
  fc.constantFrom('0', '01', '4294967294', '4294967295', '-1', '1.5', '__proto__', 'é', '\u{1F600}'),
);
const number = fc.oneof(
  fc.integer(),
  fc.constantFrom(
    0,
    127,
    128,
    255,
    256,
    65535,
    65536,
    2 ** 32 - 1,
    2 ** 32,
    -32,
    -33,
    -128,
    -129,
    -32768,
    -32769,
    -(2 ** 31),
    -(2 ** 31) - 1,
    2 ** 53 - 1,
  ),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);
const plain = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    number,
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.string({ maxLength: 300 }),
    fc.uint8Array({ maxLength: 300 }),
    fc.array(tie('value'), { maxLength: 20 }),
    fc.dictionary(key, tie('value'), { maxKeys: 20 }),
  ),
})).value;

/** Ways bytes get damaged or forged: a changed byte, a type byte swapped in, bytes cut, added or removed. */
const corrupt = (bytes: Uint8Array) =>
  fc
    .tuple(
      fc.constantFrom('set', 'type', 'cut', 'insert', 'remove'),
      fc.nat(Math.max(0, bytes.length - 1)),
      fc.oneof(
        fc.nat(255),
        fc.constantFrom(
          0xc0,
          0xc1,
          0xca,
          0xcb,
          0xcc,
          0xcd,
          0xce,
          0xcf,
          0xd0,
          0xd3,
          0xd4,
          0xd6,
          0xd9,
          0xda,
          0xdc,
          0xde,
          0x80,
          0x90,
          0xa0,
          0xed,
          0xf0,
          0xff,
        ),
      ),
    )
    .map(([how, at, v]) => {
      const b = Array.from(bytes);
      if (how === 'set') b[at] = (b[at]! ^ (1 << (v % 8))) & 255;
      else if (how === 'type') b[at] = v;
      else if (how === 'cut') b.length = at;
      else if (how === 'insert') b.splice(at, 0, v);
      else b.splice(at, 1);
      return Uint8Array.from(b);
    });

/** msgpackr's decoder, configured as msgpack.ts configures it. */
const msgpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

/** A value with map key order and byte views made visible to toEqual. */
function shape(v: unknown): unknown {
  if (v instanceof Uint8Array) return { bytes: [...v], view: v.constructor.name };
  if (Array.isArray(v)) return v.map(shape);
  if (v !== null && typeof v === 'object') {
    return {
      proto: Object.getPrototypeOf(v) === Object.prototype,
      entries: Object.entries(v).map(([k, x]) => [k, shape(x)]),
    };
  }
  return Object.is(v, -0) ? '-0' : v;
}

describe('unpackChecked (decoding what checkCanonical accepted)', () => {
  it('gives msgpackr’s value, key order and byte views included, for every canonical encoding', () => {
    fc.assert(
      fc.property(plain, (v) => {
        const bytes = pack(v);
        if (fast(bytes) !== 'ok') return;
        // Inside a larger buffer, as a record's signed part is.
        const outer = new Uint8Array(bytes.length + 7);
        outer.set(bytes, 3);
        const inside = outer.subarray(3, 3 + bytes.length);
        const got = unpackChecked(inside);
        expect(shape(got)).toEqual(shape(msgpackr.unpack(inside)));
        // Views into the given bytes, as msgpackr's are (callers rely on copies being theirs to make).
        if (got instanceof Uint8Array) expect(got.buffer).toBe(outer.buffer);
      }),
      { numRuns: 400 },
    );
  });

  it('reuses short strings only when their bytes match, whatever the hash', () => {
    const enc = new TextEncoder();
    const seen = new Map<string, string>();
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), fc.nat(5), (text, pad) => {
        const b = new Uint8Array(pad + 200);
        const utf8 = enc.encode(text);
        b.set(utf8, pad);
        const s = stringAt(b, pad, pad + utf8.length);
        expect(s).toBe(text);
        seen.set(text, s);
      }),
      { numRuns: 2000 },
    );
    expect(seen.size).toBeGreaterThan(100);
  });
});

describe('checkCanonical (one-pass canonical MessagePack check)', () => {
  it('gives the reference verdict on whatever the encoder writes (nearly all canonical)', () => {
    let accepted = 0;
    fc.assert(
      fc.property(plain, (v) => {
        const bytes = pack(v);
        const want = reference(bytes);
        // Exactly the same verdict, code included (a "__proto__" key is written but not canonical).
        expect(fast(bytes)).toBe(want);
        if (want === 'ok') accepted++;
      }),
      { numRuns: 400 },
    );
    expect(accepted).toBeGreaterThan(300);
  });

  it('agrees with decode + re-encode + assertPlain on corrupted encodings', () => {
    fc.assert(
      fc.property(
        plain.map((v) => pack(v)).chain((bytes) => corrupt(bytes)),
        (bytes) => {
          const want = reference(bytes);
          const got = fast(bytes);
          // Same verdict; a refusal's code may differ between E_DECODE and E_SCHEMA only.
          if (want === 'ok' || got === 'ok') expect(got).toBe(want);
          else expect(['E_DECODE', 'E_SCHEMA']).toContain(got);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it.each([
    ['float64 -0', 'cb8000000000000000', 'E_DECODE'],
    ['float64 of 1', 'cb3ff0000000000000', 'E_DECODE'],
    ['float64 of 2^32 (canonical)', 'cb41f0000000000000', 'ok'],
    ['float64 NaN', 'cb7ff8000000000000', 'E_SCHEMA'],
    ['uint8 for 5', 'cc05', 'E_DECODE'],
    ['uint16 for 200', 'cd00c8', 'E_DECODE'],
    ['int8 for -5', 'd0fb', 'E_DECODE'],
    ['str8 for a 1-byte string', 'd90161', 'E_DECODE'],
    ['array16 of one', 'dc000100', 'E_DECODE'],
    ['duplicate key', '82a16101a16102', 'E_DECODE'],
    ['integer key after a named one', '82a16201a13102', 'E_DECODE'],
    ['integer keys descending', '82a13201a13102', 'E_DECODE'],
    ['integer keys first, ascending', '83a13103a13202a16201', 'ok'],
    ['__proto__ key', '81a95f5f70726f746f5f5f01', 'E_DECODE'],
    ['non-string key', '810102', 'E_DECODE'],
    ['timestamp extension', 'd6ff00000001', 'E_SCHEMA'],
    ['float32', 'ca3f800000', 'E_DECODE'],
    ['uint64', 'cf0000000000000001', 'E_DECODE'],
    ['overlong UTF-8', 'a2c1a1', 'E_DECODE'],
    ['lone surrogate', 'a3eda080', 'E_DECODE'],
    ['trailing byte', 'c0c0', 'E_DECODE'],
    ['truncated string', 'a461', 'E_DECODE'],
  ])('%s', (_name, hex, verdict) => {
    expect(fast(Uint8Array.from(Buffer.from(hex, 'hex')))).toBe(verdict);
  });

  it('checks big maps (set-based duplicate check) like small ones', () => {
    const entries = Array.from({ length: 40 }, (_, i) => [`k${i}`, i] as const);
    const good = pack(Object.fromEntries(entries));
    expect([fast(good), reference(good)]).toEqual(['ok', 'ok']);
    // The same 40 pairs with the last key renamed to a duplicate of the first (same length).
    const dup = Uint8Array.from(good);
    const at = Buffer.from(dup).lastIndexOf(Buffer.from('k39'));
    dup.set(Buffer.from('k10'), at);
    expect([fast(dup), reference(dup)]).toEqual(['E_DECODE', 'E_DECODE']);
  });

  it('limits nesting like assertPlain', () => {
    let v: unknown = 1;
    for (let i = 0; i < 33; i++) v = [v];
    expect(fast(pack(v))).toBe('E_SCHEMA');
    expect(reference(pack(v))).toBe('E_SCHEMA');
    expect(fast(pack((v as unknown[])[0]))).toBe('ok');
  });

  it('checkEvent and decodeEvent give the reference’s position, body and refusals; decodeCheckedEvent its value', () => {
    /** The reference: decode, re-encode and compare, then the position's range and a plain body. */
    const referenceEvent = (bytes: Uint8Array): { position: number; body: unknown } => {
      const v = unpackStrict(bytes, 'event') as unknown[];
      if (!Array.isArray(v) || v.length !== 3 || v[0] !== 0) throw { code: 'E_DECODE' };
      const position = v[1] as number;
      if (!Number.isSafeInteger(position) || position < 0 || position >= 4096) throw { code: 'E_DECODE' };
      assertPlain(v[2], 'event body');
      return { position, body: v[2] };
    };
    const verdict = (f: () => unknown): unknown => {
      try {
        return f();
      } catch (e) {
        return (e as { code: string }).code;
      }
    };
    fc.assert(
      fc.property(fc.nat(5000), plain, fc.boolean(), (position, body, damage) => {
        const bytes = Uint8Array.from(pack([0, position, body]));
        if (damage && bytes.length > 3) bytes[3 + (position % (bytes.length - 3))]! ^= 0x10;
        const want = verdict(() => referenceEvent(bytes));
        const got = verdict(() => checkEvent(bytes));
        const decoded = verdict(() => decodeEvent(bytes));
        if (typeof want === 'object' || typeof got === 'number') {
          const w = want as { position: number; body: unknown };
          expect(got).toBe(w.position);
          const d = decoded as { position: number; body: unknown };
          expect([d.position, shape(d.body)]).toEqual([w.position, shape(w.body)]);
          const c = decodeCheckedEvent(bytes);
          expect([c.position, shape(c.body)]).toEqual([w.position, shape(w.body)]);
        } else {
          expect(['E_DECODE', 'E_SCHEMA']).toContain(got);
          expect(decoded).toBe(got);
        }
        expect(checkEvent(encodeEvent(position % 4096, { ok: true }))).toBe(position % 4096);
      }),
      { numRuns: 500 },
    );
  });
});
