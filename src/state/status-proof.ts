/**
 * Status bundles (`dirchain-status/v1`): what an entity's status was at a
 * signed checkpoint, checkable by a stranger with the published key alone.
 *
 *   {"type":"dirchain-status/v1","origin","size","checkpoint",
 *    "blockEntry": base64, "inclusion": [base64…],
 *    "items": [{"type","id","value": base64|null,"siblings":[base64…],"leaf":{"key","value"}|null}, …]}
 *
 * The checkpoint signs the tree; `blockEntry` is its last leaf (its
 * inclusion proof at index size − 1), so its status map root is the one of
 * this very checkpoint; each item is a map proof under that root, with the
 * status value it proves (or null: absent). The first item is the one asked
 * about; a grant's bundle also carries its resource and its consumer, which
 * its status depends on. Pure: no I/O.
 */
import { equalBytes, fromBase64, show, toBase64 } from '../crypto/bytes.js';
import type { TreeHasher } from '../crypto/tree-hasher.js';
import { blockEntryLines, decodeBlockEntry, isBlockEntry } from '../encoding/block-entry.js';
import { ErrorCode, fail } from '../errors.js';
import { checkInclusion } from '../merkle/check.js';
import { checkMapProof, type MapHasher, type MapNode, type MapProof, position, proveMap } from './map.js';
import { decodeStatus, judgeGrant, type StatusValue } from './status.js';

export const STATUS_TYPE = 'dirchain-status/v1';

export interface StatusItem {
  readonly type: string;
  readonly id: string;
  /** The status value's bytes, or null when the proof shows the entity is not in the map. */
  readonly value: Uint8Array | null;
  readonly proof: MapProof;
}

export interface StatusBundle {
  readonly origin: string;
  readonly size: number;
  readonly checkpoint: string;
  readonly blockEntry: Uint8Array;
  readonly inclusion: readonly Uint8Array[];
  readonly items: readonly StatusItem[];
}

export function statusBundleToJSON(b: StatusBundle): Record<string, unknown> {
  return {
    type: STATUS_TYPE,
    origin: b.origin,
    size: b.size,
    checkpoint: b.checkpoint,
    blockEntry: toBase64(b.blockEntry),
    inclusion: b.inclusion.map(toBase64),
    items: b.items.map((i) => ({
      type: i.type,
      id: i.id,
      value: i.value === null ? null : toBase64(i.value),
      siblings: i.proof.siblings.map(toBase64),
      leaf:
        i.proof.leaf === undefined
          ? null
          : { key: toBase64(i.proof.leaf.key), value: toBase64(i.proof.leaf.value) },
    })),
  };
}

export function statusBundleFromJSON(o: Record<string, unknown>): StatusBundle {
  if (o.type !== STATUS_TYPE)
    fail(ErrorCode.DECODE, `status bundle has type ${show(o.type)}, not ${STATUS_TYPE}`);
  const str = (v: unknown, what: string): string => {
    if (typeof v !== 'string') fail(ErrorCode.DECODE, `status bundle ${what} must be a string`);
    return v;
  };
  const bytes = (v: unknown, what: string): Uint8Array => {
    try {
      return fromBase64(str(v, what));
    } catch (e) {
      return fail(ErrorCode.DECODE, `status bundle ${what} is not valid base64`, { cause: e });
    }
  };
  const list = (v: unknown, what: string): unknown[] => {
    if (!Array.isArray(v)) fail(ErrorCode.DECODE, `status bundle ${what} must be a list`);
    return Array.from(v as unknown[]);
  };
  if (!Number.isSafeInteger(o.size) || (o.size as number) < 1)
    fail(ErrorCode.DECODE, 'status bundle size must be an integer ≥ 1');
  const items = list(o.items, 'items').map((x, n): StatusItem => {
    if (typeof x !== 'object' || x === null || Array.isArray(x))
      fail(ErrorCode.DECODE, `status bundle items[${n}] must be an object`);
    const i = x as Record<string, unknown>;
    const leaf = i.leaf;
    if (leaf !== null && (typeof leaf !== 'object' || Array.isArray(leaf)))
      fail(ErrorCode.DECODE, `status bundle items[${n}].leaf must be an object or null`);
    const l = leaf as Record<string, unknown> | null;
    return {
      type: str(i.type, `items[${n}].type`),
      id: str(i.id, `items[${n}].id`),
      value: i.value === null ? null : bytes(i.value, `items[${n}].value`),
      proof: {
        siblings: list(i.siblings, `items[${n}].siblings`).map((s, k) =>
          bytes(s, `items[${n}].siblings[${k}]`),
        ),
        ...(l === null
          ? {}
          : {
              leaf: {
                key: bytes(l.key, `items[${n}].leaf.key`),
                value: bytes(l.value, `items[${n}].leaf.value`),
              },
            }),
      },
    };
  });
  if (items.length === 0) fail(ErrorCode.DECODE, 'status bundle has no items');
  return {
    origin: str(o.origin, 'origin'),
    size: o.size as number,
    checkpoint: str(o.checkpoint, 'checkpoint'),
    blockEntry: bytes(o.blockEntry, 'blockEntry'),
    inclusion: list(o.inclusion, 'inclusion').map((s, k) => bytes(s, `inclusion[${k}]`)),
    items,
  };
}

/**
 * The items of a status bundle for (type, id) in the map `read` holds: the
 * entity's map proof with its status value, and for a grant those of its
 * resource and its consumer. Throws E_LEDGER_CORRUPT when a leaf's status
 * value is missing (a damaged store).
 */
export async function proveStatusItems(
  h: MapHasher,
  read: (pos: Uint8Array) => MapNode | undefined | Promise<MapNode | undefined>,
  type: string,
  id: string,
): Promise<StatusItem[]> {
  const item = async (t: string, i: string): Promise<StatusItem> => {
    const key = h.key(t, i);
    const proof = await proveMap(h, read, key);
    if (proof.leaf === undefined || !equalBytes(proof.leaf.key, key))
      return { type: t, id: i, value: null, proof };
    const leaf = await read(position(key, proof.siblings.length));
    if (leaf?.kind !== 'leaf' || leaf.data === undefined)
      fail(ErrorCode.LEDGER_CORRUPT, `the status value of ${t} ${JSON.stringify(i)} is missing from storage`);
    return { type: t, id: i, value: leaf.data, proof };
  };
  const items = [await item(type, id)];
  const first = items[0]!.value === null ? undefined : decodeStatus(items[0]!.value);
  if (first?.type === 'grant')
    items.push(await item('resource', first.resource), await item('member', first.consumer));
  return items;
}

/** What a status bundle shows. */
export interface StatusResult {
  readonly type: string;
  readonly id: string;
  /**
   * The status at the checkpoint: the entity's own (`active`, `suspended`,
   * `removed`, `retired`, `open`, `granted`, `registered`, …) or `absent`; for
   * a grant as `judgeGrant` judges it at the block time (`active`, `revoked`,
   * `expired`, `not-yet-valid`, `retired`, `suspended`).
   */
  readonly status: string;
  /** The status value proven (undefined: absent). */
  readonly value?: StatusValue;
  /** The index of the record that set it. */
  readonly index?: number;
  readonly asOf: { readonly size: number; readonly height: number; readonly time: number };
}

/**
 * Checks a status bundle whose checkpoint the caller verified (its size and
 * root given, and its extension lines if any): the block entry is the
 * tree's last leaf and agrees with the block lines, each item's map proof
 * holds under its status map root and proves the value given. Throws
 * E_PROOF_INVALID naming what failed.
 */
export function checkStatusBundle(
  b: StatusBundle,
  checkpoint: { readonly size: number; readonly root: Uint8Array; readonly extensions?: readonly string[] },
  tree: TreeHasher,
  map: MapHasher,
): StatusResult {
  if (b.size !== checkpoint.size)
    fail(
      ErrorCode.PROOF_INVALID,
      `the bundle says size ${b.size}, its checkpoint is of size ${checkpoint.size}`,
    );
  if (!isBlockEntry(b.blockEntry))
    fail(ErrorCode.PROOF_INVALID, "the bundle's blockEntry is not a block entry");
  if (!checkInclusion(tree, b.size - 1, b.size, tree.leaf(b.blockEntry), b.inclusion, checkpoint.root))
    fail(
      ErrorCode.PROOF_INVALID,
      `the block entry is not the last entry (${b.size - 1}) of the checkpoint's tree`,
    );
  const entry = decodeBlockEntry(b.blockEntry);
  // The checkpoint's block lines, when it has them, copy its last entry (as for an inclusion bundle).
  const lines = checkpoint.extensions ?? [];
  if (lines.length > 0 && blockEntryLines(entry).some((line, i) => lines[i] !== line))
    fail(ErrorCode.CHECKPOINT_INVALID, "the checkpoint's block lines disagree with its block entry");
  if (entry.state === null) fail(ErrorCode.PROOF_INVALID, 'the block entry commits to no status map');
  const root = entry.state;
  const proven = b.items.map((item, n) => {
    const statement = checkMapProof(map, root, map.key(item.type, item.id), item.proof);
    const what = `${item.type} ${JSON.stringify(item.id)}`;
    if (statement === undefined)
      fail(
        ErrorCode.PROOF_INVALID,
        `the map proof of ${what} (item ${n}) does not lead to the status map root`,
      );
    if (!statement.present) {
      if (item.value !== null)
        fail(ErrorCode.PROOF_INVALID, `${what} is not in the map, yet the bundle gives a value`);
      return { item, value: undefined };
    }
    if (item.value === null || !equalBytes(map.value(item.value), statement.value))
      fail(ErrorCode.PROOF_INVALID, `the status value of ${what} is not the one its map proof commits to`);
    const value = decodeStatus(item.value);
    if (value.type !== item.type || value.id !== item.id)
      fail(ErrorCode.PROOF_INVALID, `the status value of ${what} names another entity`);
    return { item, value };
  });
  const first = proven[0]!;
  const asOf = { size: b.size, height: entry.height, time: entry.time };
  const base = { type: first.item.type, id: first.item.id, asOf };
  if (first.value === undefined) return { ...base, status: 'absent' };
  const v = first.value;
  if (v.type !== 'grant') return { ...base, status: v.status, value: v, index: v.index };
  const find = (type: string, id: string): StatusValue | undefined => {
    const p = proven.find((x) => x.item.type === type && x.item.id === id);
    if (p === undefined)
      fail(
        ErrorCode.PROOF_INVALID,
        `a grant's status bundle needs the proof of its ${type} ${JSON.stringify(id)}`,
      );
    return p.value;
  };
  const status = judgeGrant(v, find('resource', v.resource), find('member', v.consumer), entry.time);
  return { ...base, status, value: v, index: v.index };
}
