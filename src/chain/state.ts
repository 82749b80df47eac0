/**
 * The state as the sequencer (or a verifier replaying the log) sees it: a
 * backing store of committed entities, plus the current block's staged
 * changes on top, with savepoints for all-or-nothing groups. Pure: the backing
 * store is a function (LevelDB's getSync on a node, a Map in a replay).
 *
 * Members are few and read by every record, so all of them stay in memory;
 * other entities are decoded on demand and kept in a bounded cache.
 */

import { readU64, u64 } from '../encoding/u64.js';
import type {
  Change,
  EntityType,
  EntityTypes,
  IndexEntry,
  MemberEntity,
  StateView,
} from '../policy/entities.js';
import { indexKey, indexValue } from '../storage/index-table.js';
import { decodeEntity, encodeEntity, entityKey, leafId, leafKey, leafKeyOf } from '../storage/state-table.js';
import { MapState } from './map-state.js';

const CACHE_LIMIT = 50_000;

export type Backing = (key: Uint8Array) => Uint8Array | undefined;

/** An entity change with the index of the record that made it (when the stager knew it). */
export type StagedChange = Change & { readonly at?: number };

/** What replay protection reads of a record besides its leaf hash. */
export interface Stamped {
  readonly author: string;
  readonly timestamp: number;
}

/** A formed block's changes, visible to the blocks formed after it until it is durable. */
interface Layer {
  readonly staged: Map<string, Change>;
  readonly leaves: Map<string, number>;
}

export class State implements StateView {
  readonly #backing: Backing;
  readonly #members = new Map<string, MemberEntity>();
  readonly #cache = new Map<string, unknown>();
  /** Staged entity changes of the current block, by "type:id". */
  #staged = new Map<string, Change>();
  #indexes: IndexEntry[] = [];
  /** Leaf keys (hex) of the records staged in this block, with their indexes. */
  #leaves = new Map<string, number>();
  #leafOrder: string[] = [];
  /** Undo log for savepoints: the staged value each change replaced. */
  #journal: Array<[key: string, previous: Change | undefined]> = [];
  /**
   * Formed blocks not yet durable, oldest first: those formed while a write
   * is in flight (up to 32, see group-commit.ts; lookups search each).
   */
  #pending: Layer[] = [];
  /**
   * Replay protection without a lookup for most records: every record
   * accepted before this state was made has a timestamp ≤ `#floor` (Infinity:
   * not known), and every one accepted since is in `#latest` under its
   * author. A record newer than both cannot be a copy of an accepted one (a
   * copy has the same author and timestamp), so its leaf key need not be
   * looked up; authors sign with their clocks, so nearly every new record is
   * newer. The lookup was a LevelDB read that misses, ~3 µs of the
   * sequencer's main thread per record.
   */
  #floor = Number.POSITIVE_INFINITY;
  readonly #latest = new Map<string, number>();
  #newest = Number.NEGATIVE_INFINITY;

  /** The status map, over the same backing store. */
  readonly map: MapState;

  constructor(backing: Backing, members: Iterable<MemberEntity>) {
    this.#backing = backing;
    this.map = new MapState(backing);
    for (const m of members) this.#members.set(m.id, m);
  }

  get<T extends EntityType>(type: T, id: string): EntityTypes[T] | undefined {
    const key = `${type}:${id}`;
    const staged = this.#staged.get(key) ?? this.#pendingGet(key);
    if (staged !== undefined) return staged.entity as EntityTypes[T];
    return this.#committedGet(type, id);
  }

  #pendingGet(key: string): Change | undefined {
    for (let i = this.#pending.length - 1; i >= 0; i--) {
      const c = this.#pending[i]!.staged.get(key);
      if (c !== undefined) return c;
    }
    return undefined;
  }

  #committedGet<T extends EntityType>(type: T, id: string): EntityTypes[T] | undefined {
    const key = `${type}:${id}`;
    if (type === 'member') return this.#members.get(id) as EntityTypes[T] | undefined;
    const cached = this.#cache.get(key);
    if (cached !== undefined) return cached as EntityTypes[T];
    const bytes = this.#backing(entityKey(type, id));
    if (bytes === undefined) return undefined;
    const e = decodeEntity(type, bytes);
    this.#remember(key, e);
    return e;
  }

  *members(): Iterable<MemberEntity> {
    for (const [id, m] of this.#members) {
      const key = `member:${id}`;
      const staged = this.#staged.get(key) ?? this.#pendingGet(key);
      yield (staged?.entity as MemberEntity | undefined) ?? m;
    }
    // Members added in blocks not yet durable, each once, in its latest version.
    const seen = new Set<string>();
    for (const layer of [this.#staged, ...this.#pending.map((l) => l.staged).reverse()]) {
      for (const c of layer.values()) {
        if (c.type !== 'member' || this.#members.has(c.entity.id) || seen.has(c.entity.id)) continue;
        seen.add(c.entity.id);
        yield c.entity;
      }
    }
  }

  /**
   * Sets the timestamp no record accepted before now exceeds (from the
   * store, written with every block). Without it every record is looked up.
   */
  setReplayFloor(floor: number): void {
    this.#floor = floor;
  }

  /**
   * The replay floor to store with the block being formed: no accepted
   * record's timestamp exceeds it. Undefined while the floor is unknown.
   */
  replayFloor(): number | undefined {
    if (this.#floor === Number.POSITIVE_INFINITY) return undefined;
    return Math.max(this.#floor, this.#newest);
  }

  firstIndexOf(leafHash: Uint8Array, index: number, record?: Stamped): number | undefined {
    if (record !== undefined && this.#newer(record)) return undefined;
    const id = leafId(leafHash);
    const staged = this.#leaves.get(id);
    if (staged !== undefined && staged < index) return staged;
    for (const layer of this.#pending) {
      const sealed = layer.leaves.get(id);
      if (sealed !== undefined && sealed < index) return sealed;
    }
    const stored = this.#backing(leafKey(leafHash));
    if (stored === undefined) return undefined;
    const first = readU64(stored);
    // On replay the record's own key is already stored: only an earlier index is a duplicate.
    return first < index ? first : undefined;
  }

  /**
   * Remembers an accepted record's leaf hash (part of its effects), and with
   * `record`, its author's latest timestamp (never rolled back: a later record
   * is then looked up when it need not be, which is only slower).
   */
  stageLeaf(leafHash: Uint8Array, index: number, record?: Stamped): void {
    const id = leafId(leafHash);
    this.#leaves.set(id, index);
    this.#leafOrder.push(id);
    if (record === undefined) return;
    const t = record.timestamp;
    if (t > (this.#latest.get(record.author) ?? Number.NEGATIVE_INFINITY)) this.#latest.set(record.author, t);
    if (t > this.#newest) this.#newest = t;
  }

  #newer(r: Stamped): boolean {
    return (
      r.timestamp > this.#floor && r.timestamp > (this.#latest.get(r.author) ?? Number.NEGATIVE_INFINITY)
    );
  }

  /**
   * Stages an accepted record's effects so later records in the block see
   * them; `at` is the record's index, which the status map names as the
   * record that set each entity's status.
   */
  stage(changes: readonly Change[], indexes: readonly IndexEntry[], at?: number): void {
    for (const c of changes) {
      const key = `${c.type}:${c.entity.id}`;
      this.#journal.push([key, this.#staged.get(key)]);
      this.#staged.set(key, at === undefined ? c : ({ ...c, at } as StagedChange));
    }
    this.#indexes.push(...indexes);
  }

  /** A savepoint to roll back to if an all-or-nothing group fails. */
  mark(): { journal: number; indexes: number; leaves: number } {
    return { journal: this.#journal.length, indexes: this.#indexes.length, leaves: this.#leafOrder.length };
  }

  rollback(to: { journal: number; indexes: number; leaves: number }): void {
    while (this.#leafOrder.length > to.leaves) this.#leaves.delete(this.#leafOrder.pop()!);
    while (this.#journal.length > to.journal) {
      const [key, previous] = this.#journal.pop()!;
      if (previous === undefined) this.#staged.delete(key);
      else this.#staged.set(key, previous);
    }
    this.#indexes.length = to.indexes;
  }

  /** The staged changes, in staging order, with the index of the record that made each. */
  staged(): Iterable<StagedChange> {
    return this.#staged.values();
  }

  /** The key/value pairs the staged block writes: entities in staging order, then indexes. */
  writes(): Array<[Uint8Array, Uint8Array]> {
    const out: Array<[Uint8Array, Uint8Array]> = [];
    for (const c of this.#staged.values())
      out.push([entityKey(c.type, c.entity.id), encodeEntity(c.type, c.entity as never)]);
    for (const e of this.#indexes) out.push([indexKey(e), indexValue(e)]);
    for (const [id, index] of this.#leaves) out.push([leafKeyOf(id), u64(index)]);
    return out;
  }

  /** The block was written: staged changes become the committed state. */
  commit(): void {
    this.#apply(this.#staged);
    this.discard();
  }

  /**
   * The block is formed but not yet durable: its changes move to a pending
   * layer that the next block's records see and queries do not. Returns the
   * changes, for `commitPending` order checks and the catalog.
   */
  seal(): Change[] {
    const changes = [...this.#staged.values()];
    this.#pending.push({ staged: this.#staged, leaves: this.#leaves });
    this.discard();
    return changes;
  }

  /** The oldest sealed block is durable: its changes become the committed state. */
  commitPending(): void {
    const layer = this.#pending.shift();
    if (layer !== undefined) this.#apply(layer.staged);
    this.map.commitPending();
  }

  /** A write failed: forget every block not yet durable (the ledger stops; reopen to continue). */
  discardAll(): void {
    this.#pending = [];
    this.discard();
    this.map.discardAll();
  }

  #apply(staged: Map<string, Change>): void {
    for (const [key, c] of staged) {
      if (c.type === 'member') this.#members.set(c.entity.id, c.entity);
      else this.#remember(key, c.entity);
    }
  }

  discard(): void {
    this.#staged = new Map();
    this.#indexes = [];
    this.#journal = [];
    this.#leaves = new Map();
    this.#leafOrder = [];
  }

  /** The state as of the last durable block: what queries see (never a block still being written). */
  committed(): StateView {
    return {
      get: <T extends EntityType>(type: T, id: string) => this.#committedGet(type, id),
      members: () => this.#members.values(),
      firstIndexOf: (leaf, index) => {
        const stored = this.#backing(leafKey(leaf));
        return stored === undefined || readU64(stored) >= index ? undefined : readU64(stored);
      },
    };
  }

  #remember(key: string, e: unknown): void {
    this.#cache.delete(key);
    this.#cache.set(key, e);
    if (this.#cache.size > CACHE_LIMIT) this.#cache.delete(this.#cache.keys().next().value!);
  }
}
