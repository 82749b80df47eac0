/**
 * End-to-end: `dirchain witness keygen` and `dirchain witness serve` as real
 * processes; a checkpoint of `dirchain init`'s ledger is cosigned over HTTP, the
 * witness is SIGKILLed, and the restarted witness still holds what it cosigned.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyCheckpoint } from '../../src/verify.js';
import { repoRoot, tempDir } from '../helpers.js';

const CLI = path.join(repoRoot, 'dist', 'cli.js');
const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
const ORIGIN = 'dirchain.example.gov/e2e-witness';
let tmp: ReturnType<typeof tempDir>;
const children: ChildProcess[] = [];

function dirchain(args: readonly string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function serve(args: readonly string[]): { child: ChildProcess; url: Promise<string> } {
  const child = spawn(process.execPath, [CLI, 'witness', 'serve', ...args], {
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const url = new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`witness exited ${code}`)));
  });
  return { child, url };
}

beforeAll(() => {
  tmp = tempDir();
  expect(dirchain(['init', path.join(tmp.path, 'city'), '--origin', ORIGIN]).code).toBe(0);
});

afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  tmp?.cleanup();
});

describe('dirchain witness', () => {
  it('keygen, serve, cosign; SIGKILLed and restarted it keeps what it cosigned', async () => {
    const keygen = dirchain(['witness', 'keygen', 'witness.example.org/court', '--out', tmp.path]);
    expect(keygen.code, keygen.stderr).toBe(0);
    const verifierKey = keygen.stdout.trim();
    expect(verifierKey).toMatch(/^witness\.example\.org\/court\+[0-9a-f]{8}\+/);
    const keyFile = path.join(tmp.path, 'witness.example.org_court.key');
    expect(fs.statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(dirchain(['witness', 'keygen', 'witness.example.org/court', '--out', tmp.path]).code).toBe(2);

    const pub = path.join(tmp.path, 'city', 'sequencer.pub');
    const args = [
      '--key',
      keyFile,
      '--log',
      `${ORIGIN}=${pub}`,
      '--state',
      path.join(tmp.path, 'state.json'),
    ];
    const first = serve(args);
    const note = dirchain(['checkpoint', path.join(tmp.path, 'city')]).stdout;
    const size = Number(note.split('\n')[1]);
    const res = await fetch(new URL('add-checkpoint', await first.url), {
      method: 'POST',
      body: `old 0\n\n${note}`,
    });
    expect(res.status).toBe(200);
    const line = await res.text();
    const cp = verifyCheckpoint(note + line, [fs.readFileSync(pub, 'utf8').trim()], {
      witnesses: [verifierKey],
      quorum: 1,
    });
    expect(cp.cosigners.length).toBe(1);
    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));

    const second = serve(args);
    const again = await fetch(new URL('add-checkpoint', await second.url), {
      method: 'POST',
      body: `old 0\n\n${note}`,
    });
    expect([again.status, await again.text()]).toEqual([409, `${size}\n`]);

    // A node that asks this witness, and a follower that requires its cosignature.
    const node = spawn(
      process.execPath,
      [
        CLI,
        'node',
        path.join(tmp.path, 'city'),
        '--public',
        '--witness',
        `${await second.url}=${verifierKey}`,
      ],
      { env, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    children.push(node);
    const nodeUrl = await new Promise<string>((resolve) =>
      createInterface({ input: node.stdout! }).once('line', resolve),
    );
    let cosigned = 0;
    for (let i = 0; i < 300 && cosigned !== 200; i++) {
      cosigned = (await fetch(new URL('dirchain/v1/checkpoint/cosigned', nodeUrl))).status;
      if (cosigned !== 200) await new Promise((r) => setTimeout(r, 50));
    }
    expect(cosigned).toBe(200);
    const followed = dirchain([
      'follow',
      path.join(tmp.path, 'replica'),
      '--from',
      nodeUrl,
      '--key',
      pub,
      '--witness',
      verifierKey,
      '--once',
    ]);
    expect(followed.code, followed.stderr).toBe(0);
    const stranger = dirchain([
      'witness',
      'keygen',
      'witness.example.org/stranger',
      '--out',
      tmp.path,
    ]).stdout.trim();
    const refused = dirchain([
      'follow',
      path.join(tmp.path, 'replica'),
      '--from',
      nodeUrl,
      '--key',
      pub,
      '--witness',
      stranger,
      '--once',
    ]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('E_QUORUM');
    node.kill('SIGTERM');
    second.child.kill('SIGTERM');
  }, 30_000);
});
