/**
 * A ledger served as tlog-tiles (src/node/serve.ts), read as a BlockSource
 * for the full replay of ledger/verify-ledger.ts: the checkpoint, the block
 * note bundles of the dirchain extension path, and entry bundles. It also
 * checks that the served level-0 hash tiles hold exactly the leaf hashes of
 * the served entries, since proofs fetched from the same server use them.
 *
 * Nothing fetched is trusted: the replay checks every note signature, block
 * link, record signature, policy verdict and root; this file checks only the
 * framing (widths, bundle lengths) and the tiles.
 */

import type { BlockSource } from '../chain/verify.js';
import { equalBytes } from '../crypto/bytes.js';
import { nodeTreeHasher } from '../crypto/node-tree-hasher.js';
import { parseNote } from '../crypto/note.js';
import type { MemberSigner } from '../directory/submitter.js';
import { blockHeaderOfNote } from '../encoding/checkpoint.js';
import { ErrorCode, fail, isDirchainError } from '../errors.js';
import { tileHashReader } from '../merkle/divergence.js';
import type { HashReader } from '../merkle/prove.js';
import {
  decodeEntryBundle,
  ENTRIES_LEVEL,
  fullTileHash,
  TILE_HEIGHT,
  TILE_WIDTH,
  tilePath,
  tileWidthAt,
} from '../merkle/tiles.js';
import { readCapped } from '../node/http.js';
import { signRequest } from '../node/request-signature.js';
import type { StoredBlock } from '../storage/store.js';

const hasher = nodeTreeHasher;
/** The largest thing served: a full entry bundle of the largest entries (uint16 length + 65,535 bytes each). */
const MAX_BODY = TILE_WIDTH * (2 + 0xffff);

/** A response body, cut off (E_REMOTE) past MAX_BODY or when the request's time runs out. */
async function readBody(res: Response, url: string): Promise<Uint8Array> {
  try {
    return await readCapped(res, MAX_BODY, () =>
      fail(ErrorCode.REMOTE, `${url} sent more than ${MAX_BODY} bytes, more than any tile or bundle holds`),
    );
  } catch (e) {
    if (isDirchainError(e)) throw e;
    return fail(ErrorCode.REMOTE, `reading ${url} failed: ${(e as Error).message}`, {
      hint: 'the server stalled or closed the connection: try again later',
    });
  }
}

/** Entry bundles fetched ahead of the replay, so the network and the CPU overlap. */
const READ_AHEAD = 4;

interface Bundle {
  entries: Uint8Array[];
  /** The level-0 hash tile of the same entries. */
  tile: Uint8Array;
}

export interface HttpSourceStats {
  requests: number;
  bytes: number;
}

export class HttpBlockSource implements BlockSource {
  readonly base: string;
  readonly stats: HttpSourceStats = { requests: 0, bytes: 0 };
  #checkpoint: StoredBlock | undefined;
  #size = 0;
  readonly #bundles = new Map<number, Promise<Bundle>>();
  /**
   * The first entry whose served leaf hash (level-0 tile) is not its hash. Not
   * thrown at once: if the entry itself was changed the replay names it with
   * the better reason (signature, root); see auditLedger.
   */
  tileMismatch: number | undefined;
  /** Hashes of tree level 8 (one per full level-0 tile), folded from the served level-0 tiles. */
  readonly #level8: Uint8Array[] = [];

  readonly #as: MemberSigner | undefined;
  readonly #timeoutMs: number;
  /** Where the checkpoint is read: `checkpoint`, or a node's cosigned one (`dirchain/v1/checkpoint/cosigned`). */
  readonly #checkpointPath: string;
  /** Reads a path without HTTP (a ledger folder on this machine, sync/local-source.ts). */
  readonly #get: ((path: string) => Promise<Uint8Array>) | undefined;

  /**
   * With `as`, every request is signed as that member (RFC 9421): a node that
   * is not `--public` asks it. A request that takes longer than `timeoutMs`
   * (default 30 s) is E_REMOTE; a redirect is never followed (the data must
   * come from the address given). With `get`, paths are read through it
   * instead of HTTP, and `url` only names the source.
   */
  constructor(
    url: string,
    options: {
      as?: MemberSigner;
      timeoutMs?: number;
      checkpointPath?: string;
      get?: (path: string) => Promise<Uint8Array>;
    } = {},
  ) {
    this.base = url.endsWith('/') ? url : `${url}/`;
    this.#get = options.get;
    this.#as = options.as;
    this.#checkpointPath = options.checkpointPath ?? 'checkpoint';
    this.#timeoutMs = options.timeoutMs ?? 30_000;
  }

  /** A served tile's bytes as they are (a follower compares them with its own). */
  tile(path: string): Promise<Uint8Array> {
    return this.#fetch(path);
  }

  /** The stored hashes of the served tree of `size` leaves, read from its hash tiles (each fetched once). */
  hashReader(size: number): HashReader {
    return tileHashReader(hasher, size, async (t, path) => {
      const data = await this.#fetch(path);
      if (data.length !== t.width * 32)
        fail(
          ErrorCode.LEDGER_CORRUPT,
          `hash tile ${path.slice('tile/'.length)} has ${data.length} bytes, expected ${t.width * 32}`,
        );
      return data;
    });
  }

  async #fetch(path: string): Promise<Uint8Array> {
    if (this.#get !== undefined) {
      const body = await this.#get(path);
      this.stats.requests++;
      this.stats.bytes += body.length;
      return body;
    }
    const url = new URL(path, this.base).toString();
    let res: Response;
    try {
      const headers =
        this.#as === undefined ? undefined : await signRequest({ method: 'GET', url }, this.#as);
      res = await fetch(url, {
        ...(headers === undefined ? {} : { headers }),
        redirect: 'error',
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (e) {
      return fail(ErrorCode.REMOTE, `cannot fetch ${url}: ${(e as Error).cause ?? (e as Error).message}`, {
        hint: 'is a dirchain node serving the ledger at that address?',
      });
    }
    if (res.status !== 200) {
      await res.body?.cancel();
      fail(ErrorCode.REMOTE, `${url} answered HTTP ${res.status}`, {
        hint: 'the server is not serving this ledger (or not all of it)',
      });
    }
    const body = await readBody(res, url);
    this.stats.requests++;
    this.stats.bytes += body.length;
    return body;
  }

  /** The served checkpoint: the newest block note. Fetched once; the replay stops there. */
  async lastBlock(): Promise<StoredBlock> {
    if (this.#checkpoint === undefined) {
      const note = new TextDecoder().decode(await this.#fetch(this.#checkpointPath));
      const { header } = blockHeaderOfNote(note);
      this.#checkpoint = { height: header.height, note };
      this.#size = header.size;
    }
    return this.#checkpoint;
  }

  /**
   * Fetches the checkpoint again (a follower of a growing log). A smaller
   * tree than the one fetched before is E_CHECKPOINT_INVALID; the partial
   * bundles fetched for the old size are dropped (their width changes).
   */
  async refresh(): Promise<StoredBlock> {
    const before = this.#checkpoint;
    this.#checkpoint = undefined;
    const now = await this.lastBlock();
    if (before !== undefined) {
      const old = blockHeaderOfNote(before.note).header;
      if (this.#size < old.size)
        fail(
          ErrorCode.CHECKPOINT_INVALID,
          `the served checkpoint went back from size ${old.size} to ${this.#size}`,
        );
      for (const n of this.#bundles.keys()) if ((n + 1) * TILE_WIDTH > old.size) this.#bundles.delete(n);
    }
    return now;
  }

  /** Block notes from height `from` (default 0) to the checkpoint's block. */
  async *blocks(from = 0): AsyncGenerator<StoredBlock> {
    const last = await this.lastBlock();
    const count = last.height + 1;
    for (let n = Math.floor(from / TILE_WIDTH); n * TILE_WIDTH < count; n++) {
      const width = Math.min(TILE_WIDTH, count - n * TILE_WIDTH);
      const path = `dirchain/blocks/${tilePath({ level: 0, n, width }).slice('tile/0/'.length)}`;
      const notes = decodeEntryBundle(await this.#fetch(path));
      if (notes.length !== width)
        fail(ErrorCode.LEDGER_CORRUPT, `block bundle ${n} has ${notes.length} notes, expected ${width}`);
      for (let i = 0; i < width; i++) {
        const height = n * TILE_WIDTH + i;
        if (height < from) continue;
        const note = new TextDecoder().decode(notes[i]!);
        // The replay checks the chain up to here; the checkpoint must be its end.
        // The same signed text (a cosigned checkpoint carries more signature lines than the block's note).
        if (height === last.height && parseNote(note).text !== parseNote(last.note).text)
          fail(ErrorCode.LEDGER_CORRUPT, `the served checkpoint is not the note of block ${height}`);
        yield { height, note };
      }
    }
  }

  async *entries(from: number, to: number): AsyncGenerator<[number, Uint8Array]> {
    await this.lastBlock();
    if (to > this.#size)
      fail(ErrorCode.LEDGER_CORRUPT, `a block ends at ${to}, past the checkpoint's ${this.#size}`);
    for (let index = from; index < to; ) {
      const n = Math.floor(index / TILE_WIDTH);
      for (let k = n; k < n + READ_AHEAD && k * TILE_WIDTH < this.#size; k++) this.#bundle(k);
      const { entries, tile } = await this.#bundle(n);
      for (; index < to && index < (n + 1) * TILE_WIDTH; index++) {
        const i = index - n * TILE_WIDTH;
        const entry = entries[i]!;
        if (
          this.tileMismatch === undefined &&
          !equalBytes(hasher.leaf(entry), tile.subarray(i * 32, i * 32 + 32))
        )
          this.tileMismatch = index;
        yield [index, entry];
      }
      // A bundle is dropped once the replay has moved past it.
      if (index === (n + 1) * TILE_WIDTH) this.#bundles.delete(n);
    }
  }

  #bundle(n: number): Promise<Bundle> {
    let p = this.#bundles.get(n);
    if (p === undefined) {
      const loading = this.#loadBundle(n);
      p = loading;
      // A read-ahead failure surfaces when the bundle is awaited, and is not kept: the next ask fetches again.
      loading.catch(() => {
        if (this.#bundles.get(n) === loading) this.#bundles.delete(n);
      });
      this.#bundles.set(n, p);
    }
    return p;
  }

  async #loadBundle(n: number): Promise<Bundle> {
    const width = tileWidthAt(ENTRIES_LEVEL, n, this.#size);
    const [bytes, tile] = await Promise.all([
      this.#fetch(tilePath({ level: ENTRIES_LEVEL, n, width })),
      this.#fetch(tilePath({ level: 0, n, width })),
    ]);
    const entries = decodeEntryBundle(bytes);
    if (entries.length !== width) {
      fail(ErrorCode.LEDGER_CORRUPT, `entry bundle ${n} has ${entries.length} entries, expected ${width}`, {
        index: n * TILE_WIDTH + Math.min(entries.length, width),
      });
    }
    // Level-0 tile n lists the leaf hashes of exactly these entries (checked as they are read).
    if (tile.length !== width * 32)
      fail(ErrorCode.LEDGER_CORRUPT, `hash tile 0/${n} has ${tile.length} bytes, expected ${width * 32}`, {
        index: n * TILE_WIDTH,
      });
    if (width === TILE_WIDTH) this.#level8[n] = fullTileHash(hasher, tile);
    return { entries, tile };
  }

  /**
   * After a replay that read every entry (so every level-0 tile was checked
   * against its entries): the served tiles of levels 1 and up must list
   * exactly the folds of the full tiles below them (Go's tlog tile layout).
   * Returns the first wrong tile and the first record under the wrong hash.
   */
  async checkUpperTiles(): Promise<{ path: string; index: number } | undefined> {
    let expected = this.#level8;
    for (let level = 1; ; level++) {
      const count = Math.floor(this.#size / 2 ** (TILE_HEIGHT * level));
      if (count === 0) return undefined;
      if (expected.length !== count || expected.includes(undefined as never))
        fail(ErrorCode.INTERNAL, `level-${level} tiles checked before every entry was read`);
      const next: Uint8Array[] = [];
      for (let n = 0; n * TILE_WIDTH < count; n++) {
        const width = tileWidthAt(level, n, this.#size);
        const path = tilePath({ level, n, width });
        const data = await this.#fetch(path);
        const span = 2 ** (TILE_HEIGHT * level);
        if (data.length !== width * 32) return { path, index: n * TILE_WIDTH * span };
        for (let i = 0; i < width; i++) {
          if (!equalBytes(data.subarray(i * 32, i * 32 + 32), expected[n * TILE_WIDTH + i]!))
            return { path, index: (n * TILE_WIDTH + i) * span };
        }
        if (width === TILE_WIDTH) next.push(fullTileHash(hasher, data));
      }
      expected = next;
    }
  }
}
