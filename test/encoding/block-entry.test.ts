import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nodeSigner } from '../../src/crypto/node-crypto.js';
import {
  type BlockEntry,
  decodeBlockEntry,
  encodeBlockEntry,
  isBlockEntry,
} from '../../src/encoding/block-entry.js';
import { decodeEvent, encodeEvent, isEventEntry } from '../../src/encoding/event.js';
import { pack } from '../../src/encoding/msgpack.js';
import { decodeRecord, signRecord } from '../../src/encoding/record.js';
import { isDirchainError } from '../../src/errors.js';

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return isDirchainError(e) ? e.code : `not a DirchainError: ${String(e)}`;
  }
  return undefined;
}

const ZERO = new Uint8Array(32);
const hash = (fill: number) => new Uint8Array(32).fill(fill);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** A block entry as plain data, for comparing (bytes as hex). */
const plain = (b: BlockEntry) => ({
  height: b.height,
  time: b.time,
  prev: hex(b.prev),
  state: b.state === null ? null : hex(b.state),
});

const blockEntryArb: fc.Arbitrary<BlockEntry> = fc.record({
  height: fc.oneof(fc.nat(300), fc.maxSafeNat()),
  time: fc.oneof(fc.constantFrom(0, 1_796_661_566_313), fc.maxSafeNat()),
  prev: fc.uint8Array({ minLength: 32, maxLength: 32 }),
  state: fc.option(fc.uint8Array({ minLength: 32, maxLength: 32 }), { nil: null }),
});

/** Bytes joined: numbers are single bytes. */
const bytes = (...parts: Array<number | Uint8Array | readonly number[]>) =>
  Uint8Array.from(parts.flatMap((p) => (typeof p === 'number' ? [p] : [...p])));

describe('the block entry [1, height, time, prev, state]', () => {
  it('has one fixed encoding (a known answer: block 0 at time 0, no state)', () => {
    const e = encodeBlockEntry({ height: 0, time: 0, prev: ZERO, state: null });
    expect(hex(e)).toBe(hex(bytes(0x95, 0x01, 0x00, 0x00, 0xc4, 0x20, ZERO, 0xc0)));
    expect(plain(decodeBlockEntry(e))).toEqual({ height: 0, time: 0, prev: hex(ZERO), state: null });
  });

  it('round-trips every valid block entry, and is told apart by isBlockEntry', () => {
    fc.assert(
      fc.property(blockEntryArb, (b) => {
        const e = encodeBlockEntry(b);
        expect(isBlockEntry(e)).toBe(true);
        expect(isEventEntry(e)).toBe(false);
        expect(plain(decodeBlockEntry(e))).toEqual(plain(b));
        // It is what a plain MessagePack encoder writes for the array, byte for byte.
        expect(hex(e)).toBe(hex(pack([1, b.height, b.time, b.prev, b.state])));
        expect(hex(encodeBlockEntry(decodeBlockEntry(e)))).toBe(hex(e));
      }),
    );
  });

  it('refuses to encode what it could not decode', () => {
    const good: BlockEntry = { height: 1, time: 2, prev: ZERO, state: null };
    for (const bad of [
      { ...good, height: -1 },
      { ...good, height: 1.5 },
      { ...good, height: 2 ** 53 },
      { ...good, time: -1 },
      { ...good, time: Number.NaN },
      { ...good, prev: new Uint8Array(31) },
      { ...good, prev: new Uint8Array(33) },
      { ...good, state: new Uint8Array(31) },
      { ...good, prev: 'x'.repeat(32) as unknown as Uint8Array },
    ])
      expect(
        codeOf(() => encodeBlockEntry(bad)),
        JSON.stringify(plain(bad as BlockEntry)),
      ).toBe('E_INVALID_ARGUMENT');
  });

  describe('decodes strictly: anything but the canonical five fields is E_DECODE', () => {
    const prev = hash(1);
    const state = hash(2);
    const valid = bytes(0x95, 0x01, 0x05, 0xcd, 0x03, 0xe8, 0xc4, 0x20, prev, 0xc4, 0x20, state);

    it('accepts the canonical bytes these cases are made from', () => {
      expect(hex(valid)).toBe(hex(encodeBlockEntry({ height: 5, time: 1000, prev, state })));
      expect(plain(decodeBlockEntry(valid))).toEqual({
        height: 5,
        time: 1000,
        prev: hex(prev),
        state: hex(state),
      });
    });

    it.each([
      // Non-canonical integers and lengths.
      [
        'height 5 as uint8',
        bytes(0x95, 0x01, 0xcc, 0x05, 0xcd, 0x03, 0xe8, 0xc4, 0x20, prev, 0xc4, 0x20, state),
      ],
      [
        'height 5 as uint32',
        bytes(0x95, 0x01, 0xce, 0, 0, 0, 5, 0xcd, 0x03, 0xe8, 0xc4, 0x20, prev, 0xc4, 0x20, state),
      ],
      [
        'time 1000 as uint32',
        bytes(0x95, 0x01, 0x05, 0xce, 0, 0, 0x03, 0xe8, 0xc4, 0x20, prev, 0xc4, 0x20, state),
      ],
      [
        'time 1000 as uint64',
        bytes(0x95, 0x01, 0x05, 0xcf, 0, 0, 0, 0, 0, 0, 0x03, 0xe8, 0xc4, 0x20, prev, 0xc4, 0x20, state),
      ],
      [
        'time 1000 as float64',
        bytes(0x95, 0x01, 0x05, 0xcb, 0x40, 0x8f, 0x40, 0, 0, 0, 0, 0, 0xc4, 0x20, prev, 0xc4, 0x20, state),
      ],
      [
        'prev behind a bin 16 header',
        bytes(0x95, 0x01, 0x05, 0xcd, 0x03, 0xe8, 0xc5, 0x00, 0x20, prev, 0xc4, 0x20, state),
      ],
      [
        'the array behind an array 16 header',
        bytes(0xdc, 0x00, 0x05, 0x01, 0x05, 0xcd, 0x03, 0xe8, 0xc4, 0x20, prev, 0xc4, 0x20, state),
      ],
      // Wrong field values.
      [
        'prev of 31 bytes',
        bytes(0x95, 0x01, 0x05, 0xcd, 0x03, 0xe8, 0xc4, 0x1f, prev.subarray(1), 0xc4, 0x20, state),
      ],
      [
        'prev of 33 bytes',
        bytes(0x95, 0x01, 0x05, 0xcd, 0x03, 0xe8, 0xc4, 0x21, prev, 0x00, 0xc4, 0x20, state),
      ],
      ['prev as a string', bytes(0x95, 0x01, 0x05, 0xcd, 0x03, 0xe8, 0xd9, 0x20, prev, 0xc4, 0x20, state)],
      ['prev nil', bytes(0x95, 0x01, 0x05, 0xcd, 0x03, 0xe8, 0xc0, 0xc4, 0x20, state)],
      [
        'state of 31 bytes',
        bytes(0x95, 0x01, 0x05, 0xcd, 0x03, 0xe8, 0xc4, 0x20, prev, 0xc4, 0x1f, state.subarray(1)),
      ],
      ['state false', bytes(0x95, 0x01, 0x05, 0xcd, 0x03, 0xe8, 0xc4, 0x20, prev, 0xc2)],
      ['a negative height', bytes(0x95, 0x01, 0xff, 0xcd, 0x03, 0xe8, 0xc4, 0x20, prev, 0xc4, 0x20, state)],
      [
        'a height of 1.5',
        bytes(0x95, 0x01, 0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 0xcd, 0x03, 0xe8, 0xc4, 0x20, prev, 0xc0),
      ],
      ['a time of 0.5', bytes(0x95, 0x01, 0x05, 0xcb, 0x3f, 0xe0, 0, 0, 0, 0, 0, 0, 0xc4, 0x20, prev, 0xc0)],
      ['a height as a string', bytes(0x95, 0x01, 0xa1, 0x35, 0xcd, 0x03, 0xe8, 0xc4, 0x20, prev, 0xc0)],
      // Wrong shape.
      [
        'an extra field',
        bytes(0x96, 0x01, 0x05, 0xcd, 0x03, 0xe8, 0xc4, 0x20, prev, 0xc4, 0x20, state, 0xc0),
      ],
      ['a field missing', bytes(0x94, 0x01, 0x05, 0xcd, 0x03, 0xe8, 0xc4, 0x20, prev)],
      ['a byte after the array', bytes(valid, 0xc0)],
      ['the bytes cut short', valid.subarray(0, valid.length - 1)],
      ['tag 2', bytes(0x95, 0x02, 0x05, 0xcd, 0x03, 0xe8, 0xc4, 0x20, prev, 0xc4, 0x20, state)],
      ['tag 0 (an event’s)', bytes(0x95, 0x00, 0x05, 0xcd, 0x03, 0xe8, 0xc4, 0x20, prev, 0xc4, 0x20, state)],
      ['tag true', bytes(0x95, 0xc3, 0x05, 0xcd, 0x03, 0xe8, 0xc4, 0x20, prev, 0xc4, 0x20, state)],
      ['no bytes', new Uint8Array(0)],
    ])('refuses %s', (_, b) => {
      expect(codeOf(() => decodeBlockEntry(b))).toBe('E_DECODE');
    });
  });

  it('is told apart from an event and from a record, each refused by the others’ decoders', () => {
    const blockEntry = encodeBlockEntry({ height: 7, time: 1_796_661_566_313, prev: hash(3), state: null });
    const event = encodeEvent(1, { a: 1 });
    const record = signRecord(
      {
        origin: 'dirchain.example.gov/city',
        kind: 'x.test',
        author: 'health',
        keyId: 0,
        timestamp: 1_796_661_566_313,
        body: { n: 1 },
      },
      nodeSigner(new Uint8Array(32).fill(7)),
    ).bytes;
    expect([isBlockEntry(blockEntry), isEventEntry(blockEntry)]).toEqual([true, false]);
    expect([isBlockEntry(event), isEventEntry(event)]).toEqual([false, true]);
    expect([isBlockEntry(record), isEventEntry(record)]).toEqual([false, false]);
    // An event of five elements has tag 0 where a block entry has 1.
    expect(isBlockEntry(pack([0, 1, 2, ZERO, null]))).toBe(false);
    expect(codeOf(() => decodeBlockEntry(event))).toBe('E_DECODE');
    expect(codeOf(() => decodeBlockEntry(record))).toBe('E_DECODE');
    expect(codeOf(() => decodeEvent(blockEntry))).toBe('E_DECODE');
    expect(codeOf(() => decodeRecord(blockEntry))).toBe('E_DECODE');
    for (const notBytes of [undefined, null, 'x', [0x95, 0x01], {}] as unknown[])
      expect(isBlockEntry(notBytes as Uint8Array)).toBe(false);
  });

  it('any single changed byte fails to decode or decodes to different fields', () => {
    fc.assert(
      fc.property(blockEntryArb, fc.nat(), fc.integer({ min: 1, max: 255 }), (b, at, xor) => {
        const e = encodeBlockEntry(b);
        const changed = e.slice();
        changed[at % e.length]! ^= xor;
        let got: BlockEntry;
        try {
          got = decodeBlockEntry(changed);
        } catch {
          // E_SCHEMA where the shared canonical walk meets what is no plain data
          // (an extension type, a non-finite float), as for records and events.
          expect(['E_DECODE', 'E_SCHEMA']).toContain(codeOf(() => decodeBlockEntry(changed)));
          return true;
        }
        expect(plain(got)).not.toEqual(plain(b));
        // What decodes is canonical: those are exactly its bytes.
        expect(hex(encodeBlockEntry(got))).toBe(hex(changed));
        return true;
      }),
      { numRuns: 2000 },
    );
  });
});
