import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  request,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBase64, toBase64 } from '../../src/crypto/bytes.js';
import { generateKeyPair, loadSigner } from '../../src/crypto/keys.js';
import { signNote } from '../../src/crypto/note.js';
import { formatBlockHeader } from '../../src/encoding/checkpoint.js';
import { DirchainError, isDirchainError } from '../../src/errors.js';
import type { Ledger } from '../../src/ledger/ledger.js';
import { createLedger } from '../../src/ledger/open.js';
import type { LedgerQueries } from '../../src/ledger/types.js';
import { connect, type RemoteLedger } from '../../src/node/client.js';
import { createNodeLog } from '../../src/node/log.js';
import { type RunningNode, startNode } from '../../src/node/service.js';
import { signAs, signBatchAs } from '../../src/sequencer/sign-batch.js';
import { statusBundleToJSON } from '../../src/state/status-proof.js';
import { checkStatus, verifyBundle } from '../../src/verify.js';
import { leafHash } from '../../src/verify-node.js';
import {
  type Actors,
  actor,
  cityMembers,
  grantTerms,
  makeActors,
  ORIGIN,
  refusal,
  resource,
} from '../directory/city.js';
import { flipBit, tempDir } from '../helpers.js';

const log = createNodeLog({ level: 'error' });

/** A ledger folder made with the city's members, served by a node in this process. */
async function cityNode(a: Actors, options: { public?: boolean } = {}) {
  const dir = tempDir('dirchain-client-');
  const ledger = await createLedger(dir.path, {
    origin: ORIGIN,
    sequencerKey: a.sequencer.signerKey,
    members: cityMembers(a),
  });
  await ledger.close();
  // Some tests put a proxy in front (its own host): the node takes any host, as behind a reverse proxy.
  const node = await startNode(dir.path, {
    sequencerKey: a.sequencer.signerKey,
    log,
    hosts: ['*'],
    ...options,
  });
  return {
    node,
    close: async () => {
      await node.close();
      dir.cleanup();
    },
  };
}

interface Exchange {
  method: string;
  path: string;
  body: Buffer;
}
interface Answer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * A tiny HTTP proxy in front of the node that can lie: `before` answers in
 * the node's place, `after` changes the node's answer (or 'drop's the
 * connection once the node has answered: a lost answer). It forwards the Host
 * header as the client sent it, so request signatures still verify.
 */
async function startProxy(target: string) {
  const upstream = new URL(target);
  const proxy = {
    url: '',
    seen: [] as Exchange[],
    before: undefined as ((x: Exchange) => Answer | undefined) | undefined,
    after: undefined as ((x: Exchange, a: Answer) => Answer | 'drop' | undefined) | undefined,
    close: async () => {},
  };
  const forward = (x: Exchange, headers: IncomingHttpHeaders) =>
    new Promise<Answer>((resolve, reject) => {
      const req = request(
        { host: upstream.hostname, port: upstream.port, method: x.method, path: x.path, headers },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 502,
              headers: Object.fromEntries(
                ['content-type', 'retry-after'].flatMap((h) =>
                  res.headers[h] ? [[h, String(res.headers[h])]] : [],
                ),
              ),
              body: Buffer.concat(chunks),
            }),
          );
        },
      );
      req.on('error', reject);
      req.end(x.body);
    });
  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`proxy: ${String(e)}`);
    });
  });
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const x: Exchange = { method: req.method ?? '', path: req.url ?? '/', body: Buffer.concat(chunks) };
    proxy.seen.push(x);
    let answer = proxy.before?.(x) ?? (await forward(x, req.headers));
    const changed = proxy.after?.(x, answer);
    if (changed === 'drop') {
      req.socket.destroy();
      return;
    }
    answer = changed ?? answer;
    res.writeHead(answer.status, { ...answer.headers, 'content-length': answer.body.length });
    res.end(answer.body);
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  proxy.close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return proxy;
}

/** The DirchainError a promise rejects with (fails the test when it resolves). */
async function rejection(p: unknown): Promise<DirchainError> {
  try {
    await p;
  } catch (e) {
    if (isDirchainError(e)) return e;
    throw e;
  }
  throw new Error('expected a refusal, got an answer');
}

/** A JSON answer with one field changed by `change`. */
function rewrite(a: Answer, change: (json: Record<string, unknown>) => void): Answer {
  const json = JSON.parse(a.body.toString('utf8')) as Record<string, unknown>;
  change(json);
  return { ...a, body: Buffer.from(JSON.stringify(json)) };
}

const a = makeActors();
let served: Awaited<ReturnType<typeof cityNode>>;
let node: RunningNode;
let ledger: Ledger;
let client: RemoteLedger;

beforeAll(async () => {
  served = await cityNode(a);
  node = served.node;
  ledger = node.ledger;
  client = await connect(node.url, { verifierKey: a.sequencer.verifierKey, as: a.bureau.as });
});
afterAll(async () => {
  await client?.close();
  await served?.close();
});

describe('connect', () => {
  it('learns the origin and head from the verified checkpoint', async () => {
    expect(client.origin).toBe(ORIGIN);
    expect(await client.head()).toEqual(ledger.head());
  });

  it('refuses a private key as the pinned key, with E_KEY_INVALID', async () => {
    const e = await rejection(connect(node.url, { verifierKey: a.sequencer.signerKey, as: a.bureau.as }));
    expect(e.code).toBe('E_KEY_INVALID');
    expect(e.message).not.toContain(a.sequencer.signerKey);
  });

  it('refuses a node whose checkpoint is not signed by the pinned key: E_BAD_SIGNATURE (openNote finds no trusted signature)', async () => {
    // Same key name (the origin), another key: the note's one signature names a key hash the client does not trust.
    const other = generateKeyPair(ORIGIN);
    const e = await rejection(connect(node.url, { verifierKey: other.verifierKey, as: a.bureau.as }));
    expect(e.code).toBe('E_BAD_SIGNATURE');
    expect(e.message).toContain('no signature from a trusted key');
  });

  it('reads without a member signature on a non-public node are E_UNAUTHENTICATED', async () => {
    const e = await rejection(connect(node.url, { verifierKey: a.sequencer.verifierKey }));
    expect(e.code).toBe('E_UNAUTHENTICATED');
    const outsider = actor('outsider');
    expect(
      (await rejection(connect(node.url, { verifierKey: a.sequencer.verifierKey, as: outsider.as }))).code,
    ).toBe('E_UNKNOWN_MEMBER');
  });

  it('on a --public node, reads the checkpoint unsigned, but proofs and queries still need a member', async () => {
    const pub = await cityNode(a, { public: true });
    try {
      const anon = await connect(pub.node.url, { verifierKey: a.sequencer.verifierKey });
      expect((await anon.head()).size).toBe(pub.node.ledger.head().size);
      expect((await rejection(anon.proveInclusion(0))).code).toBe('E_UNAUTHENTICATED');
      expect((await rejection(anon.query.get('member', 'bureau'))).code).toBe('E_UNAUTHENTICATED');
      // Submissions authenticate themselves: no member signature on the request.
      const r = await anon.submit(a.health.as, 'x.note', { n: 1 });
      expect(pub.node.ledger.getRecord(r.index)).toMatchObject({ kind: 'x.note', author: 'health' });
    } finally {
      await pub.close();
    }
  });

  it('a node that cannot be reached is E_REMOTE naming the URL, after the retries', async () => {
    const proxy = await startProxy(node.url);
    const url = proxy.url;
    await proxy.close();
    const e = await rejection(
      connect(url, { verifierKey: a.sequencer.verifierKey, as: a.bureau.as, retries: 1 }),
    );
    expect(e.code).toBe('E_REMOTE');
    expect(e.message).toContain(`${url}checkpoint`);
    expect(e.message).toContain('2 attempts');
  });
});

describe('submissions', () => {
  it('submit, append, appendMany and appendBatch answer the receipts of what the node appended', async () => {
    const r1 = await client.submit(a.health.as, 'x.note', { n: 1 });
    expect(ledger.getRecord(r1.index)).toMatchObject({ kind: 'x.note', author: 'health', body: { n: 1 } });
    expect(r1.height).toBe(await ledger.heightOf(r1.index));

    const record = signAs(ORIGIN, Date.now(), a.health.as, 'x.note', { n: 2 });
    const r2 = await client.append(record);
    expect(ledger.getEntry(r2.index)).toEqual(record.bytes);

    const good = signAs(ORIGIN, Date.now(), a.civil.as, 'x.note', { n: 3 }).bytes;
    const stranger = signAs(ORIGIN, Date.now(), actor('stranger').as, 'x.note', { n: 4 }).bytes;
    const many = await client.appendMany([good, stranger, record.bytes]);
    expect(many[0]).not.toBeInstanceOf(DirchainError);
    expect(ledger.getEntry((many[0] as { index: number }).index)).toEqual(good);
    expect(many[1]).toBeInstanceOf(DirchainError);
    expect((many[1] as DirchainError).code).toBe('E_UNKNOWN_MEMBER');
    // Bytes already in the log: answered with their original receipt (the idempotency contract).
    expect(many[2]).toEqual(r2);

    const size = ledger.head().size;
    const atomic = await client.appendMany(
      [signAs(ORIGIN, Date.now(), a.civil.as, 'x.note', { n: 5 }).bytes, stranger],
      {
        atomic: true,
      },
    );
    expect(atomic.map((r) => (r as DirchainError).code)).toEqual(['E_ATOMIC_ABORTED', 'E_UNKNOWN_MEMBER']);
    expect(ledger.head().size).toBe(size);

    const batch = signBatchAs(ORIGIN, Date.now(), a.health.as, 'x.access-log', [
      { i: 0 },
      { i: 1 },
      { i: 2 },
    ]);
    const rb = await client.appendBatch(batch.seal, batch.events);
    expect(rb).toMatchObject({ seal: rb.first - 1, count: 3 });
    expect(ledger.getEntry(rb.seal)).toEqual(batch.seal.bytes);
    for (const [i, e] of batch.events.entries()) expect(ledger.getEntry(rb.first + i)).toEqual(e);

    const rs = await client.submitBatch(a.civil.as, 'x.access-log', [{ i: 0 }, { i: 1 }]);
    expect(ledger.getRecord(rs.first + 1)).toMatchObject({
      kind: 'x.access-log',
      author: 'civil-affairs',
      body: { i: 1 },
    });
  });

  it("a refusal is thrown as the node's DirchainError, with its code and message", async () => {
    const e = await rejection(client.directory.registerResource(a.school.as, resource('education', 'edu/x')));
    expect([e.code, e.message]).toEqual(['E_NOT_AUTHORIZED', 'education is not a provider']);
    const wrong = signAs('elsewhere.example/log', Date.now(), a.health.as, 'x.note', {});
    expect((await rejection(client.append(wrong))).code).toBe('E_WRONG_ORIGIN');
  });

  it('a submission whose answer was lost is re-sent byte for byte, answered with the original receipt, and appended once', async () => {
    const proxy = await startProxy(node.url);
    try {
      const via = await connect(proxy.url, {
        verifierKey: a.sequencer.verifierKey,
        as: a.bureau.as,
        retries: 2,
      });
      let dropped = 0;
      proxy.after = (x) => (x.method === 'POST' && dropped++ === 0 ? 'drop' : undefined);
      const before = ledger.head().size;
      const r = await via.submit(a.health.as, 'x.note', { lost: true });
      const posts = proxy.seen.filter((x) => x.method === 'POST');
      expect(posts).toHaveLength(2);
      expect(posts[1]!.body).toEqual(posts[0]!.body);
      expect(ledger.indexOfLeaf(leafHash(posts[0]!.body))).toBe(r.index);
      // One record and its block entry: the retry did not append a second copy.
      expect(ledger.head().size).toBe(before + 2);
      expect(await via.append(new Uint8Array(posts[0]!.body))).toEqual(r);
      expect(ledger.head().size).toBe(before + 2);
    } finally {
      await proxy.close();
    }
  });

  it('a 503 is retried after Retry-After; without retries left it is the E_UNAVAILABLE refusal', async () => {
    const proxy = await startProxy(node.url);
    try {
      const busy: Answer = {
        status: 503,
        headers: { 'content-type': 'application/json', 'retry-after': '0' },
        body: Buffer.from(JSON.stringify({ code: 'E_UNAVAILABLE', message: 'busy' })),
      };
      let refused = 0;
      proxy.before = (x) => (x.method === 'POST' && refused++ === 0 ? busy : undefined);
      const via = await connect(proxy.url, {
        verifierKey: a.sequencer.verifierKey,
        as: a.bureau.as,
        retries: 1,
      });
      const r = await via.submit(a.health.as, 'x.note', { busy: 1 });
      expect(ledger.getRecord(r.index)).toMatchObject({ body: { busy: 1 } });
      expect(proxy.seen.filter((x) => x.method === 'POST')).toHaveLength(2);

      proxy.before = (x) => (x.method === 'POST' ? busy : undefined);
      const once = await connect(proxy.url, {
        verifierKey: a.sequencer.verifierKey,
        as: a.bureau.as,
        retries: 0,
      });
      const e = await rejection(once.submit(a.health.as, 'x.note', { busy: 2 }));
      expect([e.code, e.message]).toEqual(['E_UNAVAILABLE', 'busy']);
    } finally {
      await proxy.close();
    }
  });

  it('an error answer that is not an error body is E_REMOTE with its status', async () => {
    const proxy = await startProxy(node.url);
    try {
      const via = await connect(proxy.url, { verifierKey: a.sequencer.verifierKey, as: a.bureau.as });
      proxy.before = () => ({
        status: 502,
        headers: { 'content-type': 'text/html' },
        body: Buffer.from('<h1>bad gateway</h1>'),
      });
      const e = await rejection(via.submit(a.health.as, 'x.note', {}));
      expect(e.code).toBe('E_REMOTE');
      expect(e.message).toContain('HTTP 502');
    } finally {
      await proxy.close();
    }
  });
});

describe('directory and queries', () => {
  let revokedAt = 0;
  const marriage = {
    level: 2,
    theme: 'family',
    fields: [
      { name: 'name', level: 1 },
      { name: 'spouse', level: 2 },
    ],
  };

  beforeAll(async () => {
    const d = client.directory;
    await d.registerResource(
      a.health.as,
      resource('health', 'health/records', { sharing: 'conditional', theme: 'health' }),
    );
    await d.registerResource(a.civil.as, resource('civil-affairs', 'civil/marriage', marriage));
    for (let i = 0; i < 3; i++)
      await d.registerResource(a.ps.as, resource('public-security', `ps/set-${i}`, { title: `Set ${i}` }));
    await d.updateResource(
      a.civil.as,
      resource('civil-affairs', 'civil/marriage', { ...marriage, title: 'Marriage v2' }),
    );
    await d.registerScenario(a.bureau.as, {
      id: 'social-assistance',
      name: 'Social assistance',
      lead: 'civil-affairs',
      legalBasis: 'art. 12',
    });
    await d.issueGrant(a.civil.as, grantTerms({ id: 'g-1', resource: 'civil/marriage' }));
    await d.issueGrant(
      a.civil.as,
      grantTerms({ id: 'g-2', resource: 'civil/marriage', consumer: 'public-security' }),
    );
    await d.logAccess(a.health.as, { grant: 'g-1', fields: ['name'], count: 1, purpose: 'check' });
    await d.logAccessBatch(a.health.as, [
      { grant: 'g-1', fields: ['name'], count: 2, purpose: 'check' },
      { grant: 'g-1', fields: ['name'], count: 3, purpose: 'check' },
    ]);
    await d.logAccess(a.ps.as, { grant: 'g-2', fields: ['name'], count: 1, purpose: 'check' });
    await d.revokeGrant(a.civil.as, 'g-2');
    revokedAt = ledger.query.get('grant', 'g-2')!.revokedAt!;
    await d.openRequest(a.civil.as, {
      id: 'r-1',
      provider: 'health',
      resource: 'health/records',
      fields: ['name'],
      scenario: 'social-assistance',
      purpose: 'p',
    });
  });

  it('the directory API signs through the client; what it wrote is read back with its proof', async () => {
    const r = await client.directory.registerResource(a.health.as, resource('health', 'health/vaccines'));
    const got = await client.query.get('resource', 'health/vaccines');
    expect(got).toMatchObject({ id: 'health/vaccines', owner: 'health', index: r.index, status: 'active' });
    expect(got).toEqual(ledger.query.get('resource', 'health/vaccines'));
    expect(await client.query.get('resource', 'no/such')).toBeUndefined();
  });

  const cases: Array<[keyof LedgerQueries, () => unknown[]]> = [
    ['get', () => ['member', 'health']],
    ['get', () => ['grant', 'g-2']],
    ['get', () => ['scenario', 'social-assistance']],
    ['get', () => ['request', 'r-1']],
    ['searchResources', () => [{ department: 'public-security' }]],
    ['searchResources', () => [undefined, { limit: 2 }]],
    ['resourcesOf', () => ['public-security', { limit: 2 }]],
    ['resourceHistory', () => ['civil/marriage']],
    ['activeGrants', () => ['health', Date.now()]],
    ['activeGrants', () => ['public-security', revokedAt - 1]],
    ['grantsOfResource', () => ['civil/marriage']],
    ['grantsOfScenario', () => ['social-assistance']],
    ['accessLogs', () => ['g-1']],
    ['accessLogsOfResource', () => ['civil/marriage', { limit: 3 }]],
    ['openRequests', () => ['health']],
    ['recordsByKind', () => ['resource.register']],
    ['recordsByKind', () => ['x.note', { limit: 2 }]],
  ];
  it.each(cases)('query.%s answers what the local ledger answers (case %#)', async (method, argsOf) => {
    const args = argsOf();
    const call = (q: LedgerQueries) => (q[method] as (...x: unknown[]) => unknown)(...args);
    const local = await call(ledger.query as unknown as LedgerQueries);
    const remote = await call(client.query);
    expect(remote).toEqual(local);
    const items = method === 'get' ? [remote] : (remote as { items: unknown[] }).items;
    expect(items.length).toBeGreaterThan(0);
  });

  it('pages follow the cursor as locally', async () => {
    const first = await client.query.accessLogsOfResource('civil/marriage', { limit: 3 });
    expect(first.cursor).toBeDefined();
    const next = await client.query.accessLogsOfResource('civil/marriage', {
      limit: 3,
      cursor: first.cursor!,
    });
    expect(next).toEqual(
      await ledger.query.accessLogsOfResource('civil/marriage', { limit: 3, cursor: first.cursor! }),
    );
    expect(next.items.length).toBeGreaterThan(0);
  });

  it('proofs, checkpoints and the head are the local ones, verified', async () => {
    const head = ledger.head();
    expect(await client.head()).toEqual(head);
    const logs = await ledger.query.accessLogs('g-1');
    const event = logs.items.find((l) => l.seal !== undefined)!;
    expect(await client.proveInclusion(event.index)).toEqual(await ledger.proveInclusion(event.index));
    expect(await client.proveInclusion(0, 2)).toEqual(await ledger.proveInclusion(0, 2));
    expect(await client.proveConsistency(2)).toEqual(await ledger.proveConsistency(2));
    expect(await client.checkpoint()).toBe(head.checkpoint);
    const older = ledger.block(1).header.size;
    expect(await client.checkpoint(older)).toBe(ledger.checkpoint(older));
    expect((await rejection(Promise.resolve().then(() => client.checkpoint(older + 1)))).code).toBe(
      'E_NOT_FOUND',
    );
  });
});

describe('status proofs from a node', () => {
  it('proveStatus gives a status bundle checked under the pinned key; a stranger is refused', async () => {
    const b = await client.proveStatus('member', 'health');
    const r = checkStatus(statusBundleToJSON(b), [a.sequencer.verifierKey]);
    expect(r).toMatchObject({ type: 'member', id: 'health', status: 'active', asOf: { size: b.size } });
    expect(
      checkStatus(statusBundleToJSON(await client.proveStatus('grant', 'no-such')), [a.sequencer.verifierKey])
        .status,
    ).toBe('absent');
    await expect(client.proveStatus('access', 'x')).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT' });
    const anonymous = await fetch(new URL('dirchain/v1/proofs/status?type=member&id=health', node.url));
    expect(anonymous.status).toBe(401);
    await anonymous.body?.cancel();
  });
});

describe('a node that lies', () => {
  let proxy: Awaited<ReturnType<typeof startProxy>>;
  let via: RemoteLedger;

  beforeAll(async () => {
    proxy = await startProxy(node.url);
    via = await connect(proxy.url, { verifierKey: a.sequencer.verifierKey, as: a.bureau.as });
  });
  afterAll(() => proxy.close());

  it('a head going backwards is E_CHECKPOINT_INVALID naming both sizes', async () => {
    let oldNote: string | undefined;
    proxy.after = (x, ans) => {
      if (x.path === '/checkpoint') oldNote ??= ans.body.toString('utf8');
      return undefined;
    };
    const small = (await via.head()).size;
    await client.submit(a.health.as, 'x.note', { grow: 1 });
    proxy.after = undefined;
    const large = (await via.head()).size;
    expect(large).toBeGreaterThan(small);
    proxy.after = (x, ans) =>
      x.path === '/checkpoint' ? { ...ans, body: Buffer.from(oldNote!) } : undefined;
    const e = await rejection(via.head());
    expect(e.code).toBe('E_CHECKPOINT_INVALID');
    expect(e.message).toContain(`size ${small}`);
    expect(e.message).toContain(`size ${large}`);
    proxy.after = undefined;
  });

  it('a checkpoint the node cannot prove consistent is E_CHECKPOINT_INVALID naming both sizes', async () => {
    proxy.after = undefined;
    const known = await via.head();
    await client.submit(a.health.as, 'x.note', { grow: 2 });
    const real = ledger.head();
    // Signed with the real sequencer key, for a size the node has, with a root it never had.
    const forged = signNote(
      formatBlockHeader({ ...real, prev: new Uint8Array(32), root: flipBit(real.root, 0) }),
      [loadSigner(a.sequencer.signerKey)],
    );
    proxy.after = (x, ans) => (x.path === '/checkpoint' ? { ...ans, body: Buffer.from(forged) } : undefined);
    const e = await rejection(via.head());
    expect(e.code).toBe('E_CHECKPOINT_INVALID');
    expect(e.message).toContain(`size ${real.size}`);
    expect(e.message).toContain(`size ${known.size}`);
    // The same size as one seen, another root: a fork.
    const fork = signNote(
      formatBlockHeader({ ...known, prev: new Uint8Array(32), root: flipBit(known.root, 3) }),
      [loadSigner(a.sequencer.signerKey)],
    );
    proxy.after = (x, ans) => (x.path === '/checkpoint' ? { ...ans, body: Buffer.from(fork) } : undefined);
    const f = await rejection(via.head());
    expect(f.code).toBe('E_FORK');
    expect(f.message).toContain('forked');
    proxy.after = undefined;
    // A client given onFork receives the evidence, which verifies offline as a fork.
    const kept: unknown[] = [];
    const watcher = await connect(proxy.url, {
      verifierKey: a.sequencer.verifierKey,
      as: a.health.as,
      onFork: (e) => kept.push(e),
    });
    const now = await watcher.head();
    const second = signNote(
      formatBlockHeader({ ...now, prev: new Uint8Array(32), root: flipBit(now.root, 5) }),
      [loadSigner(a.sequencer.signerKey)],
    );
    proxy.after = (x, ans) => (x.path === '/checkpoint' ? { ...ans, body: Buffer.from(second) } : undefined);
    expect((await rejection(watcher.head())).code).toBe('E_FORK');
    proxy.after = undefined;
    expect(kept.length).toBe(1);
    const report = verifyBundle(kept[0], [a.sequencer.verifierKey]);
    expect([report.kind, report.ok]).toEqual(['fork', true]);
  });

  it('a flipped byte in a proof bundle is E_PROOF_INVALID naming the check that failed', async () => {
    const flipFirst = (path: string, field: string) => (x: Exchange, ans: Answer) =>
      x.path.startsWith(path)
        ? rewrite(ans, (json) => {
            const list = json[field] as string[];
            list[0] = toBase64(flipBit(fromBase64(list[0]!), 9));
          })
        : undefined;
    proxy.after = flipFirst('/dirchain/v1/proofs/inclusion', 'inclusion');
    const e = await rejection(via.proveInclusion(1));
    expect(e.code).toBe('E_PROOF_INVALID');
    expect(e.message).toContain('fails "inclusion proof"');
    proxy.after = flipFirst('/dirchain/v1/proofs/consistency', 'consistency');
    const c = await rejection(via.proveConsistency(2));
    expect(c.code).toBe('E_PROOF_INVALID');
    expect(c.message).toContain('fails "consistency proof"');
    proxy.after = undefined;
    expect(await via.proveInclusion(1)).toEqual(await ledger.proveInclusion(1));
  });

  it('a flipped byte in one proof of a query answer is E_PROOF_INVALID naming the item', async () => {
    const tamper = (item: number, field: 'inclusion' | 'path') => (x: Exchange, ans: Answer) =>
      x.path === '/dirchain/v1/query'
        ? rewrite(ans, (json) => {
            const proof = (json.proofs as Array<Record<string, unknown>>)[item]!;
            const list = (
              field === 'path' ? (proof.attribution as Record<string, string[]>).path : proof.inclusion
            ) as string[];
            list[0] = toBase64(flipBit(fromBase64(list[0]!), 5));
          })
        : undefined;
    const registered = await ledger.query.recordsByKind('resource.register');
    proxy.after = tamper(1, 'inclusion');
    const e = await rejection(via.query.recordsByKind('resource.register'));
    expect(e.code).toBe('E_PROOF_INVALID');
    expect(e.message).toContain(`item 1 (record ${registered.items[1]!.index})`);
    expect(e.index).toBe(registered.items[1]!.index);

    // An event's path to its seal's root.
    const logs = await ledger.query.accessLogs('g-1');
    const at = logs.items.findIndex((l) => l.seal !== undefined);
    proxy.after = tamper(at, 'path');
    const ev = await rejection(via.query.accessLogs('g-1'));
    expect(ev.code).toBe('E_PROOF_INVALID');
    expect(ev.message).toContain(`item ${at} (record ${logs.items[at]!.index})`);
    expect(ev.message).toContain('event attribution');

    // Untouched, the same answers verify.
    proxy.after = undefined;
    expect(await via.query.accessLogs('g-1')).toEqual(logs);
  });

  it('an entity whose proof is for another record is E_PROOF_INVALID', async () => {
    proxy.after = (x, ans) =>
      x.path === '/dirchain/v1/query'
        ? rewrite(ans, (json) => {
            (json.result as { item: { index: number } }).item.index = 0;
          })
        : undefined;
    const e = await rejection(via.query.get('resource', 'health/records'));
    expect(e.code).toBe('E_PROOF_INVALID');
    expect(e.message).toContain('get item 0 (record 0)');
    proxy.after = undefined;
  });
});

describe('a get answer and the status map', () => {
  let proxy: Awaited<ReturnType<typeof startProxy>>;
  let via: RemoteLedger;
  beforeAll(async () => {
    proxy = await startProxy(node.url);
    via = await connect(proxy.url, { verifierKey: a.sequencer.verifierKey, as: a.bureau.as });
  });
  afterAll(() => proxy.close());
  const onGet = (change: (json: Record<string, unknown>) => void) => (x: Exchange, ans: Answer) =>
    x.path === '/dirchain/v1/query' ? rewrite(ans, change) : undefined;

  it('carries the status proof of the entity, or of its absence, at the same checkpoint', async () => {
    proxy.after = undefined;
    const bodies: Array<Record<string, unknown>> = [];
    proxy.after = onGet((json) => {
      bodies.push(structuredClone(json));
    });
    expect(await via.query.get('grant', 'g-2')).toEqual(ledger.query.get('grant', 'g-2'));
    expect(await via.query.get('grant', 'g-none')).toBeUndefined();
    proxy.after = undefined;
    const [present, absent] = bodies;
    expect(checkStatus(present!.status, [a.sequencer.verifierKey])).toMatchObject({ status: 'revoked' });
    expect((present!.status as { checkpoint: string }).checkpoint).toBe(present!.checkpoint);
    expect(checkStatus(absent!.status, [a.sequencer.verifierKey])).toMatchObject({ status: 'absent' });
  });

  it('a stale, hidden or invented entity, or a missing or foreign status proof, is E_PROOF_INVALID', async () => {
    // The grant as it was before its revocation: its record's inclusion proof still holds.
    proxy.after = onGet((json) => {
      Object.assign((json.result as { item: Record<string, unknown> }).item, {
        status: 'active',
        revokedAt: null,
        revokedBy: null,
      });
    });
    const stale = await rejection(via.query.get('grant', 'g-2'));
    expect(stale.code).toBe('E_PROOF_INVALID');
    expect(stale.message).toContain('a stale or changed answer');
    proxy.after = onGet((json) => {
      (json.result as { item: unknown }).item = null;
      json.proofs = [];
    });
    const hidden = await rejection(via.query.get('grant', 'g-2'));
    expect(hidden.code).toBe('E_PROOF_INVALID');
    expect(hidden.message).toContain('says there is no grant "g-2"');
    proxy.after = onGet((json) => {
      delete json.status;
    });
    expect((await rejection(via.query.get('grant', 'g-2'))).message).toContain('without its status proof');
    const other = statusBundleToJSON(await ledger.proveStatus('grant', 'g-1'));
    proxy.after = onGet((json) => {
      json.status = other;
    });
    const foreign = await rejection(via.query.get('grant', 'g-2'));
    expect(foreign.code).toBe('E_PROOF_INVALID');
    expect(foreign.message).toContain('is of grant "g-1"');
    proxy.after = undefined;
    expect((await via.query.get('grant', 'g-2'))?.status).toBe('revoked');
  });
});

describe('close', () => {
  it('later calls are E_LEDGER_CLOSED', async () => {
    const c = await connect(node.url, { verifierKey: a.sequencer.verifierKey, as: a.bureau.as });
    await c.close();
    expect(await refusal(c.head())).toBe('E_LEDGER_CLOSED');
    expect(await refusal(c.submit(a.health.as, 'x.note', {}))).toBe('E_LEDGER_CLOSED');
  });
});
