/**
 * `dirchain node`: one process owns a ledger folder, sequences the records
 * submitted over HTTP, serves the log as C2SP tlog-tiles while it appends,
 * and answers proofs and directory queries to members. The format is
 * docs/http-api.md (shapes in node/wire.ts); the HTTP limits are node/http.ts's.
 */

import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { fromHex, utf8 } from '../crypto/bytes.js';
import { witnessPolicy } from '../crypto/cosignature.js';
import { nodeTreeHasher } from '../crypto/node-tree-hasher.js';
import type { BatchReceipt, Receipt } from '../directory/submitter.js';
import { attributionToJSON, consistencyBundleToJSON, inclusionBundleToJSON } from '../encoding/bundle.js';
import { parseBatchBody } from '../encoding/event.js';
import { decodeRecord } from '../encoding/record.js';
import { DirchainError, ErrorCode, fail, isDirchainError } from '../errors.js';
import type { Ledger } from '../ledger/ledger.js';
import { openLedger, openReplica, type ReplicaOptions } from '../ledger/open.js';
import type { Head, LedgerOptions } from '../ledger/types.js';
import { decodeEntryBundle } from '../merkle/tiles.js';
import type { EntityType } from '../policy/entities.js';
import { DEFAULT_POLICY } from '../policy/genesis.js';
import type { DirectoryQuery } from '../query/query.js';
import { statusBundleToJSON } from '../state/status-proof.js';
import { parseWitnessKeys } from '../verify.js';
import { createLimitedServer, errorReply, type HttpLimits, listenOn } from './http.js';
import { createNodeLog, errorLogOf, type NodeLog } from './log.js';
import { createNodeMetrics, type NodeMetrics } from './metrics.js';
import { NonceStore, verifyRequest } from './request-signature.js';
import { BLOCKS_PATH, HEALTH_PATH, tileResponse } from './serve.js';
import {
  BINARY_TYPE,
  b64,
  bytesList,
  bytesOf,
  DEFAULT_MAX_BODY,
  errorBody,
  type ItemProof,
  isQueryMethod,
  JSON_TYPE,
  jsonWithBytes,
  PATHS,
  QUERY_METHODS,
  statusAgrees,
  statusOf,
} from './wire.js';
import { WitnessCollector, type WitnessTarget } from './witness-client.js';

export interface NodeOptions extends LedgerOptions {
  /** The sequencer's signer key (`PRIVATE+KEY+...`): the node sequences. Not with `replica`. */
  readonly sequencerKey?: string;
  /**
   * Run as a replica instead: follow this node (or tlog-tiles server) and
   * answer every read of the API from the replica; submissions are 403 E_READ_ONLY.
   */
  readonly replica?: ReplicaOptions;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** 0 (default) picks a free port. */
  readonly port?: number;
  /** Serve the checkpoint, tiles and block notes to anyone (proofs and queries stay members-only). */
  readonly public?: boolean;
  /** Serve /metrics on this address only (not on the main one). */
  readonly metricsListen?: { readonly host: string; readonly port: number };
  /** Largest request body read, in bytes (default 16 MiB). */
  readonly maxBody?: number;
  /** Overrides of the HTTP limits (node/http.ts DEFAULT_HTTP_LIMITS). */
  readonly limits?: Partial<HttpLimits>;
  /** Structured logs (default: JSON lines on stderr, level info). */
  readonly log?: NodeLog;
  /** Request nonces remembered at once (default 1,000,000). */
  readonly nonceCapacity?: number;
  /**
   * The `Host` values signed requests may name (`host:port`, as clients address
   * the node, e.g. behind a proxy). Default: the address it listens on; on a
   * wildcard address (0.0.0.0, ::) give them, or any host is taken (as with `*`).
   */
  readonly hosts?: readonly string[];
  /** Witnesses to ask for cosignatures of the latest checkpoint (C2SP tlog-witness), every `witnessIntervalMs`. */
  readonly witnesses?: readonly WitnessTarget[];
  /** Default 5,000 ms. */
  readonly witnessIntervalMs?: number;
}

export interface RunningNode {
  /** Base URL, e.g. http://127.0.0.1:8080/ */
  readonly url: string;
  /** Where /metrics is served when `metricsListen` was given. */
  readonly metricsUrl: string | undefined;
  readonly origin: string;
  /** Tree size when the node started. */
  readonly size: number;
  /** The ledger the node owns (for in-process use: tests, embedding). */
  readonly ledger: Ledger;
  /**
   * Stops: new submissions are refused (503 E_UNAVAILABLE), the blocks in
   * flight are finished and answered, then the servers and the folder close.
   */
  close(): Promise<void>;
}

interface Reply {
  status: number;
  type: string;
  body: Uint8Array | string;
  cache?: string;
  headers?: Record<string, string>;
}

/** A query request is a method name and a few arguments. */
const MAX_QUERY_BODY = 64 * 1024;

/** Fixed route names (metrics labels and logs never carry a raw path). */
type Route =
  | 'checkpoint'
  | 'cosigned'
  | 'tile'
  | 'blocks'
  | 'health'
  | 'ready'
  | 'metrics'
  | 'record'
  | 'records'
  | 'batch'
  | 'inclusion'
  | 'consistency'
  | 'status'
  | 'query'
  | 'unknown';

function routeOf(path: string, metricsHere: boolean): Route {
  if (path === 'checkpoint') return 'checkpoint';
  if (path === PATHS.cosigned) return 'cosigned';
  if (path.startsWith('tile/')) return 'tile';
  if (path.startsWith(BLOCKS_PATH)) return 'blocks';
  if (path === HEALTH_PATH) return 'health';
  if (path === PATHS.ready) return 'ready';
  if (path === PATHS.metrics && metricsHere) return 'metrics';
  if (path === PATHS.record) return 'record';
  if (path === PATHS.records) return 'records';
  if (path === PATHS.batch) return 'batch';
  if (path === PATHS.inclusion) return 'inclusion';
  if (path === PATHS.consistency) return 'consistency';
  if (path === PATHS.status) return 'status';
  if (path === PATHS.query) return 'query';
  return 'unknown';
}

const METHODS: Record<Route, readonly string[]> = {
  checkpoint: ['GET', 'HEAD'],
  cosigned: ['GET', 'HEAD'],
  tile: ['GET', 'HEAD'],
  blocks: ['GET', 'HEAD'],
  health: ['GET', 'HEAD'],
  ready: ['GET', 'HEAD'],
  metrics: ['GET', 'HEAD'],
  record: ['POST'],
  records: ['POST'],
  batch: ['POST'],
  inclusion: ['GET'],
  consistency: ['GET'],
  status: ['GET'],
  query: ['POST'],
  unknown: [],
};

const json = (status: number, value: unknown, cache = 'no-store', bytes = false): Reply => ({
  status,
  type: JSON_TYPE,
  // A replacer makes JSON.stringify about twice as slow: only answers that may hold bytes take one.
  body: `${bytes ? jsonWithBytes(value) : JSON.stringify(value)}\n`,
  cache,
});

/** A request-signature refusal, whose status is not the one its code has for a record. */
class Refusal {
  constructor(
    readonly error: DirchainError,
    readonly status: number,
  ) {}
}

const AUTH_STATUS: Readonly<Record<string, number>> = {
  [ErrorCode.UNKNOWN_MEMBER]: 401,
  [ErrorCode.UNKNOWN_KEY]: 401,
  [ErrorCode.MEMBER_INACTIVE]: 403,
};

function refusal(e: DirchainError, status = statusOf(e.code)): Reply {
  if (status >= 500 && status !== 503) {
    // Storage and internal failures: a fixed sentence; the detail goes to the log (node/http.ts).
    return { ...errorReply(e, { log: () => {} }), status };
  }
  return {
    ...json(status, errorBody(e)),
    ...(status === 503 ? { headers: { 'Retry-After': '1' } } : {}),
  };
}

/** Opens the folder with the sequencer key and serves it until `close()`. */
export async function startNode(path: string, options: NodeOptions): Promise<RunningNode> {
  const log = options.log ?? createNodeLog();
  const metrics = createNodeMetrics();
  if ((options.replica === undefined) === (options.sequencerKey === undefined))
    fail(
      ErrorCode.INVALID_ARGUMENT,
      'a node takes the sequencer key, or replica options to follow another node',
    );
  // A witness key that cannot be read is the operator's mistake: refused now, not logged every round.
  if (options.witnesses !== undefined) parseWitnessKeys(options.witnesses.map((w) => w.verifierKey));
  // Likewise a replica's (and a quorum it could never meet), not met by a follower that stops at once.
  if (options.replica?.witnesses !== undefined || options.replica?.quorum !== undefined)
    witnessPolicy(parseWitnessKeys(options.replica.witnesses ?? []), options.replica.quorum);
  let ledger: Ledger;
  let following: Promise<unknown> | undefined;
  let relayed: (() => string | undefined) | undefined;
  if (options.replica !== undefined) {
    ({ ledger, following, cosigned: relayed } = await openReplica(path, options.replica));
    following.then(
      (r) => log.write('info', 'follower stopped', { report: r }),
      (e: unknown) =>
        log.write('error', 'follower stopped: the replica keeps its blocks and answers reads', { error: e }),
    );
  } else {
    ledger = await openLedger(path, {
      ...options,
      onBlock: (b) => {
        metrics.blockWritten(b.seconds);
        options.onBlock?.(b);
      },
    });
  }
  const service = new NodeService(ledger, options, log, metrics, following, relayed);
  try {
    return await service.listen(options);
  } catch (e) {
    await ledger.close();
    throw e;
  }
}

class NodeService {
  readonly #ledger: Ledger;
  readonly #log: NodeLog;
  readonly #metrics: NodeMetrics;
  readonly #nonces: NonceStore;
  readonly #public: boolean;
  readonly #maxBody: number;
  readonly #clock: () => number;
  /** How far a request's `created` may be from the node's clock (ms). */
  readonly #window: number;
  /** The Host values a signed request may name; undefined: any. */
  #hosts: Set<string> | undefined;
  #metricsHere = true;
  #witnesses: WitnessCollector | undefined;
  /** A replica following witnessed checkpoints: the last one it caught up to, which it serves as cosigned. */
  readonly #relayed: (() => string | undefined) | undefined;
  #draining = false;
  /** Submissions taken and not yet answered. */
  readonly #inFlight = new Set<Promise<unknown>>();

  /** A replica's follower; settled once it stopped. */
  #followerStopped: unknown;

  constructor(
    ledger: Ledger,
    options: NodeOptions,
    log: NodeLog,
    metrics: NodeMetrics,
    following: Promise<unknown> | undefined,
    relayed?: () => string | undefined,
  ) {
    this.#relayed = relayed;
    this.#ledger = ledger;
    following?.then(
      () => {
        this.#followerStopped ??= new DirchainError(ErrorCode.UNAVAILABLE, 'the replica stopped following');
      },
      (e: unknown) => {
        this.#followerStopped = e;
      },
    );
    this.#log = log;
    this.#metrics = metrics;
    this.#public = options.public === true;
    this.#maxBody = options.maxBody ?? DEFAULT_MAX_BODY;
    if (!Number.isSafeInteger(this.#maxBody) || this.#maxBody < 1)
      fail(ErrorCode.INVALID_ARGUMENT, `maxBody must be a positive integer, got ${String(options.maxBody)}`);
    this.#clock = options.clock ?? Date.now;
    this.#window = requestWindow(ledger.params.policy.maxClockSkewMs);
    this.#nonces = new NonceStore({
      ...(options.nonceCapacity === undefined ? {} : { capacity: options.nonceCapacity }),
      // A request may be `created` a window ahead of the clock and still be good a window later: keep its nonce past both.
      ttlMs: 2 * this.#window + 1000,
    });
  }

  async listen(options: NodeOptions): Promise<RunningNode> {
    const errorLog = errorLogOf(this.#log);
    const server = createLimitedServer((req, res) => this.#handle(req, res), {
      limits: options.limits,
      log: errorLog,
    });
    const host = options.host ?? '127.0.0.1';
    const url = await listenOn(server, host, options.port ?? 0);
    // A request signed for another node (its @target-uri names that node's host) is not replayed here.
    const own = new URL(url).host;
    const wildcard = ['0.0.0.0', '::', '[::]'].includes(host);
    if (!options.hosts?.includes('*') && (options.hosts !== undefined || !wildcard))
      this.#hosts = new Set([...(options.hosts ?? []), ...(wildcard ? [] : [own])]);
    let metricsServer: Server | undefined;
    let metricsUrl: string | undefined;
    if (options.metricsListen !== undefined) {
      this.#metricsHere = false;
      metricsServer = createLimitedServer((req, res) => this.#handleMetrics(req, res), { log: errorLog });
      try {
        metricsUrl = await listenOn(metricsServer, options.metricsListen.host, options.metricsListen.port);
      } catch (e) {
        await closeServer(server);
        throw e;
      }
    }
    if (options.witnesses !== undefined && options.witnesses.length > 0 && options.replica === undefined) {
      this.#witnesses = new WitnessCollector(this.#ledger, options.witnesses, this.#log);
      this.#witnesses.start(options.witnessIntervalMs ?? 5000);
    }
    const head = this.#ledger.head();
    this.#log.write('info', 'node started', {
      url,
      origin: head.origin,
      size: head.size,
      public: this.#public,
      ...(metricsUrl === undefined ? {} : { metricsUrl }),
    });
    let closing: Promise<void> | undefined;
    return {
      url,
      metricsUrl,
      origin: head.origin,
      size: head.size,
      ledger: this.#ledger,
      close: () => {
        closing ??= this.#close(server, metricsServer);
        return closing;
      },
    };
  }

  async #close(server: Server, metricsServer: Server | undefined): Promise<void> {
    this.#draining = true;
    this.#log.write('info', 'node stopping: refusing new submissions, finishing blocks in flight');
    try {
      await Promise.allSettled([...this.#inFlight]);
      await this.#ledger.flush();
      await this.#witnesses?.stop();
    } finally {
      await Promise.all([closeServer(server), metricsServer && closeServer(metricsServer)]);
      await this.#ledger.close();
      this.#log.write('info', 'node stopped', { size: this.#ledger.head().size });
    }
  }

  #handleMetrics(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = pathOf(req);
    if (path !== PATHS.metrics) return send(req, res, json(404, notFound(path)));
    return this.#metrics
      .render()
      .then((m) => send(req, res, { status: 200, type: m.contentType, body: m.body, cache: 'no-store' }));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const id = this.#log.requestId();
    res.setHeader('X-Request-Id', id);
    const path = pathOf(req);
    const route = routeOf(path, this.#metricsHere);
    let reply: Reply;
    try {
      reply = await this.#dispatch(route, path, req);
    } catch (e) {
      if (e instanceof Refusal) {
        reply = refusal(e.error, e.status);
      } else if (!isDirchainError(e)) {
        reply = { ...errorReply(e, { log: errorLogOf(this.#log.child({ req: id })) }) };
      } else {
        if (statusOf(e.code) >= 500) this.#log.write('error', 'request failed', { req: id, route, error: e });
        reply = refusal(e);
      }
      // A body the node did not read (too large, refused before reading) must not be parsed as the next request.
      if (!req.complete) reply.headers = { ...reply.headers, Connection: 'close' };
    }
    await send(req, res, reply);
    const seconds = (performance.now() - started) / 1000;
    this.#metrics.request(req.method ?? 'other', route, reply.status, seconds);
    const level = reply.status >= 500 ? 'warn' : reply.status >= 400 ? 'info' : 'debug';
    this.#log.write(level, 'request', {
      req: id,
      method: req.method,
      route,
      status: reply.status,
      ms: Math.round(seconds * 1e4) / 10,
      ...(reply.status >= 400 && typeof reply.body === 'string' ? { answer: codeIn(reply.body) } : {}),
    });
  }

  async #dispatch(route: Route, path: string, req: IncomingMessage): Promise<Reply> {
    const allowed = METHODS[route];
    if (route === 'unknown') return json(404, notFound(path));
    if (!allowed.includes(req.method ?? '')) {
      const e = new DirchainError(
        ErrorCode.METHOD_NOT_ALLOWED,
        `${req.method} is not answered at /${path}; use ${allowed.join(' or ')}`,
      );
      return { ...refusal(e), headers: { Allow: allowed.join(', ') } };
    }
    switch (route) {
      case 'health':
        return tileResponse(this.#ledger.store, path);
      case 'ready':
        if (this.#draining) fail(ErrorCode.UNAVAILABLE, 'the node is shutting down');
        if (this.#followerStopped !== undefined && !this.#draining) {
          const why = isDirchainError(this.#followerStopped)
            ? `${this.#followerStopped.code}: ${this.#followerStopped.message}`
            : String(this.#followerStopped);
          fail(
            ErrorCode.UNAVAILABLE,
            `the replica stopped following (${why}); it still answers reads as of its last block`,
          );
        }
        return json(200, { ready: true, size: this.#ledger.head().size });
      case 'metrics': {
        const m = await this.#metrics.render();
        return { status: 200, type: m.contentType, body: m.body, cache: 'no-store' };
      }
      case 'cosigned': {
        if (!this.#public) await this.#authenticate(req, new Uint8Array(0));
        const note = this.#witnesses?.cosigned ?? this.#relayed?.();
        if (note === undefined)
          fail(ErrorCode.NOT_FOUND, 'no checkpoint has been cosigned yet', {
            hint: 'a node serves cosigned checkpoints when it asks witnesses, or, as a replica, follows witnessed ones',
          });
        return { status: 200, type: 'text/plain; charset=utf-8', body: note, cache: 'no-cache' };
      }
      case 'checkpoint':
      case 'tile':
      case 'blocks':
        if (!this.#public) await this.#authenticate(req, new Uint8Array(0));
        return tileResponse(this.#ledger.store, path);
      case 'record':
      case 'records':
      case 'batch':
        return this.#submission(route, req);
      case 'inclusion':
        await this.#authenticate(req, new Uint8Array(0));
        return this.#inclusion(req);
      case 'status':
        // A status value names parties and purposes' ids: members only, as proofs of records are.
        await this.#authenticate(req, new Uint8Array(0));
        return this.#status(req);
      case 'consistency':
        // On a public node anyone may follow the head, which takes consistency proofs (they are hashes only).
        if (!this.#public) await this.#authenticate(req, new Uint8Array(0));
        return this.#consistency(req);
      case 'query': {
        // Only a signed request's body is read, and a query's is small.
        if (req.headers.signature === undefined || req.headers['signature-input'] === undefined)
          fail(
            ErrorCode.UNAUTHENTICATED,
            'a query must be signed by a member (RFC 9421): no Signature header',
            {
              hint: 'see docs/http-api.md, "Request signatures"',
            },
          );
        const body = await this.#readBody(req, [JSON_TYPE], MAX_QUERY_BODY);
        await this.#authenticate(req, body.bytes);
        return this.#query(body.bytes);
      }
    }
  }

  async #authenticate(req: IncomingMessage, body: Uint8Array): Promise<void> {
    try {
      await this.#verify(req, body);
    } catch (e) {
      // Who may ask, not what the ledger's rules say of a record: 401, or 403 for a member who may not.
      if (isDirchainError(e) && AUTH_STATUS[e.code] !== undefined) throw new Refusal(e, AUTH_STATUS[e.code]!);
      throw e;
    }
  }

  #verify(req: IncomingMessage, body: Uint8Array): Promise<unknown> {
    const host = req.headers.host ?? '';
    if (this.#hosts !== undefined && !this.#hosts.has(host)) {
      fail(
        ErrorCode.UNAUTHENTICATED,
        `the request names host ${JSON.stringify(host.slice(0, 100))}, not this node`,
        {
          hint: `address this node as ${[...this.#hosts].join(' or ')}: a request signed for another node is not taken here`,
        },
      );
    }
    return verifyRequest(
      {
        method: req.method ?? '',
        targetUri: `http://${req.headers.host ?? ''}${req.url ?? '/'}`,
        headers: req.headers,
        ...(body.length > 0 ? { body } : {}),
      },
      (member) => this.#ledger.view.get('member', member),
      {
        skewMs: this.#window,
        now: this.#clock(),
        nonces: this.#nonces,
      },
    );
  }

  // ---- submissions ------------------------------------------------------------------------

  async #submission(route: 'record' | 'records' | 'batch', req: IncomingMessage): Promise<Reply> {
    if (this.#draining)
      fail(ErrorCode.UNAVAILABLE, 'the node is shutting down: submit to it again once it is back');
    // Counted from the first byte read: a shutdown waits for a submission whose body is still arriving.
    const answer = this.#readBody(req, [BINARY_TYPE, JSON_TYPE]).then(({ bytes, type }) =>
      this.#submit(route, bytes, type, searchOf(req)),
    );
    this.#inFlight.add(answer);
    this.#metrics.setQueueDepth(this.#inFlight.size);
    try {
      return await answer;
    } finally {
      this.#inFlight.delete(answer);
      this.#metrics.setQueueDepth(this.#inFlight.size);
    }
  }

  async #submit(
    route: 'record' | 'records' | 'batch',
    bytes: Uint8Array,
    type: string,
    params: URLSearchParams,
  ): Promise<Reply> {
    const binary = type === BINARY_TYPE;
    const body = binary ? undefined : parseJson(bytes);
    if (route === 'record') {
      const entry = binary ? bytes : bytesOf(field(body, 'entry'), 'entry');
      return json(200, await this.#once(entry, () => this.#ledger.append(entry)));
    }
    if (route === 'records') {
      const entries = binary ? bundleOf(bytes) : bytesList(field(body, 'entries'), 'entries');
      const atomic = binary ? flag(params, 'atomic') : (field(body, 'atomic') ?? false);
      if (typeof atomic !== 'boolean') fail(ErrorCode.DECODE, '"atomic" must be true or false');
      const results = await this.#ledger.appendMany(entries, { atomic });
      const answers = await Promise.all(
        results.map(async (r, i) => {
          if (!isDirchainError(r)) {
            this.#metrics.appended(1);
            return r;
          }
          const original = await this.#original(entries[i]!, r);
          if (original !== undefined) return original;
          this.#metrics.refused(r.code);
          return errorBody(r);
        }),
      );
      return json(200, { results: answers });
    }
    let seal: Uint8Array;
    let events: Uint8Array[];
    if (binary) {
      const all = bundleOf(bytes);
      if (all.length === 0) fail(ErrorCode.DECODE, 'a batch bundle needs its seal first');
      [seal, ...events] = all as [Uint8Array, ...Uint8Array[]];
    } else {
      seal = bytesOf(field(body, 'seal'), 'seal');
      events = bytesList(field(body, 'events'), 'events');
    }
    try {
      const receipt = await this.#ledger.appendBatch(seal, events);
      this.#metrics.appended(1 + receipt.count);
      return json(200, receipt);
    } catch (e) {
      const original = await this.#original(seal, e);
      if (original !== undefined) {
        const batch: BatchReceipt = {
          seal: original.index,
          first: original.index + 1,
          count: parseBatchBody(decodeRecord(seal).body).count,
          height: original.height,
        };
        return json(200, batch);
      }
      if (isDirchainError(e)) this.#metrics.refused(e.code);
      throw e;
    }
  }

  /** Appends one record; a resubmission of bytes already in the log is answered with the original receipt. */
  async #once(entry: Uint8Array, append: () => Promise<Receipt>): Promise<Receipt> {
    try {
      const receipt = await append();
      this.#metrics.appended(1);
      return receipt;
    } catch (e) {
      const original = await this.#original(entry, e);
      if (original !== undefined) return original;
      if (isDirchainError(e)) this.#metrics.refused(e.code);
      throw e;
    }
  }

  /**
   * For a refused submission: the receipt of the record already in the log
   * with these bytes, if there is one. A retry is refused as a duplicate, or,
   * once its record is older than the clock-skew window or the state moved on,
   * by another rule: either way it was accepted once and gets that receipt.
   * The first copy may still be on its way to disk (a retry that overtook its
   * answer): then the queued appends are waited for, and it is looked up again.
   */
  async #original(entry: Uint8Array, refusal: unknown): Promise<Receipt | undefined> {
    if (!isDirchainError(refusal) || !RULE_REFUSAL(refusal.code)) return undefined;
    const leaf = nodeTreeHasher.leaf(entry);
    let index = this.#ledger.indexOfLeaf(leaf);
    if (index === undefined) {
      // The first copy may be in a block not yet on disk, and a retry of a record that names a new
      // id is refused by that id's rule (E_DUPLICATE_ID) before the duplicate check: wait for it.
      await this.#ledger.flush();
      index = this.#ledger.indexOfLeaf(leaf);
    }
    if (index === undefined) return undefined;
    return { index, height: await this.#ledger.heightOf(index) };
  }

  // ---- reads ------------------------------------------------------------------------------

  async #inclusion(req: IncomingMessage): Promise<Reply> {
    const params = searchOf(req);
    const size = optionalCount(params, 'size') ?? this.#ledger.head().size;
    const leaf = params.get('leaf');
    let index: number;
    if (leaf !== null) {
      if (params.has('index')) fail(ErrorCode.INVALID_ARGUMENT, 'give index or leaf, not both');
      if (!/^[0-9a-f]{64}$/i.test(leaf))
        fail(ErrorCode.INVALID_ARGUMENT, 'leaf must be a leaf hash: 64 hex digits');
      const found = this.#ledger.indexOfLeaf(fromHex(leaf.toLowerCase()));
      if (found === undefined)
        fail(ErrorCode.NOT_FOUND, `the log has no signed record with leaf hash ${leaf.toLowerCase()}`, {
          hint: 'an event of a batch is found through its seal: ask for it by index',
        });
      index = found;
    } else {
      index = requiredCount(params, 'index');
    }
    return json(200, inclusionBundleToJSON(await this.#ledger.proveInclusion(index, size)));
  }

  async #status(req: IncomingMessage): Promise<Reply> {
    const params = searchOf(req);
    const size = optionalCount(params, 'size') ?? this.#ledger.head().size;
    const type = params.get('type');
    const id = params.get('id');
    if (type === null || id === null) fail(ErrorCode.INVALID_ARGUMENT, 'give type and id');
    return json(200, statusBundleToJSON(await this.#ledger.proveStatus(type, id, size)));
  }

  async #consistency(req: IncomingMessage): Promise<Reply> {
    const params = searchOf(req);
    const size1 = requiredCount(params, 'size1');
    const size2 = optionalCount(params, 'size2') ?? this.#ledger.head().size;
    return json(200, consistencyBundleToJSON(await this.#ledger.proveConsistency(size1, size2)));
  }

  async #query(bytes: Uint8Array): Promise<Reply> {
    const body = parseJson(bytes);
    const method = field(body, 'method');
    if (!isQueryMethod(method)) {
      fail(ErrorCode.INVALID_ARGUMENT, `unknown query method ${JSON.stringify(method)}`, {
        hint: `one of: ${Object.keys(QUERY_METHODS).join(', ')}`,
      });
    }
    const args = field(body, 'args');
    if (!Array.isArray(args) || args.length > QUERY_METHODS[method])
      fail(
        ErrorCode.INVALID_ARGUMENT,
        `"args" of ${method} must be a list of at most ${QUERY_METHODS[method]} values`,
      );
    const query = this.#ledger.query as unknown as Record<string, (...a: unknown[]) => unknown>;
    // JSON has no undefined: null is an argument left out (a filter or page options).
    const given = args.map((a: unknown) => (a === null ? undefined : a));
    if (method === 'get') return this.#get(given[0], given[1]);
    const result = (await query[method]!.apply(this.#ledger.query as DirectoryQuery, given)) as unknown;
    const items = (result as { items: unknown[] }).items;
    const head = await this.#headCovering(items);
    const proofs = await Promise.all(items.map((item) => this.#itemProof(item, head.size)));
    // A record item goes as its index (and seal, grant): the client reads the record from its proof's leaf.
    const shown = {
      ...(result as object),
      items: items.map((i) => (RECORD_ITEMS.has(method) ? withoutRecord(i) : i)),
    };
    // Only member entities hold bytes (keys): the other answers need no replacer.
    return json(
      200,
      { checkpoint: head.checkpoint, result: shown, proofs },
      'no-store',
      items.some(holdsBytes),
    );
  }

  /**
   * One entity, with its record's inclusion proof and its status proof at the
   * same checkpoint (docs/http-api.md "Queries"): the proof shows the entity
   * is current there, or absent. The state a query reads is durable a moment
   * before the head advances to its block, so an answer whose status proof
   * disagrees with the entity read is tried again until they meet.
   */
  async #get(type: unknown, id: unknown): Promise<Reply> {
    const deadline = performance.now() + 5000;
    for (;;) {
      const item = this.#ledger.query.get(type as EntityType, id as string) as { index: number } | undefined;
      const items = item === undefined ? [] : [item];
      const head = await this.#headCovering(items);
      const status = await this.#ledger.proveStatus(type as string, id as string, head.size);
      if (statusAgrees(type as string, item, status.items[0]!.value)) {
        const proofs = await Promise.all(items.map((i) => this.#itemProof(i, head.size)));
        return json(
          200,
          {
            checkpoint: head.checkpoint,
            result: { item: item ?? null },
            proofs,
            status: statusBundleToJSON(status),
          },
          'no-store',
          items.some(holdsBytes),
        );
      }
      if (performance.now() > deadline)
        fail(ErrorCode.UNAVAILABLE, `the status of ${type} ${JSON.stringify(id)} did not settle`);
      await new Promise((r) => setImmediate(r));
    }
  }

  /**
   * A head whose tree holds every item's record. The state and indexes a
   * query reads are durable once LevelDB has the block, a moment before the
   * head advances to it (the sequencer's answer runs next): wait that moment.
   */
  async #headCovering(items: readonly unknown[]): Promise<Head> {
    const needed = items.reduce<number>((m, i) => Math.max(m, (i as { index: number }).index + 1), 0);
    const deadline = performance.now() + 5000;
    while (this.#ledger.head().size < needed) {
      if (performance.now() > deadline)
        fail(ErrorCode.UNAVAILABLE, 'the head did not reach the records the answer names');
      await new Promise((r) => setImmediate(r));
    }
    return this.#ledger.head();
  }

  async #itemProof(item: unknown, size: number): Promise<ItemProof> {
    const index = (item as { index: number }).index;
    // The bundle's leaf is the entry, read and checked once.
    const bundle = await this.#ledger.proveInclusion(index, size);
    return {
      index,
      leaf: b64(bundle.leaf),
      inclusion: bundle.inclusion.map(b64),
      ...(bundle.attribution === undefined
        ? {}
        : { attribution: { ...attributionToJSON(bundle.attribution) } }),
    };
  }

  // ---- bodies -----------------------------------------------------------------------------

  /**
   * The request body, up to the node's cap: a declared length over it is
   * refused before a byte is read, a stream that grows past it is cut off.
   */
  async #readBody(
    req: IncomingMessage,
    types: readonly string[],
    max = this.#maxBody,
  ): Promise<{ bytes: Uint8Array; type: string }> {
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (!types.includes(type)) {
      fail(ErrorCode.CONTENT_TYPE, `Content-Type ${type === '' ? '(none)' : type} is not taken here`, {
        hint: `send ${types.join(' or ')}`,
      });
    }
    const declared = Number(req.headers['content-length'] ?? Number.NaN);
    if (declared > max) {
      fail(ErrorCode.TOO_LARGE, `the body is ${declared} bytes; this node reads at most ${max} here`, {
        hint: 'split the submission (records/many takes any number of records in several requests)',
      });
    }
    const chunks: Buffer[] = [];
    let length = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      length += chunk.length;
      if (length > max) {
        fail(ErrorCode.TOO_LARGE, `the body is over ${max} bytes, the most this node reads here`, {
          hint: 'split the submission',
        });
      }
      chunks.push(chunk);
    }
    const all = Buffer.concat(chunks, length);
    return { bytes: new Uint8Array(all.buffer, all.byteOffset, all.length), type };
  }
}

// ---- helpers ------------------------------------------------------------------------------

function pathOf(req: IncomingMessage): string {
  // Paths are plain ASCII; anything percent-encoded is not one of them.
  return (req.url ?? '/').split('?')[0]!.replace(/^\/+/, '');
}

function searchOf(req: IncomingMessage): URLSearchParams {
  const at = (req.url ?? '').indexOf('?');
  return new URLSearchParams(at < 0 ? '' : (req.url ?? '').slice(at + 1));
}

function requiredCount(params: URLSearchParams, name: string): number {
  const n = optionalCount(params, name);
  if (n === undefined) fail(ErrorCode.INVALID_ARGUMENT, `the query parameter ${name} is required`);
  return n;
}

function optionalCount(params: URLSearchParams, name: string): number | undefined {
  const v = params.get(name);
  if (v === null) return undefined;
  if (!/^(0|[1-9][0-9]{0,15})$/.test(v) || !Number.isSafeInteger(Number(v)))
    fail(
      ErrorCode.INVALID_ARGUMENT,
      `${name} must be a non-negative integer, got ${JSON.stringify(v.slice(0, 40))}`,
    );
  return Number(v);
}

/**
 * The window for a request's `created`: the ledger's clock-skew window; a
 * ledger that checks no record times (maxClockSkewMs 0) still needs one for
 * requests, and gets the default policy's (10 minutes).
 */
const requestWindow = (skew: number): number => (skew > 0 ? skew : DEFAULT_POLICY.maxClockSkewMs);

/** A refusal by the ledger's rules (422), after which the record may be in the log already. */
const RULE_REFUSAL = (code: string): boolean => statusOf(code) === 422;

/** The queries whose items are records found through an index, not entities. */
const RECORD_ITEMS: ReadonlySet<string> = new Set([
  'resourceHistory',
  'accessLogs',
  'accessLogsOfResource',
  'recordsByKind',
]);

/** An item with a field of bytes, or a list of them (a member's keys), at its top level. */
function holdsBytes(item: unknown): boolean {
  if (typeof item !== 'object' || item === null) return false;
  for (const v of Object.values(item)) {
    if (v instanceof Uint8Array || (Array.isArray(v) && v.some((x) => x instanceof Uint8Array))) return true;
  }
  return false;
}

function withoutRecord(item: unknown): unknown {
  const { record: _, ...rest } = item as { record: unknown };
  return rest;
}

function flag(params: URLSearchParams, name: string): boolean {
  const v = params.get(name);
  if (v === null || v === 'false') return false;
  if (v === 'true') return true;
  return fail(ErrorCode.INVALID_ARGUMENT, `${name} must be true or false`);
}

function notFound(path: string): { code: string; message: string } {
  return { code: ErrorCode.NOT_FOUND, message: `no such path: /${path.slice(0, 200)}` };
}

function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    return fail(ErrorCode.DECODE, `the body is not valid JSON: ${(e as Error).message}`);
  }
}

function field(body: unknown, name: string): unknown {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    fail(ErrorCode.DECODE, 'the body must be a JSON object');
  return (body as Record<string, unknown>)[name];
}

function bundleOf(bytes: Uint8Array): Uint8Array[] {
  try {
    return decodeEntryBundle(bytes);
  } catch (e) {
    if (isDirchainError(e)) fail(ErrorCode.DECODE, `the body is not an entry bundle: ${e.message}`);
    throw e;
  }
}

function codeIn(body: string): string | undefined {
  return /"code":"(E_[A-Z_]+)"/.exec(body)?.[1];
}

function send(req: IncomingMessage, res: ServerResponse, r: Reply): Promise<void> {
  if (res.headersSent || res.destroyed) return Promise.resolve();
  const body = typeof r.body === 'string' ? utf8(r.body) : r.body;
  res.statusCode = r.status;
  res.setHeader('Content-Type', r.type);
  res.setHeader('Content-Length', body.length);
  if (r.cache) res.setHeader('Cache-Control', r.cache);
  for (const [k, v] of Object.entries(r.headers ?? {})) res.setHeader(k, v);
  return new Promise((resolve) => {
    res.end(req.method === 'HEAD' ? undefined : body, () => resolve());
    res.once('close', () => resolve());
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
    // Connections still answering get a moment; then they are cut.
    setTimeout(() => server.closeAllConnections(), 2000).unref();
  });
}
