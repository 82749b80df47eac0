/**
 * Writes src/crypto/sha256x4-wasm.ts: a WebAssembly module that runs four
 * SHA-256 computations at once, one per 32-bit lane of 128-bit SIMD
 * registers (FIPS 180-4 §6.2.2; the rounds unrolled, the schedule in 16
 * rolling locals, the round variables renamed instead of shifted, as in
 * sha256-rounds.gen.ts).
 *
 * Why: node's crypto.hash costs ~0.95 µs per call whatever the input (the
 * call, not the hashing: SHA-NI hashes 180 bytes in ~0.1 µs), and the
 * plain-JS compression ~0.45 µs per block. The ledger hashes every event's
 * leaf twice over (the batch's root on an admission worker, then the log's
 * tree) and one interior node per entry: measured in bench/README, hashing
 * was the largest share of a batched event's CPU after the seal's signature.
 *
 * Why generated, as bytes: the module is ~4,000 instructions of straight-line
 * rounds, which 150 lines produce; emitting the binary format directly needs
 * no assembler. The test beside this file checks the committed output is
 * exactly what this produces; sha256x4.test.ts checks the hashes against
 * node's SHA-256 and the shared vectors.
 *
 * The exported function `hash4(desc, blocks)` reads at `desc` four lane
 * pointers (i32) and four block counts (i32), hashes lane i's padded message
 * of count_i 64-byte blocks starting at pointer_i (a lane whose count is
 * spent keeps its state; its reads past the end are ignored), and writes the
 * four digests, big-endian, at desc + 32. `blocks` is the largest count.
 *
 * Regenerate: `UPDATE_ROUNDS=1 npx vitest run test/crypto/sha256x4.test.ts`.
 */

import { K } from './sha256-rounds.gen.js';

const IV = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

/** Memory in 64 KiB pages: sha256x4.ts lays out four messages of at most a few hundred bytes. */
const INITIAL_PAGES = 1;

const uleb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
};
const sleb = (n: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) return [...out, byte];
    out.push(byte | 0x80);
  }
};
const name = (s: string): number[] => [...uleb(s.length), ...Buffer.from(s, 'utf8')];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];

// Opcodes (core and SIMD).
const localGet = (i: number): number[] => [0x20, ...uleb(i)];
const localSet = (i: number): number[] => [0x21, ...uleb(i)];
const i32Const = (n: number): number[] => [0x41, ...sleb(n | 0)];
const simd = (op: number): number[] => [0xfd, ...uleb(op)];
const I32_LOAD = 0x28;
const I32_ADD = 0x6a;
const I32_LT_U = 0x49;
const V128_LOAD = 0x00;
const V128_CONST = 0x0c;
const I8X16_SWIZZLE = 0x0e;
const I32X4_SPLAT = 0x11;
const I32X4_GT_S = 0x3b;
const V128_OR = 0x50;
const V128_XOR = 0x51;
const V128_BITSELECT = 0x52;
const V128_LOAD32_LANE = 0x56;
const V128_STORE32_LANE = 0x5a;
const I32X4_SHL = 0xab;
const I32X4_SHR_U = 0xad;
const I32X4_ADD = 0xae;
/** A memory argument: alignment exponent, offset. */
const memarg = (align: number, offset: number): number[] => [...uleb(align), ...uleb(offset)];
/** Each 32-bit lane's bytes reversed (big-endian message words). */
const BSWAP = [3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12];

// Locals: params desc (0), blocks (1); i32 pointers p0..p3 (2..5), block index (6);
// v128 state s0..s7 (7..14), working a..h (15..22), schedule w0..w15 (23..38), counts (39), t1 (40).
const DESC = 0;
const BLOCKS = 1;
const P = [2, 3, 4, 5];
const BI = 6;
const S = [7, 8, 9, 10, 11, 12, 13, 14];
const V = [15, 16, 17, 18, 19, 20, 21, 22];
const W = Array.from({ length: 16 }, (_, i) => 23 + i);
const COUNTS = 39;
const T1 = 40;

const splat = (n: number): number[] => [...i32Const(n), ...simd(I32X4_SPLAT)];
const add = (): number[] => simd(I32X4_ADD);
const xor = (): number[] => simd(V128_XOR);
const rotr = (x: number, n: number): number[] => [
  ...localGet(x),
  ...i32Const(n),
  ...simd(I32X4_SHR_U),
  ...localGet(x),
  ...i32Const(32 - n),
  ...simd(I32X4_SHL),
  ...simd(V128_OR),
];
const shr = (x: number, n: number): number[] => [...localGet(x), ...i32Const(n), ...simd(I32X4_SHR_U)];
/** Σ (three rotations) or σ (two rotations and a shift) of local x, xor-ed. */
const sigma = (x: number, [r1, r2, n]: number[], shiftLast: boolean): number[] => [
  ...rotr(x, r1!),
  ...rotr(x, r2!),
  ...xor(),
  ...(shiftLast ? shr(x, n!) : rotr(x, n!)),
  ...xor(),
];

function body(): number[] {
  const code: number[] = [];
  const emit = (...parts: number[][]): void => {
    for (const p of parts) code.push(...p);
  };
  for (let i = 0; i < 4; i++) emit(localGet(DESC), [I32_LOAD], memarg(2, 4 * i), localSet(P[i]!));
  emit(localGet(DESC), simd(V128_LOAD), memarg(0, 16), localSet(COUNTS));
  for (let k = 0; k < 8; k++) emit(splat(IV[k]!), localSet(S[k]!));
  emit(i32Const(0), localSet(BI));
  emit([0x03, 0x40]); // loop (no result)
  // The block's 16 words, lane i from p_i, byte-swapped to big-endian.
  for (let j = 0; j < 16; j++) {
    emit(simd(V128_CONST), new Array(16).fill(0));
    for (let lane = 0; lane < 4; lane++) {
      // load32_lane takes (address, vector): the vector is below the address on the stack.
      emit(localSet(W[j]!), localGet(P[lane]!), localGet(W[j]!), simd(V128_LOAD32_LANE), memarg(0, 4 * j), [
        lane,
      ]);
    }
    emit(simd(V128_CONST), BSWAP, simd(I8X16_SWIZZLE), localSet(W[j]!));
  }
  for (let k = 0; k < 8; k++) emit(localGet(S[k]!), localSet(V[k]!));
  // Round variables by name: [a, b, c, d, e, f, g, h] → local.
  let r = [...V];
  for (let i = 0; i < 64; i++) {
    const w = W[i & 15]!;
    if (i >= 16) {
      // w[i] = σ1(w[i-2]) + w[i-7] + σ0(w[i-15]) + w[i-16]
      emit(
        sigma(W[(i - 2) & 15]!, [17, 19, 10], true),
        localGet(W[(i - 7) & 15]!),
        add(),
        sigma(W[(i - 15) & 15]!, [7, 18, 3], true),
        add(),
        localGet(w),
        add(),
        localSet(w),
      );
    }
    const [a, b, c, d, e, f, g, h] = r as [number, number, number, number, number, number, number, number];
    // T1 = h + Σ1(e) + Ch(e, f, g) + K[i] + w[i]; Ch(e, f, g) = bitselect(f, g, e).
    emit(
      localGet(h),
      sigma(e, [6, 11, 25], false),
      add(),
      localGet(f),
      localGet(g),
      localGet(e),
      simd(V128_BITSELECT),
      add(),
      splat(K[i]!),
      add(),
      localGet(w),
      add(),
      localSet(T1),
    );
    // d += T1; h = T1 + Σ0(a) + Maj(a, b, c); Maj(a, b, c) = bitselect(c, b, a ^ b).
    emit(localGet(d), localGet(T1), add(), localSet(d));
    emit(
      localGet(T1),
      sigma(a, [2, 13, 22], false),
      add(),
      localGet(c),
      localGet(b),
      localGet(a),
      localGet(b),
      xor(),
      simd(V128_BITSELECT),
      add(),
      localSet(h),
    );
    r = [h, a, b, c, d, e, f, g];
  }
  // Add into the state, in the lanes whose message has this block.
  for (let k = 0; k < 8; k++) {
    emit(
      localGet(S[k]!),
      localGet(r[k]!),
      add(),
      localGet(S[k]!),
      localGet(COUNTS),
      localGet(BI),
      simd(I32X4_SPLAT),
      simd(I32X4_GT_S),
      simd(V128_BITSELECT),
      localSet(S[k]!),
    );
  }
  for (let lane = 0; lane < 4; lane++) emit(localGet(P[lane]!), i32Const(64), [I32_ADD], localSet(P[lane]!));
  emit(localGet(BI), i32Const(1), [I32_ADD], localSet(BI));
  emit(localGet(BI), localGet(BLOCKS), [I32_LT_U], [0x0d, 0x00]); // br_if 0: next block
  emit([0x0b]); // end loop
  // Digests out: lane i's eight words at desc + 32 + 32 i, big-endian.
  for (let k = 0; k < 8; k++) {
    emit(localGet(S[k]!), simd(V128_CONST), BSWAP, simd(I8X16_SWIZZLE), localSet(S[k]!));
    for (let lane = 0; lane < 4; lane++) {
      emit(localGet(DESC), localGet(S[k]!), simd(V128_STORE32_LANE), memarg(0, 32 + 32 * lane + 4 * k), [
        lane,
      ]);
    }
  }
  emit([0x0b]); // end function
  return code;
}

/** The module's bytes. */
export function sha256x4Module(): Uint8Array {
  const code = body();
  const locals = [...uleb(2), ...uleb(5), 0x7f, ...uleb(34), 0x7b];
  const func = [...locals, ...code];
  const bytes = [
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, [1, 0x60, 2, 0x7f, 0x7f, 0]), // type: (i32, i32) -> ()
    ...section(3, [1, 0]), // one function of type 0
    ...section(5, [1, 0x00, ...uleb(INITIAL_PAGES)]), // memory, no maximum
    ...section(7, [2, ...name('memory'), 0x02, 0, ...name('hash4'), 0x00, 0]),
    ...section(10, [1, ...uleb(func.length), ...func]),
  ];
  return Uint8Array.from(bytes);
}

/** The TypeScript file holding the module. */
export function generateSha256x4(): string {
  const base64 = Buffer.from(sha256x4Module()).toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < base64.length; i += 100) lines.push(`  '${base64.slice(i, i + 100)}' +`);
  return [
    '// Generated by scripts/sha256x4.gen.ts; do not edit (test/crypto checks this file).',
    '// SHA-256 of four messages at once in WebAssembly SIMD lanes, for sha256x4.ts.',
    '',
    '/** The module, base64. */',
    'export const SHA256X4_WASM =',
    `${lines.join('\n').slice(0, -2)};`,
    '',
  ].join('\n');
}
