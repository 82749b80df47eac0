/**
 * The HTTP server every dirchain service shares (`serve` today; the node and
 * the witness later): node:http with limits against clients that send faster
 * than they read, and error answers that carry a stable code and nothing of
 * the server's insides.
 *
 * Why the pipelining limit is ours and not node's: node:http parses every
 * request of a socket read at once and makes a response for each; a pipelined
 * response waits in memory, body and all, until the ones before it are flushed
 * (RFC 9112 §9.3.2: answers go in request order). node stops reading a socket
 * only when responses already hold data, which an asynchronous handler has
 * not written yet when the next requests arrive. `maxPipelinedRequests` is not
 * `server.maxRequestsPerSocket` (a lifetime count per connection): it bounds
 * how many requests of a socket are being answered at once. At that many,
 * reading from the socket stops; requests already read wait their turn without
 * running the handler, and a socket with more than `maxQueuedRequests` of those
 * is closed (RFC 9112 §9.3.2 has a pipelining client retry what was not answered).
 * What one socket can hold is then about `maxPipelinedRequests` responses; what
 * the server can hold, that times `maxConnections`.
 */
import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerOptions,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { ErrorCode, fail, isDirchainError } from '../errors.js';

/** Limits of {@link createLimitedServer}; times in milliseconds, sizes in bytes. */
export interface HttpLimits {
  /** Connections open at once; more are closed as they arrive (`server.maxConnections`). */
  readonly maxConnections: number;
  /** Requests of one socket answered at once; at this many, reading from the socket stops. */
  readonly maxPipelinedRequests: number;
  /** Requests read from one socket and waiting for their turn; one more closes the socket. */
  readonly maxQueuedRequests: number;
  /**
   * A request's headers must all arrive within this, the first request's
   * counted from the connection's start (`server.headersTimeout`).
   */
  readonly headersTimeout: number;
  /** A whole request must arrive within this (`server.requestTimeout`). */
  readonly requestTimeout: number;
  /** A socket between requests, with nothing to send, is closed after this (`server.keepAliveTimeout`). */
  readonly keepAliveTimeout: number;
  /**
   * A socket on which no byte moves either way for this long, while a request
   * is open or before the first, is closed (`server.timeout`): above all a
   * client that stopped reading its answers, since reading its requests has
   * stopped too (see maxPipelinedRequests).
   */
  readonly idleTimeout: number;
  /** Request line and headers together (`maxHeaderSize`). */
  readonly maxHeaderSize: number;
}

/**
 * Defaults for services that answer small GETs: clients fetch one request per
 * connection at a time (browsers, `fetch` and Go's net/http do not pipeline),
 * so 8 answered and 64 waiting leave room for one that does while keeping a
 * connection's share of memory to a few responses. The timeouts are shorter
 * than node's (60 s for headers, 300 s for a request) since a GET has no body
 * to wait for; `keepAliveTimeout` is node's.
 */
export const DEFAULT_HTTP_LIMITS: HttpLimits = Object.freeze({
  maxConnections: 256,
  maxPipelinedRequests: 8,
  maxQueuedRequests: 64,
  headersTimeout: 10_000,
  requestTimeout: 30_000,
  keepAliveTimeout: 5_000,
  idleTimeout: 30_000,
  maxHeaderSize: 8 * 1024,
});

/** Where the details of failed requests go; never into a response. */
export type ErrorLog = (detail: string) => void;

const defaultLog: ErrorLog = (detail) => console.error(detail);

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface LimitedServerOptions {
  readonly limits?: Partial<HttpLimits>;
  /** For handlers that throw; default console.error. */
  readonly log?: ErrorLog;
}

/** The requests of one socket: those being answered and those read but waiting. */
interface Turns {
  answering: number;
  readonly waiting: (() => void)[];
  /** Reading stopped by us (node also pauses a socket on its own; both must agree to read). */
  paused: boolean;
}

/** A node:http server (not yet listening) that runs `handler` under `limits`. */
export function createLimitedServer(handler: RequestHandler, options: LimitedServerOptions = {}): Server {
  const limits = { ...DEFAULT_HTTP_LIMITS, ...options.limits };
  const log = options.log ?? defaultLog;
  const serverOptions: ServerOptions = {
    headersTimeout: limits.headersTimeout,
    requestTimeout: limits.requestTimeout,
    keepAliveTimeout: limits.keepAliveTimeout,
    maxHeaderSize: limits.maxHeaderSize,
    // node checks the two timeouts above on this interval (default 30 s).
    connectionsCheckingInterval: Math.max(100, Math.min(limits.headersTimeout, limits.requestTimeout) / 4),
  };
  const server = createServer(serverOptions);
  server.maxConnections = limits.maxConnections;
  server.timeout = limits.idleTimeout;
  const sockets = new WeakMap<Socket, Turns>();

  const turnsOf = (socket: Socket): Turns => {
    const known = sockets.get(socket);
    if (known !== undefined) return known;
    const turns: Turns = { answering: 0, waiting: [], paused: false };
    sockets.set(socket, turns);
    // node resumes a socket it paused itself once its own buffers drain; ours stays paused.
    socket.on('resume', () => {
      if (turns.paused) socket.pause();
    });
    socket.once('close', () => {
      turns.waiting.length = 0;
    });
    return turns;
  };

  const next = (socket: Socket, turns: Turns) => {
    while (turns.answering < limits.maxPipelinedRequests && turns.waiting.length > 0)
      turns.waiting.shift()!();
    if (turns.paused && turns.answering + turns.waiting.length < limits.maxPipelinedRequests) {
      turns.paused = false;
      socket.resume();
    }
  };

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    const turns = turnsOf(socket);
    const answer = () => {
      if (socket.destroyed) return;
      turns.answering++;
      let done = false;
      const finished = () => {
        if (done) return;
        done = true;
        turns.answering--;
        next(socket, turns);
      };
      res.once('finish', finished);
      res.once('close', finished);
      runHandler(handler, req, res, log);
    };
    if (turns.answering < limits.maxPipelinedRequests && turns.waiting.length === 0) answer();
    else if (turns.waiting.length >= limits.maxQueuedRequests) {
      socket.destroy();
      return;
    } else turns.waiting.push(answer);
    if (!turns.paused && turns.answering + turns.waiting.length >= limits.maxPipelinedRequests) {
      turns.paused = true;
      socket.pause();
    }
  });
  return server;
}

function runHandler(handler: RequestHandler, req: IncomingMessage, res: ServerResponse, log: ErrorLog): void {
  const failed = (e: unknown) => {
    if (res.headersSent) {
      log(errorDetail(e, `${req.method} ${req.url}`));
      res.destroy();
      return;
    }
    const reply = errorReply(e, { log, request: `${req.method} ${req.url}` });
    res.statusCode = reply.status;
    res.setHeader('Content-Type', reply.type);
    res.setHeader('Content-Length', reply.body.length);
    res.end(req.method === 'HEAD' ? undefined : reply.body);
  };
  try {
    const done = handler(req, res);
    if (done instanceof Promise) done.catch(failed);
  } catch (e) {
    failed(e);
  }
}

export interface ErrorReply {
  readonly status: number;
  readonly type: string;
  readonly body: Uint8Array;
}

/**
 * What a response may say about a failure: a fixed sentence per code. The
 * error's own message is never sent, since messages from storage name files
 * and LevelDB internals; it goes to the log.
 */
const PUBLIC_MESSAGES: Readonly<Record<string, string>> = {
  [ErrorCode.LEDGER_CORRUPT]: 'stored data failed verification',
  [ErrorCode.STORAGE]: 'the storage layer failed',
  [ErrorCode.LEDGER_CLOSED]: 'the ledger is closed',
};
const GENERIC_MESSAGE = 'the server could not answer this request';

/**
 * The 500 answer for a failed request: `{"code","message"}` as JSON, with the
 * DirchainError's code (E_INTERNAL for anything else) and a fixed sentence.
 * The detail, with its causes, goes to `log` (default console.error).
 */
export function errorReply(e: unknown, options: { log?: ErrorLog; request?: string } = {}): ErrorReply {
  (options.log ?? defaultLog)(errorDetail(e, options.request));
  const code = isDirchainError(e) ? e.code : ErrorCode.INTERNAL;
  const message = PUBLIC_MESSAGES[code] ?? GENERIC_MESSAGE;
  return {
    status: 500,
    type: 'application/json',
    body: new TextEncoder().encode(`${JSON.stringify({ code, message })}\n`),
  };
}

/** One log entry: the request, then the error and each cause (a stack for non-dirchain errors). */
function errorDetail(e: unknown, request: string | undefined): string {
  const lines = [request === undefined ? 'request failed' : `${request} failed`];
  let at: unknown = e;
  for (let depth = 0; at !== undefined && depth < 8; depth++) {
    const prefix = depth === 0 ? '  ' : '  caused by: ';
    if (isDirchainError(at)) lines.push(`${prefix}${at.code}: ${at.message}`);
    else if (at instanceof Error) lines.push(`${prefix}${at.stack ?? `${at.name}: ${at.message}`}`);
    else lines.push(`${prefix}${String(at)}`);
    at = at instanceof Error ? at.cause : undefined;
  }
  return lines.join('\n');
}

/**
 * A fetched response's body, at most `max` bytes: past that the stream is
 * cancelled and `tooLarge` throws (a lying server cannot fill memory).
 * Errors of the stream itself (a stalled or cut connection) propagate.
 */
export async function readCapped(res: Response, max: number, tooLarge: () => never): Promise<Buffer> {
  const reader = res.body?.getReader();
  const chunks: Uint8Array[] = [];
  let length = 0;
  for (let r = await reader?.read(); r !== undefined && !r.done; r = await reader!.read()) {
    length += r.value.length;
    if (length > max) {
      await reader!.cancel();
      tooLarge();
    }
    chunks.push(r.value);
  }
  return Buffer.concat(chunks, length);
}

/**
 * Starts `server` listening and returns its base URL (a port of 0 picks a
 * free one); an address that cannot be listened on is E_INVALID_ARGUMENT.
 */
export async function listenOn(server: Server, host: string, port: number): Promise<string> {
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    return fail(ErrorCode.INVALID_ARGUMENT, `cannot listen on ${host}:${port}: ${(e as Error).message}`, {
      hint: 'pick another address, or port 0 for any free port',
    });
  }
  const a = server.address() as AddressInfo;
  return `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}/`;
}
