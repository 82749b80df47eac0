/**
 * The state as the sequencer (or a verifier replaying the log) sees it: a
 * backing store of committed entities, plus the current block's staged
 * changes on top, with savepoints for all-or-nothing groups. Pure: the backing
 * store is a function (LevelDB's getSync on a node, a Map in a replay).
 *
 * Members are few and read by every record, so all of them stay in memory;
 * other entities are decoded on demand and kept in a bounded cache.
 */

import { concatBytes, utf8 } from '../crypto/bytes.js';
import { pack, unpackStrict } from '../encoding/msgpack.js';
import {
  type Change,
  type EntityType,
  type EntityTypes,
  entityFromArray,
  entityToArray,
  type MemberEntity,
  type StateView,
} from './entities.js';
import { type IndexEntry, indexKey, indexValue } from './indexes.js';

export const STATE_TABLE = 0x54; // 'T'
const TYPE_CODE: Record<EntityType, number> = {
  member: 0x6d,
  resource: 0x72,
  scenario: 0x73,
  request: 0x71,
  grant: 0x67,
};
const CACHE_LIMIT = 50_000;

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

export type Backing = (key: Uint8Array) => Uint8Array | undefined;

export class State implements StateView {
  readonly #backing: Backing;
  readonly #members = new Map<string, MemberEntity>();
  readonly #cache = new Map<string, unknown>();
  /** Staged entity changes of the current block, by "type:id". */
  #staged = new Map<string, Change>();
  #indexes: IndexEntry[] = [];
  /** Undo log for savepoints: the staged value each change replaced. */
  #journal: Array<[key: string, previous: Change | undefined]> = [];

  constructor(backing: Backing, members: Iterable<MemberEntity>) {
    this.#backing = backing;
    for (const m of members) this.#members.set(m.id, m);
  }

  get<T extends EntityType>(type: T, id: string): EntityTypes[T] | undefined {
    const key = `${type}:${id}`;
    const staged = this.#staged.get(key);
    if (staged !== undefined) return staged.entity as EntityTypes[T];
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
      const staged = this.#staged.get(`member:${id}`);
      yield (staged?.entity as MemberEntity | undefined) ?? m;
    }
    for (const c of this.#staged.values())
      if (c.type === 'member' && !this.#members.has(c.entity.id)) yield c.entity;
  }

  /** Stages an accepted record's effects so later records in the block see them. */
  stage(changes: readonly Change[], indexes: readonly IndexEntry[]): void {
    for (const c of changes) {
      const key = `${c.type}:${c.entity.id}`;
      this.#journal.push([key, this.#staged.get(key)]);
      this.#staged.set(key, c);
    }
    this.#indexes.push(...indexes);
  }

  /** A savepoint to roll back to if an all-or-nothing group fails. */
  mark(): { journal: number; indexes: number } {
    return { journal: this.#journal.length, indexes: this.#indexes.length };
  }

  rollback(to: { journal: number; indexes: number }): void {
    while (this.#journal.length > to.journal) {
      const [key, previous] = this.#journal.pop()!;
      if (previous === undefined) this.#staged.delete(key);
      else this.#staged.set(key, previous);
    }
    this.#indexes.length = to.indexes;
  }

  /** The staged changes, in staging order. */
  staged(): Iterable<Change> {
    return this.#staged.values();
  }

  /** The key/value pairs the staged block writes: entities in staging order, then indexes. */
  writes(): Array<[Uint8Array, Uint8Array]> {
    const out: Array<[Uint8Array, Uint8Array]> = [];
    for (const c of this.#staged.values())
      out.push([entityKey(c.type, c.entity.id), encodeEntity(c.type, c.entity as never)]);
    for (const e of this.#indexes) out.push([indexKey(e), indexValue(e)]);
    return out;
  }

  /** The block was written: staged changes become the committed state. */
  commit(): void {
    for (const [key, c] of this.#staged) {
      if (c.type === 'member') this.#members.set(c.entity.id, c.entity);
      else this.#remember(key, c.entity);
    }
    this.discard();
  }

  discard(): void {
    this.#staged = new Map();
    this.#indexes = [];
    this.#journal = [];
  }

  #remember(key: string, e: unknown): void {
    this.#cache.delete(key);
    this.#cache.set(key, e);
    if (this.#cache.size > CACHE_LIMIT) this.#cache.delete(this.#cache.keys().next().value!);
  }
}
