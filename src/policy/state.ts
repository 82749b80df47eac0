/**
 * What the genesis record fixes for the ledger's whole life (origin, policy,
 * sequencer key), and the state changes genesis makes (its members).
 */
import type { LedgerRecord } from '../encoding/record.js';
import { type GenesisBody, type PolicyParams, parseGenesisBody } from '../ledger/genesis.js';
import type { Change } from '../state/entities.js';

export interface LedgerParams {
  readonly origin: string;
  readonly policy: PolicyParams;
  /** The sequencer's checkpoint verifier key, C2SP note format. */
  readonly sequencerKey: string;
  /** Member id of the sequencer. */
  readonly sequencer: string;
}

export function paramsFromGenesis(record: LedgerRecord): { params: LedgerParams; genesis: GenesisBody } {
  const genesis = parseGenesisBody(record.body);
  return {
    params: {
      origin: record.origin,
      policy: genesis.policy,
      sequencerKey: genesis.sequencerKey,
      sequencer: genesis.sequencer,
    },
    genesis,
  };
}

/** The members genesis creates, as state changes of record 0. */
export function genesisChanges(genesis: GenesisBody): Change[] {
  return genesis.members.map((m) => ({
    type: 'member',
    entity: {
      id: m.id,
      name: m.name,
      roles: [...m.roles],
      keys: [m.signingKey],
      activeKeyId: 0,
      encryptionKey: m.encryptionKey ?? null,
      status: 'active',
      index: 0,
    },
  }));
}
