/**
 * End-to-end: `dirchain verify-log` as a real process against tlog-tiles logs
 * served over HTTP on 127.0.0.1: logs written by test/sync/foreign-log.ts and
 * by Go (test/fixtures/foreign-log-go) behind a plain static file server
 * (python3's http.server where installed, else a node:http one),
 * and a dirchain ledger behind `dirchain serve`. Needs dist/cli.js.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, tempDir } from '../helpers.js';
import { ForeignKey, ForeignLog, seededBytes } from '../sync/foreign-log.js';
import { type StaticServer, startStaticServer } from '../sync/s3-server.js';
import { CLI, cliEnv, dirchain } from './cli-child.js';

const env = cliEnv();
const ORIGIN = 'log.example.org/e2e';
const KEY_NAME = 'log.example.org/e2e-key';
const GO_FIXTURE = path.join(repoRoot, 'test/fixtures/foreign-log-go');

let tmp: ReturnType<typeof tempDir>;
const children: ChildProcessWithoutNullStreams[] = [];
const servers: StaticServer[] = [];

/** Serves `dir` with a plain static file server (python3's http.server where installed, else node:http). */
async function staticServer(dir: string): Promise<string> {
  const s = await startStaticServer(dir);
  servers.push(s);
  return s.url;
}

/** `dirchain serve <folder>`, resolving with its URL. */
function dirchainServe(folder: string): Promise<string> {
  const child = spawn(process.execPath, [CLI, 'serve', folder, '--listen', '127.0.0.1:0', '--json'], { env });
  children.push(child);
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', (l) =>
      resolve((JSON.parse(l) as { url: string }).url),
    );
    child.once('exit', (code) => reject(new Error(`serve exited ${code}`)));
  });
}

beforeAll(() => {
  tmp = tempDir('dirchain-e2e-verify-log-');
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await Promise.all(servers.map((s) => s.close()));
  tmp?.cleanup();
});

describe('a log written by the independent writer, behind a static file server', () => {
  const key = new ForeignKey(KEY_NAME, seededBytes('e2e key', 32));
  let log: ForeignLog;
  let url: string;
  let vkey: string;

  beforeAll(async () => {
    log = new ForeignLog(path.join(tmp.path, 'log'), key, { origin: ORIGIN, extensions: ['e2e 1'] });
    for (let i = 0; i < 600; i++) log.append(seededBytes(`e ${i}`, (i * 53) % 300));
    log.publish();
    vkey = path.join(tmp.path, 'log.vkey');
    fs.writeFileSync(vkey, `${key.vkey}\n`);
    url = await staticServer(log.dir);
  });

  it('verifies: exit 0 and what it checked', async () => {
    const r = await dirchain(['verify-log', url, '--key', vkey, '--origin', ORIGIN]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`log verified: ${ORIGIN} at size 600, root ${log.root().toString('base64')}`);
    expect(r.stdout).toContain(`signature by ${KEY_NAME}, 600 entries in 3 entry bundles, 4 hash tiles`);
    const j = await dirchain(['verify-log', url, '--key', key.vkey, '--origin', ORIGIN, '--json']);
    expect(j.code, j.stderr).toBe(0);
    expect(JSON.parse(j.stdout)).toMatchObject({ ok: true, origin: ORIGIN, size: 600, tiles: 4, bundles: 3 });
  });

  it('without --origin the origin must be the key name: exit 1 naming the one served', async () => {
    const r = await dirchain(['verify-log', url, '--key', vkey]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error E_CHECKPOINT_INVALID: the served checkpoint is of origin "${ORIGIN}"`);
  });

  it('--help; usage errors exit 2; an unreachable log exits 3', async () => {
    const help = await dirchain(['verify-log', '--help']);
    expect([help.code, help.stdout.includes('usage: dirchain verify-log <url> --key')]).toEqual([0, true]);
    expect((await dirchain(['verify-log', url])).code).toBe(2);
    expect((await dirchain(['verify-log', 'log.example.org', '--key', vkey])).code).toBe(2);
    const gone = await startStaticServer(tmp.path, 'node');
    const goneUrl = gone.url;
    await gone.close();
    const r = await dirchain(['verify-log', goneUrl, '--key', vkey, '--origin', ORIGIN]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('error E_REMOTE: cannot fetch');
  });

  it('--checkpoint: made after the first pass, checked and replaced by the next; kept when a check fails', async () => {
    const file = path.join(tmp.path, 'saved.checkpoint');
    const run = () => dirchain(['verify-log', url, '--key', vkey, '--origin', ORIGIN, '--checkpoint', file]);
    let r = await run();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`checkpoint saved to ${file}`);
    expect(fs.readFileSync(file, 'utf8')).toBe(log.checkpoint(600));

    // The log grows: the saved checkpoint is contained, then replaced.
    for (let i = 600; i < 900; i++) log.append(seededBytes(`e ${i}`, (i * 53) % 300));
    log.publish();
    r = await run();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('consistent with the saved checkpoint at size 600');
    expect(fs.readFileSync(file, 'utf8')).toBe(log.checkpoint(900));
    expect(fs.existsSync(`${file}.tmp`)).toBe(false);

    // The server goes back to the checkpoint of 600: refused, the saved one kept.
    const current = fs.readFileSync(path.join(log.dir, 'checkpoint'));
    fs.writeFileSync(path.join(log.dir, 'checkpoint'), log.checkpoint(600));
    r = await run();
    fs.writeFileSync(path.join(log.dir, 'checkpoint'), current);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'E_CHECKPOINT_INVALID: the served checkpoint (size 600) is older than the saved one',
    );
    expect(fs.readFileSync(file, 'utf8')).toBe(log.checkpoint(900));

    // A saved checkpoint of another tree, signed by the same key: the log forked, exit 4.
    const other = new ForeignLog(path.join(tmp.path, 'other'), key, { origin: ORIGIN });
    for (let i = 0; i < 700; i++) other.append(Buffer.from(`other ${i}`));
    fs.writeFileSync(file, other.checkpoint(700));
    r = await run();
    expect(r.code).toBe(4);
    expect(r.stderr).toContain(
      'error E_FORK: the served tree of size 900 does not extend the saved checkpoint',
    );
    expect(fs.readFileSync(file, 'utf8')).toBe(other.checkpoint(700));
  });

  it('a changed tile: exit 1, naming the tile and the first entry index', async () => {
    const tile = path.join(log.dir, 'tile/0/001');
    const original = fs.readFileSync(tile);
    const changed = Buffer.from(original);
    changed[40 * 32]! ^= 1;
    fs.writeFileSync(tile, changed);
    try {
      const r = await dirchain(['verify-log', url, '--key', vkey, '--origin', ORIGIN]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(
        'error E_LEDGER_CORRUPT: hash tile tile/0/001 is not the one the checkpoint',
      );
      const j = await dirchain(['verify-log', url, '--key', vkey, '--origin', ORIGIN, '--json']);
      expect(j.code).toBe(1);
      expect(JSON.parse(j.stdout)).toMatchObject({
        error: { code: 'E_LEDGER_CORRUPT', index: 256 + 40 },
      });
    } finally {
      fs.writeFileSync(tile, original);
    }
  });
});

describe('the log Go wrote (committed fixture)', () => {
  it('verifies, containing the checkpoint it published at 300', async () => {
    const url = await staticServer(path.join(GO_FIXTURE, 'log'));
    const saved = path.join(tmp.path, 'go.checkpoint');
    fs.copyFileSync(path.join(GO_FIXTURE, 'checkpoint-300'), saved);
    const r = await dirchain([
      'verify-log',
      url,
      '--key',
      path.join(GO_FIXTURE, 'log.vkey'),
      '--checkpoint',
      saved,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('log verified: go.example/tlog-fixture at size 600');
    expect(r.stdout).toContain('consistent with the saved checkpoint at size 300');
    expect(fs.readFileSync(saved, 'utf8')).toBe(
      fs.readFileSync(path.join(GO_FIXTURE, 'log', 'checkpoint'), 'utf8'),
    );
  });
});

describe('a dirchain ledger behind `dirchain serve`', () => {
  it('is a tlog-tiles log: verify-log passes without knowing its block notes', async () => {
    const dir = path.join(tmp.path, 'city');
    const init = await dirchain(['init', dir, '--origin', 'dirchain.example.gov/verify-log']);
    expect(init.code, init.stderr).toBe(0);
    const records = path.join(tmp.path, 'records.ndjson');
    fs.writeFileSync(
      records,
      `${Array.from({ length: 300 }, (_, i) => JSON.stringify({ kind: 'x.note', body: { i } })).join('\n')}\n`,
    );
    const append = await dirchain([
      'append',
      dir,
      '--file',
      records,
      '--key',
      path.join(dir, 'keys', 'bureau.key'),
    ]);
    expect(append.code, append.stderr).toBe(0);
    const url = await dirchainServe(dir);
    const pub = path.join(dir, 'sequencer.pub');
    const r = await dirchain(['verify-log', url, '--key', pub, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { origin: string; size: number; checkpoint: string };
    expect(report.origin).toBe('dirchain.example.gov/verify-log');
    expect(report.size).toBeGreaterThan(300);
    // The block note dirchain serves as its checkpoint, extension lines and all.
    expect(report.checkpoint).toBe(await (await fetch(`${url}checkpoint`)).text());
    expect(report.checkpoint.split('\n')[3]).toMatch(/^block \d+$/);
  });
});
