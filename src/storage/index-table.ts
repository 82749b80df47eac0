/**
 * Secondary indexes, kept in LevelDB beside the state and written in the same
 * batch as the block that causes them. Keys are 'I', a one-byte index name,
 * then its parts; ids never contain 0x00, so 0x00 separates them and prefix
 * scans are exact. Values are empty unless noted.
 *
 *   'd' dept 0 resource            resources by owner department
 *   'r' resource 0 u64(index)      records about a resource (versions, retire), value: kind
 *   'G' resource 0 grant           grants by resource
 *   'c' consumer 0 grant           grants by consumer
 *   's' scenario 0 grant           grants by scenario
 *   'p' provider 0 request         need-list requests by provider
 *   'g' grant 0 u64(index)         access logs by grant
 *   'k' kind 0 u64(time) u64(index)  records by kind and block time (all kinds but access.log,
 *                                  which are found by grant, or by block time through the blocks)
 */
import { concatBytes, utf8 } from '../crypto/bytes.js';
import { readU64, writeU64 } from '../encoding/u64.js';
import type { IndexEntry } from '../policy/entities.js';

export const INDEX_TABLE = 0x49; // 'I'

/** The key prefix for all entries of `name` whose leading parts are `parts` (each string part closed by 0x00). */
export function indexPrefix(name: string, ...parts: string[]): Uint8Array {
  const pieces: Uint8Array[] = [Uint8Array.of(INDEX_TABLE, name.charCodeAt(0))];
  for (const p of parts) pieces.push(utf8(p), Uint8Array.of(0));
  return concatBytes(...pieces);
}

export function indexKey(e: IndexEntry): Uint8Array {
  // Sized first and written in place: every record adds a key, and the pieces
  // and their concatenation were much of the write path's garbage.
  // ASCII parts (ids nearly always are) are written char by char; others go through UTF-8.
  const parts = e.parts as ReadonlyArray<string | number>;
  const last = parts.length - 1;
  // The UTF-8 of the non-ASCII parts, by position (made once; none for an all-ASCII key).
  let encoded: Array<Uint8Array | undefined> | undefined;
  let length = 2;
  for (let i = 0; i <= last; i++) {
    const p = parts[i]!;
    if (typeof p === 'number') {
      length += 8;
      continue;
    }
    let bytes = p.length;
    if (!isAscii(p)) {
      encoded ??= [];
      encoded[i] = utf8(p);
      bytes = encoded[i]!.length;
    }
    // A string part is followed by 0x00 unless it is the last part.
    length += bytes + (i < last ? 1 : 0);
  }
  const key = new Uint8Array(length);
  key[0] = INDEX_TABLE;
  key[1] = e.name.charCodeAt(0);
  let at = 2;
  for (let i = 0; i <= last; i++) {
    const p = parts[i]!;
    if (typeof p === 'number') {
      writeU64(key, at, p);
      at += 8;
      continue;
    }
    const bytes = encoded?.[i];
    if (bytes === undefined) for (let c = 0; c < p.length; c++) key[at + c] = p.charCodeAt(c);
    else key.set(bytes, at);
    at += (bytes === undefined ? p.length : bytes.length) + (i < last ? 1 : 0);
  }
  return key;
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** The value of every index entry that has none; LevelDB only reads what it is given. */
const EMPTY = new Uint8Array(0);

export function indexValue(e: IndexEntry): Uint8Array {
  return e.name === 'r' ? utf8(e.kind) : EMPTY;
}

/** Reads the trailing u64 of an index key (record index, for 'r', 'g', 'k'). */
export function trailingNumber(key: Uint8Array): number {
  return readU64(key, key.length - 8);
}

/** Reads the trailing string part of an index key (for 'd', 'G', 'c', 's', 'p'). */
export function trailingId(key: Uint8Array, prefixLength: number): string {
  return new TextDecoder().decode(key.subarray(prefixLength));
}
