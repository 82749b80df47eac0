/**
 * The node over real HTTP on 127.0.0.1 (docs/http-api.md): submissions and
 * their receipts, idempotent retries, member-signed reads, and every kind of
 * bad input answered with its status and code while nothing is written.
 */
import { request as httpRequest } from 'node:http';
import { connect as netConnect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '../../src/crypto/bytes.js';
import { generateKeyPair } from '../../src/crypto/keys.js';
import { nodeTreeHasher } from '../../src/crypto/node-tree-hasher.js';
import { memberSigner } from '../../src/directory/member-signer.js';
import type { MemberSigner } from '../../src/directory/submitter.js';
import { ErrorCode } from '../../src/errors.js';
import { encodeEntryBundle } from '../../src/merkle/tiles.js';
import { connect } from '../../src/node/client.js';
import { createNodeLog } from '../../src/node/log.js';
import { signRequest } from '../../src/node/request-signature.js';
import { type RunningNode, startNode } from '../../src/node/service.js';
import { signBatchAs } from '../../src/sequencer/sign-batch.js';
import { verifyBundle } from '../../src/verify.js';
import { tempDir } from '../helpers.js';
import { type City, makeCity, newLedger, ORIGIN, signedBy } from '../ledger/fixture.js';

let dir: ReturnType<typeof tempDir>;
let city: City;
let node: RunningNode;
let dept: { id: string; signer: MemberSigner };
const logged: string[] = [];

beforeAll(async () => {
  dir = tempDir();
  city = makeCity(3);
  dept = city.departments[0]!;
  const ledger = await newLedger(dir.path, city);
  await ledger.close();
  node = await startNode(dir.path, {
    sequencerKey: city.sequencer.signerKey,
    maxBody: 64 * 1024,
    nonceCapacity: 1000,
    log: createNodeLog({ level: 'debug', stream: { write: (s: string) => logged.push(s) } }),
  });
});

afterAll(async () => {
  await node?.close();
  dir?.cleanup();
});

const at = (path: string) => new URL(path, node.url).toString();

async function post(path: string, body: Uint8Array | string, type: string) {
  const res = await fetch(at(path), {
    method: 'POST',
    body: typeof body === 'string' ? body : Buffer.from(body),
    headers: { 'content-type': type },
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** A request signed as `member` (RFC 9421), with `change` applied to its headers after signing. */
async function signed(
  path: string,
  options: { method?: string; body?: string; member?: MemberSigner; now?: number; nonce?: string } = {},
  change: (h: Record<string, string>) => void = () => {},
) {
  const method = options.method ?? 'GET';
  const body = options.body === undefined ? undefined : new TextEncoder().encode(options.body);
  const headers = await signRequest(
    { method, url: at(path), ...(body ? { body } : {}) },
    options.member ?? dept.signer,
    {
      ...(options.now === undefined ? {} : { now: options.now }),
      ...(options.nonce === undefined ? {} : { nonce: options.nonce }),
    },
  );
  if (body) headers['content-type'] = 'application/json';
  change(headers);
  const res = await fetch(at(path), { method, headers, ...(body ? { body } : {}) });
  const text = await res.text();
  return { status: res.status, text, json: () => JSON.parse(text) as Record<string, unknown> };
}

describe('submissions', () => {
  it('answers a record with its receipt once durable, binary or JSON', async () => {
    const a = await post('dirchain/v1/records', signedBy(dept, { n: 'a' }), 'application/octet-stream');
    expect(a.status).toBe(200);
    expect(a.body).toEqual({ index: expect.any(Number), height: expect.any(Number) });
    expect(node.ledger.head().size).toBeGreaterThan(a.body.index as number);
    const b = await post(
      'dirchain/v1/records',
      JSON.stringify({ entry: Buffer.from(signedBy(dept, { n: 'b' })).toString('base64') }),
      'application/json',
    );
    expect(b.status).toBe(200);
    expect(b.body.index as number).toBeGreaterThan(a.body.index as number);
  });

  it('a retried submission gets the original receipt, and the log holds it once', async () => {
    const entry = signedBy(dept, { n: 'retry' });
    const [first, second] = await Promise.all([
      post('dirchain/v1/records', entry, 'application/octet-stream'),
      post('dirchain/v1/records', entry, 'application/octet-stream'),
    ]);
    expect(first.status).toBe(200);
    expect(second).toEqual(first);
    const size = node.ledger.head().size;
    const third = await post('dirchain/v1/records', entry, 'application/octet-stream');
    expect(third).toEqual(first);
    expect(node.ledger.head().size).toBe(size);
    expect(node.ledger.indexOfLeaf(nodeTreeHasher.leaf(entry))).toBe(first.body.index);
  });

  it('a retry that races its first copy gets its receipt, also for a record that names a new id', async () => {
    for (let n = 0; n < 10; n++) {
      const record = node.ledger.sign(dept.signer, 'resource.register', {
        id: `${dept.id}/race-${n}`,
        owner: dept.id,
        title: 't',
        description: 'd',
        theme: 't',
        format: 'f',
        updateCycle: 'u',
        sourceSystem: 's',
        fields: [{ name: 'a', level: 1 }],
        level: 1,
        sharing: 'conditional',
        opening: 'o',
      });
      const [a, b] = await Promise.all([
        post('dirchain/v1/records', record.bytes, 'application/octet-stream'),
        new Promise((r) => setTimeout(r, 1)).then(() =>
          post('dirchain/v1/records', record.bytes, 'application/octet-stream'),
        ),
      ]);
      expect(a.status).toBe(200);
      expect(b).toEqual(a);
    }
  });

  it('many records: one answer each, a refusal does not stop the others; atomic is all or nothing', async () => {
    const good = signedBy(dept, { n: 'many-1' });
    const foreign = signedBy(dept, { n: 'many-2' }, { origin: 'another.example/log' });
    const res = await post(
      'dirchain/v1/records/many',
      encodeEntryBundle([good, foreign]),
      'application/octet-stream',
    );
    expect(res.status).toBe(200);
    const results = res.body.results as Array<Record<string, unknown>>;
    expect(results[0]).toEqual({ index: expect.any(Number), height: expect.any(Number) });
    expect(results[1]!.code).toBe(ErrorCode.WRONG_ORIGIN);
    const size = node.ledger.head().size;
    const atomic = await post(
      'dirchain/v1/records/many',
      JSON.stringify({
        entries: [signedBy(dept, { n: 'm3' }), foreign].map((e) => Buffer.from(e).toString('base64')),
        atomic: true,
      }),
      'application/json',
    );
    const out = atomic.body.results as Array<Record<string, unknown>>;
    expect(out.map((r) => r.code)).toEqual([ErrorCode.ATOMIC_ABORTED, ErrorCode.WRONG_ORIGIN]);
    expect(node.ledger.head().size).toBe(size);
  });

  it('a batch answers with its seal, first event and count; a retry with the same receipt', async () => {
    const batch = signBatchAs(ORIGIN, Date.now(), dept.signer, 'x.batch', [{ e: 1 }, { e: 2 }, { e: 3 }]);
    const bundle = encodeEntryBundle([batch.seal.bytes, ...batch.events]);
    const a = await post('dirchain/v1/batches', bundle, 'application/octet-stream');
    expect(a.status).toBe(200);
    expect(a.body).toMatchObject({ first: (a.body.seal as number) + 1, count: 3 });
    const b = await post('dirchain/v1/batches', bundle, 'application/octet-stream');
    expect(b).toEqual(a);
  });

  it('a retry after the clock-skew window still gets the original receipt', async () => {
    const other = tempDir();
    await (await newLedger(other.path, city)).close();
    let now = Date.now();
    const late = await startNode(other.path, {
      sequencerKey: city.sequencer.signerKey,
      clock: () => now,
      log: createNodeLog({ level: 'error', stream: { write: () => true } }),
    });
    try {
      const entry = signedBy(dept, { n: 'late' }, { timestamp: now });
      const send = () =>
        fetch(new URL('dirchain/v1/records', late.url), {
          method: 'POST',
          body: Buffer.from(entry),
          headers: { 'content-type': 'application/octet-stream' },
        }).then(async (r) => [r.status, await r.json()]);
      const first = await send();
      expect(first[0]).toBe(200);
      now += 30 * 60_000; // the record is now 30 minutes old: E_CLOCK_SKEW for a new one
      expect(await send()).toEqual(first);
      const fresh = signedBy(dept, { n: 'late-2' }, { timestamp: now - 20 * 60_000 });
      const refused = await fetch(new URL('dirchain/v1/records', late.url), {
        method: 'POST',
        body: Buffer.from(fresh),
        headers: { 'content-type': 'application/octet-stream' },
      });
      expect(((await refused.json()) as { code: string }).code).toBe(ErrorCode.CLOCK_SKEW);
    } finally {
      await late.close();
      other.cleanup();
    }
  });

  it('a record the rules refuse is 422 with the code and nothing is written', async () => {
    const size = node.ledger.head().size;
    const old = signedBy(dept, { n: 'old' }, { timestamp: Date.now() - 3_600_000 });
    const res = await post('dirchain/v1/records', old, 'application/octet-stream');
    expect(res.status).toBe(422);
    expect(res.body.code).toBe(ErrorCode.CLOCK_SKEW);
    const stranger = signedBy(dept, { n: 's' }, { author: 'nobody' });
    const res2 = await post('dirchain/v1/records', stranger, 'application/octet-stream');
    expect([res2.status, res2.body.code]).toEqual([422, ErrorCode.UNKNOWN_MEMBER]);
    expect(node.ledger.head().size).toBe(size);
  });
});

describe('bad input: a typed answer, nothing written, the node keeps running', () => {
  it.each([
    [
      'malformed record bytes',
      'dirchain/v1/records',
      new Uint8Array([1, 2, 3]),
      'application/octet-stream',
      400,
      ErrorCode.DECODE,
    ],
    ['truncated JSON', 'dirchain/v1/records', '{"entry": "abc', 'application/json', 400, ErrorCode.DECODE],
    [
      'JSON without the field',
      'dirchain/v1/records',
      '{"record": "AAAA"}',
      'application/json',
      400,
      ErrorCode.DECODE,
    ],
    ['wrong content type', 'dirchain/v1/records', 'hello', 'text/plain', 415, ErrorCode.CONTENT_TYPE],
    [
      'a truncated entry bundle',
      'dirchain/v1/records/many',
      new Uint8Array([0, 9, 1]),
      'application/octet-stream',
      400,
      ErrorCode.DECODE,
    ],
    [
      'an empty batch bundle',
      'dirchain/v1/batches',
      new Uint8Array(0),
      'application/octet-stream',
      400,
      ErrorCode.DECODE,
    ],
  ])('%s', async (_name, path, body, type, status, code) => {
    const size = node.ledger.head().size;
    const res = await post(path, body, type);
    expect([res.status, res.body.code]).toEqual([status, code]);
    expect(typeof res.body.message).toBe('string');
    expect(node.ledger.head().size).toBe(size);
  });

  it('a body over the cap is 413, declared or streamed', async () => {
    const big = new Uint8Array(65 * 1024);
    const res = await post('dirchain/v1/records', big, 'application/octet-stream');
    expect([res.status, res.body.code]).toEqual([413, ErrorCode.TOO_LARGE]);
    // Chunked, no Content-Length: cut off once past the cap.
    const stream = new ReadableStream({
      start(c) {
        for (let i = 0; i < 20; i++) c.enqueue(new Uint8Array(8 * 1024));
        c.close();
      },
    });
    const chunked = await fetch(at('dirchain/v1/records'), {
      method: 'POST',
      body: stream,
      headers: { 'content-type': 'application/octet-stream' },
      duplex: 'half',
    } as RequestInit).catch((e: unknown) => e as Error);
    // Either the 413 arrives, or the node closed the connection mid-upload; never a 200.
    if (chunked instanceof Response) expect(chunked.status).toBe(413);
  });

  it('unknown paths are 404 and wrong methods 405 with Allow', async () => {
    const a = await fetch(at('dirchain/v1/nothing'));
    expect([a.status, ((await a.json()) as { code: string }).code]).toEqual([404, ErrorCode.NOT_FOUND]);
    const b = await fetch(at('dirchain/v1/records'));
    expect(b.status).toBe(405);
    expect(b.headers.get('allow')).toBe('POST');
    expect(((await b.json()) as { code: string }).code).toBe(ErrorCode.METHOD_NOT_ALLOWED);
    const c = await fetch(at('checkpoint'), { method: 'DELETE' });
    expect(c.status).toBe(405);
  });

  it('a slow client is cut off at the request timeout, and the node still answers others', async () => {
    // A second node with short timeouts, so the cut-off comes quickly.
    const other = tempDir();
    await (await newLedger(other.path, city)).close();
    const quick = await startNode(other.path, {
      sequencerKey: city.sequencer.signerKey,
      limits: { requestTimeout: 1000, headersTimeout: 1000 },
      log: createNodeLog({ level: 'error', stream: { write: () => true } }),
    });
    const url = new URL(quick.url);
    const socket = netConnect(Number(url.port), url.hostname);
    let answer = '';
    socket.on('data', (d) => {
      answer += d;
    });
    const closed = new Promise<number>((resolve) => {
      const t0 = Date.now();
      socket.once('close', () => resolve(Date.now() - t0));
    });
    socket.write(
      'POST /dirchain/v1/records HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 100\r\n\r\nab',
    );
    expect((await fetch(new URL('dirchain/v1/ready', quick.url))).status).toBe(200);
    const ms = await closed;
    await quick.close();
    other.cleanup();
    expect(ms).toBeLessThan(5000);
    // node answers a request that did not arrive in time with 408, or closes the socket.
    if (answer !== '') expect(answer).toMatch(/^HTTP\/1\.1 408/);
  });

  it('a thousand connections at once: the excess is closed, not queued, and the node recovers', async () => {
    const url = new URL(node.url);
    let closedByNode = 0;
    const sockets: Socket[] = [];
    // In waves of 200, so the kernel's listen backlog (511) never drops a SYN.
    for (let wave = 0; wave < 5; wave++) {
      const settled = Array.from({ length: 200 }, () => {
        const socket = netConnect(Number(url.port), url.hostname);
        sockets.push(socket);
        socket.on('error', () => {});
        return new Promise<void>((resolve) => {
          socket.once('connect', () => resolve());
          socket.once('close', () => {
            // Counted before the test destroys any socket: until then, only the node closes them.
            closedByNode++;
            resolve();
          });
        });
      });
      await Promise.all(settled);
    }
    // DEFAULT_HTTP_LIMITS.maxConnections is 256: the node closes the rest as it accepts them.
    const deadline = Date.now() + 8000;
    while (sockets.filter((x) => !x.closed).length > 256 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    const open = sockets.filter((x) => !x.closed).length;
    expect(open).toBeLessThanOrEqual(256);
    expect(open).toBeGreaterThan(100);
    expect(closedByNode).toBeGreaterThanOrEqual(1000 - 256);
    for (const x of sockets) x.destroy();
    await new Promise((r) => setTimeout(r, 50));
    expect((await fetch(at('dirchain/v1/ready'))).status).toBe(200);
  }, 30_000);

  it('every answer carries a request id, and the log has it', async () => {
    const res = await fetch(at('dirchain/v1/ready'));
    const id = res.headers.get('x-request-id');
    expect(id).toMatch(/^[0-9a-z-]{8,}$/);
    expect(logged.some((l) => l.includes(id!))).toBe(true);
  });
});

describe('reads need a member', () => {
  it('the checkpoint, tiles, proofs and queries refuse an unsigned request', async () => {
    for (const path of ['checkpoint', 'tile/0/000.p/1', 'dirchain/v1/proofs/inclusion?index=0']) {
      const res = await fetch(at(path));
      expect(res.status, path).toBe(401);
      expect(((await res.json()) as { code: string }).code).toBe(ErrorCode.UNAUTHENTICATED);
    }
    const health = await fetch(at('dirchain/health'));
    expect(health.status).toBe(200);
  });

  it('a signed request is answered; the same nonce again is a replay', async () => {
    const nonce = 'n0nce-0123456789abcdef';
    const a = await signed('checkpoint', { nonce });
    expect(a.status).toBe(200);
    expect(a.text.split('\n')[0]).toBe(ORIGIN);
    const b = await signed('checkpoint', { nonce });
    expect([b.status, b.json().code]).toEqual([401, ErrorCode.REPLAYED]);
  });

  it('an expired created, a non-member and a changed request are refused', async () => {
    const old = await signed('checkpoint', { now: Date.now() - 3_600_000 });
    expect([old.status, old.json().code]).toEqual([401, ErrorCode.UNAUTHENTICATED]);
    const s = await signed('checkpoint', { member: { ...dept.signer, id: 'nobody' } });
    expect([s.status, s.json().code]).toEqual([401, ErrorCode.UNKNOWN_MEMBER]);
    const other = city.departments[1]!;
    const forged = await signed('checkpoint', { member: { ...other.signer, id: dept.id } });
    expect([forged.status, forged.json().code]).toEqual([401, ErrorCode.UNAUTHENTICATED]);
    const moved = await signed('checkpoint', {}, (h) => {
      h['signature-input'] = h['signature-input']!.replace('"@method"', '"@method" "@authority"');
    });
    expect(moved.status).toBe(401);
  });

  it('a request signed for another node is refused, even with its Host', async () => {
    const port = new URL(node.url).port;
    const url = `http://replica.example:${port}/checkpoint`;
    const headers = await signRequest({ method: 'GET', url }, dept.signer);
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port: Number(port),
          path: '/checkpoint',
          headers: { ...headers, host: `replica.example:${port}` },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(401);
  });

  it('proofs by index and by leaf hash verify against the pinned key', async () => {
    const entry = signedBy(dept, { n: 'prove-me' });
    const { body } = await post('dirchain/v1/records', entry, 'application/octet-stream');
    const byIndex = await signed(`dirchain/v1/proofs/inclusion?index=${body.index}`);
    expect(byIndex.status).toBe(200);
    expect(verifyBundle(byIndex.json(), [city.sequencer.verifierKey]).ok).toBe(true);
    const leaf = toHex(nodeTreeHasher.leaf(entry));
    const byLeaf = await signed(`dirchain/v1/proofs/inclusion?leaf=${leaf}`);
    expect(byLeaf.json().index).toBe(body.index);
    const none = await signed(`dirchain/v1/proofs/inclusion?leaf=${'0'.repeat(64)}`);
    expect([none.status, none.json().code]).toEqual([404, ErrorCode.NOT_FOUND]);
    const bad = await signed('dirchain/v1/proofs/inclusion?index=abc');
    expect([bad.status, bad.json().code]).toEqual([400, ErrorCode.INVALID_ARGUMENT]);
    const cons = await signed(`dirchain/v1/proofs/consistency?size1=2`);
    expect(verifyBundle(cons.json(), [city.sequencer.verifierKey]).ok).toBe(true);
  });

  it('a query answers with a proof per item at its checkpoint', async () => {
    const res = await signed('dirchain/v1/query', {
      method: 'POST',
      body: JSON.stringify({ method: 'recordsByKind', args: ['x.test', { limit: 5 }] }),
    });
    expect(res.status).toBe(200);
    const answer = res.json() as {
      checkpoint: string;
      result: { items: Array<{ index: number }> };
      proofs: Array<{ index: number }>;
    };
    expect(answer.result.items.length).toBe(5);
    expect(answer.proofs.map((p) => p.index)).toEqual(answer.result.items.map((i) => i.index));
    // Record items go as their index: the record is read from the proof's leaf.
    expect(Object.keys(answer.result.items[0]!)).toEqual(['index']);
    const query = (method: string, args: unknown[]) =>
      signed('dirchain/v1/query', { method: 'POST', body: JSON.stringify({ method, args }) });
    const nulls = await query('searchResources', [null, { limit: 2 }]);
    expect(nulls.status).toBe(200);
    for (const [method, args] of [
      ['resourcesOf', [5]],
      ['resourcesOf', []],
      ['activeGrants', [dept.id, 'soon']],
      ['searchResources', [{ level: 'high' }]],
      ['get', ['planet', 'x']],
      ['accessLogs', ['g', { cursor: 7 }]],
      ['recordsByKind', ['x.test', 'page']],
    ] as const) {
      const r = await query(method, [...args]);
      expect([r.status, r.json().code], `${method} ${JSON.stringify(args)}`).toEqual([
        400,
        ErrorCode.INVALID_ARGUMENT,
      ]);
    }
    const unknown = await signed('dirchain/v1/query', {
      method: 'POST',
      body: JSON.stringify({ method: 'drop', args: [] }),
    });
    expect([unknown.status, unknown.json().code]).toEqual([400, ErrorCode.INVALID_ARGUMENT]);
    // The body is covered by the digest: a changed body after signing is refused.
    const tampered = await signed(
      'dirchain/v1/query',
      { method: 'POST', body: JSON.stringify({ method: 'get', args: ['member', dept.id] }) },
      (h) => {
        h['content-digest'] = `sha-256=:${Buffer.alloc(32).toString('base64')}:`;
      },
    );
    expect(tampered.status).toBe(401);
  });
});

describe('who may read, on a node of its own', () => {
  it('a suspended member is 403; a full nonce store refuses signed reads with 503, never admits them', async () => {
    const other = tempDir();
    await (await newLedger(other.path, city)).close();
    const small = await startNode(other.path, {
      sequencerKey: city.sequencer.signerKey,
      nonceCapacity: 3,
      log: createNodeLog({ level: 'error', stream: { write: () => true } }),
    });
    try {
      const read = async (member: MemberSigner) => {
        const url = new URL('checkpoint', small.url).toString();
        const headers = await signRequest({ method: 'GET', url }, member);
        const res = await fetch(url, { headers });
        return [res.status, res.status === 200 ? 'ok' : ((await res.json()) as { code: string }).code];
      };
      const admin = memberSigner(city.admin.signerKey);
      await small.ledger.directory.suspendMember(admin, city.departments[1]!.id);
      expect(await read(city.departments[1]!.signer)).toEqual([403, ErrorCode.MEMBER_INACTIVE]);
      expect(await read(dept.signer)).toEqual([200, 'ok']);
      expect(await read(dept.signer)).toEqual([200, 'ok']);
      expect(await read(dept.signer)).toEqual([200, 'ok']);
      expect(await read(dept.signer)).toEqual([503, ErrorCode.UNAVAILABLE]);
      // Unsigned parts stay open.
      expect((await fetch(new URL('dirchain/health', small.url))).status).toBe(200);
    } finally {
      await small.close();
      other.cleanup();
    }
  });
});

describe('a ledger that checks no record times', () => {
  it('still runs a node: requests get the default window (10 minutes)', async () => {
    const other = tempDir();
    await (await newLedger(other.path, city, { policy: { maxClockSkewMs: 0 } })).close();
    const lax = await startNode(other.path, {
      sequencerKey: city.sequencer.signerKey,
      log: createNodeLog({ level: 'error', stream: { write: () => true } }),
    });
    try {
      const url = new URL('checkpoint', lax.url).toString();
      const read = async (now: number) =>
        (await fetch(url, { headers: await signRequest({ method: 'GET', url }, dept.signer, { now }) }))
          .status;
      expect(await read(Date.now() - 5 * 60_000)).toBe(200);
      expect(await read(Date.now() - 11 * 60_000)).toBe(401);
    } finally {
      await lax.close();
      other.cleanup();
    }
  });
});

describe('answers about records still being written', () => {
  it('a query that finds an entity of the block being written waits for the head to cover it', async () => {
    const client = await connect(node.url, { verifierKey: city.sequencer.verifierKey, as: dept.signer });
    let refused = 0;
    for (let n = 0; n < 15; n++) {
      const id = `${dept.id}/poll-${n}`;
      let done = false;
      const writing = client.directory
        .registerResource(dept.signer, {
          id,
          owner: dept.id,
          title: 't',
          description: 'd',
          theme: 't',
          format: 'f',
          updateCycle: 'u',
          sourceSystem: 's',
          fields: [{ name: 'a', level: 1 }],
          level: 1,
          sharing: 'conditional',
          opening: 'o',
        })
        .then(() => {
          done = true;
        });
      while (!done) {
        try {
          await client.query.get('resource', id);
        } catch {
          refused++;
          break;
        }
      }
      await writing;
    }
    expect(refused).toBe(0);
    // The client finds a member's current keyId as a local ledger's memberSigner does.
    const me = await client.memberSigner(city.departments[2]!.key.signerKey);
    expect([me.id, me.keyId]).toEqual([city.departments[2]!.id, 0]);
    await expect(client.memberSigner(generateKeyPair('nobody').signerKey)).rejects.toMatchObject({
      code: ErrorCode.UNKNOWN_MEMBER,
    });
  });
});

describe('metrics and shutdown', () => {
  it('serves Prometheus metrics without a signature, with appends and refusals by code', async () => {
    const res = await fetch(at('metrics'));
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(/dirchain_appends_total [1-9]/);
    expect(text).toContain(`dirchain_refusals_total{code="${ErrorCode.CLOCK_SKEW}"} 1`);
    expect(text).toMatch(/dirchain_block_write_seconds_count [1-9]/);
    expect(text).toContain('dirchain_http_request_duration_seconds_bucket');
    expect(text).not.toContain(dept.id);
  });
});
