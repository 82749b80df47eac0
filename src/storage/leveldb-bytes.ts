/**
 * Reading LevelDB's files as bytes that may be damaged (leveldb-files.ts says
 * why they are checked): the bounds-checked varint reader the formats share,
 * and `FileDamage`, what a check found wrong.
 */

/** What a check found wrong, in words a person can act on, and where. */
export class FileDamage extends Error {
  constructor(
    readonly file: string,
    readonly detail: string,
    /** The user keys around the damage, when known (the data block's key range). */
    readonly keys: { readonly after?: Uint8Array; readonly upTo?: Uint8Array } = {},
  ) {
    super(`${file}: ${detail}`);
    this.name = 'FileDamage';
  }
}

/** A varint reader over bytes that may be damaged: every read is bounds-checked. */
export class Reader {
  pos: number;
  constructor(
    readonly bytes: Uint8Array,
    start = 0,
    readonly end = bytes.length,
  ) {
    this.pos = start;
  }
  get done(): boolean {
    return this.pos >= this.end;
  }
  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new Error('a number runs past its end');
      const b = this.bytes[this.pos++]!;
      value += (b & 0x7f) * scale;
      if (b < 0x80) return value;
      scale *= 128;
    }
    throw new Error('a number is longer than 10 bytes');
  }
  slice(): Uint8Array {
    const n = this.varint();
    if (this.pos + n > this.end) throw new Error('a length runs past its end');
    this.pos += n;
    return this.bytes.subarray(this.pos - n, this.pos);
  }
}

/** The little-endian uint32 at `at` (CRCs, restart counts). */
export const u32 = (b: Uint8Array, at: number): number =>
  (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;

/**
 * A missing file is damage; any other read error (too many open files, no
 * memory, permissions) says nothing about the data and is thrown as it is.
 */
export function unreadable(file: string, e: unknown): unknown {
  return (e as NodeJS.ErrnoException).code === 'ENOENT' ? new FileDamage(file, 'is missing') : e;
}
