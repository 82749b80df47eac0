/**
 * Checks replay evidence (`dirchain-replay/v1`, encoding/evidence.ts) against
 * a replica that holds the log up to the block before: the note is signed by
 * a trusted key, its root commits to exactly the entries given, and replaying
 * them through the one state machine on the replica's state is refused. Then
 * the log signed a block its own rules refuse.
 */

import { nodeChain } from '../chain/node-chain.js';
import { chainStart } from '../chain/resume.js';
import type { BlockSource } from '../chain/verify.js';
import { checkBlockRecords } from '../chain/verify.js';
import { equalBytes } from '../crypto/bytes.js';
import { nodeTreeHasher } from '../crypto/node-tree-hasher.js';
import { parseBundleObject } from '../encoding/bundle.js';
import { blockHeaderOfNote } from '../encoding/checkpoint.js';
import { type ReplayEvidence, replayEvidenceFromJSON } from '../encoding/evidence.js';
import { decodeRecord } from '../encoding/record.js';
import { ErrorCode, fail, isDirchainError } from '../errors.js';
import { LedgerStore } from '../storage/store.js';
import { type BundleReport, type Check, verifyCheckpoint } from '../verify.js';

/** A report as verifyBundle's: `ok` when the evidence shows the log signed a block its rules refuse. */
export async function checkReplayEvidence(
  json: unknown,
  keys: readonly string[],
  replicaPath: string,
): Promise<BundleReport> {
  const checks: Check[] = [];
  const step = async (name: string, f: () => string | Promise<string>): Promise<boolean> => {
    try {
      checks.push({ name, status: 'pass', detail: await f() });
      return true;
    } catch (e) {
      const detail = isDirchainError(e) ? `${e.code}: ${e.message}` : `${ErrorCode.INTERNAL}: ${String(e)}`;
      checks.push({ name, status: 'fail', detail });
      return false;
    }
  };
  let e: ReplayEvidence | undefined;
  let size = 0;
  const ok =
    (await step('evidence format', () => {
      e = replayEvidenceFromJSON(parseBundleObject(json));
      return `block ${e.height} of ${e.origin}, ${e.entries.length} entries`;
    })) &&
    (await step('block note signature', () => {
      const c = verifyCheckpoint(e!.note, keys, { origin: e!.origin });
      size = c.size;
      return `size ${c.size}, signed by ${c.signers.join(', ')}`;
    })) &&
    (await step('replayed on the replica', () => replay(e!, size, replicaPath)));
  return { ok: ok && checks.every((c) => c.status !== 'fail'), kind: 'replay', checks };
}

async function replay(e: ReplayEvidence, size: number, path: string): Promise<string> {
  const store = await LedgerStore.openForReading(path);
  try {
    const start = await chainStart(store, path);
    if (start.params.origin !== e.origin)
      fail(ErrorCode.CHECKPOINT_INVALID, `the replica is of ${start.params.origin}`);
    if (start.header.height !== e.height - 1) {
      fail(
        ErrorCode.INVALID_ARGUMENT,
        `the replica is at block ${start.header.height}; the evidence needs block ${e.height - 1}`,
        {
          hint: 'give a replica that stopped at the block before (a follower stops there)',
        },
      );
    }
    const chain = nodeChain(start.params, start.state, start.frontier, {
      height: start.header.height,
      entry: start.tipEntry,
      time: start.header.time,
    });
    const first = start.header.size;
    const root = chain.rootWith(e.entries.map((x) => nodeTreeHasher.leaf(x)));
    const header = blockHeaderOfNote(e.note).header;
    if (first + e.entries.length !== size || !equalBytes(root, header.root))
      fail(
        ErrorCode.PROOF_INVALID,
        `the note's root does not commit to these ${e.entries.length} entries after entry ${first}`,
      );
    const source: BlockSource = {
      blocks: async function* () {},
      lastBlock: async () => undefined,
      entries: async function* (from: number, to: number) {
        for (let i = from; i < to; i++) yield [i, e.entries[i - first]!] as [number, Uint8Array];
      },
    };
    chain.begin(header.time);
    const genesis = decodeRecord(store.getEntry(0)!);
    try {
      await checkBlockRecords(source, undefined, chain, genesis, first, size, undefined);
      chain.accept(e.note);
    } catch (refusal) {
      if (!isDirchainError(refusal)) throw refusal;
      return `refused at entry ${refusal.index ?? '?'} with ${refusal.code} (the evidence says ${e.code} at ${e.index}): ${refusal.message}`;
    }
    return fail(
      ErrorCode.PROOF_INVALID,
      `block ${e.height} replays without a refusal on this replica: no misbehaviour shown`,
    );
  } finally {
    await store.close();
  }
}
