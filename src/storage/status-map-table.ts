/**
 * The status map's nodes (src/state/map.ts) in LevelDB, two tables:
 *
 *   'V' + position            the node at that position now (what the next
 *                             block's update reads, synchronously)
 *   'W' + position + height   the node written at that position by block
 *                             `height` (8 bytes, big-endian): every version
 *                             kept, so a proof at any past block boundary
 *                             reads the newest version at or below its height
 *
 * A position is its depth byte and the first bytes of the path (map.ts
 * `position`); its length follows from its first byte, so 'W' keys of one
 * position sort by height. A node is one byte of kind, then the leaf's key,
 * value hash and status value (0x00, 64 bytes and the value) or the inner
 * node's hash (0x01, 32 bytes). A 'V' value is the node followed by the
 * height that wrote it (8 bytes, big-endian): a read at a past height takes
 * it as is when it is no newer, and scans the history only for the positions
 * changed since. Positions are never removed (map.ts), so a position with no
 * 'V' node held nothing at any height.
 * Both tables are written in the block's own LevelDB batch.
 */
import { readU64, writeU64 } from '../encoding/u64.js';
import { ErrorCode, fail } from '../errors.js';
import type { MapNode, MapReader } from '../state/map.js';

export const MAP_TABLE = 0x56; // 'V'
export const MAP_HISTORY_TABLE = 0x57; // 'W'

const LEAF = 0x00;
const INNER = 0x01;

export function mapNodeKey(pos: Uint8Array): Uint8Array {
  const key = new Uint8Array(1 + pos.length);
  key[0] = MAP_TABLE;
  key.set(pos, 1);
  return key;
}

export function mapHistoryKey(pos: Uint8Array, height: number): Uint8Array {
  const key = new Uint8Array(1 + pos.length + 8);
  key[0] = MAP_HISTORY_TABLE;
  key.set(pos, 1);
  writeU64(key, 1 + pos.length, height);
  return key;
}

/** The height a 'W' key was written at, if it is a key of `pos`. */
export function historyHeightOf(key: Uint8Array, pos: Uint8Array): number | undefined {
  if (key.length !== 1 + pos.length + 8 || key[0] !== MAP_HISTORY_TABLE) return undefined;
  for (let i = 0; i < pos.length; i++) if (key[1 + i] !== pos[i]) return undefined;
  return readU64(key, 1 + pos.length);
}

export function encodeMapNode(node: MapNode): Uint8Array {
  if (node.kind === 'leaf') {
    const out = new Uint8Array(65 + (node.data?.length ?? 0));
    out[0] = LEAF;
    out.set(node.key, 1);
    out.set(node.value, 33);
    if (node.data !== undefined) out.set(node.data, 65);
    return out;
  }
  const out = new Uint8Array(33);
  out[0] = INNER;
  out.set(node.hash, 1);
  return out;
}

export function decodeMapNode(bytes: Uint8Array): MapNode {
  if (bytes.length >= 65 && bytes[0] === LEAF) {
    const key = Uint8Array.from(bytes.subarray(1, 33));
    const value = Uint8Array.from(bytes.subarray(33, 65));
    if (bytes.length === 65) return { kind: 'leaf', key, value };
    return { kind: 'leaf', key, value, data: Uint8Array.from(bytes.subarray(65)) };
  }
  // Copies into plain Uint8Arrays (LevelDB may hand out Buffers over a shared pool).
  if (bytes.length === 33 && bytes[0] === INNER)
    return { kind: 'inner', hash: Uint8Array.from(bytes.subarray(1)) };
  return fail(
    ErrorCode.LEDGER_CORRUPT,
    `a stored status map node has ${bytes.length} bytes of kind ${bytes[0]}`,
  );
}

/** The puts of the nodes block `height` writes: the current table and the history, one pair each. */
export function mapNodeWrites(
  writes: ReadonlyArray<readonly [Uint8Array, MapNode]>,
  height: number,
): Array<[Uint8Array, Uint8Array]> {
  const out: Array<[Uint8Array, Uint8Array]> = [];
  for (const [pos, node] of writes) {
    const value = encodeMapNode(node);
    const current = new Uint8Array(value.length + 8);
    current.set(value);
    writeU64(current, value.length, height);
    out.push([mapNodeKey(pos), current], [mapHistoryKey(pos, height), value]);
  }
  return out;
}

/** A 'V' value: the node and the height of the block that wrote it. */
export function decodeCurrentNode(bytes: Uint8Array): { node: MapNode; height: number } {
  if (bytes.length < 9) fail(ErrorCode.LEDGER_CORRUPT, `a stored status map node has ${bytes.length} bytes`);
  return {
    node: decodeMapNode(bytes.subarray(0, bytes.length - 8)),
    height: readU64(bytes, bytes.length - 8),
  };
}

/** The current map, read through a synchronous raw get (LevelDB's getSync on a node). */
export function currentMapReader(get: (key: Uint8Array) => Uint8Array | undefined): MapReader {
  return (pos) => {
    const v = get(mapNodeKey(pos));
    return v === undefined ? undefined : decodeCurrentNode(v).node;
  };
}

/** What the history reads need of the store: a prefix scan and, to skip it where it can, a synchronous raw get (LedgerStore's). */
export interface HistoryScan {
  getRaw?(key: Uint8Array): Uint8Array | undefined;
  scan(
    prefix: Uint8Array,
    options: { after?: Uint8Array; limit?: number; reverse?: boolean },
  ): AsyncGenerator<[Uint8Array, Uint8Array]>;
}

/**
 * The node at `pos` as block `height` left it: the newest version written at
 * or below that height. The current node answers when it is no newer than
 * `height` (what most reads near the head find); the history is scanned for
 * the others. Reads of one height agree even while later blocks are written.
 */
export async function mapNodeAt(
  store: HistoryScan,
  pos: Uint8Array,
  height: number,
): Promise<MapNode | undefined> {
  if (store.getRaw !== undefined) {
    const now = store.getRaw(mapNodeKey(pos));
    if (now === undefined) return undefined;
    const current = decodeCurrentNode(now);
    if (current.height <= height) return current.node;
  }
  const prefix = new Uint8Array(1 + pos.length);
  prefix[0] = MAP_HISTORY_TABLE;
  prefix.set(pos, 1);
  for await (const [k, v] of store.scan(prefix, {
    after: mapHistoryKey(pos, height + 1),
    reverse: true,
    limit: 1,
  })) {
    if (historyHeightOf(k, pos) !== undefined) return decodeMapNode(v);
  }
  return undefined;
}
