/**
 * Creating and opening a ledger folder: genesis for a new one; for an existing
 * one, the head, the Merkle frontier, the members and the directory catalogue.
 */

import { nodeChain } from '../chain/node-chain.js';
import { chainStart } from '../chain/resume.js';
import { State } from '../chain/state.js';
import { checkArray, checkBytes, checkObject, checkString } from '../crypto/bytes.js';
import { loadSigner } from '../crypto/keys.js';
import { sha256Node, verifyNode } from '../crypto/node-crypto.js';
import { nodeTreeHasher } from '../crypto/node-tree-hasher.js';
import { formatVerifierKey, type NoteSigner } from '../crypto/note.js';
import type { MemberSigner } from '../directory/submitter.js';
import { blockHeaderOfNote } from '../encoding/checkpoint.js';
import { decodeRecord, type LedgerRecord, recordSigningMessage, signRecord } from '../encoding/record.js';
import { ErrorCode, fail } from '../errors.js';
import { Frontier } from '../merkle/stored.js';
import type { LedgerParams } from '../policy/genesis.js';
import {
  DEFAULT_POLICY,
  GENESIS_KIND,
  type GenesisBody,
  genesisBodyToPlain,
  paramsFromGenesis,
} from '../policy/genesis.js';
import { Catalog } from '../query/catalog.js';
import { DirectoryQuery } from '../query/query.js';
import { Sequencer } from '../sequencer/sequencer.js';
import { decodeEntity, entityPrefix } from '../storage/state-table.js';
import { LedgerStore, metaEntries, replayFloorMeta, STORAGE_FORMAT } from '../storage/store.js';
import { Follower, type FollowReport } from '../sync/follower.js';
import { Ledger } from './ledger.js';
import type { CreateLedgerFromMembers, CreateLedgerOptions, LedgerOptions } from './types.js';

const _ZERO_HASH = new Uint8Array(32);

const hasher = nodeTreeHasher;

/** Creates a new ledger folder with its genesis block and returns it open. */
export async function createLedger(path: string, options: CreateLedgerOptions): Promise<Ledger> {
  checkString(path, 'path');
  checkObject(options, 'createLedger options');
  checkString(options.origin, 'origin');
  checkString(options.sequencerKey, 'sequencerKey');
  const fromGenesis = options.genesisRecord !== undefined;
  if (fromGenesis) {
    checkBytes(options.genesisRecord, 'genesisRecord');
    // What genesis fixes comes from the record alone: a second source would be ignored, or disagree.
    const also = (['members', 'policy', 'sequencerId'] as const).filter((k) => options[k] !== undefined);
    if (also.length > 0) {
      fail(
        ErrorCode.INVALID_ARGUMENT,
        `genesisRecord fixes the members, policy and sequencer id; ${also.join(' and ')} cannot be given with it`,
        { hint: `pass either genesisRecord or ${also.join(' and ')}, not both` },
      );
    }
  } else {
    checkArray(options.members, 'members');
    if (options.policy !== undefined) checkObject(options.policy, 'policy');
    if (options.sequencerId !== undefined) checkString(options.sequencerId, 'sequencerId');
  }
  const sequencer = loadSigner(options.sequencerKey);
  if (sequencer.name !== options.origin) {
    fail(
      ErrorCode.KEY_INVALID,
      `the sequencer key is named ${sequencer.name}, the origin is ${options.origin}`,
      {
        hint: 'make the sequencer key with the origin as its name',
      },
    );
  }
  const clock = options.clock ?? Date.now;
  const time = clock();
  const record =
    options.genesisRecord === undefined
      ? newGenesisRecord(options, sequencer, time)
      : decodeRecord(options.genesisRecord);
  // Validate exactly as a verifier will, before anything touches the disk.
  const { params, genesis: checked } = paramsFromGenesis(decodeRecord(record.bytes));
  const author = checked.members.find((m) => m.id === record.author);
  if (
    record.kind !== GENESIS_KIND ||
    record.origin !== options.origin ||
    params.sequencerKey !== verifierKeyText(sequencer) ||
    author === undefined ||
    !verifyNode(author.signingKey, recordSigningMessage(record.signed), record.signature)
  ) {
    fail(ErrorCode.SCHEMA, 'the genesis record is not a genesis of this origin signed by this sequencer key');
  }
  const store = await LedgerStore.open(path, { create: true });
  const state = new State((k) => store.getRaw(k), []);
  const frontier = new Frontier(hasher);
  let note: string;
  let tipEntry: Uint8Array;
  try {
    const chain = nodeChain(params, state, frontier);
    chain.begin(time);
    chain.applyGenesis(record, hasher.leaf(record.bytes));
    const formed = chain.sign(sequencer);
    note = formed.note;
    tipEntry = chain.tip.entry!;
    await store.writeBlock(
      {
        height: 0,
        note,
        size: formed.header.size,
        firstIndex: 0,
        entries: formed.entries,
        hashStart: 0,
        hashes: formed.hashes,
        // The folder's meta in the genesis batch: a folder with entries always names its format.
        // No record can be a copy yet (genesis is refused by kind, never by lookup): the floor is the lowest time.
        extra: [
          ...formed.writes,
          ...metaEntries({
            format: STORAGE_FORMAT,
            origin: options.origin,
            ...replayFloorMeta(0, formed.header.size),
          }),
        ],
      },
      'sync',
    );
    chain.durable();
    state.setReplayFloor(0);
  } catch (e) {
    await store.close();
    throw e;
  }
  return compose(store, params, state, new Catalog(), frontier, note, tipEntry, sequencer, options);
}

/** The genesis record of a new ledger: its members and policy, signed by the sequencer at `time`. */
function newGenesisRecord(
  options: CreateLedgerFromMembers,
  sequencer: NoteSigner,
  time: number,
): LedgerRecord {
  const sequencerId = options.sequencerId ?? 'sequencer';
  const genesis: GenesisBody = {
    members: [
      { id: sequencerId, name: 'Sequencer', roles: ['sequencer'], signingKey: sequencer.publicKey },
      ...options.members,
    ],
    sequencer: sequencerId,
    sequencerKey: verifierKeyText(sequencer),
    policy: { ...DEFAULT_POLICY, ...options.policy },
  };
  return signRecord(
    {
      origin: options.origin,
      kind: GENESIS_KIND,
      author: sequencerId,
      keyId: 0,
      timestamp: time,
      body: genesisBodyToPlain(genesis),
    },
    sequencer,
  );
}

/** Opens an existing ledger folder. Pass `sequencerKey` to append. */
export async function openLedger(path: string, options: LedgerOptions = {}): Promise<Ledger> {
  const store = await LedgerStore.open(path, { create: false });
  try {
    const { params, state, frontier, note, tipEntry } = await chainStart(store, path);
    const catalog = new Catalog();
    for await (const [, v] of store.scan(entityPrefix('resource')))
      catalog.upsert(decodeEntity('resource', v));
    let sequencer: NoteSigner | undefined;
    if (options.sequencerKey !== undefined) {
      sequencer = loadSigner(options.sequencerKey);
      if (verifierKeyText(sequencer) !== params.sequencerKey) {
        fail(ErrorCode.KEY_INVALID, "this is not the sequencer key named in the ledger's genesis record", {
          hint: `genesis names ${params.sequencerKey}`,
        });
      }
    }
    return compose(store, params, state, catalog, frontier, note, tipEntry, sequencer, options);
  } catch (e) {
    await store.close();
    throw e;
  }
}

export interface ReplicaOptions {
  /** The URL of the node (or any tlog-tiles server of this ledger, or another replica) to follow. */
  readonly from: string;
  /** The published sequencer verifier key to pin. */
  readonly verifierKey: string;
  /** Sign requests as this member (a node that is not `--public`). */
  readonly as?: MemberSigner;
  /** How often to ask for a newer checkpoint once caught up (default 1 s). */
  readonly pollMs?: number;
  /** Per request (default 30 s). */
  readonly timeoutMs?: number;
  /**
   * Follow only checkpoints cosigned by `quorum` (default all) of these
   * witness keys (the upstream node's cosigned checkpoint); the replica then
   * serves the last of them, cosignatures and all, to its own followers.
   */
  readonly witnesses?: readonly string[];
  readonly quorum?: number;
}

/**
 * A replica that follows `from` while it is open: a read-only Ledger (made
 * from the served genesis block when `path` holds none) whose head, state and
 * queries advance as each followed block is durable. `following` settles when
 * the follower stops: at `close()`, or on the first thing the server serves
 * that the replay refuses (then the replica keeps every block before it and
 * still answers reads).
 */
export async function openReplica(
  path: string,
  options: ReplicaOptions,
): Promise<{ ledger: Ledger; following: Promise<FollowReport>; cosigned: () => string | undefined }> {
  const follower = await Follower.open(path, options.from, options);
  const { store, state } = follower;
  try {
    const catalog = new Catalog();
    for await (const [, v] of store.scan(entityPrefix('resource')))
      catalog.upsert(decodeEntity('resource', v));
    const stop = new AbortController();
    let ledger: Ledger | undefined;
    let running: Promise<FollowReport> | undefined;
    ledger = new Ledger({
      store,
      params: follower.chain.params,
      state,
      note: follower.head.note,
      query: new DirectoryQuery(store, state.committed(), catalog),
      sequencer: undefined,
      clock: Date.now,
      replicaOf: options.from,
      stop: async () => {
        stop.abort();
        await running?.catch(() => {});
        await follower.closeSource();
      },
    });
    running = follower.run({
      signal: stop.signal,
      ...(options.pollMs === undefined ? {} : { pollMs: options.pollMs }),
      ...(options.witnesses === undefined ? {} : { witnesses: options.witnesses }),
      ...(options.quorum === undefined ? {} : { quorum: options.quorum }),
      onBlock: (block) => {
        ledger!.advance(block.header, block.note);
        for (const c of block.changes) if (c.type === 'resource') catalog.upsert(c.entity);
      },
    });
    // Settled by whoever awaits `following`; never an unhandled rejection when no one does.
    running.catch(() => {});
    return { ledger, following: running, cosigned: () => follower.cosigned };
  } catch (e) {
    await follower.close();
    throw e;
  }
}

function verifierKeyText(s: NoteSigner): string {
  return formatVerifierKey(sha256Node, s.name, s.publicKey);
}

/**
 * The parts of an open ledger, wired: the chain the sequencer forms blocks
 * in (continuing from the head), the directory queries and their catalogue
 * (kept current as blocks become durable), the read side and the domain API.
 */
function compose(
  store: LedgerStore,
  params: LedgerParams,
  state: State,
  catalog: Catalog,
  frontier: Frontier,
  note: string,
  tipEntry: Uint8Array,
  signer: NoteSigner | undefined,
  options: LedgerOptions,
): Ledger {
  const query = new DirectoryQuery(store, state.committed(), catalog);
  let ledger: Ledger | undefined;
  let sequencer: Sequencer | undefined;
  if (signer !== undefined) {
    const { header } = blockHeaderOfNote(note);
    const chain = nodeChain(params, state, frontier, {
      height: header.height,
      entry: tipEntry,
      time: header.time,
    });
    sequencer = new Sequencer(store, chain, state, signer, options, (block) => {
      ledger!.advance(block.header, block.note);
      for (const c of block.changes) if (c.type === 'resource') catalog.upsert(c.entity);
    });
  }
  ledger = new Ledger({
    store,
    params,
    state,
    note,
    query,
    sequencer,
    clock: options.clock ?? Date.now,
    ...(options.secrets === undefined ? {} : { secrets: options.secrets }),
  });
  return ledger;
}
