/**
 * The state and index tables' keys and values in the ledger's LevelDB: every
 * entity under 'T' + type code + id, every accepted record's leaf under
 * 'T' 'l' + 16 bytes of its hash (replay protection).
 */
import { concatBytes, utf8 } from '../crypto/bytes.js';
import { pack, unpackStrict } from '../encoding/msgpack.js';
import { type EntityType, type EntityTypes, entityFromArray, entityToArray } from '../policy/entities.js';

export const STATE_TABLE = 0x54; // 'T'
const TYPE_CODE: Record<EntityType, number> = {
  member: 0x6d,
  resource: 0x72,
  scenario: 0x73,
  request: 0x71,
  grant: 0x67,
};
/** 'T' 'l' + first 16 bytes of a leaf hash → u64 index of the record: every accepted record, once. */
export const LEAF_CODE = 0x6c;
const LEAF_KEY_BYTES = 16;

export function leafKey(leafHash: Uint8Array): Uint8Array {
  return leafKeyOf(leafHash);
}

/**
 * A staged leaf's Map key: its key bytes one char each. Hex strings built a
 * char pair at a time, and parsed back for the write, were ~4 KB of garbage
 * per record on the single-record ingest path (allocation profile).
 */
export function leafId(h: Uint8Array): string {
  // One call, one string: appending a char at a time made 16 intermediate strings per lookup.
  return String.fromCharCode(
    h[0]!,
    h[1]!,
    h[2]!,
    h[3]!,
    h[4]!,
    h[5]!,
    h[6]!,
    h[7]!,
    h[8]!,
    h[9]!,
    h[10]!,
    h[11]!,
    h[12]!,
    h[13]!,
    h[14]!,
    h[15]!,
  );
}

/** The stored key of a leaf, from its hash or from its `leafId`. */
export function leafKeyOf(source: Uint8Array | string): Uint8Array {
  const key = new Uint8Array(2 + LEAF_KEY_BYTES);
  key[0] = STATE_TABLE;
  key[1] = LEAF_CODE;
  for (let i = 0; i < LEAF_KEY_BYTES; i++)
    key[2 + i] = typeof source === 'string' ? source.charCodeAt(i) : source[i]!;
  return key;
}

export function entityKey(type: EntityType, id: string): Uint8Array {
  return concatBytes(Uint8Array.of(STATE_TABLE, TYPE_CODE[type]), utf8(id));
}

export function entityPrefix(type: EntityType): Uint8Array {
  return Uint8Array.of(STATE_TABLE, TYPE_CODE[type]);
}

export function encodeEntity<T extends EntityType>(type: T, e: EntityTypes[T]): Uint8Array {
  return pack(entityToArray(type, e));
}

export function decodeEntity<T extends EntityType>(type: T, bytes: Uint8Array): EntityTypes[T] {
  return entityFromArray(type, unpackStrict(bytes, `stored ${type}`) as unknown[]);
}
