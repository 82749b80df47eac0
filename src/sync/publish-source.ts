/**
 * What `publish` (publish.ts) reads: a ledger folder (a read-only handle) or a
 * served ledger (node/serve.ts, fetched as the follower fetches it), as the
 * objects `serve` answers; and the checks that keep anything its signed
 * checkpoint does not vouch for from being published: notes signed by the
 * pinned key, level-0 tiles that list their entries' leaf hashes, full tiles
 * that fold to their hash in the tile above (tlog-tiles "Merkle Tree").
 */
import { equalBytes, fromUtf8, utf8 } from '../crypto/bytes.js';
import { sha256Node, verifyNode } from '../crypto/node-crypto.js';
import { nodeTreeHasher } from '../crypto/node-tree-hasher.js';
import { type NoteVerifier, openNote, parseVerifierKey } from '../crypto/note.js';
import type { MemberSigner } from '../directory/submitter.js';
import { type BlockHeader, blockHeaderOfNote, parseBlockHeader } from '../encoding/checkpoint.js';
import { decodeRecord } from '../encoding/record.js';
import { DirchainError, ErrorCode, fail, isDirchainError } from '../errors.js';
import type { HashReader } from '../merkle/prove.js';
import {
  decodeEntryBundle,
  ENTRIES_LEVEL,
  encodeEntryBundle,
  fullTileHash,
  hashFromTile,
  TILE_HEIGHT,
  TILE_WIDTH,
  tileForIndex,
  tilePath,
  tileWidthAt,
} from '../merkle/tiles.js';
import { BLOCKS_PATH } from '../node/serve.js';
import { paramsFromGenesis } from '../policy/genesis.js';
import { LedgerStore } from '../storage/store.js';
import { HttpBlockSource } from './http-source.js';

const hasher = nodeTreeHasher;
const HASH = 32;

/** A ledger folder, or the URL of a node or `serve` (fetched as `options` say). */
export function openSource(
  source: string,
  options: { as?: MemberSigner; timeoutMs?: number },
): Promise<Source> {
  return /^https?:\/\//i.test(source) ? urlSource(source, options) : folderSource(source);
}

/** What a ledger is published from: its checkpoint and the objects `serve` would answer. */
export interface Source {
  readonly name: string;
  /** The newest block note. */
  readonly note: string;
  /** The ledger's own key, when the source holds its genesis (a folder). */
  readonly key: string | undefined;
  hashTile(level: number, n: number, width: number): Promise<Uint8Array>;
  entryBundle(n: number, width: number): Promise<Uint8Array>;
  blockBundle(n: number, width: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** A ledger folder, read through a read-only handle (a snapshot view if this process holds it). */
async function folderSource(path: string): Promise<Source> {
  let store: LedgerStore;
  try {
    store = await LedgerStore.openForReading(path);
  } catch (e) {
    // Most often another process (a node, serve) holds the folder: it serves what is needed.
    if (!isDirchainError(e, ErrorCode.STORAGE)) throw e;
    throw new DirchainError(e.code, e.message, {
      hint: 'if a node or serve holds the folder, publish from the URL it serves, with its key',
      cause: e,
    });
  }
  try {
    const last = await store.lastBlock();
    const genesis = store.getEntry(0);
    if (last === undefined || genesis === undefined)
      fail(ErrorCode.LEDGER_NOT_FOUND, `${path} holds no blocks: there is nothing to publish`);
    return {
      name: path,
      note: last.note,
      key: paramsFromGenesis(decodeRecord(genesis)).params.sequencerKey,
      hashTile: async (level, n, width) => store.checkedHashTile(level, n, width),
      entryBundle: async (n, width) =>
        store.checkedEntryBundle(n, width) ??
        fail(ErrorCode.LEDGER_CORRUPT, `entries of bundle ${n} are missing from ${path}`, {
          index: n * TILE_WIDTH,
        }),
      blockBundle: async (n, width) => {
        const notes: Uint8Array[] = [];
        for await (const b of store.blocks(n * TILE_WIDTH)) {
          notes.push(utf8(b.note));
          if (notes.length === width) break;
        }
        return encodeEntryBundle(notes);
      },
      close: () => store.close(),
    };
  } catch (e) {
    await store.close();
    throw e;
  }
}

/** A served ledger (node/serve.ts), fetched as the follower fetches it (HttpBlockSource). */
async function urlSource(url: string, options: { as?: MemberSigner; timeoutMs?: number }): Promise<Source> {
  const http = new HttpBlockSource(url, {
    ...(options.as === undefined ? {} : { as: options.as }),
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
  });
  const { note } = await http.lastBlock();
  return {
    name: http.base,
    note,
    key: undefined,
    hashTile: (level, n, width) => http.tile(tilePath({ level, n, width })),
    entryBundle: (n, width) => http.tile(tilePath({ level: ENTRIES_LEVEL, n, width })),
    blockBundle: (n, width) => http.tile(blockBundlePath(n, width)),
    close: async () => {},
  };
}

export const blockBundlePath = (n: number, width: number): string =>
  `${BLOCKS_PATH}${tilePath({ level: 0, n, width }).slice('tile/0/'.length)}`;

export function pinnedKey(text: string): NoteVerifier {
  if (typeof text !== 'string' || text.startsWith('PRIVATE+KEY'))
    fail(ErrorCode.KEY_INVALID, 'give the published sequencer verifier key, not a signer key', {
      hint: 'the sequencer.pub that init wrote: <origin>+<hash>+<base64>',
    });
  return parseVerifierKey(sha256Node, text.trim());
}

/** The header of a block note that must be signed by the pinned key for its origin; E_CHECKPOINT_INVALID otherwise. */
export function signedHeader(
  note: string,
  pinned: NoteVerifier,
  what: string,
): { header: BlockHeader; text: string } {
  try {
    const { text } = openNote(note, [pinned], verifyNode);
    const header = parseBlockHeader(text);
    if (header.origin !== pinned.name) fail(ErrorCode.CHECKPOINT_INVALID, `it is for ${header.origin}`);
    return { header, text };
  } catch (e) {
    if (!isDirchainError(e)) throw e;
    let size = 'unreadable';
    try {
      size = String(blockHeaderOfNote(note).header.size);
    } catch {
      // Not even a block note: said as it is.
    }
    return fail(
      ErrorCode.CHECKPOINT_INVALID,
      `${what} (tree size ${size}) is not a checkpoint of ${pinned.name} under the pinned key: ${e.message}`,
      { cause: e },
    );
  }
}

/** Stored hashes read from the source's hash tiles at one tree size (tiles kept once read). */
export class SourceTiles implements HashReader {
  readonly #tiles = new Map<string, Promise<Uint8Array>>();
  constructor(
    readonly source: Source,
    readonly size: number,
  ) {}

  /** Tile `level`/`n` at the width the tree has, its length checked. */
  tile(level: number, n: number): Promise<Uint8Array> {
    const width = tileWidthAt(level, n, this.size);
    const path = tilePath({ level, n, width });
    let tile = this.#tiles.get(path);
    if (tile === undefined) {
      tile = this.source
        .hashTile(level, n, width)
        .then((data) => checkedLength(data, path, width, this.source));
      this.#tiles.set(path, tile);
    }
    return tile;
  }

  readHashes(indexes: readonly number[]): Promise<Uint8Array[]> {
    return Promise.all(
      indexes.map(async (index) => {
        const { tile } = tileForIndex(index);
        const width = tileWidthAt(tile.level, tile.n, this.size);
        if (width < tile.width)
          fail(ErrorCode.INTERNAL, `stored hash ${index} is not in a tree of ${this.size}`);
        const data = await this.tile(tile.level, tile.n);
        return hashFromTile(hasher, { ...tile, width }, data, index);
      }),
    );
  }
}

export function checkedLength(data: Uint8Array, path: string, width: number, source: Source): Uint8Array {
  if (data.length !== width * HASH)
    fail(
      ErrorCode.LEDGER_CORRUPT,
      `${source.name}: ${path} has ${data.length} bytes, expected ${width * HASH}`,
    );
  return data;
}

export function safeUtf8(bytes: Uint8Array): string {
  try {
    return fromUtf8(bytes);
  } catch {
    return '';
  }
}

/** A block-note bundle: `width` notes of blocks 256n.., each signed by the pinned key, the last block's being the checkpoint. */
export function checkBlockBundle(
  bundle: Uint8Array,
  n: number,
  width: number,
  head: { header: BlockHeader; text: string },
  pinned: NoteVerifier,
  src: Source,
): string[] {
  const notes = decoded(bundle, `block bundle ${n}`, src).map((b) => safeUtf8(b));
  if (notes.length !== width)
    fail(
      ErrorCode.LEDGER_CORRUPT,
      `${src.name}: block bundle ${n} has ${notes.length} notes, expected ${width}`,
    );
  for (let i = 0; i < width; i++) {
    const height = n * TILE_WIDTH + i;
    const { header, text } = signedHeader(notes[i]!, pinned, `${src.name}'s note of block ${height}`);
    if (header.height !== height)
      fail(
        ErrorCode.LEDGER_CORRUPT,
        `${src.name}: block bundle ${n} holds block ${header.height} at ${height}`,
      );
    if (height === head.header.height && text !== head.text)
      fail(ErrorCode.LEDGER_CORRUPT, `${src.name}: the checkpoint is not the note of block ${height}`);
  }
  return notes;
}

function decoded(bundle: Uint8Array, what: string, src: Source): Uint8Array[] {
  try {
    return decodeEntryBundle(bundle);
  } catch (e) {
    return fail(ErrorCode.LEDGER_CORRUPT, `${src.name}: ${what} is not a bundle: ${(e as Error).message}`);
  }
}

/** Level-0 tile `n` lists exactly the leaf hashes of entry bundle `n` (tlog-tiles "Log entries"). */
export function checkLeaves(
  bundle: Uint8Array,
  tile: Uint8Array,
  n: number,
  width: number,
  src: Source,
): void {
  const entries = decoded(bundle, `entry bundle ${n}`, src);
  if (entries.length !== width)
    fail(
      ErrorCode.LEDGER_CORRUPT,
      `${src.name}: entry bundle ${n} has ${entries.length} entries, expected ${width}`,
      {
        index: n * TILE_WIDTH + Math.min(entries.length, width),
      },
    );
  for (let i = 0; i < width; i++) {
    if (!equalBytes(hasher.leaf(entries[i]!), tile.subarray(i * HASH, (i + 1) * HASH)))
      fail(
        ErrorCode.LEDGER_CORRUPT,
        `${src.name}: ${tilePath({ level: 0, n, width })} does not list the leaf hash of entry ${n * TILE_WIDTH + i}`,
        { index: n * TILE_WIDTH + i },
      );
  }
}

/** A full tile folds to its hash in the tile above (tlog-tiles "Merkle Tree"). */
export async function checkFold(
  tiles: SourceTiles,
  level: number,
  n: number,
  data: Uint8Array,
): Promise<void> {
  const above = await tiles.tile(level + 1, Math.floor(n / TILE_WIDTH));
  const i = n % TILE_WIDTH;
  if (!equalBytes(fullTileHash(hasher, data), above.subarray(i * HASH, (i + 1) * HASH)))
    fail(
      ErrorCode.LEDGER_CORRUPT,
      `${tiles.source.name}: ${tilePath({ level, n, width: TILE_WIDTH })} does not fold to hash ${i} of the level-${level + 1} tile above it`,
      { index: n * TILE_WIDTH * 2 ** (TILE_HEIGHT * level) },
    );
}
