/**
 * The verifiable status map: an authenticated map from an entity's
 * (type, id) to a commitment to its status, as a binary prefix tree over
 * 256-bit hashed keys (the key-transparency designs' shape). Pure: nodes come
 * from a reader the caller gives (LevelDB through storage/, or memory).
 *
 *   key(type, id)   = SHA-256(STATE_KEY_CONTEXT ‖ MessagePack [type, id])
 *   value hash      = SHA-256(STATE_VALUE_CONTEXT ‖ value bytes)
 *   leaf            = SHA-256(STATE_LEAF_CONTEXT ‖ key ‖ value hash)
 *   inner           = SHA-256(STATE_INNER_CONTEXT ‖ left ‖ right)
 *   empty branch    = SHA-256(STATE_EMPTY_CONTEXT)
 *
 * Bit d of a key (most significant bit of byte 0 first) chooses the child at
 * depth d: 0 left, 1 right. A key's leaf sits at the shallowest depth where no
 * other key shares its path; a subtree without keys is an empty branch. Keys
 * are never removed (a status that ends is a value, e.g. `revoked`: an
 * explicit tombstone), so a position, once a leaf, only ever becomes an inner
 * node, and positions below a leaf or an empty branch hold nothing.
 *
 * A proof for key k lists the sibling hashes on k's path from the root down to
 * where the path ends: at k's leaf (k is in the map, with this value hash), at
 * an empty branch, or at the leaf of another key sharing k's path so far (k is
 * not in the map). Recomputing the root from the end upward checks it.
 */
import { concatBytes, equalBytes, utf8 } from '../crypto/bytes.js';
import {
  STATE_EMPTY_CONTEXT,
  STATE_INNER_CONTEXT,
  STATE_KEY_CONTEXT,
  STATE_LEAF_CONTEXT,
  STATE_VALUE_CONTEXT,
} from '../crypto/domain.js';
import type { Sha256 } from '../crypto/sha256.js';
import { pack } from '../encoding/msgpack.js';
import { ErrorCode, fail } from '../errors.js';

export const KEY_BYTES = 32;
const HASH = 32;

export interface MapHasher {
  key(type: string, id: string): Uint8Array;
  value(bytes: Uint8Array): Uint8Array;
  leaf(key: Uint8Array, valueHash: Uint8Array): Uint8Array;
  inner(left: Uint8Array, right: Uint8Array): Uint8Array;
  readonly empty: Uint8Array;
}

export function mapHasher(sha256: Sha256): MapHasher {
  const keyPrefix = utf8(STATE_KEY_CONTEXT);
  const valuePrefix = utf8(STATE_VALUE_CONTEXT);
  const leafPrefix = utf8(STATE_LEAF_CONTEXT);
  const innerPrefix = utf8(STATE_INNER_CONTEXT);
  // Leaves and inner nodes hash their context and two hashes: written into one buffer each,
  // kept, rather than concatenated anew (the map hashes a dozen nodes per key it sets).
  const pairOf = (prefix: Uint8Array) => {
    const buf = new Uint8Array(prefix.length + 2 * HASH);
    buf.set(prefix);
    return (a: Uint8Array, b: Uint8Array): Uint8Array => {
      buf.set(a, prefix.length);
      buf.set(b, prefix.length + HASH);
      return sha256(buf);
    };
  };
  const leaf = pairOf(leafPrefix);
  const inner = pairOf(innerPrefix);
  return {
    key: (type, id) => sha256(concatBytes(keyPrefix, pack([type, id]))),
    value: (bytes) => sha256(concatBytes(valuePrefix, bytes)),
    leaf: (key, valueHash) => {
      if (key.length !== HASH || valueHash.length !== HASH)
        fail(ErrorCode.INVALID_ARGUMENT, 'a status map leaf hashes a 32-byte key and value hash');
      return leaf(key, valueHash);
    },
    inner: (left, right) => {
      if (left.length !== HASH || right.length !== HASH)
        fail(ErrorCode.INVALID_ARGUMENT, 'a status map inner node hashes two 32-byte hashes');
      return inner(left, right);
    },
    empty: sha256(utf8(STATE_EMPTY_CONTEXT)),
  };
}

/** A stored node: a leaf (its key and value hash) or an inner node (its hash). */
export type MapNode =
  | {
      readonly kind: 'leaf';
      readonly key: Uint8Array;
      readonly value: Uint8Array;
      /** The value itself (what `value` hashes), kept beside the leaf so a proof can carry it; not hashed into the tree. */
      readonly data?: Uint8Array;
    }
  | { readonly kind: 'inner'; readonly hash: Uint8Array };

/**
 * Where a node sits: its depth (one byte) and the first `depth` bits of any
 * key below it, the rest of the last byte zero. The root's is [0].
 */
export function position(key: Uint8Array, depth: number): Uint8Array {
  const bytes = Math.ceil(depth / 8);
  const pos = new Uint8Array(1 + bytes);
  pos[0] = depth;
  pos.set(key.subarray(0, bytes), 1);
  if (depth % 8 !== 0) pos[bytes] = pos[bytes]! & (0xff << (8 - (depth % 8)));
  return pos;
}

/** Bit `d` of `key`: 0 (left) or 1 (right). */
export function bitAt(key: Uint8Array, d: number): number {
  return (key[d >> 3]! >> (7 - (d & 7))) & 1;
}

/** `key` with bit `d` flipped: a key on the other side at depth d. */
function flipped(key: Uint8Array, d: number): Uint8Array {
  const k = Uint8Array.from(key);
  k[d >> 3] = k[d >> 3]! ^ (0x80 >> (d & 7));
  return k;
}

/** Reads the node at a position (undefined: an empty branch). */
export type MapReader = (pos: Uint8Array) => MapNode | undefined;

export function nodeHash(h: MapHasher, n: MapNode | undefined): Uint8Array {
  if (n === undefined) return h.empty;
  return n.kind === 'leaf' ? h.leaf(n.key, n.value) : n.hash;
}

/** The root hash of the map `read` holds. */
export function mapRoot(h: MapHasher, read: MapReader): Uint8Array {
  return nodeHash(h, read(Uint8Array.of(0)));
}

export interface MapUpdate {
  readonly key: Uint8Array;
  /** The value hash to set. */
  readonly value: Uint8Array;
  /** The value it hashes, kept in the leaf (see MapNode). */
  readonly data?: Uint8Array;
}

/**
 * Sets each key to its value hash (the last update of a key wins) and returns
 * the new root with every node written, as [position, node] pairs to store
 * over the old ones. Unchanged subtrees are neither read nor written.
 */
export function updateMap(
  h: MapHasher,
  read: MapReader,
  updates: readonly MapUpdate[],
): { root: Uint8Array; writes: Array<[Uint8Array, MapNode]> } {
  const byKey = new Map<string, MapUpdate>();
  for (const u of updates) {
    if (!(u.key instanceof Uint8Array) || u.key.length !== KEY_BYTES || u.value.length !== HASH)
      fail(ErrorCode.INVALID_ARGUMENT, 'a status map update needs a 32-byte key and a 32-byte value hash');
    byKey.set(hexOf(u.key), u);
  }
  const sorted = [...byKey.values()].sort((a, b) => compareBytes(a.key, b.key));
  const writes: Array<[Uint8Array, MapNode]> = [];
  const root = sorted.length === 0 ? read(Uint8Array.of(0)) : update(h, read, 0, sorted, writes);
  return { root: nodeHash(h, root), writes };
}

/** The position of the child of `key`'s node at `depth` on side `bit`. */
function childPosition(key: Uint8Array, depth: number, bit: number): Uint8Array {
  return position(bitAt(key, depth) === bit ? key : flipped(key, depth), depth + 1);
}

/** Splits sorted items sharing a path to `depth` by their bit at `depth`. */
function splitAt(items: readonly MapUpdate[], depth: number): [MapUpdate[], MapUpdate[]] {
  let i = 0;
  while (i < items.length && bitAt(items[i]!.key, depth) === 0) i++;
  return [items.slice(0, i), items.slice(i)];
}

/**
 * Sets `items` (sorted, unique, sharing their path down to `depth`) in the
 * subtree at that position; writes and returns its new node.
 */
function update(
  h: MapHasher,
  read: MapReader,
  depth: number,
  items: readonly MapUpdate[],
  writes: Array<[Uint8Array, MapNode]>,
): MapNode {
  const key = items[0]!.key;
  const pos = position(key, depth);
  const existing = read(pos);
  let node: MapNode;
  if (existing?.kind === 'inner') {
    const sides = splitAt(items, depth);
    const hashes = sides.map((side, bit) =>
      side.length > 0
        ? nodeHash(h, update(h, read, depth + 1, side, writes))
        : nodeHash(h, read(childPosition(key, depth, bit))),
    );
    node = { kind: 'inner', hash: h.inner(hashes[0]!, hashes[1]!) };
  } else {
    // An empty branch or a leaf: the new subtree holds the items, and the old leaf unless one replaces it.
    let all = items;
    if (existing !== undefined && !items.some((u) => equalBytes(u.key, existing.key))) {
      const kept = {
        key: existing.key,
        value: existing.value,
        ...(existing.data === undefined ? {} : { data: existing.data }),
      };
      all = [...items, kept].sort((a, b) => compareBytes(a.key, b.key));
    }
    node = fresh(h, depth, all, writes);
  }
  writes.push([pos, node]);
  return node;
}

/** The node of a subtree made anew from `items` (at least one); writes the nodes below it. */
function fresh(
  h: MapHasher,
  depth: number,
  items: readonly MapUpdate[],
  writes: Array<[Uint8Array, MapNode]>,
): MapNode {
  if (items.length === 1) {
    const { key, value, data } = items[0]!;
    return data === undefined ? { kind: 'leaf', key, value } : { kind: 'leaf', key, value, data };
  }
  if (depth >= 255) fail(ErrorCode.INTERNAL, 'two status map keys share 255 bits');
  const hashes = splitAt(items, depth).map((side) => {
    if (side.length === 0) return h.empty;
    const child = fresh(h, depth + 1, side, writes);
    writes.push([position(side[0]!.key, depth + 1), child]);
    return nodeHash(h, child);
  });
  return { kind: 'inner', hash: h.inner(hashes[0]!, hashes[1]!) };
}

/** A map proof for one key: the sibling hashes from the root down, and the leaf the path ends at, if any. */
export interface MapProof {
  readonly siblings: readonly Uint8Array[];
  /** The leaf where the path ends (the key's own, or another key's); absent: an empty branch. */
  readonly leaf?: { readonly key: Uint8Array; readonly value: Uint8Array };
}

/**
 * The proof for `key` in the map `read` holds (the current version in
 * memory or on disk, or a past version read from disk: each read awaited).
 */
export async function proveMap(
  h: MapHasher,
  read: (pos: Uint8Array) => MapNode | undefined | Promise<MapNode | undefined>,
  key: Uint8Array,
): Promise<MapProof> {
  const siblings: Uint8Array[] = [];
  let depth = 0;
  let node = await read(position(key, 0));
  while (node?.kind === 'inner') {
    if (depth >= 255) fail(ErrorCode.LEDGER_CORRUPT, 'the status map has a path deeper than 255 inner nodes');
    siblings.push(nodeHash(h, await read(childPosition(key, depth, 1 - bitAt(key, depth)))));
    depth++;
    node = await read(position(key, depth));
  }
  return node === undefined ? { siblings } : { siblings, leaf: { key: node.key, value: node.value } };
}

/** What a map proof shows about a key: in the map with this value hash, or not in it. */
export type MapStatement =
  | { readonly present: true; readonly value: Uint8Array }
  | { readonly present: false };

/**
 * Checks `proof` for `key` under `root`: what it shows, or undefined when it
 * does not verify (a malformed proof included; this never throws).
 */
export function checkMapProof(
  h: MapHasher,
  root: Uint8Array,
  key: Uint8Array,
  proof: MapProof,
): MapStatement | undefined {
  if (!isHash(root) || !isHash(key) || typeof proof !== 'object' || proof === null) return undefined;
  const { siblings, leaf } = proof;
  if (!Array.isArray(siblings) || siblings.length > 255) return undefined;
  const depth = siblings.length;
  let cur: Uint8Array;
  let statement: MapStatement;
  if (leaf === undefined) {
    cur = h.empty;
    statement = { present: false };
  } else {
    if (typeof leaf !== 'object' || leaf === null || !isHash(leaf.key) || !isHash(leaf.value))
      return undefined;
    if (equalBytes(leaf.key, key)) statement = { present: true, value: leaf.value };
    else {
      // Another key's leaf proves absence only where it sits on this key's path.
      for (let d = 0; d < depth; d++) if (bitAt(leaf.key, d) !== bitAt(key, d)) return undefined;
      statement = { present: false };
    }
    cur = h.leaf(leaf.key, leaf.value);
  }
  for (let d = depth - 1; d >= 0; d--) {
    const sibling = siblings[d];
    if (!isHash(sibling)) return undefined;
    cur = bitAt(key, d) === 0 ? h.inner(cur, sibling) : h.inner(sibling, cur);
  }
  return equalBytes(cur, root) ? statement : undefined;
}

function isHash(v: unknown): v is Uint8Array {
  return v instanceof Uint8Array && v.length === HASH;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length && i < b.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

function hexOf(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

/**
 * The binary form of a map proof for `key` (docs/formats.md "Status map"):
 *
 *   end       1 byte: 0 an empty branch, 1 the key's own leaf, 2 another key's leaf
 *   depth     1 byte: the number of siblings
 *   empties   ⌈depth/8⌉ bytes: bit d (most significant first) set when sibling d is the
 *             empty branch, which is then left out (deep in a sparse path most are)
 *   siblings  32 bytes each, the others, root side first
 *   leaf      end 1: its value hash (32 bytes); end 2: its key and value hash (64 bytes)
 *
 * One encoding per proof: a sibling equal to the empty branch must be flagged, unused
 * bits are zero, and nothing follows.
 */
export function encodeMapProof(h: MapHasher, key: Uint8Array, proof: MapProof): Uint8Array {
  const depth = proof.siblings.length;
  if (depth > 255) fail(ErrorCode.INVALID_ARGUMENT, `a map proof has at most 255 siblings, not ${depth}`);
  const own = proof.leaf !== undefined && equalBytes(proof.leaf.key, key);
  const end = proof.leaf === undefined ? 0 : own ? 1 : 2;
  const flags = Math.ceil(depth / 8);
  const kept = proof.siblings.filter((s) => !equalBytes(s, h.empty));
  const out = new Uint8Array(2 + flags + HASH * kept.length + (end === 0 ? 0 : end === 1 ? HASH : 2 * HASH));
  out[0] = end;
  out[1] = depth;
  let at = 2 + flags;
  proof.siblings.forEach((s, d) => {
    if (equalBytes(s, h.empty)) out[2 + (d >> 3)]! |= 0x80 >> (d & 7);
    else {
      out.set(s, at);
      at += HASH;
    }
  });
  if (end === 2) {
    out.set(proof.leaf!.key, at);
    at += HASH;
  }
  if (end !== 0) out.set(proof.leaf!.value, at);
  return out;
}

/** Reads the binary form of a map proof for `key`; anything but the one encoding is E_DECODE. */
export function decodeMapProof(h: MapHasher, key: Uint8Array, bytes: Uint8Array): MapProof {
  const bad = (why: string): never => fail(ErrorCode.DECODE, `map proof: ${why}`);
  if (!(key instanceof Uint8Array) || key.length !== KEY_BYTES)
    fail(ErrorCode.INVALID_ARGUMENT, 'a map proof is read for a 32-byte key');
  if (!(bytes instanceof Uint8Array) || bytes.length < 2) bad('shorter than its 2-byte header');
  const end = bytes[0]!;
  const depth = bytes[1]!;
  if (end > 2) bad(`unknown end kind ${end}`);
  const flags = Math.ceil(depth / 8);
  if (bytes.length < 2 + flags) bad('shorter than its empty-sibling flags');
  if (depth % 8 !== 0 && (bytes[1 + flags]! & (0xff >> (depth % 8))) !== 0) bad('an unused flag bit is set');
  let at = 2 + flags;
  const take = (): Uint8Array => {
    if (at + HASH > bytes.length) bad(`ends inside a hash at byte ${at}`);
    const v = bytes.slice(at, at + HASH);
    at += HASH;
    return v;
  };
  const siblings: Uint8Array[] = [];
  for (let d = 0; d < depth; d++) {
    if ((bytes[2 + (d >> 3)]! & (0x80 >> (d & 7))) !== 0) siblings.push(h.empty);
    else {
      const s = take();
      if (equalBytes(s, h.empty)) bad(`sibling ${d} is the empty branch without its flag`);
      siblings.push(s);
    }
  }
  let leaf: MapProof['leaf'];
  if (end === 1) leaf = { key: Uint8Array.from(key), value: take() };
  else if (end === 2) {
    const other = take();
    if (equalBytes(other, key)) bad("another key's leaf names the key itself");
    leaf = { key: other, value: take() };
  }
  if (at !== bytes.length) bad(`${bytes.length - at} bytes follow the proof`);
  return leaf === undefined ? { siblings } : { siblings, leaf };
}
