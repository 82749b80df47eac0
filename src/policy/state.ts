/**
 * The ledger state the rules read: members with their keys and roles, and the
 * policy parameters. Pure data; `applyRecord` advances it by one accepted
 * record, deterministically, so every node replaying the log agrees.
 */
import type { LedgerRecord } from '../encoding/record.js';
import {
  GENESIS_KIND,
  type GenesisBody,
  type PolicyParams,
  parseGenesisBody,
  type Role,
} from '../ledger/genesis.js';

export type MemberStatus = 'active' | 'suspended' | 'removed';

export interface MemberState {
  readonly id: string;
  readonly name: string;
  readonly roles: readonly Role[];
  /** Signing keys by keyId. */
  readonly keys: readonly Uint8Array[];
  /** The keyId new records must use. */
  readonly activeKeyId: number;
  readonly status: MemberStatus;
}

export interface LedgerState {
  readonly origin: string;
  readonly policy: PolicyParams;
  readonly sequencerKey: string;
  readonly members: Map<string, MemberState>;
}

export function stateFromGenesis(origin: string, genesis: GenesisBody): LedgerState {
  const members = new Map<string, MemberState>();
  for (const m of genesis.members) {
    members.set(m.id, {
      id: m.id,
      name: m.name,
      roles: m.roles,
      keys: [m.signingKey],
      activeKeyId: 0,
      status: 'active',
    });
  }
  return { origin, policy: genesis.policy, sequencerKey: genesis.sequencerKey, members };
}

/** Starts the state from the genesis record (index 0). */
export function stateFromGenesisRecord(record: LedgerRecord): LedgerState {
  return stateFromGenesis(record.origin, parseGenesisBody(record.body));
}

/** Advances the state by an accepted record. Core kinds change nothing yet. */
export function applyRecord(_state: LedgerState, record: LedgerRecord): void {
  if (record.kind === GENESIS_KIND) throw new Error('genesis can only be the first record');
}

/** The public key a record claims to be signed with, if the author has it. */
export function authorKey(state: LedgerState, author: string, keyId: number): Uint8Array | undefined {
  return state.members.get(author)?.keys[keyId];
}
