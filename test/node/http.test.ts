/**
 * node/http.ts over real loopback HTTP: a handler that answers 100 KiB, and raw
 * `net` sockets that pipeline requests and never read, go idle, or send slowly.
 */
import type { Server, ServerResponse } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { DirchainError, ErrorCode } from '../../src/errors.js';
import {
  createLimitedServer,
  DEFAULT_HTTP_LIMITS,
  errorReply,
  type HttpLimits,
  type RequestHandler,
} from '../../src/node/http.js';

const BODY = 100 * 1024;
const open: { servers: Server[]; sockets: Socket[] } = { servers: [], sockets: [] };
/** When the server closed its side of a connection, by the client's port. */
const closedAt = new Map<number, number>();

afterEach(async () => {
  for (const s of open.sockets.splice(0)) s.destroy();
  await Promise.all(
    open.servers.splice(0).map(
      (server) =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    ),
  );
});

/** What the handler saw: calls, and the most responses unfinished at once. */
interface Seen {
  calls: number;
  most: number;
}

/** A server whose handler answers BODY fresh bytes per request, later (as a storage read would). */
async function bigBodies(
  limits: Partial<HttpLimits> = {},
): Promise<{ url: URL; seen: Seen; server: Server }> {
  const seen: Seen = { calls: 0, most: 0 };
  const live = new Set<ServerResponse>();
  const handler: RequestHandler = (_req, res) => {
    seen.calls++;
    // A response counts until it has finished (not until its later 'close').
    for (const r of live) if (r.writableFinished || r.destroyed) live.delete(r);
    live.add(res);
    seen.most = Math.max(seen.most, live.size);
    setImmediate(() => {
      res.setHeader('Content-Length', BODY);
      res.end(new Uint8Array(BODY).fill(0x61));
    });
  };
  const server = createLimitedServer(handler, { limits });
  const url = await listen(server);
  return { url, seen, server };
}

async function listen(server: Server): Promise<URL> {
  open.servers.push(server);
  // A client that does not read never sees the server close: watch the server's side.
  server.on('connection', (socket: Socket) => {
    const port = socket.remotePort!;
    socket.once('close', () => closedAt.set(port, Date.now()));
  });
  // Over maxConnections, node closes the socket before any 'connection'.
  server.on('drop', (data?: { remotePort?: number }) => closedAt.set(data!.remotePort!, Date.now()));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
}

/** A raw socket that never reads what it is sent. */
async function silentSocket(url: URL): Promise<Socket> {
  const socket = connect(Number(url.port), url.hostname);
  open.sockets.push(socket);
  socket.pause();
  socket.on('error', () => {});
  await new Promise((resolve) => socket.once('connect', resolve));
  return socket;
}

/** When the server closed the connection of `socket`, if it did. */
const closed = (socket: Socket): number | undefined => closedAt.get(socket.localPort!);

const pipelined = (n: number, path = '/x') =>
  Array.from({ length: n }, () => `GET ${path} HTTP/1.1\r\nHost: t\r\n\r\n`).join('');

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!what() && Date.now() < end) await sleep(20);
  return what();
}

describe('createLimitedServer against clients that do not read', () => {
  it('answers at most maxPipelinedRequests at once per socket and stops reading it', async () => {
    const limits = { maxPipelinedRequests: 4, maxQueuedRequests: 100_000 };
    const { url, seen } = await bigBodies(limits);
    const socket = await silentSocket(url);
    // 5,000 requests in batches: reading stops after the first read, the rest stay in the kernel.
    for (let i = 0; i < 50; i++) {
      socket.write(pipelined(100));
      await sleep(5);
    }
    await sleep(500);
    const calls = seen.calls;
    await sleep(300);
    expect(seen.calls).toBe(calls); // stalled: the client reads nothing
    expect(seen.most).toBeLessThanOrEqual(limits.maxPipelinedRequests);
    // Answered: what the loopback buffers took plus the ones waiting on them, far from 5,000.
    expect(seen.calls).toBeLessThan(1000);
    expect(closed(socket)).toBeUndefined();
  });

  it('a client that pipelines and reads gets every answer, in order', async () => {
    // Later requests finish first: the answers must still come in request order (RFC 9112 §9.3.2).
    const server = createLimitedServer((req, res) => {
      const n = Number(req.url!.slice(1));
      setTimeout(() => res.end(`${n};`), 40 - (n % 8) * 5);
    });
    const url = await listen(server);
    const socket = connect(Number(url.port), url.hostname);
    open.sockets.push(socket);
    let got = '';
    socket.on('data', (d) => {
      got += d;
    });
    const n = DEFAULT_HTTP_LIMITS.maxPipelinedRequests + DEFAULT_HTTP_LIMITS.maxQueuedRequests;
    socket.write(Array.from({ length: n }, (_, i) => `GET /${i} HTTP/1.1\r\nHost: t\r\n\r\n`).join(''));
    const bodies = () => [...got.matchAll(/\r\n\r\n(\d+);/g)].map((m) => Number(m[1]));
    expect(await until(() => bodies().length === n, 5000)).toBe(true);
    expect(bodies()).toEqual(Array.from({ length: n }, (_, i) => i));
  });

  it('closes a socket with more than maxQueuedRequests read and waiting', async () => {
    const { url, seen } = await bigBodies();
    const socket = await silentSocket(url);
    socket.write(pipelined(5000));
    expect(await until(() => closed(socket) !== undefined, 2000)).toBe(true);
    expect(seen.most).toBeLessThanOrEqual(DEFAULT_HTTP_LIMITS.maxPipelinedRequests);
    expect(seen.calls).toBeLessThanOrEqual(DEFAULT_HTTP_LIMITS.maxPipelinedRequests);
  });

  it('still answers a normal client while three such sockets are connected', async () => {
    const { url } = await bigBodies({ maxQueuedRequests: 100_000 });
    for (let s = 0; s < 3; s++) (await silentSocket(url)).write(pipelined(2000));
    await sleep(200);
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    expect(res.status).toBe(200);
    expect((await res.arrayBuffer()).byteLength).toBe(BODY);
  });

  it('closes a socket that stopped reading, and one that sent nothing, after idleTimeout', async () => {
    const { url } = await bigBodies({ idleTimeout: 300, maxQueuedRequests: 100_000 });
    const idle = await silentSocket(url);
    const stalled = await silentSocket(url);
    const started = Date.now();
    stalled.write(pipelined(200));
    expect(await until(() => closed(idle) !== undefined && closed(stalled) !== undefined, 3000)).toBe(true);
    expect(closed(idle)! - started).toBeGreaterThanOrEqual(250);
    expect(closed(stalled)! - started).toBeGreaterThanOrEqual(250);
  });

  it('closes a socket whose headers arrive slower than headersTimeout', async () => {
    const { url } = await bigBodies({ headersTimeout: 400, requestTimeout: 400 });
    const slow = await silentSocket(url);
    slow.write('GET /x HTTP/1.1\r\n');
    for (let i = 0; i < 30 && closed(slow) === undefined; i++) {
      slow.write(`X-${i}: y\r\n`);
      await sleep(100);
    }
    expect(closed(slow)).toBeDefined();
  });

  it('refuses connections over maxConnections', async () => {
    const { url } = await bigBodies({ maxConnections: 2 });
    const kept = [await silentSocket(url), await silentSocket(url)];
    const third = await silentSocket(url);
    expect(await until(() => closed(third) !== undefined, 2000)).toBe(true);
    expect(kept.map(closed)).toEqual([undefined, undefined]);
  });
});

describe('error answers', () => {
  const path = '/home/ops/city/ledger/000042.ldb';

  function answered(e: unknown) {
    const logged: string[] = [];
    const reply = errorReply(e, { log: (d) => logged.push(d), request: 'GET /tile/entries/001' });
    return { reply, text: new TextDecoder().decode(reply.body), logged: logged.join('\n') };
  }

  it('sends the code and a fixed sentence; the message and causes go to the log only', () => {
    const cases: [unknown, string][] = [
      [new Error(`IO error: ${path}: No such file or directory`), ErrorCode.INTERNAL],
      [
        new DirchainError(ErrorCode.STORAGE, 'read failed', { cause: new Error(`Corruption: ${path}`) }),
        'E_STORAGE',
      ],
      [new DirchainError(ErrorCode.LEDGER_CORRUPT, `bundle 1 in ${path} has a bad hash`), 'E_LEDGER_CORRUPT'],
      [new DirchainError(ErrorCode.INTERNAL, `bug near ${path}`), 'E_INTERNAL'],
      [`thrown string ${path}`, ErrorCode.INTERNAL],
    ];
    for (const [e, code] of cases) {
      const { reply, text, logged } = answered(e);
      expect(reply.status).toBe(500);
      expect(reply.type).toBe('application/json');
      const body = JSON.parse(text) as { code: string; message: string };
      expect(Object.keys(body)).toEqual(['code', 'message']);
      expect(body.code).toBe(code);
      expect(text).not.toContain('ldb');
      expect(text).not.toContain('/home');
      expect(logged).toContain(path);
      expect(logged).toContain('GET /tile/entries/001');
    }
  });

  it('a handler that throws gets a 500 with the code, and the server keeps serving', async () => {
    const logged: string[] = [];
    let calls = 0;
    const server = createLimitedServer(
      async () => {
        calls++;
        if (calls === 1) throw new Error(`EACCES ${path}`);
        throw new DirchainError(ErrorCode.LEDGER_CORRUPT, `bad bundle at ${path}`);
      },
      { log: (d) => logged.push(d) },
    );
    const url = await listen(server);
    const first = await fetch(url);
    expect(first.status).toBe(500);
    expect(await first.json()).toEqual({ code: 'E_INTERNAL', message: expect.any(String) });
    const second = await fetch(url);
    const text = await second.text();
    expect([second.status, (JSON.parse(text) as { code: string }).code]).toEqual([500, 'E_LEDGER_CORRUPT']);
    expect(text).not.toContain(path);
    expect(logged.join('\n')).toContain(`EACCES ${path}`);
  });
});
