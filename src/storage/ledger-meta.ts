/**
 * The ledger's meta entries (`metaKey`, keys.ts) that storage itself reads:
 * the storage format a folder is in, checked when it is opened, and the
 * replay floor stored with a block.
 */
import { fromUtf8, utf8 } from '../crypto/bytes.js';
import { ErrorCode, fail } from '../errors.js';
import { LOG_REGION, metaKey, TABLE, tableRange } from './keys.js';
import type { LevelReads } from './level-db.js';

/**
 * The storage format this code reads and writes (meta `format`, written in
 * a new ledger's genesis batch): the layout of keys.ts. Opening a folder in
 * any other format fails with E_LEDGER_FORMAT.
 */
export const STORAGE_FORMAT = 'dirchain-ledger/7';

/** Meta entry: `<floor>@<size>`, no record of the first `size` entries is timestamped after `floor`. */
export const REPLAY_FLOOR = 'replay-floor';

/** The write that stores the replay floor with a block (in the block's own batch, so the two agree). */
export function replayFloorEntry(floor: number, size: number): [Uint8Array, Uint8Array] {
  return [metaKey(REPLAY_FLOOR), utf8(replayFloorText(floor, size))];
}

/** The same as a meta entry for `putMeta` (a new ledger's). */
export function replayFloorMeta(floor: number, size: number): Record<string, string> {
  return { [REPLAY_FLOOR]: replayFloorText(floor, size) };
}

/** Meta entries as key/value pairs, for a block's batch (`putMeta` writes them in one of their own). */
export function metaEntries(entries: Record<string, string>): Array<[Uint8Array, Uint8Array]> {
  return Object.entries(entries).map(([k, v]) => [metaKey(k), utf8(v)]);
}

function replayFloorText(floor: number, size: number): string {
  return `${floor}@${size}`;
}

/** The floor in a stored replay-floor entry if it was stored at `size`, else undefined. */
export function replayFloorAt(text: string | undefined, size: number): number | undefined {
  const m = text === undefined ? null : /^(\d{1,16})@(\d{1,16})$/.exec(text);
  return m !== null && Number(m[2]) === size ? Number(m[1]) : undefined;
}

/**
 * Refuses a folder in another storage format than `STORAGE_FORMAT`. A new
 * folder's meta comes in its genesis block's batch, so a folder without a
 * `format` is new only when it holds no block and no log: one that holds
 * either was written by another dirchain.
 */
export async function checkFormat(path: string, reads: LevelReads): Promise<void> {
  const stored = reads.get(metaKey('format'));
  const format = stored === undefined ? undefined : fromUtf8(stored);
  if (format === STORAGE_FORMAT) return;
  if (format === undefined && !(await holdsLog(reads))) return;
  const found =
    format === undefined ? 'no storage format (meta `format` is missing)' : `storage format ${format}`;
  fail(ErrorCode.LEDGER_FORMAT, `the ledger at ${path} has ${found}`, {
    hint: `this version reads only ${STORAGE_FORMAT}: open the folder with the dirchain that wrote it`,
  });
}

/** Whether the folder holds a block or anything of the log region (pieces, bundle indexes, pages). */
async function holdsLog(reads: LevelReads): Promise<boolean> {
  for (const range of [tableRange(TABLE.block), tableRange(LOG_REGION)]) {
    for await (const _ of reads.keys({ ...range, limit: 1 })) return true;
  }
  return false;
}
