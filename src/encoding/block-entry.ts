/**
 * The block entry: the last log entry of every block, written by the
 * sequencer. It commits, inside the Merkle tree, to what a block is beyond
 * its size and root — C2SP tlog-cosignature makes no witness vouch for
 * checkpoint extension lines, so these fields cannot live only there. It
 * carries no signature of its own: the signed checkpoint over the tree (and
 * the witnesses' cosignatures of it) authenticate it.
 *
 *   block entry = MessagePack [ 1, height, time, prev, state ]
 *     height  the block's height (the genesis block is 0)
 *     time    block time, milliseconds since the Unix epoch: the time the
 *             block's records were judged at
 *     prev    RFC 9162 leaf hash of the previous block's entry (32 zero
 *             bytes in block 0), so the block entries form a hash chain
 *     state   the status-map root after the block (32 bytes), or nil while
 *             the ledger keeps no status map
 *
 * The leading 1 tells it from an event ([0, position, body]) and from a
 * record envelope (whose first element is binary).
 */
import { checkBytes, checkObject, show, toBase64 } from '../crypto/bytes.js';
import { ErrorCode, fail } from '../errors.js';
import { checkCanonical } from './canonical.js';
import { pack, unpackChecked } from './msgpack.js';

export interface BlockEntry {
  readonly height: number;
  readonly time: number;
  readonly prev: Uint8Array;
  readonly state: Uint8Array | null;
}

const HASH = 32;

/** True when a log entry is a block entry (by its first two bytes; `decodeBlockEntry` checks the rest). */
export function isBlockEntry(bytes: Uint8Array): boolean {
  return bytes instanceof Uint8Array && bytes.length >= 2 && bytes[0] === 0x95 && bytes[1] === 0x01;
}

export function encodeBlockEntry(b: BlockEntry): Uint8Array {
  checkObject(b, 'block entry');
  if (!Number.isSafeInteger(b.height) || b.height < 0)
    fail(ErrorCode.INVALID_ARGUMENT, `block entry height: expected an integer ≥ 0, got ${show(b.height)}`);
  if (!Number.isSafeInteger(b.time) || b.time < 0)
    fail(ErrorCode.INVALID_ARGUMENT, `block entry time: expected an integer ≥ 0, got ${show(b.time)}`);
  checkBytes(b.prev, 'block entry prev');
  if (b.prev.length !== HASH)
    fail(ErrorCode.INVALID_ARGUMENT, `block entry prev: expected 32 bytes, got ${b.prev.length}`);
  if (b.state !== null) {
    checkBytes(b.state, 'block entry state');
    if (b.state.length !== HASH)
      fail(ErrorCode.INVALID_ARGUMENT, `block entry state: expected 32 bytes, got ${b.state.length}`);
  }
  return pack([1, b.height, b.time, b.prev, b.state]);
}

/** Strictly decodes a block entry: canonical MessagePack, exactly these five fields. */
export function decodeBlockEntry(bytes: Uint8Array): BlockEntry {
  checkBytes(bytes, 'block entry');
  if (!isBlockEntry(bytes))
    fail(ErrorCode.DECODE, 'entry is not a block entry ([1, height, time, prev, state])');
  checkCanonical(bytes, 'block entry', 2);
  const [, height, time, prev, state] = unpackChecked(bytes) as unknown[];
  if (!Number.isSafeInteger(height) || (height as number) < 0)
    fail(ErrorCode.DECODE, 'block entry height must be an integer ≥ 0');
  if (!Number.isSafeInteger(time) || (time as number) < 0)
    fail(ErrorCode.DECODE, 'block entry time must be an integer ≥ 0');
  if (!(prev instanceof Uint8Array) || prev.length !== HASH)
    fail(ErrorCode.DECODE, 'block entry prev must be 32 bytes');
  if (state !== null && !(state instanceof Uint8Array && state.length === HASH))
    fail(ErrorCode.DECODE, 'block entry state must be 32 bytes or nil');
  return { height: height as number, time: time as number, prev, state: state as Uint8Array | null };
}

/**
 * The checkpoint extension lines that copy a block entry (docs/formats.md):
 * a checkpoint whose tree ends with this entry and carries block lines must
 * carry exactly these.
 */
export function blockEntryLines(e: BlockEntry): string[] {
  return [`block ${e.height}`, `prev ${toBase64(e.prev)}`, `time ${e.time}`];
}
