/**
 * Splits a byte stream into lines at 0x0a, holding at most one line of at most
 * `maxBytes` at a time: a longer line is dropped as soon as it passes the cap
 * and reported by number and length only, so no input (a 200 MB line, a
 * 5 GiB file) is ever held whole. Bytes, not text, so a chunk boundary inside
 * a UTF-8 character is harmless and the cap is what memory actually pays.
 */
import { concatBytes } from '../cli-api.js';

/**
 * One line, without its "\n", numbered from 1. A line wholly inside one chunk is
 * a view of that chunk: use it before the chunk's memory is reused.
 */
export interface Line {
  readonly number: number;
  readonly bytes: Uint8Array;
}

/** A line longer than the cap: only how long it was is kept. */
export interface LongLine {
  readonly number: number;
  readonly tooLarge: true;
  readonly length: number;
}

export type SplitLine = Line | LongLine;

export const isLongLine = (l: SplitLine): l is LongLine => 'tooLarge' in l;

const NEWLINE = 0x0a;

export class LineSplitter {
  readonly #maxBytes: number;
  /** The current line so far, while it is within the cap. */
  #pieces: Uint8Array[] = [];
  #length = 0;
  /** Past the cap: counting bytes to the next newline, keeping none. */
  #skipping = false;
  #number = 1;

  constructor(maxBytes: number) {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0)
      throw new RangeError(`maxBytes must be a non-negative integer, got ${maxBytes}`);
    this.#maxBytes = maxBytes;
  }

  /** The lines that `chunk` completes, in order. */
  push(chunk: Uint8Array): SplitLine[] {
    const out: SplitLine[] = [];
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(NEWLINE, start);
      if (nl < 0) {
        this.#take(chunk.subarray(start), true);
        return out;
      }
      this.#take(chunk.subarray(start, nl), false);
      out.push(this.#finish());
      start = nl + 1;
    }
  }

  /** The last line, when the input does not end with "\n" (as `split('\n')` keeps it). */
  end(): SplitLine[] {
    return this.#length > 0 ? [this.#finish()] : [];
  }

  /** `outlivesChunk`: the line goes on in the next chunk, and the caller may reuse this one. */
  #take(piece: Uint8Array, outlivesChunk: boolean): void {
    if (piece.length === 0) return;
    this.#length += piece.length;
    if (this.#skipping) return;
    if (this.#length > this.#maxBytes) {
      this.#skipping = true;
      this.#pieces = [];
    } else {
      // new Uint8Array(view) copies; a Buffer's slice() would not.
      this.#pieces.push(outlivesChunk ? new Uint8Array(piece) : piece);
    }
  }

  #finish(): SplitLine {
    const number = this.#number++;
    const length = this.#length;
    const long = this.#skipping;
    const pieces = this.#pieces;
    this.#pieces = [];
    this.#length = 0;
    this.#skipping = false;
    if (long) return { number, tooLarge: true, length };
    // A line inside one chunk is a view of it: no copy.
    return { number, bytes: pieces.length === 1 ? pieces[0]! : concatBytes(...pieces) };
  }
}
