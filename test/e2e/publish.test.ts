/**
 * End-to-end: `dirchain publish` as a real process, to s3rver (a real
 * S3-compatible server, its own process) and to a folder, then `dirchain
 * follow --once` from the bucket's HTTP address, and from a plain static file
 * server over the folder; all on 127.0.0.1. Needs dist/ (built by `npm test`).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers.js';
import { type RunningS3, startS3, startStaticServer } from '../sync/s3-server.js';
import { CLI, cliEnv, dirchain as runCli } from './cli-child.js';

const ORIGIN = 'dirchain.example.gov/e2e-publish';

let tmp: ReturnType<typeof tempDir>;
let s3: RunningS3;
let origin: string;
let pub: string;
let env: NodeJS.ProcessEnv;
let records = 0;

/** Runs the CLI to its exit (asynchronously: s3rver's event lines keep flowing meanwhile). */
function dirchain(args: readonly string[], extraEnv: NodeJS.ProcessEnv = {}) {
  return runCli(args, { env: { ...env, ...extraEnv } });
}

async function appendRecords(n: number): Promise<void> {
  const file = path.join(tmp.path, `records-${records}.ndjson`);
  const lines = Array.from({ length: n }, (_, i) =>
    JSON.stringify({ kind: 'x.note', body: { i: records + i } }),
  );
  records += n;
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
  const r = await dirchain([
    'append',
    origin,
    '--file',
    file,
    '--key',
    path.join(origin, 'keys', 'bureau.key'),
  ]);
  expect(r.code, r.stderr).toBe(0);
}

/** Waits (at most 5 s) until s3rver's event lines stop arriving: those of a publish that has exited. */
async function putsSettled(): Promise<void> {
  let seen = -1;
  for (let i = 0; i < 50 && seen !== s3.puts.length; i++) {
    seen = s3.puts.length;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function checkpointOf(dir: string): Promise<string> {
  const r = await dirchain(['checkpoint', dir]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

beforeAll(async () => {
  tmp = tempDir();
  s3 = await startS3(path.join(tmp.path, 's3'));
  env = cliEnv(s3.env);
  delete env.AWS_PROFILE;
  origin = path.join(tmp.path, 'origin');
  const init = await dirchain(['init', origin, '--origin', ORIGIN]);
  expect(init.code, init.stderr).toBe(0);
  pub = path.join(origin, 'sequencer.pub');
  await appendRecords(300);
});

afterAll(async () => {
  await s3?.close();
  tmp?.cleanup();
});

describe('dirchain publish', () => {
  it('to s3rver, then follow --once from the bucket address; again with only what is new', async () => {
    const target = `s3://${s3.bucket}/e2e`;
    const first = await dirchain(['publish', origin, '--to', target, '--endpoint', s3.endpoint, '--json']);
    expect(first.code, first.stderr).toBe(0);
    const report = JSON.parse(first.stdout) as {
      ok: boolean;
      size: number;
      uploaded: number;
      skipped: number;
      previousSize: number | null;
      url: string;
    };
    expect(report).toMatchObject({ ok: true, previousSize: null, skipped: 0, url: s3.url('e2e') });
    await putsSettled();
    expect(s3.puts).toHaveLength(report.uploaded);
    expect(s3.puts.at(-1)).toBe('e2e/checkpoint');

    const replica = path.join(tmp.path, 'replica-s3');
    const followed = await dirchain([
      'follow',
      replica,
      '--from',
      report.url,
      '--key',
      pub,
      '--once',
      '--json',
    ]);
    expect(followed.code, followed.stderr).toBe(0);
    expect((JSON.parse(followed.stdout) as { size: number }).size).toBe(report.size);
    expect(await checkpointOf(replica)).toBe(await checkpointOf(origin));

    await appendRecords(20);
    const putsBefore = s3.puts.length;
    const second = await dirchain(['publish', origin, '--to', target, '--endpoint', s3.endpoint]);
    expect(second.code, second.stderr).toBe(0);
    // One summary line on stdout.
    expect(second.stdout.trim().split('\n')).toHaveLength(1);
    const m =
      /^published (\S+) at tree size (\d+) \(was (\d+)\) \(block \d+\) to (\S+): (\d+) objects .* uploaded, (\d+) already there$/.exec(
        second.stdout.trim(),
      );
    expect(m, second.stdout).not.toBeNull();
    expect(m![1]).toBe(ORIGIN);
    expect(Number(m![3])).toBe(report.size);
    expect(m![4]).toBe(`${target}/`);
    const uploaded = Number(m![5]);
    expect(uploaded).toBeLessThan(report.uploaded);
    expect(uploaded + Number(m![6])).toBeGreaterThan(uploaded);
    await putsSettled();
    const puts = s3.puts.slice(putsBefore);
    expect(puts).toHaveLength(uploaded);
    expect(puts.at(-1)).toBe('e2e/checkpoint');
    expect(puts).not.toContain('e2e/tile/0/000');

    const again = await dirchain(['follow', replica, '--from', report.url, '--key', pub, '--once', '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect((JSON.parse(again.stdout) as { size: number }).size).toBe(Number(m![2]));
    expect(await checkpointOf(replica)).toBe(await checkpointOf(origin));
  });

  it('to a folder, then follow --once from a static file server over it', async () => {
    const site = path.join(tmp.path, 'site');
    const r = await dirchain(['publish', origin, '--to', site, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, target: site, url: null });
    const server = await startStaticServer(site);
    try {
      const replica = path.join(tmp.path, 'replica-static');
      const followed = await dirchain(['follow', replica, '--from', server.url, '--key', pub, '--once']);
      expect(followed.code, followed.stderr).toBe(0);
      expect(await checkpointOf(replica)).toBe(await checkpointOf(origin));
    } finally {
      await server.close();
    }
  });

  it('from a `dirchain serve` URL with --key; without --key it is a usage error', async () => {
    const server = spawn(process.execPath, [CLI, 'serve', origin], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('serve did not start within 20 s')), 20_000);
        server.stdout.on('data', (d: Buffer) => {
          const m = /(http:\/\/\S+)/.exec(String(d));
          if (m !== null) {
            clearTimeout(timer);
            resolve(m[1]!);
          }
        });
      });
      const noKey = await dirchain([
        'publish',
        url,
        '--to',
        `s3://${s3.bucket}/from-url`,
        '--endpoint',
        s3.endpoint,
      ]);
      expect(noKey.code).toBe(2);
      expect(noKey.stderr).toContain('E_INVALID_ARGUMENT');
      // The folder is the server's while it serves: publish reads it through the URL instead.
      const held = await dirchain([
        'publish',
        origin,
        '--to',
        `s3://${s3.bucket}/held`,
        '--endpoint',
        s3.endpoint,
      ]);
      expect(held.code).toBe(3);
      expect(held.stderr).toMatch(/hint: .*publish from the URL it serves/);
      const r = await dirchain([
        'publish',
        url,
        '--to',
        `s3://${s3.bucket}/from-url`,
        '--endpoint',
        s3.endpoint,
        '--key',
        pub,
        '--json',
      ]);
      expect(r.code, r.stderr).toBe(0);
      const replica = path.join(tmp.path, 'replica-from-url');
      const followed = await dirchain([
        'follow',
        replica,
        '--from',
        s3.url('from-url'),
        '--key',
        pub,
        '--once',
      ]);
      expect(followed.code, followed.stderr).toBe(0);
    } finally {
      server.kill('SIGTERM');
      await new Promise((r) => server.once('exit', r));
    }
  });

  it('--help prints its usage; a missing --to is a usage error', async () => {
    const help = await dirchain(['publish', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('usage: dirchain publish <dir|url> --to s3://');
    const noTo = await dirchain(['publish', origin]);
    expect(noTo.code).toBe(2);
    expect(noTo.stderr).toContain('publish needs --to');
  });

  it('an unreachable store, bad credentials and a rollback: typed errors and their exit codes', async () => {
    const down = await dirchain([
      'publish',
      origin,
      '--to',
      's3://ledgers/x',
      '--endpoint',
      'http://127.0.0.1:1',
    ]);
    expect(down.code).toBe(3);
    expect(down.stderr).toContain('error E_REMOTE');
    expect(down.stderr).toContain('http://127.0.0.1:1');
    expect(down.stderr).toContain('ECONNREFUSED');

    const creds = await dirchain(
      ['publish', origin, '--to', `s3://${s3.bucket}/x`, '--endpoint', s3.endpoint],
      {
        AWS_ACCESS_KEY_ID: 'NOT-S3RVER',
      },
    );
    expect(creds.code).toBe(3);
    expect(creds.stderr).toContain('InvalidAccessKeyId');
    expect(creds.stderr).toMatch(/hint: .*AWS_ACCESS_KEY_ID/);

    // A replica a step behind the published bucket is refused: exit 1, the checkpoint unchanged.
    const behind = path.join(tmp.path, 'behind');
    const made = await dirchain(['follow', behind, '--from', s3.url('e2e'), '--key', pub, '--once']);
    expect(made.code, made.stderr).toBe(0);
    await appendRecords(3);
    const ahead = await dirchain([
      'publish',
      origin,
      '--to',
      `s3://${s3.bucket}/e2e`,
      '--endpoint',
      s3.endpoint,
    ]);
    expect(ahead.code, ahead.stderr).toBe(0);
    const rollback = await dirchain([
      'publish',
      behind,
      '--to',
      `s3://${s3.bucket}/e2e`,
      '--endpoint',
      s3.endpoint,
    ]);
    expect(rollback.code).toBe(1);
    expect(rollback.stderr).toContain('error E_CHECKPOINT_INVALID');
    expect(rollback.stderr).toContain('roll it back');
    expect((await (await fetch(`${s3.url('e2e')}checkpoint`)).text()).trimEnd()).toBe(
      (await checkpointOf(origin)).trimEnd(),
    );
  });
});
