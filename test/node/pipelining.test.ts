/**
 * End-to-end: `dirchain serve` as a real child process against clients that
 * pipeline thousands of entry-bundle requests and never read the answers
 * (issue 28). The server's memory is read from /proc/<pid>/status (Linux).
 * Needs dist/cli.js (built by `npm test`).
 */
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { connect, type Socket } from 'node:net';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, tempDir } from '../helpers.js';

const CLI = path.join(repoRoot, 'dist', 'cli.js');
const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
delete env.DIRCHAIN_DIR;
/** With genesis: 11 full entry bundles and a right edge of 250 entries, each bundle ~60 KB. */
const RECORDS = 11 * 256 + 250 - 1;
const SOCKETS = 3;
const REQUESTS = 5000;
const ATTACK_MS = 5000;
const BOUND_MB = 200;

let tmp: ReturnType<typeof tempDir>;
let dir: string;
let child: ChildProcessWithoutNullStreams | undefined;

function dirchain(args: readonly string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env });
  if (r.error) throw r.error;
  expect(r.status, r.stderr).toBe(0);
}

/** Starts `dirchain serve` and resolves with its URL once it prints it. */
function serve(folder: string): Promise<{ url: string; child: ChildProcessWithoutNullStreams }> {
  const started = spawn(process.execPath, [CLI, 'serve', folder, '--port', '0', '--json'], { env });
  child = started;
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    started.stderr.on('data', (d) => {
      err += d;
    });
    started.stdout.on('data', (d) => {
      out += d;
      if (out.includes('\n'))
        resolve({ url: (JSON.parse(out.split('\n')[0]!) as { url: string }).url, child: started });
    });
    started.on('exit', (code) => reject(new Error(`serve exited ${code}: ${err}`)));
  });
}

const rssMb = (pid: number): number =>
  Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

/** The status of a normal request for the checkpoint, or 0 if none came within 3 s. */
async function checkpointStatus(url: string): Promise<number> {
  try {
    const res = await fetch(new URL('checkpoint', url), { signal: AbortSignal.timeout(3000) });
    await res.text();
    return res.status;
  } catch {
    return 0;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Valid requests: a quarter for full bundles (held in the store's cache), the
 * rest for partials of the right edge, which the store encodes afresh each time.
 */
function requests(): string {
  const lines: string[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    const path =
      i % 4 === 0
        ? `tile/entries/${String(i % 11).padStart(3, '0')}`
        : `tile/entries/011.p/${250 - (i % 50)}`;
    lines.push(`GET /${path} HTTP/1.1\r\nHost: attacker\r\n\r\n`);
  }
  return lines.join('');
}

beforeAll(() => {
  tmp = tempDir();
  dir = path.join(tmp.path, 'city');
  dirchain(['init', dir, '--origin', 'dirchain.example.gov/city']);
  const pad = 'p'.repeat(100);
  const lines = Array.from({ length: RECORDS }, (_, i) =>
    JSON.stringify({ kind: 'x.note', body: { i, pad } }),
  );
  fs.writeFileSync(path.join(tmp.path, 'r.ndjson'), `${lines.join('\n')}\n`);
  dirchain([
    'append',
    dir,
    '--file',
    path.join(tmp.path, 'r.ndjson'),
    '--key',
    path.join(dir, 'keys', 'bureau.key'),
  ]);
});

afterAll(() => {
  if (child?.exitCode === null) child.kill('SIGTERM');
  tmp.cleanup();
});

describe('dirchain serve against pipelining clients that never read', () => {
  it(`${SOCKETS} sockets × ${REQUESTS} pipelined bundle requests: RSS grows < ${BOUND_MB} MB and /checkpoint is answered`, async () => {
    const { url, child } = await serve(dir);
    const target = new URL(url);
    const edge = await fetch(new URL('tile/entries/011.p/250', url));
    expect([edge.status, (await edge.arrayBuffer()).byteLength > 50_000]).toEqual([200, true]);
    await sleep(200);
    const before = rssMb(child.pid!);

    const attackers: Socket[] = [];
    for (let s = 0; s < SOCKETS; s++) {
      const socket = connect(Number(target.port), target.hostname);
      socket.pause(); // never reads
      socket.on('error', () => {});
      socket.write(requests());
      attackers.push(socket);
    }
    let peak = before;
    const sampler = setInterval(() => {
      peak = Math.max(peak, rssMb(child.pid!));
    }, 100);
    const statuses: number[] = [];
    const end = Date.now() + ATTACK_MS;
    while (Date.now() < end) {
      statuses.push(await checkpointStatus(url));
      await sleep(250);
    }
    for (const s of attackers) s.destroy();
    await sleep(1000);
    clearInterval(sampler);
    const after = rssMb(child.pid!);

    expect(peak - before, `RSS ${before.toFixed(0)} → peak ${peak.toFixed(0)} MB`).toBeLessThan(BOUND_MB);
    expect(after - before, `RSS after the attackers left: ${after.toFixed(0)} MB`).toBeLessThan(BOUND_MB);
    expect(statuses.length).toBeGreaterThan(5);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    const res = await fetch(new URL('checkpoint', url));
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('dirchain.example.gov/city');
  });
});
