/**
 * End-to-end, ML-DSA-44 witnesses (C2SP tlog-cosignature type 0x06) as real
 * processes: `dirchain witness keygen --type ml-dsa-44` and `witness serve`
 * cosign a real ledger's checkpoint over C2SP tlog-witness add-checkpoint, the
 * line checked with the built `dirchain/verify` (dist/verify.js); then a node
 * asks it and an Ed25519 witness of the same name (the key IDs differ), proving
 * consistency from the size the ML-DSA witness holds, and a follower and a
 * client require their cosignatures.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as Library from '../../src/index.js';
import type * as Verify from '../../src/verify.js';
import { repoRoot, tempDir } from '../helpers.js';

const CLI = path.join(repoRoot, 'dist', 'cli.js');
const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
const ORIGIN = 'dirchain.example.gov/e2e-witness-mldsa';
const NAME = 'witness.example.org/court';
let tmp: ReturnType<typeof tempDir>;
let city: string;
const children: ChildProcess[] = [];

function dirchain(args: readonly string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Starts a long-running `dirchain` command; resolves with the first line it prints (its URL). */
function start(args: readonly string[]): { child: ChildProcess; url: Promise<string> } {
  const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const url = new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`dirchain ${args[0]} exited ${code}`)));
  });
  return { child, url };
}

function appendRecords(file: string, from: number, count: number): void {
  const lines = Array.from({ length: count }, (_, i) =>
    JSON.stringify({ kind: 'x.note', body: { i: from + i } }),
  );
  fs.writeFileSync(path.join(tmp.path, file), `${lines.join('\n')}\n`);
  const r = dirchain([
    'append',
    city,
    '--file',
    path.join(tmp.path, file),
    '--key',
    path.join(city, 'keys', 'bureau.key'),
  ]);
  expect(r.code, r.stderr).toBe(0);
}

function keygen(type: string, out: string): { file: string; type: string; verifierKey: string } {
  fs.mkdirSync(out, { recursive: true });
  const r = dirchain(['witness', 'keygen', NAME, '--type', type, '--out', out, '--json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { file: string; type: string; verifierKey: string };
}

/** A key text's type byte and key bytes (`[PRIVATE+KEY+]name+hash+base64(type || key)`; base64 may hold '+'). */
function keyBytes(text: string): { type: number; key: Uint8Array } {
  const t = text.trim().replace(/^PRIVATE\+KEY\+/, '');
  const raw = Buffer.from(t.split('+').slice(2).join('+'), 'base64');
  return { type: raw[0]!, key: raw.subarray(1) };
}

beforeAll(() => {
  tmp = tempDir();
  city = path.join(tmp.path, 'city');
  expect(dirchain(['init', city, '--origin', ORIGIN]).code).toBe(0);
  appendRecords('first.ndjson', 0, 3);
});

afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  tmp?.cleanup();
});

describe('dirchain witness with an ML-DSA-44 key', () => {
  it('keygen --type ml-dsa-44, serve, cosign; a node, a follower and a client take its cosignature', async () => {
    const verify = (await import(
      pathToFileURL(path.join(repoRoot, 'dist', 'verify.js')).href
    )) as typeof Verify;
    const library = (await import(
      pathToFileURL(path.join(repoRoot, 'dist', 'index.js')).href
    )) as typeof Library;

    // Keys: a vkey of type 0x06 with the 1312-byte key; a 0600 signer key file holding 0x06 || 32-byte seed.
    const ml = keygen('ml-dsa-44', path.join(tmp.path, 'ml'));
    expect(ml.type).toBe('ml-dsa-44');
    expect(ml.verifierKey).toMatch(/^witness\.example\.org\/court\+[0-9a-f]{8}\+/);
    expect([keyBytes(ml.verifierKey).type, keyBytes(ml.verifierKey).key.length]).toEqual([0x06, 1312]);
    expect(fs.statSync(ml.file).mode & 0o777).toBe(0o600);
    const signerText = fs.readFileSync(ml.file, 'utf8');
    expect(signerText.startsWith(`PRIVATE+KEY+${NAME}+`)).toBe(true);
    expect([keyBytes(signerText).type, keyBytes(signerText).key.length]).toEqual([0x06, 32]);
    const ed = keygen('ed25519', path.join(tmp.path, 'ed'));
    expect(keyBytes(ed.verifierKey).type).toBe(0x04);
    expect(ed.verifierKey.split('+')[1]).not.toBe(ml.verifierKey.split('+')[1]);
    const bad = dirchain(['witness', 'keygen', NAME, '--type', 'ml-dsa-65', '--out', tmp.path]);
    expect([bad.code, bad.stderr.includes('E_INVALID_ARGUMENT')]).toEqual([2, true]);

    const pub = path.join(city, 'sequencer.pub');
    const logKey = fs.readFileSync(pub, 'utf8').trim();
    const serveArgs = (key: string, state: string) => [
      'witness',
      'serve',
      '--key',
      key,
      '--log',
      `${ORIGIN}=${pub}`,
      '--state',
      path.join(tmp.path, state),
    ];
    const mlWitness = start(serveArgs(ml.file, 'ml.state.json'));
    const edWitness = start(serveArgs(ed.file, 'ed.state.json'));
    const mlUrl = await mlWitness.url;

    // C2SP tlog-witness add-checkpoint: old size 0, no proof, an empty line, the checkpoint.
    const note = dirchain(['checkpoint', city]).stdout;
    const size = Number(note.split('\n')[1]);
    expect(size).toBeGreaterThan(0);
    const res = await fetch(new URL('add-checkpoint', mlUrl), { method: 'POST', body: `old 0\n\n${note}` });
    const line = await res.text();
    expect(res.status, line).toBe(200);
    expect(line).toMatch(/^\u2014 witness\.example\.org\/court [A-Za-z0-9+/=]+\n$/);
    expect(Buffer.from(line.trim().split(' ').at(-1)!, 'base64').length).toBe(4 + 8 + 2420);
    const cp = verify.verifyCheckpoint(note + line, [logKey], { witnesses: [ml.verifierKey], quorum: 1 });
    expect(cp.cosigners.map((c) => [c.name, c.type])).toEqual([[NAME, 'ml-dsa-44']]);
    expect(cp.size).toBe(size);
    // The Ed25519 key of the same name is another witness: it did not cosign this.
    expect(() =>
      verify.verifyCheckpoint(note + line, [logKey], { witnesses: [ed.verifierKey], quorum: 1 }),
    ).toThrow(/E_QUORUM|witness cosignatures required/);

    // The log grows; a node asks both witnesses. The ML-DSA one holds `size` (409), so the node proves from there.
    appendRecords('second.ndjson', 3, 4);
    const grownSize = Number(dirchain(['checkpoint', city]).stdout.split('\n')[1]);
    expect(grownSize).toBeGreaterThan(size);
    const node = start([
      'node',
      city,
      '--public',
      '--witness',
      `${mlUrl}=${ml.verifierKey}`,
      '--witness',
      `${await edWitness.url}=${ed.verifierKey}`,
    ]);
    const nodeUrl = await node.url;
    const both = { witnesses: [ml.verifierKey, ed.verifierKey], quorum: 2 };
    let cosigned: string | undefined;
    for (let i = 0; i < 300 && cosigned === undefined; i++) {
      const r = await fetch(new URL('dirchain/v1/checkpoint/cosigned', nodeUrl));
      const text = await r.text();
      if (r.status === 200 && Number(text.split('\n')[1]) === grownSize) {
        try {
          verify.verifyCheckpoint(text, [logKey], both);
          cosigned = text;
        } catch {}
      }
      if (cosigned === undefined) await new Promise((r) => setTimeout(r, 50));
    }
    expect(cosigned, 'the node served a checkpoint cosigned by both witnesses').toBeDefined();
    const grown = verify.verifyCheckpoint(cosigned!, [logKey], both);
    expect(grown.size).toBe(grownSize);
    expect(grown.cosigners.map((c) => c.type).sort()).toEqual(['ed25519', 'ml-dsa-44']);
    // The ML-DSA witness moved from `size` to the grown size: it took old = size and a consistency proof.
    const mlState = JSON.parse(fs.readFileSync(path.join(tmp.path, 'ml.state.json'), 'utf8'));
    expect(mlState[ORIGIN].size).toBe(grownSize);

    // Followers that require the witnesses: both (quorum 2), the ML-DSA one alone, a stranger.
    const follow = (replica: string, ...witnessArgs: string[]) =>
      dirchain([
        'follow',
        path.join(tmp.path, replica),
        '--from',
        nodeUrl,
        '--key',
        pub,
        ...witnessArgs,
        '--once',
      ]);
    const quorum2 = follow(
      'replica-2',
      '--witness',
      ml.verifierKey,
      '--witness',
      ed.verifierKey,
      '--quorum',
      '2',
    );
    expect(quorum2.code, quorum2.stderr).toBe(0);
    const mlOnly = follow('replica-ml', '--witness', ml.verifierKey);
    expect(mlOnly.code, mlOnly.stderr).toBe(0);
    const stranger = keygen('ml-dsa-44', path.join(tmp.path, 'stranger'));
    const refused = follow('replica-x', '--witness', stranger.verifierKey);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('E_QUORUM');

    // The library's client, requiring the ML-DSA witness.
    const remote = await library.connect(nodeUrl, {
      verifierKey: logKey,
      witnesses: [ml.verifierKey],
      quorum: 1,
    });
    try {
      expect((await remote.head()).size).toBe(grownSize);
    } finally {
      await remote.close();
    }

    node.child.kill('SIGTERM');
    mlWitness.child.kill('SIGTERM');
    edWitness.child.kill('SIGTERM');
  }, 60_000);
});
