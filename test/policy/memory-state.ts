/**
 * A `StateView` over Maps: the state the policy reads, with no storage behind
 * it. It mirrors what the ledger's state does that the policy can observe:
 * entities by type and id (the latest change wins), every member listed,
 * earlier leaf hashes found by index, and the replay floor that lets a record
 * newer than every accepted one skip the leaf lookup.
 */
import type {
  Change,
  EntityType,
  EntityTypes,
  IndexEntry,
  MemberEntity,
  StateView,
} from '../../src/policy/entities.js';
import { type GenesisBody, genesisEffects } from '../../src/policy/genesis.js';
import type { Effects } from '../../src/policy/rules.js';

/** What replay protection reads of a record besides its leaf hash. */
export interface Stamped {
  readonly author: string;
  readonly timestamp: number;
}

type Tables = { [T in EntityType]: Map<string, EntityTypes[T]> };

const leafId = (leaf: Uint8Array): string => Buffer.from(leaf).toString('hex');

export class MemoryState implements StateView {
  readonly #tables: Tables = {
    member: new Map(),
    resource: new Map(),
    scenario: new Map(),
    request: new Map(),
    grant: new Map(),
  };
  readonly #leaves = new Map<string, number>();
  /** Every record accepted before the floor was set has a timestamp ≤ it (Infinity: not known). */
  #floor = Number.POSITIVE_INFINITY;
  readonly #latest = new Map<string, number>();
  /** Every index entry accepted records made, in order. */
  readonly indexes: IndexEntry[] = [];
  /** Leaf lookups `firstIndexOf` made (a record the floor vouches for makes none). */
  lookups = 0;
  /** The index the next entry gets. */
  size = 0;

  /** The state genesis (record 0) makes: its members, its kind index, its leaf. */
  static fromGenesis(genesis: GenesisBody, timestamp: number, leaf: Uint8Array): MemoryState {
    const state = new MemoryState();
    const { changes, indexes } = genesisEffects(genesis, timestamp);
    state.stage(changes, indexes);
    state.stageLeaf(leaf, 0);
    state.size = 1;
    return state;
  }

  get<T extends EntityType>(type: T, id: string): EntityTypes[T] | undefined {
    return this.#tables[type].get(id);
  }

  members(): Iterable<MemberEntity> {
    return this.#tables.member.values();
  }

  firstIndexOf(leafHash: Uint8Array, index: number, record?: Stamped): number | undefined {
    // A copy of an accepted record has its author and timestamp, so it is never newer than both.
    if (record !== undefined && this.#newer(record)) return undefined;
    this.lookups++;
    const first = this.#leaves.get(leafId(leafHash));
    return first !== undefined && first < index ? first : undefined;
  }

  setReplayFloor(floor: number): void {
    this.#floor = floor;
  }

  stage(changes: readonly Change[], indexes: readonly IndexEntry[]): void {
    for (const c of changes) (this.#tables[c.type] as Map<string, unknown>).set(c.entity.id, c.entity);
    this.indexes.push(...indexes);
  }

  stageLeaf(leafHash: Uint8Array, index: number, record?: Stamped): void {
    this.#leaves.set(leafId(leafHash), index);
    if (record === undefined) return;
    const latest = this.#latest.get(record.author) ?? Number.NEGATIVE_INFINITY;
    if (record.timestamp > latest) this.#latest.set(record.author, record.timestamp);
  }

  /** Applies an accepted record's effects at the next index (what the sequencer does with a verdict). */
  accept(effects: Effects, record?: Stamped): number {
    const index = this.size++;
    this.stage(effects.changes, effects.indexes);
    if (effects.leaf !== undefined) this.stageLeaf(effects.leaf, index, record);
    return index;
  }

  /** A deep copy of everything the view answers from, to show a verdict changed nothing. */
  snapshot(): unknown {
    return structuredClone({
      tables: this.#tables,
      leaves: this.#leaves,
      latest: this.#latest,
      indexes: this.indexes,
      size: this.size,
    });
  }

  #newer(r: Stamped): boolean {
    return (
      r.timestamp > this.#floor && r.timestamp > (this.#latest.get(r.author) ?? Number.NEGATIVE_INFINITY)
    );
  }
}
