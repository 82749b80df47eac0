/**
 * What the genesis record fixes for the ledger's whole life (origin, policy,
 * sequencer key), and the state changes genesis makes (its members).
 */
import type { LedgerRecord } from '../encoding/record.js';
import { GENESIS_KIND, type GenesisBody, type PolicyParams, parseGenesisBody } from '../ledger/genesis.js';
import type { Change } from '../state/entities.js';
import type { State } from '../state/state.js';

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

/** Stages what genesis (record 0) does to the state: its members, its kind index, its leaf. */
export function stageGenesis(
  state: State,
  record: LedgerRecord,
  genesis: GenesisBody,
  leafHash: Uint8Array,
): void {
  state.stage(genesisChanges(genesis), [{ name: 'k', parts: [GENESIS_KIND, record.timestamp, 0] }]);
  state.stageLeaf(leafHash, 0);
}

/** The members genesis creates, as state changes of record 0. */
function genesisChanges(genesis: GenesisBody): Change[] {
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
