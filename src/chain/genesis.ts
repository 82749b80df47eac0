/** The state changes genesis makes (its members), staged like any record's. */
import type { LedgerRecord } from '../encoding/record.js';
import { type GenesisBody, genesisEffects } from '../policy/genesis.js';
import type { State } from './state.js';

/** Stages what genesis (record 0) does to the state: its members, its kind index, its leaf. */
export function stageGenesis(
  state: State,
  record: LedgerRecord,
  genesis: GenesisBody,
  leafHash: Uint8Array,
): void {
  const { changes, indexes } = genesisEffects(genesis, record.timestamp);
  state.stage(changes, indexes);
  state.stageLeaf(leafHash, 0);
}
