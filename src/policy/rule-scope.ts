/**
 * What every rule works with: the record under judgement (with its author and
 * block time), the state before it, and the effects it builds. Rules refuse by
 * throwing; `evaluate` turns the throw into a returned DirchainError.
 */
import type { Verify } from '../crypto/ed25519.js';
import type { LedgerRecord } from '../encoding/record.js';
import { DirchainError, type ErrorCodeValue } from '../errors.js';
import type { Change, IndexEntry, MemberEntity, StateView } from './entities.js';
import type { PolicyParams, Role } from './genesis.js';

export interface PolicyContext {
  readonly origin: string;
  readonly policy: PolicyParams;
  readonly verify: Verify;
}

/** What an accepted record does to the state and the indexes. */
export interface Effects {
  readonly changes: Change[];
  readonly indexes: IndexEntry[];
  /** The record's leaf hash, remembered so the same bytes are never accepted twice. */
  readonly leaf?: Uint8Array;
}

class Refusal extends DirchainError {}

export function refuse(code: ErrorCodeValue, message: string, hint?: string): never {
  throw new Refusal(code, message, hint === undefined ? {} : { hint });
}

export const has = (m: MemberEntity, role: Role): boolean => m.roles.includes(role);

/** One record being judged: what the rules read, and the changes and index entries they add. */
export class RuleScope {
  readonly changes: Change[] = [];
  readonly indexes: IndexEntry[] = [];

  constructor(
    readonly ctx: PolicyContext,
    readonly view: StateView,
    readonly record: LedgerRecord,
    readonly index: number,
    readonly time: number,
    readonly author: MemberEntity,
    /** An event of a batch: indexed by what it refers to, not by kind (its seal is). */
    readonly event = false,
  ) {}

  put<T extends Change['type']>(type: T, entity: Extract<Change, { type: T }>['entity']): void {
    this.changes.push({ type, entity } as Change);
  }
}
