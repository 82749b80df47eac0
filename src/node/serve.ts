/**
 * Serves a ledger read-only over HTTP as C2SP tlog-tiles (https://c2sp.org/tlog-tiles),
 * plus one dirchain extension for the block notes a full replay needs:
 *
 *   GET /checkpoint                     the newest block note (a C2SP checkpoint with
 *                                       block/prev/time extension lines), text/plain
 *   GET /tile/<L>/<N>[.p/<W>]           hash tiles (tile height 8), W·32 bytes
 *   GET /tile/entries/<N>[.p/<W>]       entry bundles: per entry, uint16 BE length + bytes
 *   GET /dirchain/blocks/<N>[.p/<W>]    block-note bundles: the signed notes of blocks
 *                                       256N .. 256N+W-1, each as uint16 BE length + UTF-8
 *   GET /dirchain/health                200 {"ok":true,"size":N}, or 503 with the error
 *                                       body once the store found damage (E_LEDGER_CORRUPT)
 *
 * <N> uses the tile path encoding (x001/x234/067). Full tiles and bundles never
 * change and are sent `immutable`; partial ones (the right edge) and the
 * checkpoint are `no-cache`. A partial of any width up to what the tree has is
 * served (its bytes are fixed once it exists); wider than the tree is 404.
 * The tile math is in merkle/tiles.ts; this file is only HTTP and storage reads.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { utf8 } from '../crypto/bytes.js';
import { blockHeaderOfNote } from '../encoding/checkpoint.js';
import { ErrorCode, fail } from '../errors.js';
import {
  ENTRIES_LEVEL,
  encodeEntryBundle,
  parseTileIndexPath,
  parseTilePath,
  TILE_WIDTH,
  tileWidthAt,
} from '../merkle/tiles.js';
import { LedgerStore, type StoredBlock } from '../storage/store.js';
import { createLimitedServer, type ErrorLog, errorReply, type HttpLimits, listenOn } from './http.js';

/**
 * What serving reads: a LedgerStore (or anything shaped like one). Entry
 * bundles and hash tiles come checked against the stored tree, so damaged
 * storage is answered with E_LEDGER_CORRUPT, never with wrong bytes.
 */
export type ServedStore = Pick<
  LedgerStore,
  'lastBlock' | 'checkedHashTile' | 'checkedEntryBundle' | 'blocks' | 'checkNewTablesGently'
>;

export const BLOCKS_PATH = 'dirchain/blocks/';
export const HEALTH_PATH = 'dirchain/health';
const JSON_TYPE = 'application/json';
const IMMUTABLE = 'public, max-age=31536000, immutable';

interface Reply {
  status: number;
  type: string;
  body: Uint8Array;
  cache?: string;
}

const notFound = (why: string): Reply => ({
  status: 404,
  type: 'text/plain; charset=utf-8',
  body: utf8(`${why}\n`),
});

/** Answers one GET path (without the leading "/") from the store. */
export async function tileResponse(store: ServedStore, path: string): Promise<Reply> {
  if (path === HEALTH_PATH) return health(store);
  const last = await store.lastBlock();
  if (last === undefined) return notFound('the ledger has no blocks');
  const { header } = blockHeaderOfNote(last.note);
  if (path === 'checkpoint') {
    return { status: 200, type: 'text/plain; charset=utf-8', body: utf8(last.note), cache: 'no-cache' };
  }
  if (path.startsWith(BLOCKS_PATH)) {
    const at = parseTileIndexPath(path.slice(BLOCKS_PATH.length));
    if (at === undefined) return notFound('not a block bundle path');
    const have = Math.max(0, Math.min(TILE_WIDTH, last.height + 1 - at.n * TILE_WIDTH));
    if (at.width > have) return notFound(`the ledger has ${last.height + 1} blocks`);
    const notes: Uint8Array[] = [];
    for await (const b of store.blocks(at.n * TILE_WIDTH)) {
      notes.push(utf8(b.note));
      if (notes.length === at.width) break;
    }
    return bundleReply(notes, at.width);
  }
  const tile = parseTilePath(path);
  if (tile === undefined) return notFound('no such path');
  if (tile.width > tileWidthAt(tile.level, tile.n, header.size))
    return notFound(`the tree has ${header.size} entries`);
  if (tile.level === ENTRIES_LEVEL) {
    const body = store.checkedEntryBundle(tile.n, tile.width);
    if (body === undefined)
      fail(ErrorCode.LEDGER_CORRUPT, `entries of bundle ${tile.n} are missing from the store`);
    return { status: 200, type: 'application/octet-stream', body, cache: cacheOf(tile.width) };
  }
  const body = store.checkedHashTile(tile.level, tile.n, tile.width);
  return { status: 200, type: 'application/octet-stream', body, cache: cacheOf(tile.width) };
}

/**
 * Healthy while the store has found no damage: the tables LevelDB added since
 * the last check are checked first (leveldb-files.ts; without blocking the event
 * loop for more than ~1 MiB of checksums at a time), then the head is read.
 */
async function health(store: ServedStore): Promise<Reply> {
  const damage = await store.checkNewTablesGently();
  if (damage === undefined) {
    try {
      const last = await store.lastBlock();
      const size = last === undefined ? 0 : blockHeaderOfNote(last.note).header.size;
      return {
        status: 200,
        type: JSON_TYPE,
        body: utf8(`${JSON.stringify({ ok: true, size })}\n`),
        cache: 'no-cache',
      };
    } catch (e) {
      return { ...errorReply(e, { request: 'GET /dirchain/health' }), status: 503, cache: 'no-cache' };
    }
  }
  return { ...errorReply(damage, { request: 'GET /dirchain/health' }), status: 503, cache: 'no-cache' };
}

function bundleReply(items: Uint8Array[], width: number): Reply {
  return {
    status: 200,
    type: 'application/octet-stream',
    body: encodeEntryBundle(items),
    cache: cacheOf(width),
  };
}

const cacheOf = (width: number): string => (width === TILE_WIDTH ? IMMUTABLE : 'no-cache');

/**
 * A node:http request handler over a store. A failed read is a 500 with its
 * code only (node/http.ts `errorReply`); the detail goes to `options.log`.
 */
export function tileHandler(
  store: ServedStore,
  options: { log?: ErrorLog } = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const send = (r: Reply) => {
      res.statusCode = r.status;
      res.setHeader('Content-Type', r.type);
      res.setHeader('Content-Length', r.body.length);
      if (r.cache) res.setHeader('Cache-Control', r.cache);
      res.end(req.method === 'HEAD' ? undefined : r.body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      send({ status: 405, type: 'text/plain; charset=utf-8', body: utf8('read-only: GET or HEAD\n') });
      return;
    }
    // Tile paths are plain ASCII; anything percent-encoded is not one of them.
    const path = (req.url ?? '/').split('?')[0]!.replace(/^\/+/, '');
    tileResponse(store, path).then(send, (e: unknown) => {
      send(errorReply(e, { log: options.log, request: `${req.method} /${path}` }));
    });
  };
}

export interface ServeOptions {
  /** Default 127.0.0.1: serving to other hosts is a choice to make explicitly. */
  readonly host?: string;
  /** 0 (default) picks a free port. */
  readonly port?: number;
  /** Overrides of DEFAULT_HTTP_LIMITS (node/http.ts). */
  readonly limits?: Partial<HttpLimits>;
  /** Where failed requests are described; default console.error. */
  readonly log?: ErrorLog;
}

export interface RunningServer {
  /** Base URL, e.g. http://127.0.0.1:8080/ */
  readonly url: string;
  readonly origin: string;
  readonly size: number;
  readonly server: Server;
  close(): Promise<void>;
}

/** Opens the ledger folder (holding its lock) and serves it until `close()`. */
export async function serveLedger(path: string, options: ServeOptions = {}): Promise<RunningServer> {
  const store = await LedgerStore.open(path, { create: false });
  let last: StoredBlock | undefined;
  try {
    last = await store.lastBlock();
    if (last === undefined) fail(ErrorCode.LEDGER_NOT_FOUND, `${path} holds no blocks`);
  } catch (e) {
    await store.close();
    throw e;
  }
  const { header } = blockHeaderOfNote(last.note);
  const server = createLimitedServer(tileHandler(store, { log: options.log }), {
    limits: options.limits,
    log: options.log,
  });
  const host = options.host ?? '127.0.0.1';
  let url: string;
  try {
    url = await listenOn(server, host, options.port ?? 0);
  } catch (e) {
    await store.close();
    throw e;
  }
  return {
    url,
    origin: header.origin,
    size: header.size,
    server,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await store.close();
    },
  };
}
