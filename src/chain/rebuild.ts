/**
 * Rebuilds the materialised state and every index from the records alone, as
 * a new node (or an index format change) needs. The result is byte-identical
 * to what the sequencer wrote block by block (a test proves it): the records
 * run through the same state machine (chain/). Records are trusted here — run
 * verifyLedger first on a ledger you did not write.
 */

import { nodeTreeHasher } from '../crypto/node-tree-hasher.js';
import { blockHeaderOfNote } from '../encoding/checkpoint.js';
import { decodeRecord } from '../encoding/record.js';
import { DirchainError, ErrorCode, fail } from '../errors.js';
import { paramsFromGenesis } from '../policy/genesis.js';
import { INDEX_TABLE } from '../storage/index-table.js';
import { STATE_TABLE } from '../storage/state-table.js';
import { MAP_HISTORY_TABLE, MAP_TABLE } from '../storage/status-map-table.js';
import { LedgerStore } from '../storage/store.js';
import { nodeChain } from './node-chain.js';
import { State } from './state.js';

const hasher = nodeTreeHasher;
/** The tables a rebuild clears and writes again. */
const REBUILT = new Set([STATE_TABLE, INDEX_TABLE, MAP_TABLE, MAP_HISTORY_TABLE]);

export interface RebuildReport {
  readonly records: number;
  /** Entity and index entries written. */
  readonly entries: number;
}

export async function rebuildState(path: string): Promise<RebuildReport> {
  const store = await LedgerStore.open(path, { create: false });
  try {
    await store.putMeta({ rebuilding: 'state' });
    await store.clearPrefix(Uint8Array.of(STATE_TABLE));
    await store.clearPrefix(Uint8Array.of(INDEX_TABLE));
    await store.clearPrefix(Uint8Array.of(MAP_TABLE));
    await store.clearPrefix(Uint8Array.of(MAP_HISTORY_TABLE));
    // Each block's state is written before the next is replayed, so reads see it.
    const state = new State((k) => store.getRaw(k), []);
    const genesisEntry = store.getEntry(0);
    if (genesisEntry === undefined)
      fail(ErrorCode.LEDGER_CORRUPT, 'the genesis record is missing', { index: 0 });
    const genesisRecord = decodeRecord(genesisEntry);
    const chain = nodeChain(paramsFromGenesis(genesisRecord).params, state);
    let entries = 0;
    for await (const block of store.blocks()) {
      const { header } = blockHeaderOfNote(block.note);
      chain.begin(header.time);
      for await (const [index, entry] of store.entries(chain.size, header.size)) {
        const leaf = hasher.leaf(entry);
        let result: unknown;
        try {
          result = index === 0 ? chain.applyGenesis(genesisRecord, leaf) : chain.apply(entry, leaf);
        } catch (e) {
          result = e;
        }
        if (result instanceof DirchainError) {
          fail(
            ErrorCode.LEDGER_CORRUPT,
            `record ${index} fails on replay (${result.code}); run verifyLedger`,
            {
              index,
            },
          );
        }
        if (result instanceof Error) throw result;
      }
      if (chain.size !== header.size)
        fail(ErrorCode.LEDGER_CORRUPT, `record ${chain.size} is missing`, { index: chain.size });
      const formed = chain.accept(block.note);
      // State, indexes and the status map only: the replay floor and the rest of the meta are the sequencer's.
      const writes = formed.writes.filter(([k]) => REBUILT.has(k[0]!));
      entries += writes.length;
      await store.putRaw(writes, 'buffered');
      chain.durable();
    }
    await store.deleteMeta('rebuilding');
    return { records: chain.size, entries };
  } finally {
    await store.close();
  }
}
