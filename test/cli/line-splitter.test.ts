import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isLongLine, LineSplitter, type SplitLine } from '../../src/cli/line-splitter.js';

const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString('latin1');

/** What the splitter must produce: `split('\n')` without the empty piece after a final "\n". */
function expected(input: string, maxBytes: number): Array<string | { long: number }> {
  const lines = input.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines.map((l) => (l.length > maxBytes ? { long: l.length } : l));
}

function actual(lines: readonly SplitLine[]): Array<string | { long: number }> {
  lines.forEach((l, i) => {
    expect(l.number).toBe(i + 1);
  });
  return lines.map((l) => (isLongLine(l) ? { long: l.length } : text(l.bytes)));
}

/** `input` cut at the given offsets (sorted, deduplicated; empty chunks kept). */
function chunked(input: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const at = [...cuts.map((c) => c % (input.length + 1))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const c of [...at, input.length]) {
    out.push(input.subarray(prev, c));
    prev = c;
  }
  return out;
}

function splitAll(chunks: readonly Uint8Array[], maxBytes: number): SplitLine[] {
  const s = new LineSplitter(maxBytes);
  return [...chunks.flatMap((c) => s.push(c)), ...s.end()];
}

describe('LineSplitter', () => {
  it('gives split("\\n") for any input cut into any chunks, and names each over-cap line by number', () => {
    // Few distinct bytes, so newlines, empty lines and long lines are all common.
    const input = fc
      .array(fc.constantFrom(0x0a, 0x61, 0x62, 0x0d, 0xe2, 0x80, 0xa6), { maxLength: 300 })
      .map((a) => Uint8Array.from(a));
    fc.assert(
      fc.property(input, fc.array(fc.nat(), { maxLength: 20 }), fc.nat(40), (bytes, cuts, maxBytes) => {
        const lines = splitAll(chunked(bytes, cuts), maxBytes);
        expect(actual(lines)).toEqual(expected(text(bytes), maxBytes));
      }),
      { numRuns: 2000 },
    );
  });

  it('does not keep a line once it passes the cap, however long it grows', () => {
    const s = new LineSplitter(4);
    const chunk = new Uint8Array(1 << 20).fill(0x61);
    for (let i = 0; i < 64; i++) expect(s.push(chunk)).toEqual([]);
    const out = s.push(Uint8Array.from([0x0a, 0x7b, 0x7d, 0x0a]));
    expect(out).toEqual([
      { number: 1, tooLarge: true, length: 64 << 20 },
      { number: 2, bytes: Uint8Array.from([0x7b, 0x7d]) },
    ]);
  });

  it('gives the last line without its "\\n", and no empty line after a final "\\n"', () => {
    const s = new LineSplitter(10);
    expect(
      actual([...s.push(Buffer.from('{"a":1}\n{"b"')), ...s.push(Buffer.from(':2}\n\nlast')), ...s.end()]),
    ).toEqual(['{"a":1}', '{"b":2}', '', 'last']);
    const t = new LineSplitter(10);
    expect(actual([...t.push(Buffer.from('x\n')), ...t.end()])).toEqual(['x']);
  });

  it('keeps a line exactly at the cap and refuses one byte more', () => {
    const s = new LineSplitter(3);
    const lines = s.push(Buffer.from('abc\nabcd\n'));
    expect(actual(lines)).toEqual(['abc', { long: 4 }]);
  });

  it('copies the start of a line that goes on in the next chunk (the caller may reuse its buffer)', () => {
    const s = new LineSplitter(100);
    const buffer = Buffer.from('xy');
    expect(s.push(buffer)).toEqual([]);
    buffer.write('zz');
    expect(actual(s.push(Buffer.from('w\n')))).toEqual(['xyw']);
  });
});
