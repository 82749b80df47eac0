/**
 * End-to-end: `dirchain follow` and `dirchain node --replica` as real child
 * processes on 127.0.0.1, following `dirchain node` while records arrive.
 * The follower is SIGKILLed at seeded random moments and restarted on the
 * same folder; the replica ends byte-identical, in what it replicated, to the
 * sequencer's folder. Needs dist/ (built by `npm test`).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyLedger } from '../../src/chain/verify.js';
import { generateKeyPair } from '../../src/crypto/keys.js';
import { memberSigner } from '../../src/directory/member-signer.js';
import { signRecord } from '../../src/encoding/record.js';
import { createLedger } from '../../src/ledger/open.js';
import { LedgerStore } from '../../src/storage/store.js';
import { repoRoot, tempDir } from '../helpers.js';

const CLI = path.join(repoRoot, 'dist', 'cli.js');
const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
delete env.DIRCHAIN_DIR;
delete env.DIRCHAIN_NODE;
const ORIGIN = 'dirchain.example.gov/e2e-follow';
/** Seeded, so a failure can be replayed: the follower's kill times in ms. */
const KILLS = [
  180, 420, 90, 650, 300, 520, 240, 130, 470, 210, 560, 330, 150, 610, 270, 390, 110, 500, 230, 440,
];

let tmp: ReturnType<typeof tempDir>;
let origin: string;
let pub: string;
const children: ChildProcess[] = [];

function dirchain(args: readonly string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function start(args: readonly string[]) {
  const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const firstLine = new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`exited ${code}: ${stderr}`)));
  });
  // A follower killed before printing anything has no first line: not an error of the test.
  firstLine.catch(() => {});
  return { child, exited, firstLine, stderr: () => stderr };
}

/** Posts signed records to the node until `stop` resolves. */
async function load(url: string, stop: Promise<unknown>): Promise<number> {
  const bureau = memberSigner(fs.readFileSync(path.join(origin, 'keys', 'bureau.key'), 'utf8').trim());
  let done = false;
  void stop.then(() => {
    done = true;
  });
  let sent = 0;
  while (!done) {
    const record = signRecord(
      {
        origin: ORIGIN,
        kind: 'x.load',
        author: bureau.id,
        keyId: 0,
        timestamp: Date.now(),
        body: { i: sent },
      },
      bureau.signer,
    );
    const res = await fetch(`${url}dirchain/v1/records`, {
      method: 'POST',
      body: Buffer.from(record.bytes),
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    sent++;
  }
  return sent;
}

/** Blocks and entries of `replica` are the origin folder's, byte for byte; returns the replica's size. */
async function sameAsOrigin(replica: string): Promise<number> {
  const [a, b] = await Promise.all([
    LedgerStore.open(path.join(origin, 'ledger'), { create: false }),
    LedgerStore.open(replica, { create: false }),
  ]);
  try {
    const size = Number((await b.lastBlock())!.note.split('\n')[1]);
    for await (const block of b.blocks()) expect(block.note).toBe(a.getBlock(block.height)?.note);
    for await (const [i, e] of b.entries(0, size))
      expect(Buffer.from(e).equals(Buffer.from(a.getEntry(i)!)), `entry ${i}`).toBe(true);
    return size;
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
}

beforeAll(() => {
  tmp = tempDir();
  origin = path.join(tmp.path, 'origin');
  const r = dirchain(['init', origin, '--origin', ORIGIN]);
  expect(r.code, r.stderr).toBe(0);
  pub = path.join(origin, 'sequencer.pub');
});

afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  tmp?.cleanup();
});

describe('dirchain follow', () => {
  it('survives SIGKILL at random moments and ends byte-identical; a replica node serves a follower', async () => {
    const node = start(['node', origin, '--public']);
    const url = await node.firstLine;
    let stopLoad!: () => void;
    const loading = load(
      url,
      new Promise<void>((r) => {
        stopLoad = r;
      }),
    );
    const replica = path.join(tmp.path, 'replica');
    let killed = 0;
    for (const ms of KILLS) {
      const f = start(['follow', replica, '--from', url, '--key', pub]);
      await new Promise((r) => setTimeout(r, ms));
      f.child.kill('SIGKILL');
      const how = await f.exited;
      // Killed, or (rarely) already stopped on its own: never a failure exit.
      expect(how.signal === 'SIGKILL' || how.code === 0, f.stderr()).toBe(true);
      if (how.signal === 'SIGKILL') killed++;
    }
    stopLoad();
    const sent = await loading;
    expect(sent).toBeGreaterThan(20);
    expect(killed).toBeGreaterThanOrEqual(KILLS.length - 2);
    const once = dirchain(['follow', replica, '--from', url, '--key', pub, '--once', '--json']);
    expect(once.code, once.stderr).toBe(0);
    const report = JSON.parse(once.stdout) as { size: number };

    // A replica node of the origin, and a follower of that replica: followers chain.
    const department = start([
      'node',
      path.join(tmp.path, 'department'),
      '--replica',
      url,
      '--key',
      pub,
      '--public',
    ]);
    const departmentUrl = await department.firstLine;
    for (let tries = 0; tries < 200; tries++) {
      const ready = await fetch(`${departmentUrl}checkpoint`).then((r) => r.text());
      if (Number(ready.split('\n')[1]) >= report.size) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const district = path.join(tmp.path, 'district');
    const chained = dirchain(['follow', district, '--from', departmentUrl, '--key', pub, '--once', '--json']);
    expect(chained.code, chained.stderr).toBe(0);
    expect((JSON.parse(chained.stdout) as { size: number }).size).toBeGreaterThanOrEqual(report.size);
    department.child.kill('SIGTERM');
    expect((await department.exited).code).toBe(0);

    node.child.kill('SIGTERM');
    expect((await node.exited).code).toBe(0);
    expect(await sameAsOrigin(path.join(replica, 'ledger'))).toBe(report.size);
    expect(await sameAsOrigin(path.join(district, 'ledger'))).toBeGreaterThanOrEqual(report.size);
    expect((await verifyLedger(path.join(replica, 'ledger'))).ok).toBe(true);
  }, 120_000);

  it('a forked server: follow exits 4 keeping the evidence, which dirchain verify proves', async () => {
    // A second history of the same log: the same genesis record and key, started later.
    const fork = path.join(tmp.path, 'fork');
    const store = await LedgerStore.open(path.join(origin, 'ledger'), { create: false });
    const genesisRecord = store.getEntry(0)!;
    await store.close();
    fs.mkdirSync(fork);
    const forked = await createLedger(path.join(fork, 'ledger'), {
      origin: ORIGIN,
      sequencerKey: fs.readFileSync(path.join(origin, 'keys', 'sequencer.key'), 'utf8').trim(),
      genesisRecord,
      clock: () => Date.now() + 5000,
    });
    await forked.close();
    const server = start(['serve', fork]);
    const url = /(http:\/\/\S+)/.exec(await server.firstLine)![1]!;
    const replica = path.join(tmp.path, 'replica');
    const r = dirchain(['follow', replica, '--from', url, '--key', pub, '--once']);
    server.child.kill('SIGTERM');
    await server.exited;
    expect(r.code, r.stderr).toBe(4);
    expect(r.stderr).toContain('E_FORK');
    const files = fs.readdirSync(replica).filter((f) => f.startsWith('fork-'));
    expect(files.length).toBe(1);
    const verified = dirchain(['verify', path.join(replica, files[0]!), '--key', pub]);
    expect(verified.code, verified.stdout).toBe(0);
    expect(verified.stdout).toContain('verified: the evidence proves the log forked');
  }, 30_000);

  it('--quorum without --witness is a usage error (exit 2), never a follow that requires no witness', () => {
    const nowhere = 'http://127.0.0.1:9/';
    const replica = path.join(tmp.path, 'no-witness');
    const followed = dirchain([
      'follow',
      replica,
      '--from',
      nowhere,
      '--key',
      pub,
      '--quorum',
      '1',
      '--once',
    ]);
    expect(followed.code, followed.stderr).toBe(2);
    expect(followed.stderr).toContain('--witness');
    const node = dirchain(['node', replica, '--replica', nowhere, '--key', pub, '--quorum', '1']);
    expect(node.code, node.stderr).toBe(2);
    expect(node.stderr).toContain('--witness');
    expect(fs.existsSync(path.join(replica, 'ledger'))).toBe(false);
  });

  it('refuses a server whose checkpoint another key signed (exit 1, nothing made)', () => {
    const node = start(['serve', origin]);
    return node.firstLine.then(async (line) => {
      const url = /(http:\/\/\S+)/.exec(line)![1]!;
      const other = path.join(tmp.path, 'other.pub');
      fs.writeFileSync(other, `${generateKeyPair(ORIGIN).verifierKey}\n`);
      const r = dirchain(['follow', path.join(tmp.path, 'nope'), '--from', url, '--key', other, '--once']);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('E_BAD_SIGNATURE');
      expect(fs.existsSync(path.join(tmp.path, 'nope', 'ledger'))).toBe(false);
      node.child.kill('SIGTERM');
      await node.exited;
    });
  }, 30_000);
});
