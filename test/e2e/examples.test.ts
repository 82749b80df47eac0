import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyBundle } from '../../src/verify.js';
import { repoRoot, tempDir } from '../helpers.js';

describe('examples/city.ts (the README demo)', () => {
  it('runs the whole city story, every refusal where the rules demand one, and verifies', () => {
    const built = join(repoRoot, 'dist-examples/city.js');
    expect(existsSync(built), 'run `npm run build` first (npm test does)').toBe(true);
    const dir = tempDir();
    try {
      const r = spawnSync(process.execPath, [built, dir.path], { encoding: 'utf8', cwd: repoRoot });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      for (const code of [
        'E_REQUEST_REQUIRED',
        'E_COUNTERSIGNATURE_REQUIRED',
        'E_NOT_SHARED',
        'E_FIELD_NOT_GRANTED',
        'E_GRANT_REVOKED',
      ]) {
        expect(r.stdout).toContain(`→ ${code}`);
      }
      expect(r.stdout).not.toContain('should not have been');
      expect(r.stdout).toMatch(/→ verified/);
      expect(r.stdout).toMatch(/verified \d+ records in \d+ blocks/);
      expect(existsSync(join(dir.path, 'ledger', 'CURRENT'))).toBe(true);
      expect(r.stdout).toContain(`the ledger is in ${dir.path}`);
      // The grant was active just before its revocation, and is not after it.
      expect(r.stdout).toMatch(/active grants before the revocation: \[[^\]]+\]\s+now: \[\]/);
    } finally {
      dir.cleanup();
    }
  });

  it('removes the folder it made for itself, and says so', () => {
    const r = spawnSync(process.execPath, [join(repoRoot, 'dist-examples/city.js')], {
      encoding: 'utf8',
      cwd: repoRoot,
    });
    expect(r.status).toBe(0);
    const removed = /\(removed (\S+)\)/.exec(r.stdout)?.[1];
    expect(removed).toMatch(/dirchain-city-/);
    expect(existsSync(removed!)).toBe(false);
  });
});

describe('examples/departments.ts (a node, three department processes and an auditor)', () => {
  it('runs the departments at once over HTTP, and the auditor verifies an access log from the node alone', () => {
    const built = join(repoRoot, 'dist-examples/departments.js');
    expect(existsSync(built), 'run `npm run build` first (npm test does)').toBe(true);
    const dir = tempDir('dirchain-departments-test-');
    try {
      const r = spawnSync(process.execPath, [built, dir.path], {
        encoding: 'utf8',
        cwd: repoRoot,
        timeout: 50_000,
      });
      expect(r.stderr).toBe('');
      expect(r.status, r.stdout).toBe(0);
      expect(r.stdout).toMatch(/^2\. The node runs: dirchain node .* → http:\/\/127\.0\.0\.1:\d+\/$/m);
      /** The lines department (or auditor) `who` printed that start with `what`. */
      const lines = (who: string, what: string) =>
        r.stdout.match(new RegExp(`^ +\\[${who}\\] +${what}.*$`, 'gm')) ?? [];
      // Every department got a receipt for each of its steps, ten in all.
      const logged = new Set<number>();
      for (const id of ['health', 'transport', 'education']) {
        expect(lines(id, `registered resource ${id}/\\S+ → record \\d+ \\(block \\d+\\)$`)).toHaveLength(1);
        expect(lines(id, 'registered scenario \\S+ → record \\d+')).toHaveLength(1);
        expect(lines(id, 'asked \\w+ for .* → record \\d+')).toHaveLength(2);
        expect(lines(id, 'granted \\w+ .* → record \\d+')).toHaveLength(2);
        const uses = lines(id, 'used \\S+ twice → access logs record \\d+');
        expect(uses).toHaveLength(2);
        for (const line of uses) for (const m of line.matchAll(/record (\d+)/g)) logged.add(Number(m[1]));
        expect(lines(id, 'done: 10 receipts$')).toHaveLength(1);
      }
      expect(logged.size).toBe(12);
      // The auditor proved one of those access logs, verified it, and refused it moved to another index.
      const verified = /^\s+\[auditor\]\s+verified: record (\d+) \(access\.log by \w+ under \S+:/m.exec(
        r.stdout,
      );
      expect(verified, r.stdout).not.toBeNull();
      const index = Number(verified![1]);
      expect(logged.has(index)).toBe(true);
      expect(lines('auditor', ' *(fail|skip) ')).toEqual([]);
      expect(r.stdout).toMatch(/claiming record \d+: refused \(/);
      expect(r.stdout).toContain('The node stops on SIGTERM: exit code 0');
      expect(r.stdout).toMatch(/the ledger it leaves verifies: 31 records in \d+ blocks/);
      // The bundle the auditor filed verifies on its own, under the key the folder publishes.
      const bundle = readFileSync(join(dir.path, `access-log-${index}.json`), 'utf8');
      const key = readFileSync(join(dir.path, 'sequencer.pub'), 'utf8').trim();
      const report = verifyBundle(bundle, [key]);
      expect(report.ok, JSON.stringify(report.checks)).toBe(true);
      expect(JSON.parse(bundle).index).toBe(index);
      expect(r.stdout).toContain(`the node folder is in ${dir.path}`);
    } finally {
      dir.cleanup();
    }
  });
});

describe('examples/audit.ts (the auditor’s script)', () => {
  const audit = join(repoRoot, 'dist-examples/audit.js');
  const cli = join(repoRoot, 'dist/cli.js');
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete env.DIRCHAIN_DIR;
  const run = (file: string, args: string[]) => {
    const r = spawnSync(process.execPath, [file, ...args], { encoding: 'utf8', cwd: repoRoot, env });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const dirchain = (args: string[]) => {
    const r = run(cli, args);
    expect(r.code, r.stderr).toBe(0);
    return r.stdout;
  };
  const tmp = tempDir('dirchain-audit-');
  const at = (name: string) => join(tmp.path, name);
  const save = (name: string, text: string) => {
    writeFileSync(at(name), text);
    return at(name);
  };
  const appendTo = (dir: string, from: number, n: number) => {
    const lines = Array.from({ length: n }, (_, i) =>
      JSON.stringify({ kind: 'x.log', body: { i: from + i, dir } }),
    );
    dirchain([
      'append',
      dir,
      '--file',
      save('r.ndjson', `${lines.join('\n')}\n`),
      '--key',
      join(dir, 'keys/bureau.key'),
    ]);
  };
  const city = at('city');
  const key = () => join(city, 'sequencer.pub');
  /** Tree sizes of the two checkpoints the auditor trusts, the older and the newer one. */
  let older = 0;
  let newer = 0;
  const sizeOf = (note: string) => Number(note.split('\n')[1]);

  beforeAll(() => {
    expect(existsSync(audit), 'run `npm run build` first (npm test does)').toBe(true);
    dirchain(['init', city, '--origin', 'dirchain.example.gov/city']);
    appendTo(city, 0, 5);
    older = sizeOf(readFileSync(save('trusted-older.txt', dirchain(['checkpoint', city])), 'utf8'));
    // Each block is its records and the block entry that ends it: genesis 2, then 5 + 1.
    expect(older).toBe(8);
    save('bundle-older.json', dirchain(['prove', city, '--index', '3', '--json']));
    save('block-entry-older.json', dirchain(['prove', city, '--index', String(older - 1), '--json']));
    cpSync(city, at('fork'), { recursive: true }); // same keys, same history so far
    appendTo(city, 5, 5);
    appendTo(at('fork'), 100, 5); // the same size, different records
    newer = sizeOf(readFileSync(save('trusted-newer.txt', dirchain(['checkpoint', city])), 'utf8'));
    expect(newer).toBe(older + 5 + 1);
    expect(sizeOf(dirchain(['checkpoint', at('fork')]))).toBe(newer);
    save('bundle-newer.json', dirchain(['prove', city, '--index', '3', '--json']));
    save(
      'consistency.json',
      dirchain(['prove', city, '--from', String(older), '--to', String(newer), '--json']),
    );
    // From the genesis block: a valid proof that starts at another checkpoint than the trusted one.
    save(
      'consistency-genesis.json',
      dirchain(['prove', city, '--from', '2', '--to', String(newer), '--json']),
    );
    save('fork-newer.json', dirchain(['prove', at('fork'), '--index', '3', '--json']));
    save(
      'status-older.json',
      dirchain([
        'prove-status',
        city,
        '--type',
        'member',
        '--id',
        'bureau',
        '--size',
        String(older),
        '--json',
      ]),
    );
    save(
      'status-newer.json',
      dirchain(['prove-status', city, '--type', 'member', '--id', 'bureau', '--json']),
    );
  });

  it('answers a status question at the trusted checkpoint, and refuses a status at another', () => {
    const r = run(audit, [at('trusted-older.txt'), at('status-older.json'), key()]);
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toMatch(
      new RegExp(
        `^verified: at your checkpoint \\(size ${older}, block 1, .*\\) member bureau was active$`,
        'm',
      ),
    );
    const other = run(audit, [at('trusted-older.txt'), at('status-newer.json'), key()]);
    expect(other.code).toBe(1);
    expect(other.stdout).toContain(`--size ${older}`);
  });
  afterAll(() => tmp.cleanup());

  it('verifies a bundle made at the trusted checkpoint (exit 0)', () => {
    const r = run(audit, [at('trusted-older.txt'), at('bundle-older.json'), key()]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^verified: record 3 \(x\.log by bureau\) is in dirchain\.example\.gov\/city/m);
    // The block entry that ends the block is in the log too; it is not a record.
    const entry = run(audit, [at('trusted-older.txt'), at('block-entry-older.json'), key()]);
    expect(entry.stderr).toBe('');
    expect(entry.code).toBe(0);
    expect(entry.stdout).toMatch(
      new RegExp(
        `^verified: entry ${older - 1} \\(a block entry of this log: block 1 at .*\\) is in dirchain\\.example\\.gov/city`,
        'm',
      ),
    );
  });

  it('refuses a tampered bundle (exit 1) and names the failed check', () => {
    const b = JSON.parse(readFileSync(at('bundle-older.json'), 'utf8'));
    b.leaf = `${b.leaf.slice(0, 10)}${b.leaf[10] === 'A' ? 'B' : 'A'}${b.leaf.slice(11)}`;
    const r = run(audit, [at('trusted-older.txt'), save('tampered.json', JSON.stringify(b)), key()]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^NOT verified: (leaf is a record of this log|inclusion proof) failed$/m);
  });

  it('refuses a proof for an older tree than the trusted checkpoint, saying how to get the right one', () => {
    const r = run(audit, [at('trusted-newer.txt'), at('bundle-older.json'), key()]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`older than your checkpoint (${newer})`);
    expect(r.stdout).toContain(`dirchain prove <dir> --index 3 --size ${newer}`);
  });

  it('accepts a newer tree only with a consistency proof from the trusted checkpoint', () => {
    const without = run(audit, [at('trusted-older.txt'), at('bundle-newer.json'), key()]);
    expect(without.code).toBe(1);
    expect(without.stdout).toContain(`--from ${older} --to ${newer}`);
    const withProof = run(audit, [
      at('trusted-older.txt'),
      at('bundle-newer.json'),
      key(),
      at('consistency.json'),
    ]);
    expect(withProof.code, withProof.stdout).toBe(0);
    expect(withProof.stdout).toContain(`log grew consistently: ${older} → ${newer}`);
    // A valid consistency proof that does not start at the trusted checkpoint joins nothing.
    const wrong = run(audit, [
      at('trusted-older.txt'),
      at('bundle-newer.json'),
      key(),
      at('consistency-genesis.json'),
    ]);
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toContain('does not join your checkpoint');
  });

  it('reports a fork: the same key signed two different trees of one size (exit 1)', () => {
    const r = run(audit, [at('trusted-newer.txt'), at('fork-newer.json'), key()]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(
      `NOT verified: FORK: two signed checkpoints of size ${newer} with different roots`,
    );
  });
});
