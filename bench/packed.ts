/**
 * Many byte strings held in a few large buffers, indexed by typed arrays.
 *
 * Why: the benchmarks pre-generate up to a million records. Held as one
 * Uint8Array per record (plus a body object each), the bench's own heap had
 * V8 doing 130–290 ms Mark-Compact pauses in the middle of the timed ledger
 * runs, which a real sequencer (that does not hold its input in memory) never
 * pays. Here the heap holds a handful of 32 MiB buffers and three typed
 * arrays, whatever the count: nothing for the collector to trace.
 *
 * `at(i)` returns a fresh view each call: views are meant to be short-lived
 * (made when the record is handed to the code under test, like a network
 * buffer would be).
 */

const DEFAULT_CHUNK = 32 * 1024 * 1024;
const INITIAL_CAPACITY = 1024;

export class PackedBytes {
  readonly #chunkBytes: number;
  readonly #chunks: Uint8Array[] = [];
  /** Free space starts here in the last chunk. */
  #fill = 0;
  #chunkOf = new Uint32Array(INITIAL_CAPACITY);
  #offset = new Uint32Array(INITIAL_CAPACITY);
  #length = new Uint32Array(INITIAL_CAPACITY);
  #count = 0;
  #totalBytes = 0;

  /** `chunkBytes`: size of each backing buffer (a longer string gets a buffer of its own). */
  constructor(chunkBytes = DEFAULT_CHUNK) {
    if (!Number.isSafeInteger(chunkBytes) || chunkBytes < 1)
      throw new Error('PackedBytes: chunkBytes must be a positive integer');
    this.#chunkBytes = chunkBytes;
  }

  /** Number of byte strings held. */
  get count(): number {
    return this.#count;
  }

  /** Sum of their lengths. */
  get totalBytes(): number {
    return this.#totalBytes;
  }

  /** Copies `bytes` in; returns its index. */
  push(bytes: Uint8Array): number {
    const i = this.#count;
    if (i === this.#length.length) this.#grow();
    const n = bytes.length;
    let last = this.#chunks[this.#chunks.length - 1];
    if (last === undefined || this.#fill + n > last.length) {
      last = new Uint8Array(Math.max(this.#chunkBytes, n));
      this.#chunks.push(last);
      this.#fill = 0;
    }
    last.set(bytes, this.#fill);
    this.#chunkOf[i] = this.#chunks.length - 1;
    this.#offset[i] = this.#fill;
    this.#length[i] = n;
    this.#fill += n;
    this.#count = i + 1;
    this.#totalBytes += n;
    return i;
  }

  /** A new view of string `i` (no copy). */
  at(i: number): Uint8Array {
    if (!(i >= 0 && i < this.#count))
      throw new RangeError(`PackedBytes: index ${i} out of 0..${this.#count - 1}`);
    const o = this.#offset[i]!;
    return this.#chunks[this.#chunkOf[i]!]!.subarray(o, o + this.#length[i]!);
  }

  lengthOf(i: number): number {
    if (!(i >= 0 && i < this.#count))
      throw new RangeError(`PackedBytes: index ${i} out of 0..${this.#count - 1}`);
    return this.#length[i]!;
  }

  /** Sum of the lengths of strings `from` .. `to - 1`. */
  bytesIn(from: number, to: number): number {
    if (from === 0 && to === this.#count) return this.#totalBytes;
    let total = 0;
    for (let i = from; i < to; i++) total += this.#length[i]!;
    return total;
  }

  /** Fresh views of strings `from` .. `to - 1`, in a new array (the caller's batch). */
  views(from: number, to: number): Uint8Array[] {
    const out: Uint8Array[] = new Array(to - from);
    for (let i = from; i < to; i++) out[i - from] = this.at(i);
    return out;
  }

  #grow(): void {
    const cap = this.#length.length * 2;
    const grown = (a: Uint32Array<ArrayBuffer>): Uint32Array<ArrayBuffer> => {
      const b = new Uint32Array(cap);
      b.set(a);
      return b;
    };
    this.#chunkOf = grown(this.#chunkOf);
    this.#offset = grown(this.#offset);
    this.#length = grown(this.#length);
  }
}
