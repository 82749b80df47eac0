/**
 * End-to-end: the CLI's commands on a running `dirchain node` (--node URL,
 * DIRCHAIN_NODE) instead of a folder, as real processes on 127.0.0.1: append,
 * a directory write, a member's key rotation, queries, checkpoint, prove (then
 * `dirchain verify` of the bundle), audit of a node that is not --public; the
 * precedence of flags over the environment, and the refusals. What the node
 * answered is compared with what the folder gives once the node has stopped.
 * Needs dist/cli.js (built by `npm test`).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, tempDir } from '../helpers.js';

const CLI = join(repoRoot, 'dist', 'cli.js');
const baseEnv: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
for (const v of ['DIRCHAIN_DIR', 'DIRCHAIN_NODE', 'DIRCHAIN_NODE_KEY']) delete baseEnv[v];
/** A URL where nothing listens: a command that used it would fail (E_REMOTE, exit 3). */
const DEAD_URL = 'http://127.0.0.1:9/';

const tmp = tempDir('dirchain-cli-node-');
const dir = join(tmp.path, 'city');
const pub = join(dir, 'sequencer.pub');
const bureau = join(dir, 'keys', 'bureau.key');
let url: string;
let node: { child: ChildProcess; exited: Promise<number | null> } | undefined;

function dirchain(args: readonly string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...baseEnv, ...env } });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Runs a command that must succeed, and returns its stdout. */
function ok(args: readonly string[], env: NodeJS.ProcessEnv = {}): string {
  const r = dirchain(args, env);
  expect(r.code, `dirchain ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

function file(name: string, text: string): string {
  const p = join(tmp.path, name);
  writeFileSync(p, text);
  return p;
}

/** --node URL with the pinned key: what every command on the node is given. */
const onNode = (): string[] => ['--node', url, '--node-key', pub];

const resource = {
  id: 'bureau/parks',
  owner: 'bureau',
  title: 'City parks',
  description: 'Parks and their opening hours',
  theme: 'environment',
  format: 'table',
  updateCycle: 'monthly',
  sourceSystem: 'gis',
  fields: [
    { name: 'park', level: 1 },
    { name: 'hours', level: 1 },
  ],
  level: 1,
  sharing: 'unconditional',
  opening: 'open',
};

beforeAll(async () => {
  ok(['init', dir, '--origin', 'dirchain.example.gov/cli-node']);
  const child = spawn(process.execPath, [CLI, 'node', dir], {
    env: baseEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  node = { child, exited };
  url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`dirchain node exited ${code}: ${stderr}`)));
  });
});

afterAll(async () => {
  if (node !== undefined && node.child.exitCode === null) {
    node.child.kill('SIGTERM');
    await node.exited;
  }
  tmp.cleanup();
});

/** Outputs through the node, compared with the folder's once the node has stopped. */
const seen: Record<string, string> = {};

describe('the CLI on a running node (--node URL)', () => {
  let appended: { first: number; last: number; size: number };

  it('append --node: records in windows to the node, refusals by line, the same report as a folder', () => {
    const records = file(
      'records.ndjson',
      [
        '{"kind": "x.note", "body": {"text": "one"}}',
        '{"kind": "x.note", "body": {"text": "two"}}',
        'not json',
        '{"kind": "x.note", "body": {"text": "three"}}',
      ].join('\n'),
    );
    const r = dirchain(['append', ...onNode(), '--file', records, '--key', bureau, '--json']);
    expect(r.code, r.stderr).toBe(1); // one line refused
    const report = JSON.parse(r.stdout) as {
      appended: number;
      first: number;
      last: number;
      refused: { line: number; code: string }[];
      size: number;
    };
    expect(report.appended).toBe(3);
    expect(report.refused).toEqual([{ line: 3, code: 'E_DECODE' }]);
    expect(report.last - report.first).toBeGreaterThanOrEqual(2);
    expect(report.size).toBeGreaterThan(report.last);
    appended = report;
    const cp = JSON.parse(ok(['checkpoint', ...onNode(), '--as', bureau, '--json'])) as { size: number };
    expect(cp.size).toBe(report.size);
  });

  it('a directory write, and a rotated member found by its current key', () => {
    const written = ok([
      'resource',
      'register',
      ...onNode(),
      '--as',
      bureau,
      '--file',
      file('r.json', JSON.stringify(resource)),
    ]);
    expect(written).toMatch(/^resource registered: record \d+ in block \d+/);

    // A member added through the node rotates its key through the node, then reads with the new key.
    const [key1, pub1] = ok(['member', 'keygen', '--id', 'health']).trim().split('\n');
    const [key2, pub2] = ok(['member', 'keygen', '--id', 'health']).trim().split('\n');
    const health1 = file('health1.key', `${key1}\n`);
    const health2 = file('health2.key', `${key2}\n`);
    ok([
      'member',
      'add',
      ...onNode(),
      '--as',
      bureau,
      '--id',
      'health',
      '--name',
      'Health',
      '--roles',
      'consumer',
      '--signing-key',
      pub1!,
    ]);
    ok(['member', 'rotate-key', ...onNode(), '--as', health1, '--id', 'health', '--signing-key', pub2!]);
    const health = JSON.parse(
      ok(['query', 'member', ...onNode(), '--as', health2, '--id', 'health', '--json']),
    ) as { activeKeyId: number; keys: string[] };
    expect(health.activeKeyId).toBe(1);
    expect(health.keys).toHaveLength(2);
    // The old key no longer reads: the node only answers a member's current key.
    const stale = dirchain(['query', 'member', ...onNode(), '--as', health1, '--id', 'health']);
    expect([stale.code, stale.stderr.includes('E_UNAUTHENTICATED')]).toEqual([3, true]);
  });

  it('query --node answers what the folder holds (compared once the node stops)', () => {
    const one = ok(['query', 'resource', ...onNode(), '--as', bureau, '--id', resource.id, '--json']);
    expect(JSON.parse(one)).toMatchObject({ id: resource.id, owner: 'bureau', status: 'active' });
    seen.resource = one;
    const notes = ok(['query', 'records', ...onNode(), '--as', bureau, '--kind', 'x.note', '--json']);
    const items = (JSON.parse(notes) as { items: { index: number; record: { body: { text: string } } }[] })
      .items;
    expect(items.map((i) => i.record.body.text)).toEqual(['one', 'two', 'three']);
    expect(items[0]!.index).toBe(appended.first);
    seen.records = notes;
    seen.member = ok(['query', 'member', ...onNode(), '--as', bureau, '--id', 'bureau', '--json']);
  });

  it('checkpoint --node prints the signed note; prove --node gives a bundle `dirchain verify` accepts', () => {
    const note = ok(['checkpoint', ...onNode(), '--as', bureau]);
    expect(note.split('\n')[0]).toBe('dirchain.example.gov/cli-node');
    const size = Number(note.split('\n')[1]);
    expect(size).toBeGreaterThan(appended.last);
    seen.checkpoint = note;

    const index = appended.first + 1;
    const text = ok(['prove', ...onNode(), '--as', bureau, '--index', String(index), '--json']);
    const bundle = JSON.parse(text) as { index: number; size: number; checkpoint: string };
    expect([bundle.index, bundle.size, bundle.checkpoint]).toEqual([index, size, note]);
    const path = file('bundle.json', text);
    const verified = dirchain(['verify', path, '--key', pub]);
    expect(verified.code, verified.stdout).toBe(0);
    expect(verified.stdout).toContain('inclusion proof: leaf');
    seen.inclusion = text;

    const consistency = JSON.parse(ok(['prove', ...onNode(), '--as', bureau, '--from', '2', '--json'])) as {
      size1: number;
      size2: number;
    };
    expect([consistency.size1, consistency.size2]).toEqual([2, size]);
    expect(
      dirchain(['verify', file('consistency.json', JSON.stringify(consistency)), '--key', pub]).code,
    ).toBe(0);
  });

  it('audit --node of a node that is not --public: refused unsigned, verified with --as', () => {
    const unsigned = dirchain(['audit', '--node', url, '--key', pub]);
    expect(unsigned.code).toBe(3);
    expect(unsigned.stderr).toContain('401');
    const signed = dirchain(['audit', '--node', url, '--node-key', pub, '--as', bureau]);
    expect(signed.code, signed.stderr).toBe(0);
    expect(signed.stdout).toContain('ledger verified');
    expect(signed.stdout).toContain('key checked');
    // The positional URL is the same command.
    expect(dirchain(['audit', url, '--key', pub, '--as', bureau]).code).toBe(0);
  });

  it('DIRCHAIN_NODE and DIRCHAIN_NODE_KEY stand for the flags; a flag wins over either variable', () => {
    const viaEnv = ok(['checkpoint', '--as', bureau], { DIRCHAIN_NODE: url, DIRCHAIN_NODE_KEY: pub });
    expect(viaEnv).toBe(seen.checkpoint);
    // --node wins over DIRCHAIN_NODE, and over DIRCHAIN_DIR (a folder the running node holds locked).
    expect(
      ok(['checkpoint', '--node', url, '--as', bureau], { DIRCHAIN_NODE: DEAD_URL, DIRCHAIN_NODE_KEY: pub }),
    ).toBe(seen.checkpoint);
    expect(ok(['checkpoint', ...onNode(), '--as', bureau], { DIRCHAIN_DIR: dir })).toBe(seen.checkpoint);
    // --node-key wins over DIRCHAIN_NODE_KEY: a wrong key in the variable is not used.
    const otherKey = ok(['member', 'keygen', '--id', 'other.example']).trim().split('\n')[1]!;
    expect(ok(['checkpoint', ...onNode(), '--as', bureau], { DIRCHAIN_NODE_KEY: otherKey })).toBe(
      seen.checkpoint,
    );
    // ...and that wrong key alone is refused: the client checks the node's checkpoint against it.
    const wrong = dirchain(['checkpoint', '--node', url, '--as', bureau], { DIRCHAIN_NODE_KEY: otherKey });
    expect([wrong.code, wrong.stdout]).toEqual([1, '']);
    expect(wrong.stderr).toContain('E_BAD_SIGNATURE: note has no signature from a trusted key');
  });

  it('refuses a folder and a node together, a node without --node-key, proofs without --as (exit 2)', () => {
    const both = dirchain(['checkpoint', dir, '--node', url, '--node-key', pub]);
    expect([both.code, both.stderr.includes('give a folder or a node, not both')]).toEqual([2, true]);
    const bothEnv = dirchain(['query', 'records', '--kind', 'x.note'], {
      DIRCHAIN_DIR: dir,
      DIRCHAIN_NODE: url,
    });
    expect(bothEnv.code).toBe(2);
    expect(bothEnv.stderr).toContain('DIRCHAIN_DIR and DIRCHAIN_NODE are both set');
    const noKey = dirchain([
      'append',
      '--node',
      url,
      '--file',
      join(tmp.path, 'records.ndjson'),
      '--key',
      bureau,
    ]);
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain('E_INVALID_ARGUMENT');
    expect(noKey.stderr).toContain('<dir>/sequencer.pub');
    const noAs = dirchain(['prove', ...onNode(), '--index', '1']);
    expect([noAs.code, noAs.stderr.includes('--as')]).toEqual([2, true]);
    const notUrl = dirchain(['checkpoint', '--node', dir, '--node-key', pub]);
    expect([notUrl.code, notUrl.stderr.includes('http(s) URL')]).toEqual([2, true]);
    const folderOnly = dirchain(['rebuild', '--node', url]);
    expect([folderOnly.code, folderOnly.stderr.includes('works on a folder')]).toEqual([2, true]);
  });

  it('the node stops on SIGTERM; the folder then answers exactly what the node did', async () => {
    node!.child.kill('SIGTERM');
    expect(await node!.exited).toBe(0);
    // A folder given explicitly wins over DIRCHAIN_NODE (which names a node no longer there).
    const env = { DIRCHAIN_NODE: url, DIRCHAIN_NODE_KEY: pub };
    expect(ok(['query', 'resource', dir, '--id', resource.id, '--json'], env)).toBe(seen.resource);
    expect(ok(['query', 'records', dir, '--kind', 'x.note', '--json'], env)).toBe(seen.records);
    expect(ok(['query', 'member', dir, '--id', 'bureau', '--json'], env)).toBe(seen.member);
    expect(ok(['checkpoint', dir], env)).toBe(seen.checkpoint);
    const index = String(appended.first + 1);
    expect(ok(['prove', dir, '--index', index, '--json'], env)).toBe(seen.inclusion);
  });
});
