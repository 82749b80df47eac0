/**
 * End-to-end: `dirchain node` as a real child process on 127.0.0.1, with
 * submitter processes posting signed records at the same time. Checks the
 * total order (no gaps, every acknowledged record where its receipt says),
 * that SIGTERM mid-load loses nothing acknowledged and leaves a ledger
 * `verifyLedger` passes, and that the tiles served while appending are
 * byte-identical to what `dirchain serve` serves for the same tree size.
 * Needs dist/ (built by `npm test`).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyLedger } from '../../src/chain/verify.js';
import { fromBase64 } from '../../src/crypto/bytes.js';
import { generateKeyPair } from '../../src/crypto/keys.js';
import { memberSigner } from '../../src/directory/member-signer.js';
import { isBlockEntry } from '../../src/encoding/block-entry.js';
import { ErrorCode } from '../../src/errors.js';
import { TILE_WIDTH, tilePath } from '../../src/merkle/tiles.js';
import { connect } from '../../src/node/client.js';
import { LedgerStore } from '../../src/storage/store.js';
import { repoRoot, tempDir } from '../helpers.js';

const CLI = path.join(repoRoot, 'dist', 'cli.js');
const INDEX = path.join(repoRoot, 'dist', 'index.js');
const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
delete env.DIRCHAIN_DIR;
delete env.DIRCHAIN_NODE;

/** A submitter: signs `count` records as the member whose key file it is given and posts them, 4 in flight. */
const SUBMITTER = `
import { readFileSync } from 'node:fs';
import { memberSigner, signRecord } from ${JSON.stringify(INDEX)};
const [url, keyFile, origin, tag, count] = process.argv.slice(2);
const member = memberSigner(readFileSync(keyFile, 'utf8').trim());
let next = 0;
let stopped = false;
async function worker() {
  while (!stopped && next < Number(count)) {
    const i = next++;
    const record = signRecord({ origin, kind: 'x.load', author: member.id, keyId: member.keyId, timestamp: Date.now(), body: { tag, i } }, member.signer);
    try {
      const res = await fetch(url + 'dirchain/v1/records', { method: 'POST', body: record.bytes, headers: { 'content-type': 'application/octet-stream' } });
      const answer = await res.json();
      if (res.status !== 200) { stopped = true; console.log(JSON.stringify({ tag, i, status: res.status, code: answer.code })); return; }
      console.log(JSON.stringify({ tag, i, index: answer.index, height: answer.height, bytes: Buffer.from(record.bytes).toString('base64') }));
    } catch (e) {
      stopped = true;
      console.log(JSON.stringify({ tag, i, failed: String(e.cause?.code ?? e.message) }));
      return;
    }
  }
}
await Promise.all([worker(), worker(), worker(), worker()]);
`;

interface Line {
  tag: string;
  i: number;
  index?: number;
  height?: number;
  bytes?: string;
  status?: number;
  code?: string;
  failed?: string;
}

let tmp: ReturnType<typeof tempDir>;
let dir: string;
let origin: string;
let submitter: string;
const children: ChildProcess[] = [];
/** What the first test's submitters were acknowledged (the second test's folder holds them too). */
const earlier: Line[] = [];

function dirchain(args: readonly string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Starts `dirchain node` (or `serve`) and resolves with its URL, the first line it prints. */
function start(command: 'node' | 'serve', extra: readonly string[] = []) {
  const child = spawn(process.execPath, [CLI, command, dir, ...extra], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise<number>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? (signal ? -1 : 0))),
  );
  const url = new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (l) => resolve(command === 'node' ? l : /(http:\/\/\S+)/.exec(l)![1]!));
    child.once('exit', (code) => reject(new Error(`${command} exited ${code}: ${stderr}`)));
  });
  return { child, url, exited, stderr: () => stderr };
}

/** Runs a submitter process to the end; resolves with the lines it printed. */
function submit(
  url: string,
  tag: string,
  count: number,
): { done: Promise<Line[]>; child: ChildProcess; lines: Line[] } {
  const child = spawn(
    process.execPath,
    [submitter, url, path.join(dir, 'keys', 'bureau.key'), origin, tag, String(count)],
    { env, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  children.push(child);
  const lines: Line[] = [];
  createInterface({ input: child.stdout! }).on('line', (l) => lines.push(JSON.parse(l) as Line));
  const done = new Promise<Line[]>((resolve) => child.on('exit', () => setImmediate(() => resolve(lines))));
  return { done, child, lines };
}

/** Every acknowledged record is at its receipt's index, byte for byte; every other entry is genesis or a block entry. */
async function checkOrder(acks: Line[]): Promise<number> {
  const byIndex = new Map<number, string>();
  for (const a of acks) {
    expect(byIndex.has(a.index!), `two receipts name index ${a.index}`).toBe(false);
    byIndex.set(a.index!, a.bytes!);
  }
  const store = await LedgerStore.open(path.join(dir, 'ledger'), { create: false });
  let size = 0;
  try {
    const last = await store.lastBlock();
    size = Number(last!.note.split('\n')[1]);
    let records = 0;
    for await (const [index, entry] of store.entries(0, size)) {
      const acked = byIndex.get(index);
      if (acked !== undefined) {
        expect(Buffer.from(entry).equals(Buffer.from(fromBase64(acked))), `entry ${index}`).toBe(true);
        records++;
      } else {
        // Genesis (its record and block entry) and block entries are the only entries no one submitted.
        expect(
          index < 2 || isBlockEntry(entry),
          `entry ${index} is neither acknowledged nor a block entry`,
        ).toBe(true);
      }
    }
    expect(records).toBe(byIndex.size);
  } finally {
    await store.close();
  }
  return size;
}

beforeAll(() => {
  tmp = tempDir();
  dir = path.join(tmp.path, 'city');
  origin = 'dirchain.example.gov/e2e-node';
  const r = dirchain(['init', dir, '--origin', origin, '--json']);
  expect(r.code, r.stderr).toBe(0);
  submitter = path.join(tmp.path, 'submitter.mjs');
  fs.writeFileSync(submitter, SUBMITTER);
});

afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  tmp?.cleanup();
});

describe('dirchain node with several submitting processes', () => {
  it('lands concurrent submissions in one total order with no gaps', async () => {
    const node = start('node');
    const url = await node.url;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const runs = ['a', 'b', 'c'].map((tag) => submit(url, tag, 120));
    const lines = (await Promise.all(runs.map((r) => r.done))).flat();
    expect(lines.filter((l) => l.index === undefined)).toEqual([]);
    expect(lines.length).toBe(360);
    // A client pinned to the published key reads the node; pinned to another key, it refuses it.
    const as = memberSigner(fs.readFileSync(path.join(dir, 'keys', 'bureau.key'), 'utf8').trim());
    const published = fs.readFileSync(path.join(dir, 'sequencer.pub'), 'utf8').trim();
    const client = await connect(url, { verifierKey: published, as });
    expect((await client.head()).size).toBeGreaterThan(360);
    const impostor = generateKeyPair(origin).verifierKey;
    await expect(connect(url, { verifierKey: impostor, as })).rejects.toMatchObject({
      code: ErrorCode.BAD_SIGNATURE,
    });
    node.child.kill('SIGTERM');
    expect(await node.exited).toBe(0);
    const size = await checkOrder(lines);
    expect(size).toBeGreaterThan(362);
    earlier.push(...lines);
  }, 60_000);

  it('SIGTERM mid-load loses no acknowledged record; tiles served while appending match serve', async () => {
    const node = start('node', ['--public']);
    const url = await node.url;
    const runs = ['d', 'e', 'f'].map((tag) => submit(url, tag, 1_000_000));
    // Let the load run, then capture what the node serves at one tree size while it appends.
    const acked = () => runs.reduce((n, r) => n + r.lines.filter((l) => l.index !== undefined).length, 0);
    for (const until = Date.now() + 30_000; acked() < 60 && Date.now() < until; )
      await new Promise((r) => setTimeout(r, 50));
    const checkpoint = await (await fetch(`${url}checkpoint`)).text();
    const size = Number(checkpoint.split('\n')[1]);
    const paths = tilePaths(size);
    const served = new Map<string, { body: Buffer; cache: string | null }>();
    for (const p of paths) {
      const res = await fetch(url + p);
      expect(res.status, p).toBe(200);
      served.set(p, { body: Buffer.from(await res.arrayBuffer()), cache: res.headers.get('cache-control') });
    }
    await new Promise((r) => setTimeout(r, 500));
    node.child.kill('SIGTERM');
    const lines = (await Promise.all(runs.map((r) => r.done))).flat();
    expect(await node.exited).toBe(0);
    const acks = lines.filter((l) => l.index !== undefined);
    expect(acks.length).toBeGreaterThanOrEqual(60);
    // Each submitter stopped on a refusal while draining (503) or on the closed port, never on anything else.
    for (const l of lines.filter((x) => x.index === undefined)) {
      expect(l.status === 503 || l.failed !== undefined, JSON.stringify(l)).toBe(true);
    }
    await checkOrder(acks.concat(earlier));
    const report = await verifyLedger(path.join(dir, 'ledger'));
    expect(report.ok, JSON.stringify(report)).toBe(true);

    const serve = start('serve');
    const serveUrl = await serve.url;
    for (const p of paths) {
      const res = await fetch(serveUrl + p);
      const body = Buffer.from(await res.arrayBuffer());
      expect(body.equals(served.get(p)!.body), `${p} differs`).toBe(true);
      expect(res.headers.get('cache-control')).toBe(served.get(p)!.cache);
    }
    serve.child.kill('SIGTERM');
    expect(await serve.exited).toBe(0);
  }, 90_000);
});

/** Every entry bundle and level-0/1 hash tile path of a tree of `size` (partial ones with their width). */
function tilePaths(size: number): string[] {
  const out: string[] = [];
  for (let level = 0; level <= 1; level++) {
    const span = TILE_WIDTH ** level;
    const count = Math.floor(size / span);
    for (let n = 0; n * TILE_WIDTH < count; n++) {
      const width = Math.min(TILE_WIDTH, count - n * TILE_WIDTH);
      if (width === 0) continue;
      out.push(tilePath({ level, n, width }));
      if (level === 0) out.push(tilePath({ level: -1, n, width }));
    }
  }
  return out;
}
