/**
 * A first contact with the built `dirchain` CLI (dist/cli.js): what someone
 * meets who points it at the wrong folder, mistypes a flag or audits without
 * a key (issue 30, items 1, 5 and 6).
 *
 * - Reading never creates a ledger: every reading command on a missing or an
 *   empty folder exits 3 with E_LEDGER_NOT_FOUND, leaves the folder tree as it
 *   was byte for byte, and `dirchain init` then succeeds there. The library's
 *   opens behave the same; a read of a ledger leaves its records as they were.
 * - Trust is visible: `dirchain audit` without --key says it did not check the
 *   key; with a key that is not the ledger's it fails.
 * - Exit codes and messages are consistent: a missing ledger is exit 3 for
 *   every command, a malformed flag value exit 2 (E_INVALID_ARGUMENT), an
 *   unusable --report folder a typed error before the replay, and a
 *   non-member is E_UNKNOWN_MEMBER whichever way it writes.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  auditLedger,
  isDirchainError,
  memberSigner,
  openLedger,
  rebuildState,
  serveLedger,
  verifyLedger,
} from '../../src/index.js';
import { repoRoot, tempDir } from '../helpers.js';

const CLI = join(repoRoot, 'dist', 'cli.js');
const ORIGIN = 'dirchain.example.gov/first';
const tmp = tempDir('dirchain-first-contact-');
afterAll(() => tmp.cleanup());

const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
delete env.DIRCHAIN_DIR;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI; a command that does not end within 30 s (a serve that started) is killed. */
function dirchain(args: readonly string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { encoding: 'utf8', env, cwd: tmp.path, timeout: 30_000 },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number' && error.signal === null) reject(error);
        else
          resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr });
      },
    );
  });
}

/** Runs them one after another: commands on one ledger folder (LevelDB lets one process hold it). */
async function dirchainSeq(runs: ReadonlyArray<readonly string[]>): Promise<Run[]> {
  const out: Run[] = [];
  for (const args of runs) out.push(await dirchain(args));
  return out;
}

/** Runs them two at a time (two cores), results in order: each on a folder of its own. */
async function dirchainAll(runs: ReadonlyArray<readonly string[]>): Promise<Run[]> {
  const out: Run[] = [];
  for (let i = 0; i < runs.length; i += 2)
    out.push(...(await Promise.all(runs.slice(i, i + 2).map(dirchain))));
  return out;
}

/** Every path under `root` with its kind, mode, size and a hash of its bytes: equal means unchanged. */
function tree(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, rel: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const r = rel === '' ? name : `${rel}/${name}`;
      const s = lstatSync(path);
      const mode = (s.mode & 0o7777).toString(8);
      if (s.isDirectory()) {
        out.push(`${r}/ ${mode}`);
        walk(path, r);
      } else if (s.isSymbolicLink()) out.push(`${r} -> ${readlinkSync(path)}`);
      else {
        const hash = createHash('sha256').update(readFileSync(path)).digest('hex');
        out.push(`${r} ${mode} ${s.size} ${hash}`);
      }
    }
  };
  walk(root, '');
  return out;
}

/** Every key and value in a LevelDB folder, hashed: what a ledger holds, whatever files LevelDB keeps it in. */
async function contentHash(ledgerDir: string): Promise<string> {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(ledgerDir, {
    keyEncoding: 'view',
    valueEncoding: 'view',
    createIfMissing: false,
  });
  await db.open();
  const h = createHash('sha256');
  let n = 0;
  try {
    for await (const [k, v] of db.iterator()) {
      h.update(`${k.length}:${v.length}:`).update(k).update(v);
      n++;
    }
  } finally {
    await db.close();
  }
  return `${n} ${h.digest('hex')}`;
}

function errorOf(r: Run): { code?: string; message?: string; hint?: string } {
  return (JSON.parse(r.stdout) as { error: { code?: string } }).error;
}

const where = (args: readonly string[], r: Run) => `${args.join(' ')}\n${r.stdout}${r.stderr}`;

/** The commands that only read a ledger, with `dir` as their folder. */
const READERS: ReadonlyArray<{ name: string; args: (dir: string) => string[] }> = [
  { name: 'query', args: (dir) => ['query', 'resources', dir] },
  { name: 'checkpoint', args: (dir) => ['checkpoint', dir] },
  { name: 'prove', args: (dir) => ['prove', dir, '--index', '0'] },
  { name: 'audit', args: (dir) => ['audit', dir] },
  { name: 'rebuild', args: (dir) => ['rebuild', dir] },
  { name: 'serve', args: (dir) => ['serve', dir, '--port', '0'] },
];

describe('reading never creates a ledger (item 1)', () => {
  it('every reading command on a missing or an empty folder: exit 3, E_LEDGER_NOT_FOUND, nothing changed; init then succeeds', async () => {
    const cases = READERS.flatMap((c) =>
      (['missing', 'empty'] as const).map((kind) => {
        // Each case in its own parent, so that a folder made for a missing one would show.
        const root = join(tmp.path, 'read', `${c.name}-${kind}`);
        mkdirSync(root, { recursive: true });
        const dir = join(root, 'node');
        if (kind === 'empty') mkdirSync(dir);
        return { ...c, kind, root, dir };
      }),
    );
    const before = cases.map((c) => tree(c.root));
    const human = await dirchainAll(cases.map((c) => c.args(c.dir)));
    const json = await dirchainAll(cases.map((c) => [...c.args(c.dir), '--json']));
    cases.forEach((c, i) => {
      const what = `${c.name} on a ${c.kind} folder`;
      for (const r of [human[i]!, json[i]!]) {
        expect(r.code, `${what}: ${where(c.args(c.dir), r)}`).toBe(3);
        expect(r.stderr, what).toContain('error E_LEDGER_NOT_FOUND:');
        expect(r.stderr, what).not.toMatch(/\n\s+at /); // no stack trace
      }
      // The hint names the folder and the command that makes a ledger there.
      expect(human[i]!.stderr, what).toContain(`hint: `);
      expect(human[i]!.stderr, what).toContain(`\`dirchain init ${c.dir} --origin <name>\``);
      expect(errorOf(json[i]!), what).toMatchObject({ code: 'E_LEDGER_NOT_FOUND' });
      expect(errorOf(json[i]!).message, what).toContain(c.dir);
      expect(tree(c.root), `${what} changed the folder`).toEqual(before[i]);
    });
    const inits = await dirchainAll(cases.map((c) => ['init', c.dir, '--origin', ORIGIN]));
    cases.forEach((c, i) => {
      expect(inits[i]!.code, `init after ${c.name} on a ${c.kind} folder: ${inits[i]!.stderr}`).toBe(0);
    });
  });

  it('the library: openLedger, verifyLedger, auditLedger, rebuildState, serveLedger of a missing or empty path leave nothing', async () => {
    const opens: ReadonlyArray<[string, (path: string) => Promise<unknown>]> = [
      ['openLedger', (p) => openLedger(p)],
      ['verifyLedger', (p) => verifyLedger(p)],
      ['auditLedger', (p) => auditLedger(p)],
      ['rebuildState', (p) => rebuildState(p)],
      ['serveLedger', (p) => serveLedger(p, { port: 0 })],
    ];
    for (const [name, open] of opens) {
      for (const kind of ['missing', 'empty'] as const) {
        const root = join(tmp.path, 'library', `${name}-${kind}`);
        mkdirSync(root, { recursive: true });
        const dir = join(root, 'node');
        // The ledger's own folder: missing, or there and empty.
        if (kind === 'empty') mkdirSync(join(dir, 'ledger'), { recursive: true });
        const before = tree(root);
        const result = await open(join(dir, 'ledger')).then(
          (v) => v,
          (e: unknown) => e,
        );
        const code = isDirchainError(result)
          ? result.code
          : (result as { ok?: boolean; error?: { code: string } }).error?.code;
        expect(code, `${name} of a ${kind} path`).toBe('E_LEDGER_NOT_FOUND');
        expect(isDirchainError(result) || (result as { ok: boolean }).ok === false).toBe(true);
        expect(tree(root), `${name} of a ${kind} path changed the folder`).toEqual(before);
      }
    }
    // Where the library found a missing ledger, `dirchain init` makes one.
    const init = await dirchain([
      'init',
      join(tmp.path, 'library', 'openLedger-missing', 'node'),
      '--origin',
      ORIGIN,
    ]);
    expect(init.code, init.stderr).toBe(0);
  });

  it('reading a ledger leaves what it holds as it was', async () => {
    const dir = join(tmp.path, 'held');
    expect((await dirchain(['init', dir, '--origin', ORIGIN])).code).toBe(0);
    const records = join(tmp.path, 'held.ndjson');
    writeFileSync(records, `${JSON.stringify({ kind: 'x.note', body: { n: 1 } })}\n`);
    const appended = await dirchain([
      'append',
      dir,
      '--file',
      records,
      '--key',
      join(dir, 'keys', 'bureau.key'),
    ]);
    expect(appended.code, appended.stderr).toBe(0);
    const before = await contentHash(join(dir, 'ledger'));
    const keysBefore = tree(join(dir, 'keys'));
    const reads = await dirchainSeq([
      ['checkpoint', dir],
      ['prove', dir, '--index', '2'],
      ['query', 'resources', dir],
      ['audit', dir],
    ]);
    for (const r of reads) expect(r.code, r.stderr).toBe(0);
    expect(await contentHash(join(dir, 'ledger'))).toBe(before);
    expect(tree(join(dir, 'keys'))).toEqual(keysBefore);
  });
});

describe('trust made visible: dirchain audit and its key (item 5)', () => {
  const dir = join(tmp.path, 'trust', 'city');
  const other = join(tmp.path, 'trust', 'other');
  beforeAll(async () => {
    const inits = await dirchainAll([
      ['init', dir, '--origin', ORIGIN],
      ['init', other, '--origin', ORIGIN],
    ]);
    for (const r of inits) expect(r.code, r.stderr).toBe(0);
  });

  it('without --key: exit 0 says only that the ledger is consistent with the key it names, and says so', async () => {
    const [human, json] = await dirchainSeq([
      ['audit', dir],
      ['audit', dir, '--json'],
    ]);
    expect(human!.code, human!.stderr).toBe(0);
    expect(human!.stdout).toContain('ledger verified');
    expect(human!.stdout).toContain('key not checked: trusted the key the ledger names');
    const key = readFileSync(join(dir, 'sequencer.pub'), 'utf8').trim();
    expect(human!.stdout).toContain(key); // the key it trusted, to compare with the published one
    expect(json!.code).toBe(0);
    expect(JSON.parse(json!.stdout)).toMatchObject({ ok: true, keyTrusted: false, sequencerKey: key });
  });

  it('with the ledger’s key: exit 0, key checked; with another key: exit 1', async () => {
    const good = join(dir, 'sequencer.pub');
    const wrong = join(other, 'sequencer.pub');
    expect(readFileSync(wrong, 'utf8')).not.toBe(readFileSync(good, 'utf8'));
    const [ok, okJson, bad, badJson] = await dirchainSeq([
      ['audit', dir, '--key', good],
      ['audit', dir, '--key', good, '--json'],
      ['audit', dir, '--key', wrong],
      ['audit', dir, '--key', wrong, '--json'],
    ]);
    expect(ok!.code, ok!.stderr).toBe(0);
    expect(ok!.stdout).toContain('ledger verified');
    expect(ok!.stdout).not.toContain('key not checked');
    expect(ok!.stdout).toContain('key checked');
    expect(JSON.parse(okJson!.stdout)).toMatchObject({ ok: true, keyTrusted: true });
    expect(bad!.code, bad!.stdout).toBe(1);
    expect(bad!.stdout).toContain('ledger NOT verified');
    expect(bad!.stdout).not.toContain('ledger verified');
    expect(badJson!.code).toBe(1);
    expect(JSON.parse(badJson!.stdout)).toMatchObject({
      ok: false,
      keyTrusted: false,
      error: { code: 'E_CHECKPOINT_INVALID' },
    });
  });
});

describe('consistent exit codes and messages (item 6)', () => {
  const dir = join(tmp.path, 'six', 'city');
  const records = join(tmp.path, 'six', 'records.ndjson');
  const strangerKey = join(tmp.path, 'six', 'stranger.key');
  beforeAll(async () => {
    expect((await dirchain(['init', dir, '--origin', ORIGIN])).code).toBe(0);
    writeFileSync(records, `${JSON.stringify({ kind: 'x.note', body: { n: 1 } })}\n`);
    const keygen = await dirchain(['member', 'keygen', '--id', 'stranger']);
    writeFileSync(strangerKey, `${keygen.stdout.split('\n')[0]}\n`);
  });

  it('a missing ledger is exit 3 and E_LEDGER_NOT_FOUND for every command that needs one', async () => {
    const missing = join(tmp.path, 'six', 'nowhere');
    const runs: string[][] = [
      ...READERS.map((c) => c.args(missing)),
      ['append', missing, '--file', records, '--key', join(dir, 'keys', 'bureau.key')],
      ['member', 'suspend', missing, '--id', 'bureau'],
      ['query', 'member', missing, 'bureau'],
      ['access', 'log', missing, '--grant', 'g', '--fields', 'a', '--count', '1', '--purpose', 'p'],
    ];
    const results = await dirchainAll(runs.map((a) => [...a, '--json']));
    results.forEach((r, i) => {
      expect(r.code, where(runs[i]!, r)).toBe(3);
      expect(errorOf(r).code, where(runs[i]!, r)).toBe('E_LEDGER_NOT_FOUND');
    });
  });

  it('a malformed flag value is a usage error: exit 2, E_INVALID_ARGUMENT', async () => {
    const runs: string[][] = [
      ['access', 'log', dir, '--grant', 'g', '--fields', 'a', '--count', 'two', '--purpose', 'p'],
      ['prove', dir, '--index', 'x'],
      ['prove', dir, '--index', '0', '--size', '-1'],
      ['prove', dir, '--index', '0', '--size=-1'],
      ['prove', dir, '--index', '99999999999999999999'],
      ['prove', dir, '--from', '1', '--to', '1.5'],
      ['query', 'resources', dir, '--limit', 'ten'],
      ['query', 'resources', dir, '--level', '-2'],
      ['serve', dir, '--port', 'x'],
    ];
    const results = await dirchainSeq(runs.map((a) => [...a, '--json']));
    results.forEach((r, i) => {
      expect(r.code, where(runs[i]!, r)).toBe(2);
      expect(r.stderr, where(runs[i]!, r)).toContain('error E_INVALID_ARGUMENT:');
      expect(errorOf(r).code, where(runs[i]!, r)).toBe('E_INVALID_ARGUMENT');
    });
    // The value is named, for the one a person typed wrong.
    expect(results[0]!.stderr).toContain('--count must be a non-negative integer, not "two"');
  });

  it('an --report folder that cannot be written is a typed error before the replay, not a stack trace', async () => {
    const blocker = join(tmp.path, 'six', 'a-file');
    writeFileSync(blocker, 'not a folder');
    const missing = join(tmp.path, 'six', 'nowhere');
    const runs: string[][] = [
      ['audit', dir, '--report', join(blocker, 'out')], // a file where a folder must be
      ['audit', dir, '--report', blocker], // the report folder is a file
      // Checked first: before looking for the ledger, so before any replay.
      ['audit', missing, '--report', join(blocker, 'out')],
    ];
    const results = await dirchainSeq(runs);
    results.forEach((r, i) => {
      expect(r.code, where(runs[i]!, r)).toBe(2);
      expect(r.stderr, where(runs[i]!, r)).toContain('error E_INVALID_ARGUMENT: cannot write the report to');
      expect(r.stderr).toContain('hint: --report takes a folder you can write to');
      expect(r.stderr, where(runs[i]!, r)).not.toMatch(/\n\s+at /);
      expect(r.stdout, where(runs[i]!, r)).not.toContain('ledger verified');
    });
    expect(readFileSync(blocker, 'utf8')).toBe('not a folder');
  });

  it('append to a folder that is not a dirchain folder: E_LEDGER_NOT_FOUND naming it, nothing written', async () => {
    const wrong = join(tmp.path, 'six', 'photos');
    mkdirSync(wrong, { recursive: true });
    writeFileSync(join(wrong, 'cat.jpg'), 'meow');
    const before = tree(wrong);
    const args = ['append', wrong, '--file', records, '--key', join(dir, 'keys', 'bureau.key')];
    const [human, json] = await dirchainAll([args, [...args, '--json']]);
    expect(human!.code, where(args, human!)).toBe(3);
    expect(human!.stderr).toContain(`error E_LEDGER_NOT_FOUND: ${wrong} is not a dirchain folder`);
    expect(human!.stderr).toContain(`hint: give the folder \`dirchain init\` made`);
    expect(errorOf(json!)).toMatchObject({ code: 'E_LEDGER_NOT_FOUND' });
    expect(errorOf(json!).hint).toContain(`dirchain init ${wrong}`);
    expect(tree(wrong)).toEqual(before);
  });

  it('a non-member is E_UNKNOWN_MEMBER through append, the directory commands, submit and the domain API', async () => {
    const stranger = readFileSync(strangerKey, 'utf8').trim();
    // A record the stranger signed elsewhere, for append's {"record": …} lines.
    const reader = await openLedger(join(dir, 'ledger'));
    const signed = reader.sign(memberSigner(stranger), 'x.note', { n: 2 });
    await reader.close();
    const presigned = join(tmp.path, 'six', 'presigned.ndjson');
    writeFileSync(presigned, `${JSON.stringify({ record: Buffer.from(signed.bytes).toString('base64') })}\n`);

    const runs: string[][] = [
      ['append', dir, '--file', records, '--key', strangerKey, '--json'],
      ['member', 'suspend', dir, '--id', 'bureau', '--as', strangerKey, '--json'],
      [
        'access',
        'log',
        dir,
        '--grant',
        'g',
        '--fields',
        'a',
        '--count',
        '1',
        '--purpose',
        'p',
        '--as',
        strangerKey,
      ],
    ];
    const [appendKey, member, access] = await dirchainSeq(runs);
    for (const [i, r] of [appendKey!, member!, access!].entries()) {
      expect(r.code, where(runs[i]!, r)).toBe(1);
      expect(r.stderr, where(runs[i]!, r)).toContain('E_UNKNOWN_MEMBER');
    }
    expect(errorOf(appendKey!).code).toBe('E_UNKNOWN_MEMBER');
    expect(errorOf(member!).code).toBe('E_UNKNOWN_MEMBER');
    const line = await dirchain(['append', dir, '--file', presigned, '--json']);
    expect(line.code, line.stdout).toBe(1);
    expect(JSON.parse(line.stdout)).toMatchObject({
      appended: 0,
      refused: [{ line: 1, code: 'E_UNKNOWN_MEMBER' }],
    });

    // The library, with the sequencer key: submit, the domain API and memberSigner.
    const ledger = await openLedger(join(dir, 'ledger'), {
      sequencerKey: readFileSync(join(dir, 'keys', 'sequencer.key'), 'utf8').trim(),
    });
    try {
      const codeOf = (p: Promise<unknown> | (() => unknown)) =>
        (typeof p === 'function' ? Promise.resolve().then(p) : p).then(
          () => 'accepted',
          (e: unknown) => (isDirchainError(e) ? e.code : String(e)),
        );
      const as = memberSigner(stranger);
      expect(await codeOf(ledger.submit(as, 'x.note', { n: 3 }))).toBe('E_UNKNOWN_MEMBER');
      expect(await codeOf(ledger.append(signed))).toBe('E_UNKNOWN_MEMBER');
      expect(await codeOf(ledger.directory.suspendMember(as, 'bureau'))).toBe('E_UNKNOWN_MEMBER');
      expect(
        await codeOf(
          ledger.directory.registerScenario(as, {
            id: 'sc-1',
            name: 'A scenario',
            lead: 'bureau',
            legalBasis: 'none',
          } as never),
        ),
      ).toBe('E_UNKNOWN_MEMBER');
      expect(await codeOf(() => ledger.memberSigner(stranger))).toBe('E_UNKNOWN_MEMBER');
      const size = ledger.head().size;
      expect(size).toBe(2); // nothing of the stranger's was appended
    } finally {
      await ledger.close();
    }
  });
});
