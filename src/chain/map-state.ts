/**
 * The status map as a chain forms blocks (src/state/map.ts): at the end of
 * each block, the entities the block changed are set to their status values
 * and the new root goes into the block entry; the nodes written go into the
 * block's own LevelDB batch (storage/status-map-table.ts). Like the entity
 * state, formed blocks not yet durable stay in pending layers that the next
 * block reads through, and a failed write drops them.
 *
 * Access-log events change no entity, so a block of them costs the map
 * nothing: the root is carried over and no node is read or written.
 */
import { toHex } from '../crypto/bytes.js';
import { sha256Node } from '../crypto/node-crypto.js';
import type { Change } from '../policy/entities.js';
import { type MapHasher, type MapNode, mapHasher, nodeHash, updateMap } from '../state/map.js';
import { encodeStatus, type StatusValue } from '../state/status.js';
import { encodeEntity } from '../storage/state-table.js';
import { decodeCurrentNode, mapNodeKey, mapNodeWrites } from '../storage/status-map-table.js';
import type { StagedChange } from './state.js';

export const statusMapHasher: MapHasher = mapHasher(sha256Node);

/** Committed nodes decoded and kept; the upper levels are read by every update. */
const CACHE_LIMIT = 100_000;

/**
 * What updating the map has cost this process: milliseconds in `stage` and
 * `seal` (new nodes hashed, then encoded for the batch), the
 * blocks that changed it and the keys set. Read by bench figure 8 (the map's
 * share of a block); nothing in the ledger reads it.
 */
export const statusMapWork = { ms: 0, blocks: 0, keys: 0 };

interface Layer {
  readonly nodes: Map<string, MapNode>;
  readonly writes: ReadonlyArray<readonly [Uint8Array, MapNode]>;
  readonly root: Uint8Array;
}

export class MapState {
  readonly #h = statusMapHasher;
  readonly #backing: (key: Uint8Array) => Uint8Array | undefined;
  readonly #cache = new Map<string, MapNode | null>();
  #pending: Layer[] = [];
  #staged: Layer | undefined;
  /** The root of the last durable block's map (read from the store at first use). */
  #committedRoot: Uint8Array | undefined;

  constructor(backing: (key: Uint8Array) => Uint8Array | undefined) {
    this.#backing = backing;
  }

  readonly #read = (pos: Uint8Array): MapNode | undefined => {
    const id = toHex(pos);
    const staged = this.#staged?.nodes.get(id);
    if (staged !== undefined) return staged;
    for (let i = this.#pending.length - 1; i >= 0; i--) {
      const n = this.#pending[i]!.nodes.get(id);
      if (n !== undefined) return n;
    }
    const cached = this.#cache.get(id);
    if (cached !== undefined) return cached ?? undefined;
    const bytes = this.#backing(mapNodeKey(pos));
    const node = bytes === undefined ? undefined : decodeCurrentNode(bytes).node;
    this.#remember(id, node ?? null);
    return node;
  };

  /** The root as of the last formed block (durable or not). */
  root(): Uint8Array {
    const last = this.#pending.at(-1);
    if (last !== undefined) return last.root;
    this.#committedRoot ??= nodeHash(this.#h, this.#read(Uint8Array.of(0)));
    return this.#committedRoot;
  }

  /**
   * Sets the entities a block changed to their status values: the root the
   * block's entry commits to. Calling it again for the same block starts over.
   */
  stage(changes: Iterable<StagedChange>): Uint8Array {
    const t0 = performance.now();
    try {
      return this.#stage(changes);
    } finally {
      statusMapWork.ms += performance.now() - t0;
    }
  }

  #stage(changes: Iterable<StagedChange>): Uint8Array {
    this.#staged = undefined;
    const updates = [];
    for (const c of changes) {
      const v = statusOf(c);
      const data = encodeStatus(v);
      updates.push({ key: this.#h.key(v.type, v.id), value: this.#h.value(data), data });
    }
    if (updates.length === 0) {
      const root = this.root();
      this.#staged = { nodes: new Map(), writes: [], root };
      return root;
    }
    statusMapWork.blocks++;
    statusMapWork.keys += updates.length;
    const { root, writes } = updateMap(this.#h, this.#read, updates);
    const nodes = new Map<string, MapNode>();
    for (const [pos, node] of writes) nodes.set(toHex(pos), node);
    this.#staged = { nodes, writes, root };
    return root;
  }

  /** The staged block is formed as block `height`: the puts its batch carries; it becomes a pending layer. */
  seal(height: number): Array<[Uint8Array, Uint8Array]> {
    const layer = this.#staged;
    this.#staged = undefined;
    if (layer === undefined) return [];
    this.#pending.push(layer);
    if (layer.writes.length === 0) return [];
    const t0 = performance.now();
    const writes = mapNodeWrites(layer.writes, height);
    statusMapWork.ms += performance.now() - t0;
    return writes;
  }

  /** The oldest formed block is durable: its nodes are the store's now. */
  commitPending(): void {
    const layer = this.#pending.shift();
    if (layer === undefined) return;
    for (const [id, node] of layer.nodes) this.#remember(id, node);
    this.#committedRoot = layer.root;
  }

  /** Drops the open block's staged nodes. */
  discard(): void {
    this.#staged = undefined;
  }

  /** A write failed: forget every block not yet durable. */
  discardAll(): void {
    this.#pending = [];
    this.#staged = undefined;
  }

  #remember(id: string, node: MapNode | null): void {
    this.#cache.delete(id);
    this.#cache.set(id, node);
    if (this.#cache.size > CACHE_LIMIT) this.#cache.delete(this.#cache.keys().next().value!);
  }
}

/**
 * The status value of an entity as a block leaves it; its index is the
 * record that last changed the entity (a grant's revocation, a member's
 * suspension), or the entity's own index when the change came without one.
 */
export function statusOf(change: StagedChange): StatusValue {
  return { ...statusFields(change), entity: entityDigest(change) } as StatusValue;
}

/** SHA-256 of an entity's canonical encoding (what the status value's `entity` is). */
export function entityDigest(change: Change): Uint8Array {
  return sha256Node(encodeEntity(change.type, change.entity as never));
}

function statusFields(change: StagedChange): Record<string, unknown> {
  const index = change.at ?? change.entity.index;
  switch (change.type) {
    case 'member': {
      const e = change.entity;
      return { type: 'member', id: e.id, status: e.status, index };
    }
    case 'resource': {
      const e = change.entity;
      return {
        type: 'resource',
        id: e.id,
        status: e.status,
        version: e.version,
        index,
        owner: e.owner,
      };
    }
    case 'scenario':
      return { type: 'scenario', id: change.entity.id, status: 'registered', index };
    case 'request': {
      const e = change.entity;
      return {
        type: 'request',
        id: e.id,
        status: e.status,
        index,
        consumer: e.consumer,
        provider: e.provider,
        resource: e.resource,
        grant: e.grant,
      };
    }
    case 'grant': {
      const e = change.entity;
      return {
        type: 'grant',
        id: e.id,
        status: e.status,
        index,
        provider: e.provider,
        consumer: e.consumer,
        resource: e.resource,
        validFrom: e.validFrom,
        validTo: e.validTo,
        revokedAt: e.revokedAt,
      };
    }
  }
}
