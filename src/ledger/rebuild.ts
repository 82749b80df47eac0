/**
 * Rebuilds the materialised state and every index from the records alone, as
 * a new node (or an index format change) needs. The result is byte-identical
 * to what the sequencer wrote block by block (a test proves it). Records are
 * trusted here — run verifyLedger first on a ledger you did not write.
 */
import { verifyNode } from '../crypto/node-crypto.js';
import { decodeRecord } from '../encoding/record.js';
import { DirchainError, ErrorCode, fail } from '../errors.js';
import { nodeTreeHasher } from '../merkle/node-hasher.js';
import type { PolicyContext } from '../policy/rules.js';
import { paramsFromGenesis, stageGenesis } from '../policy/state.js';
import { INDEX_TABLE } from '../state/indexes.js';
import { STATE_TABLE, State } from '../state/state.js';
import { LedgerStore } from '../storage/store.js';
import { blockHeaderOfNote } from './checkpoint.js';
import { Replay } from './replay.js';

const hasher = nodeTreeHasher;

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
    // Each block's state is written before the next is replayed, so reads see it.
    const state = new State((k) => store.getRaw(k), []);
    const genesisEntry = store.getEntry(0);
    if (genesisEntry === undefined)
      fail(ErrorCode.LEDGER_CORRUPT, 'the genesis record is missing', { index: 0 });
    const genesisRecord = decodeRecord(genesisEntry);
    const { params, genesis } = paramsFromGenesis(genesisRecord);
    const ctx: PolicyContext = { origin: params.origin, policy: params.policy, verify: verifyNode };
    stageGenesis(state, genesisRecord, genesis, hasher.leaf(genesisEntry));
    const replay = new Replay(ctx, state, hasher);
    let records = 1;
    let entries = 0;
    const flush = async () => {
      const writes = state.writes();
      entries += writes.length;
      await store.putRaw(writes, 'buffered');
      state.commit();
    };
    for await (const block of store.blocks()) {
      const { header } = blockHeaderOfNote(block.note);
      for await (const [index, entry] of store.entries(records, header.size)) {
        try {
          replay.step(entry, hasher.leaf(entry), index, header.time);
        } catch (e) {
          if (e instanceof DirchainError)
            fail(ErrorCode.LEDGER_CORRUPT, `record ${index} fails on replay (${e.code}); run verifyLedger`, {
              index,
            });
          throw e;
        }
        records = index + 1;
      }
      replay.endBlock(records);
      if (records !== header.size)
        fail(ErrorCode.LEDGER_CORRUPT, `record ${records} is missing`, { index: records });
      await flush();
    }
    await store.deleteMeta('rebuilding');
    return { records, entries };
  } finally {
    await store.close();
  }
}
