/**
 * End-to-end: `dirchain serve` as a real child process on 127.0.0.1 (ephemeral
 * port), audited by `dirchain audit http://...` as another, with the report
 * files checked on disk. Needs dist/cli.js (built by `npm test`).
 */
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ClassicLevel } from 'classic-level';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditReport } from '../../src/audit/report.js';
import { repoRoot, rewriteStoredEntry, tempDir } from '../helpers.js';
import { serveAsStored } from '../node/lying-server.js';
import { dirchain as dirchainAsync } from './cli-child.js';

const CLI = path.join(repoRoot, 'dist', 'cli.js');
const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
delete env.DIRCHAIN_DIR;
const N = 300;

let tmp: ReturnType<typeof tempDir>;
let dir: string;
let keyFile: string;
const children: ChildProcessWithoutNullStreams[] = [];

function dirchain(args: readonly string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Appends NDJSON records (one per line) to the test ledger with `dirchain append`, as the bureau. */
function appendLines(file: string, lines: readonly string[]): void {
  fs.writeFileSync(path.join(tmp.path, file), `${lines.join('\n')}\n`);
  const r = dirchain([
    'append',
    dir,
    '--file',
    path.join(tmp.path, file),
    '--key',
    path.join(dir, 'keys', 'bureau.key'),
  ]);
  expect(r.code, r.stderr).toBe(0);
}

/** Starts `dirchain serve` and resolves with its URL once it prints it. */
function serve(folder: string): Promise<{ url: string; child: ChildProcessWithoutNullStreams }> {
  const child = spawn(process.execPath, [CLI, 'serve', folder, '--port', '0', '--json'], { env });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.stdout.on('data', (d) => {
      out += d;
      const line = out.split('\n')[0];
      if (out.includes('\n')) resolve({ url: (JSON.parse(line!) as { url: string }).url, child });
    });
    child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${err}`)));
  });
}

function stop(child: ChildProcessWithoutNullStreams): Promise<number | null> {
  return new Promise((resolve) => {
    child.removeAllListeners('exit');
    child.on('exit', (code) => resolve(code));
    child.kill('SIGTERM');
  });
}

beforeAll(() => {
  tmp = tempDir();
  dir = path.join(tmp.path, 'city');
  expect(dirchain(['init', dir, '--origin', 'dirchain.example.gov/city']).code).toBe(0);
  const lines = Array.from({ length: N }, (_, i) =>
    JSON.stringify({ kind: i % 3 === 0 ? 'x.import' : 'x.note', body: { i } }),
  );
  appendLines('r.ndjson', lines);
  keyFile = path.join(dir, 'sequencer.pub');
});

afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  tmp.cleanup();
});

describe('dirchain serve + dirchain audit <url>', () => {
  it('audits a served ledger and writes the report', async () => {
    const { url, child } = await serve(dir);
    // Stopped also when an assertion fails: a served folder stays locked for the tests after.
    try {
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      const out = path.join(tmp.path, 'report-ok');
      const human = dirchain(['audit', url, '--key', keyFile, '--report', out]);
      expect(human.code, human.stderr).toBe(0);
      expect(human.stdout).toContain(`ledger verified: ${N + 1} records`);
      expect(human.stdout).toContain('anomalies: none');

      const json = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')) as AuditReport;
      expect(json.ok).toBe(true);
      expect(json.source).toBe(url);
      expect(Object.fromEntries(json.statistics.kinds.map((k) => [k.kind, k.records]))).toEqual({
        genesis: 1,
        'x.import': N / 3,
        'x.note': (2 * N) / 3,
      });
      expect(json.statistics.authors).toEqual([
        { id: 'bureau', records: N, kinds: { 'x.import': N / 3, 'x.note': (2 * N) / 3 } },
        { id: 'sequencer', records: 1, kinds: { genesis: 1 } }, // the genesis record's author
      ]);
      const html = fs.readFileSync(path.join(out, 'report.html'), 'utf8');
      expect(html).toContain(`VERIFIED: ${N + 1} records`);
      expect(html).toContain('<svg ');
      expect(html).not.toMatch(/<script|src=|href=/i);

      const printed = dirchain(['audit', url, '--json']);
      expect(printed.code).toBe(0);
      expect((JSON.parse(printed.stdout) as AuditReport).statistics.records).toBe(N + 1);
      expect(await stop(child)).toBe(0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) await stop(child);
    }
  });

  it('names the first bad index of a tampered served ledger, exits 1 and still writes the report', async () => {
    const copy = path.join(tmp.path, 'tampered');
    fs.cpSync(dir, copy, { recursive: true });
    const db = new ClassicLevel<Uint8Array, Uint8Array>(path.join(copy, 'ledger'), {
      keyEncoding: 'view',
      valueEncoding: 'view',
    });
    await db.open();
    await rewriteStoredEntry(db, 100, (v) => {
      v[v.length >> 1]! ^= 0x01;
      return v;
    });
    await db.close();

    // `dirchain serve` refuses to serve a changed entry (500 E_LEDGER_CORRUPT):
    const honest = await serve(copy);
    const refused = await fetch(`${honest.url}tile/entries/000`);
    expect(refused.status).toBe(500);
    expect(await refused.json()).toMatchObject({ code: 'E_LEDGER_CORRUPT' });
    expect(await stop(honest.child)).toBe(0);
    // a server that lies serves it as stored, and the audit names the record.
    const liar = await serveAsStored(path.join(copy, 'ledger'));
    const out = path.join(tmp.path, 'report-bad');
    // Without blocking this process, which serves the ledger the command reads.
    const r = await dirchainAsync(['audit', liar.url, '--key', keyFile, '--report', out], { env });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('ledger NOT verified');
    expect(r.stdout).toContain('first bad record index: 100');
    const json = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')) as AuditReport;
    expect(json.ok).toBe(false);
    expect(json.error?.index).toBe(100);
    expect(fs.readFileSync(path.join(out, 'report.html'), 'utf8')).toContain('first bad record index: 100');
    await liar.close();

    // The same copy audited as a local folder names the same record.
    const local = dirchain(['audit', copy, '--json']);
    expect(local.code).toBe(1);
    expect((JSON.parse(local.stdout) as AuditReport).error?.index).toBe(100);
  });

  it('--checkpoint catches a served copy that lost its newest blocks', async () => {
    const old = path.join(tmp.path, 'old');
    fs.cpSync(dir, old, { recursive: true });
    const oldSize = (JSON.parse(dirchain(['checkpoint', old, '--json']).stdout) as { size: number }).size;
    appendLines('more.ndjson', [JSON.stringify({ kind: 'x.note', body: { more: 1 } })]);
    const saved = path.join(tmp.path, 'checkpoint.txt');
    fs.writeFileSync(saved, dirchain(['checkpoint', dir]).stdout);

    const { url, child } = await serve(old);
    const r = dirchain(['audit', url, '--key', keyFile, '--checkpoint', saved, '--json']);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as AuditReport;
    expect(report.error?.message).toContain('records were lost');
    expect(report.error?.index).toBe(oldSize); // the first entry the copy lacks
    expect(dirchain(['audit', url, '--key', keyFile]).code).toBe(0); // without it, nothing shows
    expect(await stop(child)).toBe(0);
    expect(dirchain(['audit', dir, '--key', keyFile, '--checkpoint', saved]).code).toBe(0);
  });

  it('refuses a bad port and an unreachable URL with stable codes', () => {
    const port = dirchain(['serve', dir, '--port', '70000']);
    expect(port.code).toBe(2);
    expect(port.stderr).toContain('E_INVALID_ARGUMENT');
    // Nothing was checked: operational (exit 3), like a missing ledger, not a failed check (1).
    const gone = dirchain(['audit', 'http://127.0.0.1:9/', '--json']);
    expect(gone.code).toBe(3);
    expect((JSON.parse(gone.stdout) as AuditReport).error?.code).toBe('E_REMOTE');
    const help = dirchain(['serve', '--help']);
    expect([help.code, help.stdout.includes('usage: dirchain serve')]).toEqual([0, true]);
  });
});
